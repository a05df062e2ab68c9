package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"isvc-canary.test/world/internal/controlplane"
)

// Model URIs of KServe's "Canary Rollout Example".
const (
	model1 = "gs://kfserving-examples/models/sklearn/1.0/model"
	model2 = "gs://kfserving-examples/models/sklearn/2.0/model"
	// failing: a storage URI containing "sim-fail" never loads in the test cluster (KNOBS.md).
	modelFail = "gs://kfserving-examples/models/sklearn/sim-fail/model"
	// iris is the docs' prediction request.
	iris = `{"instances":[[6.8,2.8,4.8,1.4]]}`
)

// Generous timeouts: two cores are shared by the whole cluster, other test packages and builds.
const (
	stepTimeout = 150 * time.Second
	poll        = 300 * time.Millisecond
)

func TestMain(m *testing.M) {
	flag.Parse()
	// Each test mostly waits for controllers; go test's default parallelism is GOMAXPROCS (2 here).
	// Four at a time keeps the cluster busy without drowning it. An explicit -parallel wins.
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", "4")
	}
	os.Exit(m.Run())
}

// world is the shared cluster of the test run.
type world struct {
	env *controlplane.Env
}

// cluster reads env.json; without ISVC_CANARY_TEST_ENV the test fails (never skips).
func cluster(t *testing.T) *world {
	t.Helper()
	path := os.Getenv(controlplane.EnvVar)
	if path == "" {
		t.Fatalf("%s is not set: run tests/run.sh (it starts the test cluster and runs these tests against it)", controlplane.EnvVar)
	}
	env, err := controlplane.ReadEnv(path)
	if err != nil {
		t.Fatalf("%v: run tests/run.sh", err)
	}
	if env.Kubeconfigs.Admin == "" || env.Ingress == "" {
		t.Fatalf("%s lacks the admin kubeconfig or the ingress address: run tests/run.sh", path)
	}
	return &world{env: env}
}

// kubectl runs kubectl as the admin user; stdin may be "".
func (w *world) kubectl(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", w.env.Kubeconfigs.Admin}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// ns is a test's own namespace.
type ns struct {
	t    *testing.T
	w    *world
	name string
}

// newNS creates a namespace prefix-<random>; it is deleted when the test ends (after a dump of
// what was in it when the test failed).
func newNS(t *testing.T, prefix string) *ns {
	t.Helper()
	w := cluster(t)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	n := &ns{t: t, w: w, name: prefix + "-" + hex.EncodeToString(b)}
	if _, err := w.kubectl("", "create", "namespace", n.name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			n.dump()
		}
		if _, err := w.kubectl("", "delete", "namespace", n.name, "--wait=false"); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
	return n
}

func (n *ns) dump() {
	for _, args := range [][]string{
		{"get", "isvc,ksvc,revisions,pods,ingresses.networking.internal.knative.dev", "-o", "wide"},
		{"get", "isvc", "-o", "yaml"},
		{"get", "ksvc", "-o", "jsonpath={range .items[*]}{.metadata.name}{' spec.traffic='}{.spec.traffic}{'\\n'}{' status='}{.status}{'\\n'}{end}"},
	} {
		out, err := n.k("", args...)
		n.t.Logf("dump: kubectl -n %s %s\n%s%v", n.name, strings.Join(args, " "), out, errOrEmpty(err))
	}
}

func errOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// k runs kubectl in the namespace.
func (n *ns) k(stdin string, args ...string) (string, error) {
	return n.w.kubectl(stdin, append([]string{"-n", n.name}, args...)...)
}

// must runs kubectl in the namespace and fails the test on an error.
func (n *ns) must(stdin string, args ...string) string {
	n.t.Helper()
	out, err := n.k(stdin, args...)
	if err != nil {
		n.t.Fatal(err)
	}
	return out
}

// apply is `kubectl apply -f -` of a manifest (YAML or JSON).
func (n *ns) apply(manifest string) {
	n.t.Helper()
	n.must(manifest, "apply", "-f", "-")
}

// patch is `kubectl patch isvc NAME --type=merge -p PATCH`.
func (n *ns) patch(name, patch string) {
	n.t.Helper()
	n.must("", "patch", "isvc", name, "--type=merge", "-p", patch)
}

// isvcSpec builds an InferenceService manifest (JSON) the way KServe's documentation writes it:
// predictor.model with modelFormat sklearn and a storageUri, an optional canaryTrafficPercent and
// the optional enable-tag-routing annotation; a progress deadline (the annotation
// serving.knative.dev/progress-deadline, which KServe copies into the revision template: a
// failure test sets a short one on its own object), minReplicas and a CPU request.
type isvcSpec struct {
	name             string
	uri              string
	ctp              *int
	tagRouting       bool
	progressDeadline string
	minReplicas      *int
	cpu              string
}

func pct(v int) *int { return &v }

func (s isvcSpec) manifest() string {
	predictor := map[string]any{"model": map[string]any{
		"modelFormat": map[string]any{"name": "sklearn"},
		"storageUri":  s.uri,
	}}
	if s.ctp != nil {
		predictor["canaryTrafficPercent"] = *s.ctp
	}
	if s.minReplicas != nil {
		predictor["minReplicas"] = *s.minReplicas
	}
	if s.cpu != "" {
		// Limits too: KServe's default CPU limit (1) is below any request this large.
		cpu := map[string]any{"cpu": s.cpu}
		predictor["model"].(map[string]any)["resources"] = map[string]any{"requests": cpu, "limits": cpu}
	}
	meta := map[string]any{"name": s.name}
	ann := map[string]any{}
	if s.tagRouting {
		ann["serving.kserve.io/enable-tag-routing"] = "true"
	}
	if s.progressDeadline != "" {
		ann["serving.knative.dev/progress-deadline"] = s.progressDeadline
	}
	if len(ann) > 0 {
		meta["annotations"] = ann
	}
	b, _ := json.Marshal(map[string]any{
		"apiVersion": "serving.kserve.io/v1beta1",
		"kind":       "InferenceService",
		"metadata":   meta,
		"spec":       map[string]any{"predictor": predictor},
	})
	return string(b)
}

// knobs writes the fakes' per-namespace ConfigMap (KNOBS.md): rules is its JSON array.
func (n *ns) knobs(rules string) {
	n.t.Helper()
	b, _ := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "isvc-sim"},
		"data":     map[string]any{"rules": rules},
	})
	n.apply(string(b))
}

// get reads an InferenceService.
func (n *ns) get(name string) (*ISVC, error) {
	out, err := n.k("", "get", "isvc", name, "-o", "json")
	if err != nil {
		return nil, err
	}
	var s ISVC
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return nil, fmt.Errorf("isvc %s: %v", name, err)
	}
	return &s, nil
}

// eventually polls f until it returns nil; on timeout the test fails with f's last error.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = f(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v: %v", what, timeout, err)
		}
		time.Sleep(poll)
	}
}

// stays checks that f keeps returning nil for a while (a state that must be stable, not a step
// on the way to another one). This is no timing assertion: the state must simply not change.
func stays(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if err := f(); err != nil {
			t.Fatalf("%s: did not stay: %v", what, err)
		}
		time.Sleep(poll)
	}
}

// waitISVC polls an InferenceService until check accepts it and returns it.
func (n *ns) waitISVC(name, what string, check func(*ISVC) error) *ISVC {
	n.t.Helper()
	var last *ISVC
	eventually(n.t, stepTimeout, what, func() error {
		s, err := n.get(name)
		if err != nil {
			return err
		}
		last = s
		return check(s)
	})
	return last
}

// waitState polls until the InferenceService's State matches want, then checks it stays so for
// a few seconds (KServe reconciles again after each Knative status change: a state that is only a
// step of that loop must not pass).
func (n *ns) waitState(name string, want State) *ISVC {
	n.t.Helper()
	check := func(s *ISVC) error { return want.Diff(StateOf(s)) }
	s := n.waitISVC(name, fmt.Sprintf("isvc %s state %+v", name, want), check)
	stays(n.t, 3*time.Second, fmt.Sprintf("isvc %s state %+v", name, want), func() error {
		s2, err := n.get(name)
		if err != nil {
			return err
		}
		s = s2
		return check(s2)
	})
	return s
}

// columns reads `kubectl get isvc NAME`: the CRD's printer columns as the server computes them.
func (n *ns) columns(name string) (map[string]string, error) {
	out, err := n.k("", "get", "isvc", name)
	if err != nil {
		return nil, err
	}
	tab, err := ParseTable(out)
	if err != nil {
		return nil, err
	}
	want := []string{"NAME", "URL", "READY", "PREV", "LATEST", "PREVROLLEDOUTREVISION", "LATESTREADYREVISION", "AGE"}
	if strings.Join(tab.Header, " ") != strings.Join(want, " ") {
		return nil, fmt.Errorf("kubectl get isvc header %v, want %v", tab.Header, want)
	}
	if len(tab.Rows) != 1 {
		return nil, fmt.Errorf("kubectl get isvc %s: %d rows:\n%s", name, len(tab.Rows), out)
	}
	return tab.Rows[0], nil
}

// Columns are the cells of `kubectl get isvc` a step of the docs shows.
type Columns struct {
	Ready, Prev, Latest, PrevRolledout, LatestReady string
}

// waitColumns polls `kubectl get isvc NAME` until its cells are want.
func (n *ns) waitColumns(name string, want Columns) {
	n.t.Helper()
	eventually(n.t, stepTimeout, fmt.Sprintf("kubectl get isvc %s shows %+v", name, want), func() error {
		row, err := n.columns(name)
		if err != nil {
			return err
		}
		have := Columns{row["READY"], row["PREV"], row["LATEST"], row["PREVROLLEDOUTREVISION"], row["LATESTREADYREVISION"]}
		if have != want {
			return fmt.Errorf("have %+v", have)
		}
		if u := row["URL"]; u != "http://"+name+"."+n.name+".example.com" {
			return fmt.Errorf("URL %q", u)
		}
		return nil
	})
}

// waitPods polls `kubectl get pods -l serving.kserve.io/inferenceservice=NAME` until it lists
// exactly one pod per wanted revision (full names), each named
// <revision>-deployment-<hash>-<hash>, READY 2/2, STATUS Running, and no other pod.
func (n *ns) waitPods(isvc string, revisions ...string) {
	n.t.Helper()
	sort.Strings(revisions)
	eventually(n.t, stepTimeout, fmt.Sprintf("pods of %s: one per revision %v, 2/2 Running", isvc, revisions), func() error {
		out, err := n.k("", "get", "pods", "-l", "serving.kserve.io/inferenceservice="+isvc)
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) == "" {
			return fmt.Errorf("no pods")
		}
		tab, err := ParseTable(out)
		if err != nil {
			return err
		}
		if len(tab.Rows) != len(revisions) {
			return fmt.Errorf("%d pods, want %d:\n%s", len(tab.Rows), len(revisions), out)
		}
		matched := map[string]bool{}
		for _, row := range tab.Rows {
			found := false
			for _, r := range revisions {
				if PodName(r).MatchString(row["NAME"]) {
					found, matched[r] = true, true
				}
			}
			if !found {
				return fmt.Errorf("pod %s belongs to none of %v:\n%s", row["NAME"], revisions, out)
			}
			if row["READY"] != "2/2" || row["STATUS"] != "Running" {
				return fmt.Errorf("pod %s is %s %s:\n%s", row["NAME"], row["READY"], row["STATUS"], out)
			}
		}
		if len(matched) != len(revisions) {
			return fmt.Errorf("not every revision of %v has a pod:\n%s", revisions, out)
		}
		return nil
	})
}

// podsOf lists `kubectl get pods -l serving.knative.dev/revision=REV` rows.
func (n *ns) podsOf(revision string) ([]map[string]string, error) {
	out, err := n.k("", "get", "pods", "-l", "serving.knative.dev/revision="+revision)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(out) == "" {
		return nil, nil
	}
	tab, err := ParseTable(out)
	return tab.Rows, err
}

// ksvcTraffic is the Knative Service's spec.traffic as JSON (what KServe last wrote).
func (n *ns) ksvcTraffic(isvc string) string {
	n.t.Helper()
	return n.must("", "get", "ksvc", isvc+"-predictor", "-o", "jsonpath={.spec.traffic}")
}

// answer is one request through the fake ingress.
type answer struct {
	status   int
	revision string
	body     string
}

var httpClient = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}

// predict POSTs the docs' V1 request for model through the fake ingress with Host: host.
func (w *world) predict(host, model string) (answer, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+w.env.Ingress+"/v1/models/"+model+":predict", strings.NewReader(iris))
	if err != nil {
		return answer{}, err
	}
	req.Host = host
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	// The fake ingress names the revision that answered in X-Sim-Revision (and, as Knative's
	// gateway splits do, in Knative-Serving-Revision).
	rev := resp.Header.Get("X-Sim-Revision")
	if k := resp.Header.Get("Knative-Serving-Revision"); k != rev {
		return answer{}, fmt.Errorf("X-Sim-Revision %q but Knative-Serving-Revision %q", rev, k)
	}
	return answer{resp.StatusCode, rev, string(body)}, nil
}

// count sends n requests and counts the answering revisions; any answer other than 200 with a
// predictions body fails.
func (w *world) count(host, model string, n int) (map[string]int, error) {
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		a, err := w.predict(host, model)
		if err != nil {
			return seen, err
		}
		if a.status != http.StatusOK || !strings.Contains(a.body, `"predictions"`) {
			return seen, fmt.Errorf("request %d to %s: %d %q (revision %q)", i, host, a.status, strings.TrimSpace(a.body), a.revision)
		}
		seen[a.revision]++
	}
	return seen, nil
}

// waitServes polls until every one of n requests to host is answered 200 by revision.
func (w *world) waitServes(t *testing.T, host, model, revision string, n int) {
	t.Helper()
	eventually(t, stepTimeout, fmt.Sprintf("%d requests to %s answered by %s", n, host, revision), func() error {
		seen, err := w.count(host, model, n)
		if err != nil {
			return err
		}
		if seen[revision] != n {
			return fmt.Errorf("answered by %v", seen)
		}
		return nil
	})
}

// hostOf is the host of a URL.
func hostOf(u string) string {
	u = strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
	if i := strings.IndexAny(u, "/?#"); i >= 0 {
		u = u[:i]
	}
	return u
}

// step runs one step of a test as a subtest on the namespace; once a step failed, later steps
// are not run (they would only fail on a state they do not expect).
func (n *ns) step(parent *testing.T, name string, f func(t *testing.T)) {
	parent.Helper()
	if parent.Failed() {
		return
	}
	parent.Run(name, func(t *testing.T) {
		old := n.t
		n.t = t
		defer func() { n.t = old }()
		f(t)
	})
}
