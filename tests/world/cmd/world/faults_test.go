package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"isvc-canary.test/world/internal/controlplane"
)

// The model URIs of KServe's canary example: the first rollout, then the canary.
const (
	faultModel1 = "gs://kfserving-examples/models/sklearn/1.0/model"
	faultModel2 = "gs://kfserving-examples/models/sklearn/2.0/model"
)

var (
	revisionGVR = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "revisions"}
	ksvcGVR     = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}
)

// TestRealFaults runs the plugin against real faults on a cluster of its own (restarting a
// component of the shared cluster would break the tests running beside it):
//   - webhook-timeout: a validating webhook that never answers within its timeoutSeconds
//     (failurePolicy Fail) makes `set NAME 10 --yes` fail with exit 7 naming the webhook, with
//     nothing applied;
//   - restarts: `set NAME 10 --model-uri … --wait` survives restarts of kube-apiserver, KServe's
//     manager and Knative's controller during its wait, each triggered by an event of the rollout,
//     and exits 0 only once the split really holds.
func TestRealFaults(t *testing.T) {
	binDir := os.Getenv("ISVC_CANARY_BIN_DIR")
	if binDir == "" {
		t.Fatal("ISVC_CANARY_BIN_DIR is not set: run tests/run.sh")
	}
	plugin, err := filepath.Abs("../../../../target/debug/kubectl-isvc_canary")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(plugin); err != nil {
		t.Skipf("the plugin binary %s is missing (tests/run.sh builds it with cargo first): %v", plugin, err)
	}
	start := time.Now()
	f := startOwnWorld(t, binDir)
	t.Logf("own world ready in %.1fs", time.Since(start).Seconds())
	f.plugin, f.binDir = plugin, binDir

	// Both InferenceServices roll out at once, each in its own namespace.
	f.createISVC("faults-webhook", "sklearn")
	f.createISVC("faults-restart", "sklearn")
	f.waitRolledOut("faults-webhook", "sklearn", 1)
	f.waitRolledOut("faults-restart", "sklearn", 1)
	t.Logf("both InferenceServices rolled out at %.1fs", time.Since(start).Seconds())

	t.Run("webhook-timeout", f.webhookTimeout)
	t.Run("restarts", f.restartsDuringWait)
	t.Logf("whole test %.1fs", time.Since(start).Seconds())
}

// faultWorld is a world started by the test.
type faultWorld struct {
	t      *testing.T
	state  string
	env    controlplane.Env
	kube   kubernetes.Interface
	dyn    dynamic.Interface
	plugin string
	binDir string
}

// startOwnWorld starts a world of the test's own (launchOwnWorld) and its clients.
func startOwnWorld(t *testing.T, binDir string) *faultWorld {
	w := launchOwnWorld(t, binDir)
	f := &faultWorld{t: t, state: w.state}
	if err := json.Unmarshal([]byte(w.ready), &f.env); err != nil {
		t.Fatalf("READY line %q: %v", w.ready, err)
	}
	cfg, err := controlplane.RESTConfig(f.env.Kubeconfigs.Admin)
	if err != nil {
		t.Fatal(err)
	}
	f.kube = kubernetes.NewForConfigOrDie(cfg)
	f.dyn = dynamic.NewForConfigOrDie(cfg)
	return f
}

func (f *faultWorld) isvcs(ns string) dynamic.ResourceInterface {
	return f.dyn.Resource(isvcGVR).Namespace(ns)
}

func (f *faultWorld) createISVC(ns, name string) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := f.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.kserve.io/v1beta1",
		"kind":       "InferenceService",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{"predictor": map[string]any{"model": map[string]any{
			"modelFormat": map[string]any{"name": "sklearn"},
			"storageUri":  faultModel1,
		}}},
	}}
	if _, err := f.isvcs(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		f.t.Fatalf("create %s/%s: %v", ns, name, err)
	}
}

func predictorStatus(obj *unstructured.Unstructured, field string) string {
	s, _, _ := unstructured.NestedString(obj.Object, "status", "components", "predictor", field)
	return s
}

// waitRolledOut waits until revision n of the predictor is the latest rolled out, and Ready.
func (f *faultWorld) waitRolledOut(ns, name string, n int) {
	f.t.Helper()
	want := fmt.Sprintf("%s-predictor-%05d", name, n)
	f.waitFor(fmt.Sprintf("%s/%s rolled out to %s", ns, name, want), 150*time.Second, func(ctx context.Context) (bool, error) {
		got, err := f.isvcs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return readyTrue(got) && predictorStatus(got, "latestRolledoutRevision") == want, nil
	})
}

// waitFor polls cond until it is true; errors from the API (a restarting server) only retry.
func (f *faultWorld) waitFor(what string, timeout time.Duration, cond func(ctx context.Context) (bool, error)) {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ok, err := cond(ctx)
		cancel()
		if ok {
			return
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s: not within %s (last error: %v)", what, timeout, last)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// pluginRun is one run of the plugin.
type pluginRun struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// startPlugin runs the plugin as the admin user in ns; the result arrives on the channel. A run
// still going after limit is killed (and reported with code -1).
func (f *faultWorld) startPlugin(ns string, limit time.Duration, args ...string) <-chan pluginRun {
	done := make(chan pluginRun, 1)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	cmd := exec.CommandContext(ctx, f.plugin, append([]string{"--kubeconfig", f.env.Kubeconfigs.Admin, "-n", ns}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		f.t.Fatal(err)
	}
	f.t.Logf("started: kubectl-isvc_canary -n %s %s", ns, strings.Join(args, " "))
	go func() {
		defer cancel()
		err := cmd.Wait()
		r := pluginRun{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
		var ee *exec.ExitError
		switch {
		case err == nil:
		case ctx.Err() != nil:
			r.code = -1
		case errors.As(err, &ee):
			r.code = ee.ExitCode()
		default:
			r.code = -2
			r.stderr += "\n(test: " + err.Error() + ")"
		}
		done <- r
	}()
	return done
}

func (r pluginRun) String() string {
	return fmt.Sprintf("exit %d after %.1fs\nstdout:\n%s\nstderr:\n%s", r.code, r.took.Seconds(), r.stdout, r.stderr)
}

// restart restarts a child of the world with `world restart` (the launcher's control socket),
// checking first that the plugin's wait is still running.
func (f *faultWorld) restart(name string, plugin <-chan pluginRun) {
	f.t.Helper()
	select {
	case r := <-plugin:
		f.t.Fatalf("the plugin ended before %s was restarted (the rollout is held by the paused fakes, so it cannot be done): %s", name, r)
	default:
	}
	start := time.Now()
	if out, err := exec.Command(filepath.Join(f.binDir, "world"), "restart", "--state", f.state, name).CombinedOutput(); err != nil {
		f.t.Fatalf("world restart %s: %v: %s", name, err, out)
	}
	f.t.Logf("restarted %s in %.1fs", name, time.Since(start).Seconds())
}

// setPaused sets the fakes' pause switch of the namespace (KNOBS.md).
func (f *faultWorld) setPaused(ns string, paused bool) {
	f.t.Helper()
	data := map[string]string{"paused": fmt.Sprint(paused)}
	f.waitFor("write isvc-sim", 30*time.Second, func(ctx context.Context) (bool, error) {
		cm, err := f.kube.CoreV1().ConfigMaps(ns).Get(ctx, "isvc-sim", metav1.GetOptions{})
		if err != nil {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "isvc-sim"}, Data: data}
			_, err = f.kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
			return err == nil, err
		}
		cm.Data = data
		_, err = f.kube.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
		return err == nil, err
	})
}

// restartsDuringWait: `set sklearn 10 --model-uri <2.0> --wait --timeout 3m` while the fakes of
// the namespace are paused (so the new revision's pod never becomes ready and the rollout cannot
// be done); kube-apiserver restarts once the plugin's PATCH is in the object, KServe's manager once
// Knative has created the new revision, Knative's controller (then its autoscaler) once KServe
// has written the 10 % split into the Knative Service. Then the fakes resume and the wait must end 0 with the split
// really there.
func (f *faultWorld) restartsDuringWait(t *testing.T) {
	f.t = t
	const ns, name = "faults-restart", "sklearn"
	f.setPaused(ns, true)
	plugin := f.startPlugin(ns, 3*time.Minute+30*time.Second,
		"set", name, "10", "--model-uri", faultModel2, "--wait", "--timeout", "3m", "--yes")
	waitStart := time.Now()

	// (a) The plugin's PATCH is visible: restart kube-apiserver.
	f.waitFor("the plugin's PATCH in the object", 60*time.Second, func(ctx context.Context) (bool, error) {
		got, err := f.isvcs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		ctp, _, _ := unstructured.NestedInt64(got.Object, "spec", "predictor", "canaryTrafficPercent")
		uri, _, _ := unstructured.NestedString(got.Object, "spec", "predictor", "model", "storageUri")
		return ctp == 10 && uri == faultModel2, nil
	})
	f.restart("kube-apiserver", plugin)

	// (b) Knative created the new revision: restart KServe's manager.
	rev2 := name + "-predictor-00002"
	f.waitFor("revision "+rev2, 90*time.Second, func(ctx context.Context) (bool, error) {
		_, err := f.dyn.Resource(revisionGVR).Namespace(ns).Get(ctx, rev2, metav1.GetOptions{})
		return err == nil, err
	})
	f.restart("kserve-manager", plugin)

	// (c) KServe wrote the split into the Knative Service: restart Knative's controller.
	f.waitFor("the 10 % split in the Knative Service", 90*time.Second, func(ctx context.Context) (bool, error) {
		ksvc, err := f.dyn.Resource(ksvcGVR).Namespace(ns).Get(ctx, name+"-predictor", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		traffic, _, _ := unstructured.NestedSlice(ksvc.Object, "spec", "traffic")
		for _, e := range traffic {
			m, _ := e.(map[string]any)
			if p, ok := m["percent"].(int64); ok && p == 10 && m["latestRevision"] == true {
				return true, nil
			}
		}
		return false, nil
	})
	f.restart("knative-controller", plugin)
	// And Knative's autoscaler, which holds the new revision's PodAutoscaler meanwhile.
	f.restart("knative-autoscaler", plugin)

	// The wait has not ended: the rollout cannot be done while the fakes are paused.
	select {
	case r := <-plugin:
		t.Fatalf("the plugin ended while the new revision could not be ready: %s", r)
	default:
	}
	t.Logf("four restarts done %.1fs into the wait; resuming the fakes", time.Since(waitStart).Seconds())
	f.setPaused(ns, false)

	r := <-plugin
	t.Logf("plugin: %s", r)
	if r.code == -1 {
		t.Fatalf("the plugin was still running 30s past its --timeout 3m")
	}
	if r.code != 0 {
		t.Fatalf("want exit 0 once the split holds, got %s", r)
	}
	// The split really holds: latest 10 % on r2 = LCR = LRR, previous 90 % on r1 = LRO.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := f.isvcs(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rev1 := name + "-predictor-00001"
	if lcr, lrr, lro := predictorStatus(got, "latestCreatedRevision"), predictorStatus(got, "latestReadyRevision"), predictorStatus(got, "latestRolledoutRevision"); lcr != rev2 || lrr != rev2 || lro != rev1 {
		t.Errorf("after exit 0: LCR %q, LRR %q, LRO %q; want %s, %s, %s", lcr, lrr, lro, rev2, rev2, rev1)
	}
	traffic, _, _ := unstructured.NestedSlice(got.Object, "status", "components", "predictor", "traffic")
	split := map[string]int64{}
	for _, e := range traffic {
		m, _ := e.(map[string]any)
		rev, _ := m["revisionName"].(string)
		p, _ := m["percent"].(int64)
		split[rev] += p
	}
	if !reflect.DeepEqual(split, map[string]int64{rev2: 10, rev1: 90}) {
		t.Errorf("after exit 0 the status traffic is %v, want %s 10 %%, %s 90 %%", split, rev2, rev1)
	}
}

// webhookTimeout: a validating webhook on InferenceServices of one namespace whose server never
// answers within timeoutSeconds, failurePolicy Fail. `set sklearn 10 --yes` must fail with exit 7
// (contract §6: the server refusing the change) naming "failed calling webhook", and nothing be
// applied.
func (f *faultWorld) webhookTimeout(t *testing.T) {
	f.t = t
	const ns, name = "faults-webhook", "sklearn"

	// An HTTPS endpoint on loopback that holds every request until the caller gives up.
	certPEM, keyPEM := selfSignedCert(t)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fail, none := admissionv1.Fail, admissionv1.SideEffectClassNone
	timeout := int32(2)
	url := srv.URL + "/validate"
	hook := &admissionv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "faults-hang"},
		Webhooks: []admissionv1.ValidatingWebhook{{
			Name:                    "hang.faults.isvc-canary.test",
			ClientConfig:            admissionv1.WebhookClientConfig{URL: &url, CABundle: certPEM},
			Rules:                   []admissionv1.RuleWithOperations{{Operations: []admissionv1.OperationType{admissionv1.Update}, Rule: admissionv1.Rule{APIGroups: []string{"serving.kserve.io"}, APIVersions: []string{"*"}, Resources: []string{"inferenceservices"}}}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          &timeout,
		}},
	}
	if _, err := f.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, hook, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = f.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(context.Background(), hook.Name, metav1.DeleteOptions{})
	})

	// The API server uses the webhook once its informer has it: a server-side dry run of a
	// harmless patch fails with "failed calling webhook" from then on.
	f.waitFor("the webhook in effect", 60*time.Second, func(ctx context.Context) (bool, error) {
		_, err := f.isvcs(ns).Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"annotations":{"faults-probe":"x"}}}`), metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil && strings.Contains(err.Error(), "failed calling webhook"), err
	})

	before, err := f.isvcs(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := <-f.startPlugin(ns, 2*time.Minute, "set", name, "10", "--yes")
	t.Logf("plugin against a webhook that times out: %s", r)

	after, err := f.isvcs(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// (Status writes of KServe may change the resourceVersion; the spec and annotations may not.)
	if after.GetGeneration() != before.GetGeneration() || !reflect.DeepEqual(after.Object["spec"], before.Object["spec"]) ||
		!reflect.DeepEqual(after.GetAnnotations(), before.GetAnnotations()) {
		bs, _ := json.Marshal(before.Object["spec"])
		as, _ := json.Marshal(after.Object["spec"])
		t.Errorf("something was applied: generation %d → %d, spec %s → %s, annotations %v → %v",
			before.GetGeneration(), after.GetGeneration(), bs, as, before.GetAnnotations(), after.GetAnnotations())
	}
	if r.code != 7 || !strings.Contains(r.stderr, "failed calling webhook") {
		t.Errorf("want exit 7 with \"failed calling webhook\" on stderr (contract §6: the server refusing the change), got %s", r)
	}
}

// selfSignedCert makes a serving certificate for 127.0.0.1 that is its own CA.
func selfSignedCert(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "faults-webhook"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
