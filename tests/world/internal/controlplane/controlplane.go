// Package controlplane starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler on loopback with
// certificates made at start, and writes the kubeconfigs of the cluster's users.
package controlplane

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// User names of the cluster's test users. Neither has any RBAC binding: they may do what
// system:authenticated may (discovery, self-subject reviews) until a test grants them a Role.
const (
	AdminUser   = "isvc-admin"   // client certificate, group system:masters
	LimitedUser = "isvc-limited" // client certificate, no groups
	TokenUser   = "isvc-token"   // bearer token from --token-auth-file, no groups
	ContextName = "isvc-test"
)

// ControlPlane is a running etcd + kube-apiserver + kube-controller-manager.
type ControlPlane struct {
	Server     string // https://127.0.0.1:PORT
	CA         *CA
	PKIDir     string
	Kubeconfig struct {
		Admin, Limited, Token string
	}
	dir string // the state folder
}

// FreePorts returns n distinct free loopback TCP ports. They are free when this returns; a child
// binds them a moment later (a race we accept: a clash fails the start loudly, it never connects
// two clusters).
func FreePorts(n int) ([]int, error) {
	// All listeners stay open until every port is chosen, so that the n ports differ.
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
# One line per request, written when the response is sent; enough to count the requests a command makes.
omitStages: ["RequestReceived"]
rules:
# Leader-election and node leases are renewed every few seconds by components; they are not what
# tests count, and would grow the log for nothing.
- level: None
  resources:
  - group: coordination.k8s.io
    resources: ["leases"]
- level: Metadata
`

// Start starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler from binDir, with state in stateDir.
func Start(ctx context.Context, sup *Supervisor, binDir, stateDir string) (*ControlPlane, error) {
	cp := &ControlPlane{dir: stateDir, PKIDir: filepath.Join(stateDir, "pki")}
	if err := os.MkdirAll(cp.PKIDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(stateDir, "kubeconfigs"), 0o700); err != nil {
		return nil, err
	}
	var err error
	if cp.CA, err = NewCA("isvc-canary-test-ca"); err != nil {
		return nil, err
	}
	pki := func(name string, data []byte) string {
		p, werr := writeFile(cp.PKIDir, name, data)
		if werr != nil && err == nil {
			err = werr
		}
		return p
	}
	caCrt := pki("ca.crt", cp.CA.CertPEM)
	caKey := pki("ca.key", cp.CA.KeyPEM)
	serving, serr := cp.CA.Serving("kube-apiserver")
	if serr != nil {
		return nil, serr
	}
	srvCrt := pki("apiserver.crt", serving.CertPEM)
	srvKey := pki("apiserver.key", serving.KeyPEM)
	saPriv, saPub, serr := ServiceAccountKey()
	if serr != nil {
		return nil, serr
	}
	saKey := pki("sa.key", saPriv)
	saPubFile := pki("sa.pub", saPub)
	token := randomHex(24)
	// CSV: token,user,uid[,"group1,group2"]; the token user is in no group of its own.
	tokenFile := pki("tokens.csv", []byte(fmt.Sprintf("%s,%s,%s\n", token, TokenUser, TokenUser)))
	auditPolicyFile := pki("audit-policy.yaml", []byte(auditPolicy))
	if err != nil {
		return nil, err
	}

	ports, err := FreePorts(3)
	if err != nil {
		return nil, err
	}
	etcdClient, etcdPeer, apiPort := ports[0], ports[1], ports[2]
	cp.Server = fmt.Sprintf("https://127.0.0.1:%d", apiPort)

	// etcd: loopback only, plain HTTP (nothing but kube-apiserver talks to it), no fsync.
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	etcd, err := sup.Start("etcd", filepath.Join(binDir, "etcd"), []string{
		"--name=world",
		"--data-dir=" + filepath.Join(stateDir, "etcd"),
		"--listen-client-urls=" + etcdURL,
		"--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=world=" + peerURL,
		"--unsafe-no-fsync",
		"--log-level=warn",
	}, nil)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, etcd, http.DefaultClient, etcdURL+"/health", 30*time.Second); err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	sup.Log.Printf("etcd ready on %s", etcdURL)

	apiserver, err := sup.Start("kube-apiserver", filepath.Join(binDir, "kube-apiserver"), []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		// The server would publish its own address in the "kubernetes" Endpoints every 10 s, and
		// Endpoints refuse loopback addresses: an error in the log each time, for an object no one
		// here reads.
		"--endpoint-reconciler-type=none",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--tls-cert-file=" + srvCrt,
		"--tls-private-key-file=" + srvKey,
		"--client-ca-file=" + caCrt,
		"--token-auth-file=" + tokenFile,
		"--authorization-mode=RBAC",
		"--anonymous-auth=false",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + saPubFile,
		"--service-account-signing-key-file=" + saKey,
		// No kubelet mounts service-account tokens here: the admission plugin would only add
		// volumes that nothing serves.
		"--disable-admission-plugins=ServiceAccount",
		// A range the server only records (Service cluster IPs); nothing is ever sent there.
		"--service-cluster-ip-range=10.0.0.0/24",
		"--audit-policy-file=" + auditPolicyFile,
		"--audit-log-path=" + filepath.Join(stateDir, "audit.log"),
		"--audit-log-maxbackup=1",
		"--audit-log-maxsize=500",
	}, nil)
	if err != nil {
		return nil, err
	}

	// Kubeconfigs: the test users, then one per component.
	admin, err := cp.CA.Client(AdminUser, "system:masters")
	if err != nil {
		return nil, err
	}
	if cp.Kubeconfig.Admin, err = cp.writeKubeconfig("admin", AdminUser, admin, ""); err != nil {
		return nil, err
	}
	limited, err := cp.CA.Client(LimitedUser)
	if err != nil {
		return nil, err
	}
	if cp.Kubeconfig.Limited, err = cp.writeKubeconfig("limited", LimitedUser, limited, ""); err != nil {
		return nil, err
	}
	if cp.Kubeconfig.Token, err = cp.writeKubeconfig("token", TokenUser, KeyPair{}, token); err != nil {
		return nil, err
	}

	// kube-apiserver answers /readyz once its post-start hooks (RBAC bootstrap roles included) ran.
	adminTLS, err := tls.X509KeyPair(admin.CertPEM, admin.KeyPEM)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cp.CA.Cert)
	adminHTTP := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{adminTLS}}}}
	if err := waitHTTP(ctx, apiserver, adminHTTP, cp.Server+"/readyz", 90*time.Second); err != nil {
		return nil, fmt.Errorf("kube-apiserver: %w", err)
	}
	sup.Log.Printf("kube-apiserver ready on %s", cp.Server)

	// kube-controller-manager: garbage collector, namespace finalization, Deployments →
	// ReplicaSets → Pods, EndpointSlices. The node-lifecycle controller is off: with no real
	// kubelet it would mark the fake Node NotReady ~40 s after its last heartbeat and every pod
	// with it, and taint the node; the world is simpler and nothing in the product depends on it
	// when the fake kubelet does not have to renew a Lease forever.
	kcmKubeconfig, err := cp.ComponentKubeconfig("kube-controller-manager", "system:kube-controller-manager")
	if err != nil {
		return nil, err
	}
	if _, err := sup.Start("kube-controller-manager", filepath.Join(binDir, "kube-controller-manager"), []string{
		"--kubeconfig=" + kcmKubeconfig,
		"--leader-elect=false",
		"--secure-port=0", // no serving port at all
		"--controllers=*,-node-lifecycle-controller",
		"--service-account-private-key-file=" + saKey,
		"--root-ca-file=" + caCrt,
		"--cluster-signing-cert-file=" + caCrt,
		"--cluster-signing-key-file=" + caKey,
		"--use-service-account-credentials=false",
	}, nil); err != nil {
		return nil, err
	}

	// kube-scheduler: binds pods to the one Node, or reports them Unschedulable. No serving port.
	schedKubeconfig, err := cp.ComponentKubeconfig("kube-scheduler", "system:kube-scheduler")
	if err != nil {
		return nil, err
	}
	if _, err := sup.Start("kube-scheduler", filepath.Join(binDir, "kube-scheduler"), []string{
		"--kubeconfig=" + schedKubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
	}, nil); err != nil {
		return nil, err
	}
	return cp, nil
}

// ComponentKubeconfig writes kubeconfigs/<name> for a component running as user, in group
// system:masters (the components stand for controllers that run with wide rights in a cluster).
// Each component has a user name of its own, so that the audit log tells them and the test users apart.
func (cp *ControlPlane) ComponentKubeconfig(name, user string) (string, error) {
	kp, err := cp.CA.Client(user, "system:masters")
	if err != nil {
		return "", err
	}
	return cp.writeKubeconfig(name, user, kp, "")
}

// RESTConfig loads a kubeconfig file into a client configuration with generous rate limits
// (the defaults, 5 QPS, would make the fakes and the installer crawl).
func RESTConfig(path string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 100, 200
	return cfg, nil
}

func (cp *ControlPlane) writeKubeconfig(name, user string, kp KeyPair, token string) (string, error) {
	c := clientcmdapi.NewConfig()
	c.Clusters[ContextName] = &clientcmdapi.Cluster{Server: cp.Server, CertificateAuthorityData: cp.CA.CertPEM}
	c.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: kp.CertPEM, ClientKeyData: kp.KeyPEM, Token: token}
	c.Contexts[ContextName] = &clientcmdapi.Context{Cluster: ContextName, AuthInfo: user}
	c.CurrentContext = ContextName
	p := filepath.Join(cp.dir, "kubeconfigs", name)
	return p, clientcmd.WriteToFile(*c, p)
}

// waitHTTP polls url until it answers 200 or timeout passes; it fails at once if p exits (its
// port may have been taken in between, and then url is another process's).
func waitHTTP(ctx context.Context, p *Proc, client *http.Client, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
		}
		last = err
		select {
		case <-p.Done():
			return fmt.Errorf("exited while starting: %v", p.Err())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("not ready after %s: %v", timeout, last)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
