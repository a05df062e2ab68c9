package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

// world is what every measurement needs: the binaries, the cluster and a client of our own.
type world struct {
	plugin, kubectl string
	// pathDirs: the plugin's folder and the completion helper's, for kubectl to find them.
	pathDirs   string
	server, ns string
	curl       []string // curl with the kubeconfig's CA and client certificate
	dyn        dynamic.Interface
	log        *audit
	rounds     int
}

func newWorld(fs *flag.FlagSet, args []string) *world {
	kubeconfig := fs.String("kubeconfig", os.Getenv("KUBECONFIG"), "admin kubeconfig of the world")
	auditLog := fs.String("audit", "", "the API server's audit log")
	plugin := fs.String("plugin", "", "kubectl-isvc_canary (release build)")
	kubectl := fs.String("kubectl", "kubectl", "the kubectl binary to compare with")
	completions := fs.String("completions", "", "folder of kubectl_complete-isvc_canary")
	rounds := fs.Int("rounds", 20, "runs of each command")
	_ = fs.Parse(args)
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatal(err)
	}
	cfg.UserAgent = "bench-driver"
	cfg.QPS, cfg.Burst = 100, 200
	w := &world{plugin: *plugin, kubectl: *kubectl, server: cfg.Host, rounds: *rounds,
		pathDirs: filepath.Dir(*plugin) + ":" + *completions, log: &audit{path: *auditLog},
		dyn: dynamic.NewForConfigOrDie(cfg)}
	// curl gets the same client certificate as the plugin, in files.
	raw, err := clientcmd.LoadFromFile(*kubeconfig)
	if err != nil {
		log.Fatal(err)
	}
	user := raw.AuthInfos[raw.Contexts[raw.CurrentContext].AuthInfo]
	cluster := raw.Clusters[raw.Contexts[raw.CurrentContext].Cluster]
	dir, _ := os.MkdirTemp("", "bench-curl")
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			log.Fatal(err)
		}
		return p
	}
	w.curl = []string{"curl", "-sS", "-o", "/dev/null", "--cacert", write("ca.pem", cluster.CertificateAuthorityData),
		"--cert", write("cert.pem", user.ClientCertificateData), "--key", write("key.pem", user.ClientKeyData)}
	return w
}

// kubectlAgent: kubectl's user agent starts with its file's name.
func (w *world) kubectlAgent() string { return filepath.Base(w.kubectl) + "/" }

func (w *world) p(args ...string) []string { return append([]string{w.plugin}, args...) }
func (w *world) k(args ...string) []string { return append([]string{w.kubectl}, args...) }

// curlSeq: requests one after the other on one connection (curl's --next), as a command sends
// them; each request is [method, path, body].
func (w *world) curlSeq(reqs ...[3]string) []string {
	var argv []string
	for i, r := range reqs {
		if i > 0 {
			argv = append(argv, "--next")
		}
		argv = append(argv, w.curl[1:]...)
		if r[0] != "GET" {
			argv = append(argv, "-X", r[0], "-H", "Content-Type: application/merge-patch+json", "--data-raw", r[2])
		} else if r[2] != "" {
			argv = append(argv, "-H", "Accept: "+r[2])
		}
		argv = append(argv, w.server+r[1])
	}
	return append([]string{"curl"}, argv...)
}

const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

func (w *world) isvcPath(name string) string {
	return fmt.Sprintf("/apis/serving.kserve.io/v1beta1/namespaces/%s/inferenceservices/%s", w.ns, name)
}

// patch writes a merge patch with our own client (the resets between runs: user agent
// bench-driver, never counted).
func (w *world) patch(name, body string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := w.dyn.Resource(isvcGVR).Namespace(w.ns).Patch(ctx, name, types.MergePatchType, []byte(body), metav1.PatchOptions{})
	if err != nil {
		log.Fatalf("reset patch %s: %v", body, err)
	}
}

func (w *world) get(name string) *unstructured.Unstructured {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := w.dyn.Resource(isvcGVR).Namespace(w.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		log.Fatal(err)
	}
	return u
}

// must runs a set-up step; its failure ends the benchmark.
func must(argv ...string) {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		log.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

func ctp(n string) string { return `{"spec":{"predictor":{"canaryTrafficPercent":` + n + `}}}` }

func small(args []string) {
	fs := flag.NewFlagSet("small", flag.ExitOnError)
	w := newWorld(fs, args)
	w.ns = "bench"
	name := "iris"
	log.SetPrefix("bench small: ")
	log.SetFlags(log.Ltime)

	// A canary in progress: model 2.0 at 10 %, model 1.0 at 90 %.
	must(w.kubectl, "create", "namespace", w.ns)
	manifest := filepath.Join(os.TempDir(), "bench-iris.yaml")
	_ = os.WriteFile(manifest, []byte(`apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: iris}
spec:
  predictor:
    model:
      modelFormat: {name: sklearn}
      storageUri: gs://kfserving-examples/models/sklearn/1.0/model
`), 0o644)
	must(w.kubectl, "apply", "-n", w.ns, "-f", manifest)
	must(w.plugin, "-n", w.ns, "wait", name, "--for=ready", "--timeout", "5m")
	w.patch(name, `{"spec":{"predictor":{"canaryTrafficPercent":10,"model":{"storageUri":"gs://kfserving-examples/models/sklearn/2.0/model"}}}}`)
	must(w.plugin, "-n", w.ns, "wait", name, "--for=traffic=10", "--timeout", "5m")
	prev, _, _ := unstructured.NestedString(w.get(name).Object, "status", "components", "predictor", "latestRolledoutRevision")
	log.Printf("canary in progress; previous revision %s", prev)

	kube, curl := w.kubectlAgent(), "curl/"
	n := []string{"-n", w.ns}
	// kubectl's discovery cache warm, and every binary in the page cache.
	for _, argv := range [][]string{w.k("get", "isvc", "-n", w.ns), w.p("status", name, "-n", w.ns), w.k("get", "pods", "-n", w.ns)} {
		must(argv...)
	}
	// KServe's own status writes after a reset would meet a command's precondition (409, a retry):
	// they are let settle.
	settle := func() { time.Sleep(500 * time.Millisecond) }
	reset := func(body string) func() { return func() { w.patch(name, body); settle() } }
	get := [3]string{"GET", w.isvcPath(name), ""}
	patchPath := w.isvcPath(name) + "?fieldManager=kubectl-isvc-canary"

	fmt.Printf("## Commands against kubectl %s and the floor (curl, the same requests)\n", kubectlVersion(w.kubectl))
	mutation := func(title string, before func(), plugin []string, kpatch string, floorLabel string, floor []string) {
		s := compare(w.rounds, w.log, before,
			cmd{label: "isvc-canary " + strings.Join(plugin, " "), argv: [][]string{w.p(append(plugin, n...)...)}, agent: ours},
			cmd{label: "kubectl patch --type merge " + kpatch, argv: [][]string{w.k("patch", "isvc", name, "-n", w.ns, "--type", "merge", "-p", kpatch)}, agent: kube},
			cmd{label: "floor: curl " + floorLabel, argv: [][]string{floor}, agent: curl})
		report(title, s, nil)
	}
	mutation("set", reset(ctp("10")), []string{"set", name, "20"}, ctp("20"), "GET + PATCH",
		w.curlSeq(get, [3]string{"PATCH", patchPath, ctp("20")}))
	mutation("rollback", reset(ctp("10")), []string{"rollback", name}, ctp("0"), "GET + GET revision + PATCH",
		w.curlSeq(get, [3]string{"GET", fmt.Sprintf("/apis/serving.knative.dev/v1/namespaces/%s/revisions/%s", w.ns, prev), ""},
			[3]string{"PATCH", patchPath, ctp("0")}))

	// status NAME: what a person runs to see the same thing is two kubectl commands.
	pods := fmt.Sprintf("/api/v1/namespaces/%s/pods?includeObject=Object&labelSelector=serving.kserve.io%%2Finferenceservice%%3D%s", w.ns, name)
	revs := fmt.Sprintf("/apis/serving.knative.dev/v1/namespaces/%s/revisions?labelSelector=serving.kserve.io%%2Finferenceservice%%3D%s", w.ns, name)
	floor := append([]string{"curl", "--parallel", "--parallel-immediate"}, w.curl[1:]...)
	floor = append(floor, "-H", "Accept: "+tableAccept, w.server+w.isvcPath(name)+"?includeObject=Object", w.server+pods, w.server+revs)
	report("status NAME", compare(w.rounds, w.log, nil,
		cmd{label: "isvc-canary status " + name, argv: [][]string{w.p("status", name, "-n", w.ns)}, agent: ours},
		cmd{label: "kubectl get isvc NAME + kubectl get pods -l …", argv: [][]string{w.k("get", "isvc", name, "-n", w.ns),
			w.k("get", "pods", "-n", w.ns, "-l", "serving.kserve.io/inferenceservice="+name)}, agent: kube},
		cmd{label: "floor: curl --parallel GET table, pods, revisions", argv: [][]string{floor}, agent: curl}), nil)

	waits(w, name)

	mutation("promote", reset(ctp("10")), []string{"promote", name}, ctp("null"), "GET + PATCH",
		w.curlSeq(get, [3]string{"PATCH", patchPath, ctp("null")}))
	tag := func(v string) string {
		return `{"metadata":{"annotations":{"serving.kserve.io/enable-tag-routing":` + v + `}}}`
	}
	mutation("tag-routing on", reset(tag("null")), []string{"tag-routing", name, "on"}, tag(`"true"`), "GET + PATCH",
		w.curlSeq(get, [3]string{"PATCH", patchPath, tag(`"true"`)}))

	startup(w, name)
}

func kubectlVersion(kubectl string) string {
	out, _ := exec.Command(kubectl, "version", "--client", "-o", "yaml").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "gitVersion") {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "gitVersion:")) + " (" + kubectl + ")"
		}
	}
	return kubectl
}

// lastStatusWrite is the newest write to the InferenceService's status before t, by the audit log.
func lastStatusWrite(events []auditEvent, name string, t time.Time) (time.Time, bool) {
	var best time.Time
	for _, e := range events {
		if e.Stage != "ResponseComplete" || e.ObjectRef.Resource != "inferenceservices" || e.ObjectRef.Name != name ||
			e.ObjectRef.Subresource != "status" || (e.Verb != "update" && e.Verb != "patch") || e.ResponseStatus.Code >= 300 {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, e.StageTimestamp)
		if err == nil && !at.After(t) && at.After(best) {
			best = at
		}
	}
	return best, !best.IsZero()
}

// waits: how soon each waiter returns after the status write that decided it.
func waits(w *world, name string) {
	fmt.Printf("\n### waits: ms from the last status write before the waiter exits (the write that decided it, by the audit log) to its exit (%d rounds)\n", w.rounds)
	fmt.Println("| waiter | median ms | p25–p75 ms | from the spec write (or the command's start), median ms | runs measured | failed |\n|---|---|---|---|---|---|")
	type sample struct {
		after, fromWrite []float64
		failed           int
	}
	res := map[string]*sample{}
	order := []string{}
	add := func(label string, exited, written time.Time, events []auditEvent, err error) {
		if res[label] == nil {
			res[label] = &sample{}
			order = append(order, label)
		}
		if err != nil {
			res[label].failed++
			return
		}
		if at, ok := lastStatusWrite(events, name, exited); ok {
			res[label].after = append(res[label].after, float64(exited.Sub(at).Microseconds())/1000)
		}
		res[label].fromWrite = append(res[label].fromWrite, float64(exited.Sub(written).Microseconds())/1000)
	}
	for round := 0; round < w.rounds; round++ {
		pct, other := "20", "10"
		if round%2 == 1 {
			pct, other = "10", "20"
		}
		from := func() {
			w.patch(name, ctp(other))
			must(w.plugin, "-n", w.ns, "wait", name, "--for=traffic="+other, "--timeout", "2m")
		}
		// 1. `wait --for=traffic=N` and `kubectl wait --for=jsonpath` started together, then one
		// write (ours, not counted) makes the change.
		from()
		w.log.skip()
		a := exec.Command(w.plugin, "-n", w.ns, "wait", name, "--for=traffic="+pct, "--timeout", "2m")
		b := exec.Command(w.kubectl, "-n", w.ns, "wait", "isvc/"+name, "--for=jsonpath={.status.components.predictor.traffic[0].percent}="+pct, "--timeout=2m")
		var aExit, bExit time.Time
		var aErr, bErr error
		doneA, doneB := make(chan struct{}), make(chan struct{})
		if err := a.Start(); err != nil {
			log.Fatal(err)
		}
		if err := b.Start(); err != nil {
			log.Fatal(err)
		}
		go func() { aErr = a.Wait(); aExit = time.Now(); close(doneA) }()
		go func() { bErr = b.Wait(); bExit = time.Now(); close(doneB) }()
		time.Sleep(1500 * time.Millisecond) // both watches open
		written := time.Now()
		w.patch(name, ctp(pct))
		<-doneA
		<-doneB
		time.Sleep(50 * time.Millisecond)
		events := w.log.read()
		add("isvc-canary wait --for=traffic=N", aExit, written, events, aErr)
		add("kubectl wait --for=jsonpath=…percent=N (same change)", bExit, written, events, bErr)
		// 2. `set --wait` against `kubectl patch` + `kubectl wait`, each from the same settled
		// state, the order alternating.
		both := []func(){
			func() {
				w.log.skip()
				start := time.Now()
				err := exec.Command(w.plugin, "-n", w.ns, "set", name, pct, "--wait", "--timeout", "2m").Run()
				end := time.Now()
				time.Sleep(50 * time.Millisecond)
				add("isvc-canary set N --wait", end, start, w.log.read(), err)
			},
			func() {
				w.log.skip()
				start := time.Now()
				err := exec.Command(w.kubectl, "-n", w.ns, "patch", "isvc", name, "--type", "merge", "-p", ctp(pct)).Run()
				if err == nil {
					err = exec.Command(w.kubectl, "-n", w.ns, "wait", "isvc/"+name, "--for=jsonpath={.status.components.predictor.traffic[0].percent}="+pct, "--timeout=2m").Run()
				}
				end := time.Now()
				time.Sleep(50 * time.Millisecond)
				add("kubectl patch + kubectl wait --for=jsonpath=…", end, start, w.log.read(), err)
			},
		}
		for k := range both {
			from()
			both[(round+k)%2]()
		}
	}
	for _, label := range order {
		s := res[label]
		fmt.Printf("| %s | %.0f | %.0f–%.0f | %.0f | %d | %d |\n", label, quantile(s.after, 0.5), quantile(s.after, 0.25),
			quantile(s.after, 0.75), quantile(s.fromWrite, 0.5), len(s.after), s.failed)
	}
}

// startup: commands that need no cluster, and completion's live lookup.
func startup(w *world, name string) {
	path := "PATH=" + w.pathDirs + ":" + os.Getenv("PATH")
	// The floor of any process here: one that does nothing.
	nothing := cmd{label: "floor: true (a process that does nothing)", argv: [][]string{{"true"}}}
	report("start-up: --help", compare(w.rounds, w.log, nil,
		cmd{label: "isvc-canary --help", argv: [][]string{w.p("--help")}},
		cmd{label: "kubectl --help", argv: [][]string{w.k("--help")}}, nothing), nil)
	report("start-up: version", compare(w.rounds, w.log, nil,
		cmd{label: "isvc-canary version", argv: [][]string{w.p("version")}},
		cmd{label: "kubectl version --client", argv: [][]string{w.k("version", "--client")}}, nothing), nil)
	list := fmt.Sprintf("/apis/serving.kserve.io/v1beta1/namespaces/%s/inferenceservices", w.ns)
	floor := append([]string{"curl"}, w.curl[1:]...)
	floor = append(floor, "-H", "Accept: application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json", w.server+list)
	report("completion of a live name", compare(w.rounds, w.log, nil,
		cmd{label: "isvc-canary __complete status -n " + w.ns + " ''", argv: [][]string{w.p("__complete", "status", "-n", w.ns, "")}, agent: ours},
		cmd{label: "kubectl __complete isvc-canary status … (kubectl_complete-isvc_canary)", argv: [][]string{w.k("__complete", "isvc-canary", "status", "-n", w.ns, "")}, agent: ours, env: []string{path}},
		cmd{label: "kubectl get isvc -o name", argv: [][]string{w.k("get", "isvc", "-n", w.ns, "-o", "name")}, agent: w.kubectlAgent()},
		cmd{label: "floor: curl GET metadata list", argv: [][]string{floor}, agent: "curl/"}), nil)
}
