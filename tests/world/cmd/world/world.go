package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"isvc-canary.test/world/internal/controlplane"
	"isvc-canary.test/world/internal/install"
)

// Env, Kubeconfigs and Users are the ready line's JSON.
type (
	Env         = controlplane.Env
	Kubeconfigs = controlplane.Kubeconfigs
	Users       = controlplane.Users
)

// world is a running cluster.
type world struct {
	env      Env
	sup      *controlplane.Supervisor
	fakeErrs chan error
	fakesWG  chan struct{} // closed when every fake has returned
	stopFake context.CancelFunc
	log      *log.Logger
	kserve   string // the KServe release running
	// ready waits until a restarted child serves again (Restart), by name; a child not listed
	// is given the same second as knative-controller at start.
	ready map[string]func(ctx context.Context, p *controlplane.Proc) error
}

func runWorld(mode string, args []string, logger *log.Logger) int {
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	state := fs.String("state", "", "state directory (emptied of a previous run's files at start)")
	parentFD := fs.Int("parent-fd", -1, "stop when reading this file descriptor gives EOF or an error (a pipe the parent holds)")
	binDir := fs.String("bin-dir", "", "folder of etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kserve-manager-<release> (default: this binary's folder)")
	kserve := fs.String("kserve", install.Releases[0], fmt.Sprintf("the KServe release whose manager, CRDs and ConfigMaps to run, one of %v", install.Releases))
	pluginDir := fs.String("plugin-dir", "", "sandbox only: folder of kubectl-isvc_canary, printed as the first element of PATH")
	noControllers := fs.Bool("no-controllers", false, "up only (benchmarks): the API server with the CRDs and configuration, without KServe's manager, Knative's controller and the fakes: nothing reconciles what is written")
	_ = fs.Parse(args)
	if *state == "" {
		logger.Print("--state is required")
		return 2
	}
	if *binDir == "" {
		*binDir = defaultBinDir()
	}

	// ctx ends on SIGINT/SIGTERM or when the parent's pipe closes, at start-up as well as later.
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		cancel(fmt.Errorf("signal %v", s))
	}()
	if *parentFD >= 0 {
		f := os.NewFile(uintptr(*parentFD), "parent-pipe")
		if f == nil {
			logger.Printf("--parent-fd %d is not an open file descriptor", *parentFD)
			return 2
		}
		go func() {
			_, err := io.Copy(io.Discard, f) // returns at EOF (nil) or on an error
			cancel(fmt.Errorf("parent pipe closed (%v)", err))
		}()
	}

	start := time.Now()
	w, err := startWorldWith(ctx, *state, *binDir, *kserve, logger, !*noControllers || mode == "sandbox")
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			err = fmt.Errorf("%w (%v)", err, cause)
		}
		logger.Printf("start failed: %v", err)
		if w != nil {
			w.stop()
		}
		return 1
	}
	logger.Printf("ready in %.1fs", time.Since(start).Seconds())

	stopControl, err := w.serveControl(ctx, filepath.Join(w.env.StateDir, controlSocket))
	if err != nil {
		logger.Printf("control socket: %v", err)
		w.stop()
		return 1
	}
	defer stopControl()

	if mode == "sandbox" {
		if err := sandbox(ctx, w, *pluginDir); err != nil {
			logger.Printf("sandbox: %v", err)
			w.stop()
			return 1
		}
	} else {
		line, _ := json.Marshal(w.env)
		fmt.Printf("READY %s\n", line)
	}

	code := 0
	select {
	case <-ctx.Done():
		logger.Printf("stopping: %v", context.Cause(ctx))
	case p := <-w.sup.Died:
		logger.Printf("stopping: %s died", p.Name)
		code = 1
	case err := <-w.fakeErrs:
		logger.Printf("stopping: %v", err)
		code = 1
	}
	w.stop()
	return code
}

// defaultBinDir is the folder this binary was started from (not the target of a symbolic link:
// tests/build-go.sh links every binary into one folder).
func defaultBinDir() string {
	if path, err := exec.LookPath(os.Args[0]); err == nil {
		return filepath.Dir(path)
	}
	exe, err := os.Executable()
	if err != nil {
		return "."
	}
	return filepath.Dir(exe)
}

// prepareState makes the state folder absolute and removes what a previous run left in it: every
// start is a fresh cluster.
func prepareState(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", err
	}
	for _, name := range []string{"etcd", "logs", "pki", "kubeconfigs", "kserve-tmp", "audit.log", "env.json", "pids", "kubeconfig", "prometheus", controlSocket} {
		if err := os.RemoveAll(filepath.Join(abs, name)); err != nil {
			return "", err
		}
	}
	return abs, nil
}

func startWorld(ctx context.Context, state, binDir string, logger *log.Logger) (*world, error) {
	return startWorldWith(ctx, state, binDir, install.Releases[0], logger, true)
}

// managerBinary is the file name of a KServe release's manager (tests/build-go.sh builds one per release).
func managerBinary(release string) string { return "kserve-manager-" + release }

// startWorldWith starts the world; without controllers it stops after the CRDs and the
// configuration (a bench world: what is written stays as written).
func startWorldWith(ctx context.Context, state, binDir, release string, logger *log.Logger, controllers bool) (*world, error) {
	mods, err := install.FindModules(release)
	if err != nil {
		return nil, err
	}
	state, err = prepareState(state)
	if err != nil {
		return nil, err
	}
	for _, bin := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", managerBinary(release)} {
		if _, err := os.Stat(filepath.Join(binDir, bin)); err != nil {
			return nil, fmt.Errorf("%s not found in %s (build with tests/build-go.sh, or pass --bin-dir): %w", bin, binDir, err)
		}
	}
	logger.Printf("KServe %s; manifests from %s, %s, %s, %s %s", release, mods.KServe, mods.Serving, mods.Networking, mods.Caching, mods.GatewayAPI)

	sup, err := controlplane.NewSupervisor(state, logger)
	if err != nil {
		return nil, err
	}
	w := &world{sup: sup, log: logger, kserve: release, fakeErrs: make(chan error, 8), stopFake: func() {},
		ready: map[string]func(context.Context, *controlplane.Proc) error{}}

	// 1. etcd, kube-apiserver, kube-controller-manager.
	cp, err := controlplane.Start(ctx, sup, binDir, state)
	if err != nil {
		return w, err
	}
	if err := w.died(); err != nil {
		return w, err
	}
	admin, err := controlplane.RESTConfig(cp.Kubeconfig.Admin)
	if err != nil {
		return w, err
	}
	w.ready["kube-apiserver"] = func(ctx context.Context, p *controlplane.Proc) error {
		return waitAPIServer(ctx, p, admin, 90*time.Second)
	}
	in, err := install.New(admin, mods, logger)
	if err != nil {
		return w, err
	}

	// 2. CRDs (waiting until Established), then namespaces, ConfigMaps, runtime, activator.
	if _, err := in.CRDs(ctx); err != nil {
		return w, err
	}
	if err := in.Config(ctx); err != nil {
		return w, err
	}
	if err := w.died(); err != nil {
		return w, err
	}
	logger.Printf("installed CRDs and configuration")

	if !controllers {
		logger.Printf("no controllers: KServe's manager, Knative's controller and the fakes are not started")
		return w, w.publish(state, cp, "", "")
	}

	// 3. KServe's manager, its /readyz, then its webhooks.
	if err := startKServe(ctx, w, cp, binDir, state, in); err != nil {
		return w, err
	}

	// 4. The admission policy standing in for Knative's webhook, then Knative's controller and
	// autoscaler; the autoscaler reads traffic statistics from the fake ingress's second listener.
	if err := installPolicy(ctx, admin); err != nil {
		return w, fmt.Errorf("admission policy: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return w, err
	}
	statsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return w, err
	}
	if err := startKnative(ctx, w, cp, "http://"+statsLn.Addr().String()+"/stats"); err != nil {
		return w, err
	}

	// 5. The fakes, in this process.
	fakeCfgFile, err := cp.ComponentKubeconfig("fakes", "world-fakes")
	if err != nil {
		return w, err
	}
	fakeCfg, err := controlplane.RESTConfig(fakeCfgFile)
	if err != nil {
		return w, err
	}
	w.runFakes(fakes(fakeCfg, ln, statsLn))
	prometheus, err := startPrometheus(ctx, w, binDir, state, statsLn.Addr().String())
	if err != nil {
		return w, err
	}
	if err := w.waitNodeReady(ctx, admin, 60*time.Second); err != nil {
		return w, err
	}

	// 6. Ready. (Every CRD was Established in step 2, before anything used them.)
	if err := w.died(); err != nil {
		return w, err
	}
	return w, w.publish(state, cp, ln.Addr().String(), prometheus)
}

// publish writes what a client of the world needs (env.json, the admin kubeconfig) and keeps it
// as w.env, the READY line.
func (w *world) publish(state string, cp *controlplane.ControlPlane, ingress, prometheus string) error {
	w.env = Env{
		StateDir:    state,
		Server:      cp.Server,
		Kubeconfigs: Kubeconfigs{Admin: cp.Kubeconfig.Admin, Limited: cp.Kubeconfig.Limited, Token: cp.Kubeconfig.Token},
		Users:       Users{Limited: controlplane.LimitedUser, Token: controlplane.TokenUser},
		Ingress:     ingress,
		KServe:      w.kserve,
		Prometheus:  prometheus,
		AuditLog:    filepath.Join(state, "audit.log"),
		PID:         os.Getpid(),
	}
	kc, err := os.ReadFile(cp.Kubeconfig.Admin)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(state, "kubeconfig"), kc, 0o600); err != nil {
		return err
	}
	js, _ := json.MarshalIndent(w.env, "", "  ")
	return os.WriteFile(filepath.Join(state, "env.json"), append(js, '\n'), 0o644)
}

// startKServe starts KServe's manager with loopback metrics and probe addresses and its webhook
// serving certificate in its TMPDIR, waits for /readyz, and registers its webhooks by URL.
// Its webhook server binds all interfaces (KServe's main leaves the host empty and takes only a
// port): unavoidable without patching KServe; the port is still a free one chosen here.
func startKServe(ctx context.Context, w *world, cp *controlplane.ControlPlane, binDir, state string, in *install.Installer) error {
	ports, err := controlplane.FreePorts(3)
	if err != nil {
		return err
	}
	metrics, probe, webhook := ports[0], ports[1], ports[2]
	tmp := filepath.Join(state, "kserve-tmp")
	certDir := filepath.Join(tmp, "k8s-webhook-server", "serving-certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return err
	}
	kp, err := cp.CA.Serving("kserve-webhook")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(certDir, "tls.crt"), kp.CertPEM, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(certDir, "tls.key"), kp.KeyPEM, 0o600); err != nil {
		return err
	}
	kubeconfig, err := cp.ComponentKubeconfig("kserve-manager", "kserve-manager")
	if err != nil {
		return err
	}
	p, err := w.sup.Start("kserve-manager", filepath.Join(binDir, managerBinary(w.kserve)), []string{
		"-metrics-addr=127.0.0.1:" + strconv.Itoa(metrics),
		"-health-probe-addr=127.0.0.1:" + strconv.Itoa(probe),
		"-webhook-port=" + strconv.Itoa(webhook),
	}, []string{"KUBECONFIG=" + kubeconfig, "TMPDIR=" + tmp, "POD_NAMESPACE=" + install.KServeNamespace})
	if err != nil {
		return err
	}
	readyz := fmt.Sprintf("http://127.0.0.1:%d/readyz", probe)
	if err := waitChild(ctx, p, readyz, 60*time.Second); err != nil {
		return fmt.Errorf("kserve-manager: %w", err)
	}
	w.ready["kserve-manager"] = func(ctx context.Context, p *controlplane.Proc) error {
		return waitChild(ctx, p, readyz, 60*time.Second)
	}
	w.log.Printf("kserve-manager ready (webhook port %d)", webhook)
	return in.Webhooks(ctx, webhook, cp.CA.CertPEM)
}

// startKnative starts our mains of Knative's controller and autoscaler, re-executions of this
// binary; the autoscaler asks the fake ingress for traffic statistics at statsURL.
func startKnative(ctx context.Context, w *world, cp *controlplane.ControlPlane, statsURL string) error {
	if err := startSelf(ctx, w, cp, "knative-controller"); err != nil {
		return err
	}
	return startSelf(ctx, w, cp, "knative-autoscaler", "--stats-url="+statsURL)
}

// startSelf starts the subcommand name of this binary as a child of the same name.
func startSelf(ctx context.Context, w *world, cp *controlplane.ControlPlane, name string, args ...string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	kubeconfig, err := cp.ComponentKubeconfig(name, name)
	if err != nil {
		return err
	}
	p, err := w.sup.Start(name, self, append([]string{name, "--kubeconfig=" + kubeconfig}, args...),
		[]string{"SYSTEM_NAMESPACE=" + install.KnativeNamespace, "PROFILING_PORT=0"})
	if err != nil {
		return err
	}
	// It has no readiness endpoint (we disabled its probes); a missing ConfigMap or CRD makes it
	// exit at once, so give it a moment to fail loudly here rather than later.
	select {
	case <-p.Done():
		return fmt.Errorf("%s exited at start: %v (see logs/%s.log)", name, p.Err(), name)
	case <-time.After(time.Second):
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	return nil
}

// waitChild polls url until it answers 200, failing early if the process exits.
func waitChild(ctx context.Context, p *controlplane.Proc, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.Done():
			return fmt.Errorf("exited while starting: %v", p.Err())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", url, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// runFakes runs each fake in a goroutine; one returning before the world stops is an error.
func (w *world) runFakes(list []fake) {
	ctx, cancel := context.WithCancel(context.Background())
	w.stopFake = cancel
	done := make(chan string, len(list))
	for _, f := range list {
		go func() {
			err := f.run(ctx)
			if ctx.Err() == nil {
				if err == nil {
					err = errors.New("returned")
				}
				w.fakeErrs <- fmt.Errorf("fake %s: %w", f.name, err)
			}
			done <- f.name
		}()
		w.log.Printf("started fake %s", f.name)
	}
	w.fakesWG = make(chan struct{})
	go func() {
		for range list {
			<-done
		}
		close(w.fakesWG)
	}()
}

// stop ends the fakes, then every child in reverse start order.
func (w *world) stop() {
	w.stopFake()
	if w.fakesWG != nil {
		select {
		case <-w.fakesWG:
		case <-time.After(5 * time.Second):
			w.log.Printf("fakes did not return within 5s")
		}
	}
	w.sup.StopAll(10 * time.Second)
	w.log.Printf("stopped")
}

// waitNodeReady waits until the fake kubelet has registered a Ready Node, so that READY means
// pods can run; a fake that fails meanwhile fails the start rather than the first test.
func (w *world) waitNodeReady(ctx context.Context, cfg *rest.Config, timeout time.Duration) error {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, n := range nodes.Items {
				for _, c := range n.Status.Conditions {
					if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
						return nil
					}
				}
			}
		}
		select {
		case err := <-w.fakeErrs:
			return err
		case <-ctx.Done():
			return fmt.Errorf("no Ready Node after %s (the fake kubelet registers it)", timeout)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// died reports a child that exited during the start (a port taken between choosing and binding
// it, a bad flag): checked between steps, so that the start fails at once rather than after READY.
func (w *world) died() error {
	select {
	case p := <-w.sup.Died:
		return fmt.Errorf("%s exited while the world was starting: %v (see logs/%s.log)", p.Name, p.Err(), p.Name)
	default:
		return nil
	}
}
