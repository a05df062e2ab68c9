package ingress

import (
	"time"

	"encoding/json"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	nv1a1 "knative.dev/networking/pkg/apis/networking/v1alpha1"
	netListers "knative.dev/networking/pkg/client/listers/networking/v1alpha1"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servinglisters "knative.dev/serving/pkg/client/listers/serving/v1"

	"isvc-canary.test/world/internal/knobs"
)

const ns = "kserve-test"

func split(rev string, pct int) nv1a1.IngressBackendSplit {
	return nv1a1.IngressBackendSplit{
		IngressBackend: nv1a1.IngressBackend{ServiceNamespace: ns, ServiceName: rev, ServicePort: intstr.FromInt(80)},
		Percent:        pct,
		AppendHeaders:  map[string]string{"Knative-Serving-Revision": rev, "Knative-Serving-Namespace": ns},
	}
}

// canaryIngress is what Knative's route reconciler writes for sklearn-iris-predictor at canary 10
// with tag routing: the main hosts split 10/90, and one rule per tag host.
func canaryIngress() *nv1a1.Ingress {
	main := []nv1a1.IngressBackendSplit{split("sklearn-iris-predictor-00003", 10), split("sklearn-iris-predictor-00001", 90)}
	rule := func(vis nv1a1.IngressVisibility, hosts []string, splits []nv1a1.IngressBackendSplit) nv1a1.IngressRule {
		return nv1a1.IngressRule{Hosts: hosts, Visibility: vis, HTTP: &nv1a1.HTTPIngressRuleValue{Paths: []nv1a1.HTTPIngressPath{{Splits: splits}}}}
	}
	return &nv1a1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "sklearn-iris-predictor", Namespace: ns, Generation: 4},
		Spec: nv1a1.IngressSpec{Rules: []nv1a1.IngressRule{
			rule(nv1a1.IngressVisibilityClusterLocal, []string{"sklearn-iris-predictor.kserve-test", "sklearn-iris-predictor.kserve-test.svc", "sklearn-iris-predictor.kserve-test.svc.cluster.local"}, main),
			rule(nv1a1.IngressVisibilityExternalIP, []string{"sklearn-iris-predictor.kserve-test.example.com"}, main),
			rule(nv1a1.IngressVisibilityExternalIP, []string{"latest-sklearn-iris-predictor.kserve-test.example.com"}, []nv1a1.IngressBackendSplit{split("sklearn-iris-predictor-00003", 100)}),
			rule(nv1a1.IngressVisibilityExternalIP, []string{"prev-sklearn-iris-predictor.kserve-test.example.com"}, []nv1a1.IngressBackendSplit{split("sklearn-iris-predictor-00001", 100)}),
		}},
	}
}

func noHeaders(string) string { return "" }

func TestMatchHosts(t *testing.T) {
	ings := []*nv1a1.Ingress{canaryIngress()}
	for host, want := range map[string]string{
		"sklearn-iris-predictor.kserve-test.example.com":         "2 splits",
		"Sklearn-Iris-Predictor.kserve-test.example.com:8080":    "2 splits",
		"sklearn-iris-predictor.kserve-test.svc.cluster.local":   "2 splits",
		"sklearn-iris-predictor.kserve-test":                     "2 splits",
		"latest-sklearn-iris-predictor.kserve-test.example.com":  "sklearn-iris-predictor-00003",
		"prev-sklearn-iris-predictor.kserve-test.example.com:80": "sklearn-iris-predictor-00001",
		"prev-sklearn-iris-predictor.kserve-test.example.com.":   "sklearn-iris-predictor-00001",
		"other.kserve-test.example.com":                          "none",
		"sklearn-iris.kserve-test.example.com":                   "none",
	} {
		p, ok := Match(host, "/v1/models/x:predict", noHeaders, ings)
		got := "none"
		switch {
		case ok && len(p.Splits) == 2:
			got = "2 splits"
		case ok:
			got = RevisionOf(p.Splits[0])
		}
		if got != want {
			t.Errorf("%s: %s, want %s", host, got, want)
		}
	}
}

func TestMatchHeadersPathsAndRewrite(t *testing.T) {
	ing := canaryIngress()
	// Tag-header routing puts a header-matching path before the default one.
	paths := ing.Spec.Rules[1].HTTP.Paths
	ing.Spec.Rules[1].HTTP.Paths = append([]nv1a1.HTTPIngressPath{{
		Headers: map[string]nv1a1.HeaderMatch{"Knative-Serving-Tag": {Exact: "prev"}},
		Splits:  []nv1a1.IngressBackendSplit{split("sklearn-iris-predictor-00001", 100)},
	}}, paths...)
	mapping := &nv1a1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "dm", Namespace: ns},
		Spec: nv1a1.IngressSpec{Rules: []nv1a1.IngressRule{{Hosts: []string{"models.example.org"},
			HTTP: &nv1a1.HTTPIngressRuleValue{Paths: []nv1a1.HTTPIngressPath{{Path: "/only", RewriteHost: "prev-sklearn-iris-predictor.kserve-test.example.com"}}}}}}}
	ings := []*nv1a1.Ingress{ing, mapping}
	host := "sklearn-iris-predictor.kserve-test.example.com"
	tagged := func(h string) string {
		if h == "Knative-Serving-Tag" {
			return "prev"
		}
		return ""
	}
	if p, ok := Match(host, "/", tagged, ings); !ok || len(p.Splits) != 1 {
		t.Fatalf("header match: %+v", p)
	}
	if p, ok := Match(host, "/", noHeaders, ings); !ok || len(p.Splits) != 2 {
		t.Fatalf("no header: %+v", p)
	}
	if p, ok := Match("models.example.org", "/only/x", noHeaders, ings); !ok || RevisionOf(p.Splits[0]) != "sklearn-iris-predictor-00001" {
		t.Fatalf("rewrite host: %+v %v", p, ok)
	}
	if _, ok := Match("models.example.org", "/elsewhere", noHeaders, ings); ok {
		t.Fatal("path prefix must match")
	}
}

func TestPick(t *testing.T) {
	splits := []nv1a1.IngressBackendSplit{split("a", 10), split("b", 90)}
	for r, want := range map[float64]string{0: "a", 0.0999: "a", 0.1: "b", 0.9999: "b"} {
		if s, ok := Pick(splits, r); !ok || s.ServiceName != want {
			t.Errorf("r=%v: %s", r, s.ServiceName)
		}
	}
	zero := []nv1a1.IngressBackendSplit{split("a", 0), split("b", 100)}
	if s, _ := Pick(zero, 0); s.ServiceName != "b" {
		t.Errorf("0%% split chosen")
	}
	if _, ok := Pick([]nv1a1.IngressBackendSplit{split("a", 0)}, 0.5); ok {
		t.Error("no weight: nothing to pick")
	}
	// 1,000 draws at 10 %: within 70..130 (the world test's bound), with a fixed seed.
	rng := rand.New(rand.NewPCG(1, 2))
	n := 0
	for i := 0; i < 1000; i++ {
		if s, _ := Pick(splits, rng.Float64()); s.ServiceName == "a" {
			n++
		}
	}
	if n < 70 || n > 130 {
		t.Errorf("canary got %d of 1000", n)
	}
}

func isvc(transformer bool, url string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "sklearn-iris", "namespace": ns},
		"spec":     map[string]any{"predictor": map[string]any{}},
		"status": map[string]any{
			"url":     url,
			"address": map[string]any{"url": "http://sklearn-iris.kserve-test.svc.cluster.local"},
		},
	}}
	if transformer {
		_ = unstructured.SetNestedMap(u.Object, map[string]any{}, "spec", "transformer")
		_ = unstructured.SetNestedField(u.Object, "http://sklearn-iris-transformer.kserve-test.example.com", "status", "components", "transformer", "url")
	}
	return u
}

func TestIsvcHost(t *testing.T) {
	list := []*unstructured.Unstructured{isvc(false, "http://sklearn-iris.kserve-test.example.com")}
	if h, ok := IsvcHost("sklearn-iris.kserve-test.example.com:8080", "/", list); !ok || h != "sklearn-iris-predictor.kserve-test.svc.cluster.local" {
		t.Errorf("predictor: %s %v", h, ok)
	}
	if h, ok := IsvcHost("sklearn-iris.kserve-test.svc.cluster.local", "/", list); !ok || h != "sklearn-iris-predictor.kserve-test.svc.cluster.local" {
		t.Errorf("address: %s %v", h, ok)
	}
	_ = unstructured.SetNestedField(list[0].Object, "http://sklearn-iris-predictor.kserve-test.example.com", "status", "components", "predictor", "url")
	if h, _ := IsvcHost("sklearn-iris.kserve-test.example.com", "/", list); h != "sklearn-iris-predictor.kserve-test.example.com" {
		t.Errorf("component url: %s", h)
	}
	list = []*unstructured.Unstructured{isvc(true, "http://sklearn-iris.kserve-test.example.com")}
	if h, _ := IsvcHost("sklearn-iris.kserve-test.example.com", "/", list); h != "sklearn-iris-transformer.kserve-test.example.com" {
		t.Errorf("transformer: %s", h)
	}
	if _, ok := IsvcHost("nope.kserve-test.example.com", "/", list); ok {
		t.Error("unknown host")
	}
}

func TestReadyStatus(t *testing.T) {
	ing := canaryIngress()
	st := ReadyStatus(ing)
	if st.ObservedGeneration != 4 {
		t.Fatalf("observedGeneration %d", st.ObservedGeneration)
	}
	for _, c := range []apis.ConditionType{nv1a1.IngressConditionReady, nv1a1.IngressConditionLoadBalancerReady, nv1a1.IngressConditionNetworkConfigured} {
		if !st.GetCondition(c).IsTrue() {
			t.Fatalf("%s: %+v", c, st.Conditions)
		}
	}
	if st.PublicLoadBalancer.Ingress[0].DomainInternal != GatewayDomain || st.PrivateLoadBalancer.Ingress[0].DomainInternal != GatewayDomain {
		t.Fatalf("load balancers %+v %+v", st.PublicLoadBalancer, st.PrivateLoadBalancer)
	}
	ing.Status = st
	if !ing.IsReady() {
		t.Fatal("Knative's IsReady must agree")
	}
	again := ReadyStatus(ing)
	if NeedsUpdate(ing, &again) {
		t.Fatal("no update needed the second time")
	}
	ing.Generation = 5
	again = ReadyStatus(ing)
	if !NeedsUpdate(ing, &again) {
		t.Fatal("new generation needs an update")
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

func TestAnswerV1(t *testing.T) {
	body := []byte(`{"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}`)
	st, out := Answer("POST", "/v1/models/sklearn-iris:predict", body, "r1", "sklearn-iris")
	if st != 200 {
		t.Fatalf("%d %s", st, out)
	}
	preds := decode(t, out)["predictions"].([]any)
	if len(preds) != 2 {
		t.Fatalf("%s", out)
	}
	for i, inst := range [][]any{{6.8, 2.8, 4.8, 1.4}, {6.0, 3.4, 4.5, 1.6}} {
		if int64(preds[i].(float64)) != Predict("r1", inst) {
			t.Errorf("prediction %d not deterministic", i)
		}
	}
	_, again := Answer("POST", "/v1/models/sklearn-iris:predict", body, "r1", "sklearn-iris")
	if string(again) != string(out) {
		t.Error("same revision, same answer")
	}
	// Different revisions answer differently on some instances.
	differ := false
	for i := 0; i < 20 && !differ; i++ {
		differ = Predict("sklearn-iris-predictor-00001", []any{float64(i)}) != Predict("sklearn-iris-predictor-00002", []any{float64(i)})
	}
	if !differ {
		t.Error("revisions never differ")
	}
	if st, _ := Answer("POST", "/v1/models/other:predict", body, "r1", "sklearn-iris"); st != 404 {
		t.Errorf("unknown model: %d", st)
	}
	if st, _ := Answer("POST", "/v1/models/sklearn-iris:predict", []byte(`{"x":1}`), "r1", "sklearn-iris"); st != 400 {
		t.Errorf("no instances: %d", st)
	}
	if st, _ := Answer("GET", "/v1/models/sklearn-iris:predict", nil, "r1", "sklearn-iris"); st != 405 {
		t.Errorf("GET predict: %d", st)
	}
	st, out = Answer("GET", "/v1/models/sklearn-iris", nil, "r1", "sklearn-iris")
	if m := decode(t, out); st != 200 || m["name"] != "sklearn-iris" || m["ready"] != true {
		t.Errorf("model ready: %d %s", st, out)
	}
}

func TestAnswerV2(t *testing.T) {
	body := []byte(`{"inputs":[{"name":"input-0","shape":[2,4],"datatype":"FP32","data":[[6.8,2.8,4.8,1.4],[6.0,3.4,4.5,1.6]]}]}`)
	st, out := Answer("POST", "/v2/models/sklearn-iris/infer", body, "r2", "sklearn-iris")
	if st != 200 {
		t.Fatalf("%d %s", st, out)
	}
	m := decode(t, out)
	if m["model_name"] != "sklearn-iris" || m["id"] == "" {
		t.Fatalf("%s", out)
	}
	o := m["outputs"].([]any)[0].(map[string]any)
	data := o["data"].([]any)
	if o["name"] != "output-0" || o["datatype"] != "INT64" || len(data) != 2 || o["shape"].([]any)[0].(float64) != 2 {
		t.Fatalf("%s", out)
	}
	if int64(data[1].(float64)) != Predict("r2", []any{6.0, 3.4, 4.5, 1.6}) {
		t.Error("flat row not hashed like the V1 instance")
	}
	flat := []byte(`{"id":"abc","inputs":[{"name":"input-0","shape":[2,4],"datatype":"FP32","data":[6.8,2.8,4.8,1.4,6.0,3.4,4.5,1.6]}]}`)
	_, out2 := Answer("POST", "/v2/models/sklearn-iris/infer", flat, "r2", "sklearn-iris")
	m2 := decode(t, out2)
	if m2["id"] != "abc" {
		t.Fatalf("%s", out2)
	}
	if got := m2["outputs"].([]any)[0].(map[string]any)["data"]; len(got.([]any)) != 2 || got.([]any)[0] != data[0] {
		t.Errorf("flat and nested data must agree: %v vs %v", got, data)
	}
	if st, _ := Answer("POST", "/v2/models/sklearn-iris/infer", []byte(`{"inputs":[{"shape":[3],"data":[1,2]}]}`), "r2", "sklearn-iris"); st != 400 {
		t.Errorf("bad shape: %d", st)
	}
	st, out = Answer("GET", "/v2/models/sklearn-iris/ready", nil, "r2", "sklearn-iris")
	if m := decode(t, out); st != 200 || m["ready"] != true {
		t.Errorf("ready: %d %s", st, out)
	}
	if st, _ := Answer("GET", "/v2/models/x/ready", nil, "r2", "sklearn-iris"); st != 404 {
		t.Errorf("unknown model ready: %d", st)
	}
	if st, _ := Answer("GET", "/nowhere", nil, "r2", "sklearn-iris"); st != 404 {
		t.Errorf("unknown path: %d", st)
	}
}

// A gateway over in-memory listers, for the HTTP behaviour.
func testGateway(t *testing.T, rng func() float64, cfg knobs.Config, revs ...*servingv1.Revision) *gateway {
	t.Helper()
	ingIdx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	revIdx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	podIdx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	isvcIdx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	programmed := newPrograms()
	programmed.program(canaryIngress())
	_ = ingIdx.Add(canaryIngress())
	_ = isvcIdx.Add(isvc(false, "http://sklearn-iris.kserve-test.example.com"))
	for _, r := range revs {
		_ = revIdx.Add(r)
		ready := r.IsReady()
		_ = podIdx.Add(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: r.Name + "-pod", Namespace: ns, Labels: map[string]string{revisionLabel: r.Name}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: boolStatus(ready)}}}})
	}
	store := knobs.NewStatic(map[string]knobs.Config{ns: cfg})
	return &gateway{
		ingresses: listers(ingIdx),
		revisions: servinglisters.NewRevisionLister(revIdx),
		pods:      corelisters.NewPodLister(podIdx),
		isvcs:     cache.NewGenericLister(isvcIdx, isvcGVR.GroupResource()),
		knobs:     store,
		random:    rng,
		traffic:   NewTrafficStats(time.Now),
		programs:  programmed,
	}
}

func boolStatus(b bool) corev1.ConditionStatus {
	if b {
		return corev1.ConditionTrue
	}
	return corev1.ConditionFalse
}

func revision(name, uri string, ready bool) *servingv1.Revision {
	r := &servingv1.Revision{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Generation: 1,
		Labels:      map[string]string{isvcLabel: "sklearn-iris"},
		Annotations: map[string]string{sourceURIAnnotation: uri}}}
	r.Status.ObservedGeneration = 1
	r.Status.InitializeConditions()
	if ready {
		r.Status.MarkResourcesAvailableTrue()
		r.Status.MarkContainerHealthyTrue()
	}
	return r
}

func do(g *gateway, host, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Host = host
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	return rec
}

func TestServeHTTP(t *testing.T) {
	r1 := revision("sklearn-iris-predictor-00001", "gs://kfserving-examples/models/sklearn/1.0/model", true)
	r3 := revision("sklearn-iris-predictor-00003", "gs://kfserving-examples/models/sklearn/1.0/model-2", true)
	const predict = `{"instances": [[6.8, 2.8, 4.8, 1.4]]}`
	fixed := func(v float64) func() float64 { return func() float64 { return v } }

	g := testGateway(t, fixed(0.05), knobs.Config{}, r1, r3)
	rec := do(g, "sklearn-iris.kserve-test.example.com", "POST", "/v1/models/sklearn-iris:predict", predict)
	if rec.Code != 200 || rec.Header().Get(RevisionHeader) != r3.Name || rec.Header().Get("Knative-Serving-Revision") != r3.Name {
		t.Fatalf("isvc host, r=0.05 → canary: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if !strings.Contains(rec.Body.String(), `"predictions"`) || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("body %s", rec.Body)
	}
	g.random = fixed(0.5)
	if rec := do(g, "sklearn-iris-predictor.kserve-test.example.com:8080", "POST", "/v1/models/sklearn-iris:predict", predict); rec.Header().Get(RevisionHeader) != r1.Name {
		t.Fatalf("r=0.5 → prev: %v", rec.Header())
	}
	if rec := do(g, "latest-sklearn-iris-predictor.kserve-test.example.com", "GET", "/v2/models/sklearn-iris/ready", ""); rec.Code != 200 || rec.Header().Get(RevisionHeader) != r3.Name {
		t.Fatalf("latest tag: %d %v", rec.Code, rec.Header())
	}
	if rec := do(g, "unknown.example.com", "GET", "/", ""); rec.Code != 404 {
		t.Fatalf("unknown host: %d", rec.Code)
	}

	// The canary's revision is not ready: requests that land on it get 503.
	g = testGateway(t, fixed(0.05), knobs.Config{}, r1, revision(r3.Name, "gs://x/model-2", false))
	if rec := do(g, "sklearn-iris.kserve-test.example.com", "POST", "/v1/models/sklearn-iris:predict", predict); rec.Code != 503 {
		t.Fatalf("not ready: %d", rec.Code)
	}

	// Knobs: errorRate 1 → 500 (for the matching revision only), latency is applied.
	g = testGateway(t, fixed(0.05), knobs.Config{Rules: []knobs.Rule{{Match: "model-2", ErrorRate: 1}}}, r1, r3)
	if rec := do(g, "sklearn-iris.kserve-test.example.com", "POST", "/v1/models/sklearn-iris:predict", predict); rec.Code != 500 || rec.Header().Get(RevisionHeader) != r3.Name {
		t.Fatalf("errorRate: %d %v", rec.Code, rec.Header())
	}
	g.random = fixed(0.5)
	if rec := do(g, "sklearn-iris.kserve-test.example.com", "POST", "/v1/models/sklearn-iris:predict", predict); rec.Code != 200 {
		t.Fatalf("other revision unaffected: %d", rec.Code)
	}
}

func listers(idx cache.Indexer) netListers.IngressLister { return netListers.NewIngressLister(idx) }
