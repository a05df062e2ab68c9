package ingress

import (
	"math/rand/v2"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/yaml"

	"isvc-canary.test/world/internal/knobs"
)

// weightedRoute is a hand-written HTTPRoute with two weighted backends (KServe v0.20.0 never
// weights; its main branch does, for spec.canary[]), in the shape KServe writes its routes.
const weightedRoute = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: iris
  namespace: kserve-test
spec:
  hostnames: ["iris-kserve-test.example.com"]
  parentRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: kserve-ingress-gateway
    namespace: kserve
  rules:
  - matches:
    - path: {type: RegularExpression, value: "^/inference\\.GRPCInferenceService/.*$"}
      headers: [{type: RegularExpression, name: content-type, value: "^application/grpc.*"}]
    backendRefs: [{kind: Service, name: grpc-only, port: 81}]
  - matches:
    - path: {type: RegularExpression, value: "^/.*$"}
    backendRefs:
    - {kind: Service, name: iris-predictor, namespace: kserve-test, port: 80, weight: 75}
    - {kind: Service, name: iris-v2-predictor, port: 80, weight: 25}
    - {kind: Service, name: iris-dark-predictor, port: 80, weight: 0}
`

func parseYAML(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	obj := map[string]any{}
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetGeneration(3) // JSON numbers decode as float64; the API's decoder gives int64
	return u
}

func TestMatchRoute(t *testing.T) {
	rt, err := ParseRoute(parseYAML(t, weightedRoute))
	if err != nil {
		t.Fatal(err)
	}
	if rt.Rules[1].BackendRefs[1].Namespace != "kserve-test" {
		t.Fatalf("backend namespace defaults to the route's: %+v", rt.Rules[1].BackendRefs[1])
	}
	grpc := func(h string) string {
		if h == "content-type" {
			return "application/grpc+proto"
		}
		return ""
	}
	rule, _, ok := MatchRoute("IRIS-kserve-test.example.com:80", "/v1/models/iris:predict", noHeaders, []*Route{rt})
	if !ok || len(rule.BackendRefs) != 3 {
		t.Fatalf("REST request: %v %+v", ok, rule)
	}
	rule, _, ok = MatchRoute("iris-kserve-test.example.com", "/inference.GRPCInferenceService/ModelInfer", grpc, []*Route{rt})
	if !ok || rule.BackendRefs[0].Name != "grpc-only" {
		t.Fatalf("gRPC request: %v %+v", ok, rule)
	}
	if _, _, ok := MatchRoute("other.example.com", "/", noHeaders, []*Route{rt}); ok {
		t.Fatal("another host matched")
	}
	wild := &Route{Namespace: "a", Name: "w", Hostnames: []string{"*.example.com"}, Rules: []RouteRule{{}}}
	if _, got, ok := MatchRoute("x.example.com", "/", noHeaders, []*Route{wild, rt}); !ok || got != wild {
		t.Fatal("wildcard host")
	}
	if _, got, _ := MatchRoute("iris-kserve-test.example.com", "/", noHeaders, []*Route{wild, rt}); got != rt {
		t.Fatal("an exact hostname wins over a wildcard")
	}
	prefix := &Route{Rules: []RouteRule{{Matches: []RouteMatch{{Path: &PathMatch{Type: "PathPrefix", Value: "/v1/"}}}}}}
	for path, want := range map[string]bool{"/v1/models": true, "/v1": true, "/v10": false} {
		if _, _, ok := MatchRoute("h", path, noHeaders, []*Route{prefix}); ok != want {
			t.Errorf("PathPrefix /v1/ on %s: %v", path, ok)
		}
	}
}

// TestPickBackendWeights: the backends are chosen in proportion to their weights (75/25), the one
// of weight 0 never.
func TestPickBackendWeights(t *testing.T) {
	rt, _ := ParseRoute(parseYAML(t, weightedRoute))
	rng := rand.New(rand.NewPCG(1, 2))
	counts := map[string]int{}
	const n = 20000
	for range n {
		b, ok := PickBackend(rt.Rules[1].BackendRefs, rng.Float64())
		if !ok {
			t.Fatal("no backend")
		}
		counts[b.Name]++
	}
	if counts["iris-dark-predictor"] != 0 {
		t.Fatalf("weight 0 chosen: %v", counts)
	}
	if share := float64(counts["iris-v2-predictor"]) / n; share < 0.23 || share > 0.27 {
		t.Fatalf("weight 25 of 100 got %.3f: %v", share, counts)
	}
	one := []Backend{{Name: "a"}, {Name: "b"}}
	if b, _ := PickBackend(one, 0.6); b.Name != "b" {
		t.Fatal("backends without weight weigh 1 each")
	}
	zero := int32(0)
	if _, ok := PickBackend([]Backend{{Name: "a", Weight: &zero}}, 0.1); ok {
		t.Fatal("only weight 0: nothing to pick")
	}
}

func TestParentStatuses(t *testing.T) {
	u := parseYAML(t, weightedRoute)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	parents := ParentStatuses(u, now)
	if len(parents) != 1 {
		t.Fatalf("%v", parents)
	}
	p := parents[0].(map[string]any)
	conds := p["conditions"].([]any)
	if p["controllerName"] != ControllerName || len(conds) != 2 {
		t.Fatalf("%v", p)
	}
	for i, typ := range []string{"Accepted", "ResolvedRefs"} {
		c := conds[i].(map[string]any)
		if c["type"] != typ || c["status"] != "True" || c["observedGeneration"] != int64(3) {
			t.Fatalf("%v", c)
		}
	}
	// Written again later: the transition times stay, another controller's entry is kept.
	other := map[string]any{"controllerName": "else.example/gw", "parentRef": map[string]any{"name": "x"}}
	_ = unstructured.SetNestedSlice(u.Object, append([]any{other}, parents...), "status", "parents")
	again := ParentStatuses(u, now.Add(time.Hour))
	if len(again) != 2 || normalize(again[1:]) == nil {
		t.Fatalf("%v", again)
	}
	c := again[1].(map[string]any)["conditions"].([]any)[0].(map[string]any)
	if c["lastTransitionTime"] != "2026-12-01T00:00:00Z" {
		t.Fatalf("transition time moved: %v", c)
	}
}

func ptrBool(b bool) *bool { return &b }

// TestServeRouteWeighted serves requests through the weighted route: each answer names the pod
// and the Service (variant), the split follows the weights, and a variant without a ready
// endpoint answers 503.
func TestServeRouteWeighted(t *testing.T) {
	rt := parseYAML(t, weightedRoute)
	routeIdx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	_ = routeIdx.Add(rt)
	pods := map[string]*corev1.Pod{}
	slices := map[string][]*discoveryv1.EndpointSlice{}
	addPods := func(svc string, ready bool, names ...string) {
		s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: svc + "-abc", Namespace: ns}}
		for _, n := range names {
			pods[n] = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: ns, Labels: map[string]string{isvcLabel: "iris"}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: boolStatus(ready)}}}}
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Conditions: discoveryv1.EndpointConditions{Ready: ptrBool(ready)},
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: n}})
		}
		slices[svc] = append(slices[svc], s)
	}
	addPods("iris-predictor", true, "stable-1", "stable-2", "stable-3")
	addPods("iris-v2-predictor", true, "canary-1")

	rng := rand.New(rand.NewPCG(3, 4))
	g := testGateway(t, rng.Float64, knobs.Config{})
	g.routes = &routes{
		lister: cache.NewGenericLister(routeIdx, httpRouteGVR.GroupResource()),
		pods: func(_, name string) (*corev1.Pod, error) {
			if p, ok := pods[name]; ok {
				return p, nil
			}
			return nil, cache.ErrFIFOClosed
		},
		slices: func(_, svc string) ([]*discoveryv1.EndpointSlice, error) { return slices[svc], nil },
	}
	const predict = `{"instances": [[6.8, 2.8, 4.8, 1.4]]}`
	byVariant, byPod := map[string]int{}, map[string]int{}
	const n = 4000
	for range n {
		rec := do(g, "iris-kserve-test.example.com", "POST", "/v1/models/iris:predict", predict)
		if rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		byVariant[rec.Header().Get(VariantHeader)]++
		byPod[rec.Header().Get(PodHeader)]++
	}
	if share := float64(byVariant["iris-v2-predictor"]) / n; share < 0.22 || share > 0.28 || byVariant["iris-dark-predictor"] != 0 {
		t.Fatalf("split %v", byVariant)
	}
	if byPod["canary-1"] != byVariant["iris-v2-predictor"] || byPod["stable-1"] == 0 || byPod["stable-2"] == 0 || byPod["stable-3"] == 0 {
		t.Fatalf("pods %v", byPod)
	}

	// The canary's only pod is not ready: requests that land on it get 503, naming the variant.
	slices["iris-v2-predictor"] = nil
	addPods("iris-v2-predictor", false, "canary-1")
	g.random = func() float64 { return 0.9 }
	rec := do(g, "iris-kserve-test.example.com", "POST", "/v1/models/iris:predict", predict)
	if rec.Code != 503 || rec.Header().Get(VariantHeader) != "iris-v2-predictor" || rec.Header().Get(PodHeader) != "" {
		t.Fatalf("not ready canary: %d %v", rec.Code, rec.Header())
	}
	g.random = func() float64 { return 0.1 }
	if rec := do(g, "iris-kserve-test.example.com", "POST", "/v1/models/iris:predict", predict); rec.Code != 200 || rec.Header().Get(VariantHeader) != "iris-predictor" {
		t.Fatalf("stable: %d %v", rec.Code, rec.Header())
	}
}
