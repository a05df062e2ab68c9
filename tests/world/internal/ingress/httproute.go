package ingress

// The Gateway API half of the fake gateway, for KServe's Standard mode (a world whose KServe runs
// with enableGatewayApi): every HTTPRoute (gateway.networking.k8s.io/v1) gets status.parents[] for
// each of its parents, with Accepted and ResolvedRefs True, as a real gateway writes them (KServe
// keeps IngressReady False until every parent of its routes has them, none False), after the
// namespace's ingressDelay knob; and requests are served by the HTTPRoutes: hostnames (exact or
// "*." wildcard), the first rule whose match holds (path PathPrefix, Exact or RegularExpression —
// a regular expression is searched in the path, so KServe's anchored "^/.*$" matches everything —,
// headers Exact or RegularExpression), a weighted random choice among its backendRefs (weight
// defaults to 1; 0 is never chosen), then a uniform choice among the ready endpoints of that
// Service's EndpointSlices, and the fake model of that pod answers. Answers name the pod
// (PodHeader) and the Service, which is the predictor variant (VariantHeader); the model's
// prediction is seeded by the Service's name, so the stable and a canary predictor answer
// differently. The knobs errorRate and latency apply by the pod's storage URI, as for Knative.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
)

var httpRouteGVR = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

const (
	// ControllerName is the GatewayClass controller the test ingress implements; it names itself
	// so in the HTTPRoutes' status.parents[].
	ControllerName = "isvc-canary.test/ingress"
	// PodHeader names the pod that answered a request routed by an HTTPRoute.
	PodHeader = "Isvc-Canary-Pod"
	// VariantHeader names the Service (the predictor variant: {isvc}-predictor,
	// {isvc}-{name}-predictor) whose pod answered a request routed by an HTTPRoute.
	VariantHeader = "Isvc-Canary-Variant"
)

// Route is the part of an HTTPRoute the gateway uses.
type Route struct {
	Namespace, Name string
	Hostnames       []string
	Rules           []RouteRule
}

// RouteRule is one rule of an HTTPRoute.
type RouteRule struct {
	Matches     []RouteMatch `json:"matches"`
	BackendRefs []Backend    `json:"backendRefs"`
}

// RouteMatch is one match of a rule: every condition given must hold.
type RouteMatch struct {
	Path    *PathMatch    `json:"path"`
	Headers []HeaderMatch `json:"headers"`
}

// PathMatch matches the request path.
type PathMatch struct {
	Type  string `json:"type"` // PathPrefix (default), Exact, RegularExpression
	Value string `json:"value"`
}

// HeaderMatch matches one request header.
type HeaderMatch struct {
	Type  string `json:"type"` // Exact (default), RegularExpression
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Backend is one backendRef: a Service.
type Backend struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Port      *int32 `json:"port"`
	Weight    *int32 `json:"weight"`
}

// ParseRoute reads an HTTPRoute; backends without a namespace get the route's.
func ParseRoute(u *unstructured.Unstructured) (*Route, error) {
	var spec struct {
		Hostnames []string    `json:"hostnames"`
		Rules     []RouteRule `json:"rules"`
	}
	raw, err := json.Marshal(u.Object["spec"])
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("HTTPRoute %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	for i := range spec.Rules {
		for j := range spec.Rules[i].BackendRefs {
			if spec.Rules[i].BackendRefs[j].Namespace == "" {
				spec.Rules[i].BackendRefs[j].Namespace = u.GetNamespace()
			}
		}
	}
	return &Route{Namespace: u.GetNamespace(), Name: u.GetName(), Hostnames: spec.Hostnames, Rules: spec.Rules}, nil
}

// MatchRoute finds the rule serving a request among routes (searched in namespace/name order, an
// exact hostname before a wildcard one): the first rule with a match that holds (a rule without
// matches matches every request).
func MatchRoute(host, path string, header func(string) string, routes []*Route) (*RouteRule, *Route, bool) {
	sorted := append([]*Route{}, routes...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Namespace != sorted[j].Namespace {
			return sorted[i].Namespace < sorted[j].Namespace
		}
		return sorted[i].Name < sorted[j].Name
	})
	host = NormalizeHost(host)
	for _, exact := range []bool{true, false} {
		for _, rt := range sorted {
			if !routeHasHost(rt.Hostnames, host, exact) {
				continue
			}
			for i := range rt.Rules {
				rule := &rt.Rules[i]
				if len(rule.Matches) == 0 {
					return rule, rt, true
				}
				for _, m := range rule.Matches {
					if m.holds(path, header) {
						return rule, rt, true
					}
				}
			}
		}
	}
	return nil, nil, false
}

// routeHasHost: with exact, the host is listed as is; without, a "*." wildcard covers it or the
// route lists no hostname (it then matches every host).
func routeHasHost(hostnames []string, host string, exact bool) bool {
	if len(hostnames) == 0 {
		return !exact
	}
	for _, h := range hostnames {
		h = NormalizeHost(h)
		if exact && h == host {
			return true
		}
		if !exact && strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:]) && len(host) > len(h)-1 {
			return true
		}
	}
	return false
}

var regexps sync.Map // pattern → *regexp.Regexp (nil when invalid)

func search(pattern, s string) bool {
	v, ok := regexps.Load(pattern)
	if !ok {
		re, err := regexp.Compile(pattern)
		if err != nil {
			re = nil
		}
		v, _ = regexps.LoadOrStore(pattern, re)
	}
	re, _ := v.(*regexp.Regexp)
	return re != nil && re.MatchString(s)
}

func (m RouteMatch) holds(path string, header func(string) string) bool {
	if m.Path != nil {
		switch m.Path.Type {
		case "Exact":
			if path != m.Path.Value {
				return false
			}
		case "RegularExpression":
			if !search(m.Path.Value, path) {
				return false
			}
		default: // PathPrefix: by path elements
			prefix := strings.TrimSuffix(m.Path.Value, "/")
			if prefix != "" && path != prefix && !strings.HasPrefix(path, prefix+"/") {
				return false
			}
		}
	}
	for _, h := range m.Headers {
		v := header(h.Name)
		if h.Type == "RegularExpression" {
			if !search(h.Value, v) {
				return false
			}
		} else if v != h.Value {
			return false
		}
	}
	return true
}

// PickBackend chooses a backendRef by weight, r being uniform in [0,1); a backend without a weight
// weighs 1, one of weight 0 is never chosen. False when no backend has any weight.
func PickBackend(backends []Backend, r float64) (Backend, bool) {
	weight := func(b Backend) int {
		if b.Weight == nil {
			return 1
		}
		return max(int(*b.Weight), 0)
	}
	total := 0
	for _, b := range backends {
		total += weight(b)
	}
	if total == 0 {
		return Backend{}, false
	}
	x := int(r * float64(total))
	for _, b := range backends {
		if w := weight(b); x < w {
			return b, true
		} else {
			x -= w
		}
	}
	return backends[len(backends)-1], true
}

// ReadyEndpoints lists the pods (by name) behind ready endpoints of a Service's EndpointSlices.
func ReadyEndpoints(slices []*discoveryv1.EndpointSlice) []string {
	var pods []string
	seen := map[string]bool{}
	for _, s := range slices {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			if ep.Conditions.Terminating != nil && *ep.Conditions.Terminating {
				continue
			}
			if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || seen[ep.TargetRef.Name] {
				continue
			}
			seen[ep.TargetRef.Name] = true
			pods = append(pods, ep.TargetRef.Name)
		}
	}
	sort.Strings(pods)
	return pods
}

// ParentStatuses is the status.parents[] the gateway wants on an HTTPRoute: the entries of other
// controllers kept, one entry of ours per parentRef with Accepted and ResolvedRefs True for the
// route's generation. Transition times are kept from the stored entry when the status is unchanged.
func ParentStatuses(u *unstructured.Unstructured, now time.Time) []any {
	refs, _, _ := unstructured.NestedSlice(u.Object, "spec", "parentRefs")
	old, _, _ := unstructured.NestedSlice(u.Object, "status", "parents")
	var out []any
	oldTimes := map[string]string{}
	for _, p := range old {
		m, _ := p.(map[string]any)
		if m["controllerName"] != ControllerName {
			out = append(out, p)
			continue
		}
		conds, _ := m["conditions"].([]any)
		for _, c := range conds {
			cm, _ := c.(map[string]any)
			if cm["status"] == "True" {
				t, _ := cm["lastTransitionTime"].(string)
				oldTimes[refKey(m["parentRef"])+"/"+fmt.Sprint(cm["type"])] = t
			}
		}
	}
	ts := now.UTC().Format(time.RFC3339)
	for _, ref := range refs {
		cond := func(typ, reason, msg string) any {
			t := oldTimes[refKey(ref)+"/"+typ]
			if t == "" {
				t = ts
			}
			return map[string]any{"type": typ, "status": "True", "reason": reason, "message": msg,
				"observedGeneration": u.GetGeneration(), "lastTransitionTime": t}
		}
		out = append(out, map[string]any{
			"parentRef":      ref,
			"controllerName": ControllerName,
			"conditions": []any{
				cond("Accepted", "Accepted", "Route is accepted"),
				cond("ResolvedRefs", "ResolvedRefs", "Resolved all the Object references for the Route"),
			},
		})
	}
	return out
}

func refKey(ref any) string {
	m, _ := ref.(map[string]any)
	return fmt.Sprintf("%v/%v/%v", m["namespace"], m["name"], m["sectionName"])
}

// routes is the Gateway API side of the gateway; nil fields when the cluster has no HTTPRoute CRD.
type routes struct {
	dyn     dynamic.Interface
	lister  cache.GenericLister
	pods    func(ns, name string) (*corev1.Pod, error)
	slices  func(ns, service string) ([]*discoveryv1.EndpointSlice, error)
	mu      sync.Mutex
	pending map[types.NamespacedName]seenGeneration
}

// list returns the parsed HTTPRoutes (none without the CRD).
func (rs *routes) list() []*Route {
	if rs == nil || rs.lister == nil {
		return nil
	}
	objs, err := rs.lister.List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*Route
	for _, o := range objs {
		u, ok := o.(*unstructured.Unstructured)
		if !ok || u.GetDeletionTimestamp() != nil {
			continue
		}
		if r, err := ParseRoute(u); err == nil {
			out = append(out, r)
		}
	}
	return out
}

// syncRoute writes one HTTPRoute's status.parents once ingressDelay has passed since its
// generation was first seen.
func (g *gateway) syncRoute(ctx context.Context, key types.NamespacedName) (time.Duration, error) {
	rs := g.routes
	obj, err := rs.lister.ByNamespace(key.Namespace).Get(key.Name)
	if apierrors.IsNotFound(err) {
		rs.mu.Lock()
		delete(rs.pending, key)
		rs.mu.Unlock()
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok || u.GetDeletionTimestamp() != nil || g.knobs.Paused(key.Namespace) {
		return 0, nil
	}
	now := time.Now()
	rs.mu.Lock()
	seen, ok := rs.pending[key]
	if !ok || seen.generation != u.GetGeneration() {
		seen = seenGeneration{generation: u.GetGeneration(), at: now}
		rs.pending[key] = seen
	}
	rs.mu.Unlock()
	if wait := seen.at.Add(g.knobs.Get(key.Namespace).IngressDelay).Sub(now); wait > 0 {
		return wait, nil
	}
	want := ParentStatuses(u, now)
	have, _, _ := unstructured.NestedSlice(u.Object, "status", "parents")
	if equality.Semantic.DeepEqual(normalize(have), normalize(want)) {
		return 0, nil
	}
	upd := u.DeepCopy()
	if err := unstructured.SetNestedSlice(upd.Object, want, "status", "parents"); err != nil {
		return 0, err
	}
	_, err = rs.dyn.Resource(httpRouteGVR).Namespace(key.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	return 0, err
}

// normalize makes JSON-decoded and hand-built values comparable (int64 vs float64 and the like).
func normalize(v []any) any {
	raw, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(raw, &out)
	return out
}

// serveRoute answers a request an HTTPRoute matched, as the chosen backend's pod.
func (g *gateway) serveRoute(w http.ResponseWriter, r *http.Request, rule *RouteRule) {
	backend, ok := PickBackend(rule.BackendRefs, g.random())
	if !ok || (backend.Kind != "" && backend.Kind != "Service") {
		http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
		return
	}
	slices, err := g.routes.slices(backend.Namespace, backend.Name)
	ready := ReadyEndpoints(slices)
	var pod *corev1.Pod
	if err == nil && len(ready) > 0 {
		// A ready endpoint whose pod the gateway knows and still finds ready.
		start := int(g.random() * float64(len(ready)))
		for i := range ready {
			p, perr := g.routes.pods(backend.Namespace, ready[(start+i)%len(ready)])
			if perr == nil && PodReady(p) {
				pod = p
				break
			}
		}
	}
	w.Header().Set(VariantHeader, backend.Name)
	if pod == nil {
		http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set(PodHeader, pod.Name)
	rule2 := g.knobs.For(pod.Namespace, sourceURIOf(pod))
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if rule2.Latency > 0 {
		select {
		case <-time.After(rule2.Latency):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if rule2.ErrorRate > 0 && g.random() < rule2.ErrorRate {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = fmt.Fprintf(w, "{\"error\":\"sim: injected error (errorRate %v) in pod %s\"}\n", rule2.ErrorRate, pod.Name)
		return
	}
	status, out := Answer(r.Method, r.URL.Path, body, backend.Name, pod.Labels[isvcLabel])
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(out)
	}
}

// sourceURIOf is the storage URI of a pod's model: the storage initializer's annotation, else its
// first argument.
func sourceURIOf(p *corev1.Pod) string {
	if u := p.Annotations[sourceURIAnnotation]; u != "" {
		return u
	}
	for _, c := range p.Spec.InitContainers {
		if c.Name == "storage-initializer" && len(c.Args) > 0 {
			return c.Args[0]
		}
	}
	return ""
}
