package ingress

import (
	"net"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	nv1a1 "knative.dev/networking/pkg/apis/networking/v1alpha1"
)

// NormalizeHost lower-cases a Host header and strips its port and any trailing dot.
func NormalizeHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// Match finds the Ingress path serving a request: the first rule listing the host, then its first
// path whose prefix and header conditions match. A path with rewriteHost is followed to the
// rewritten host. ingresses are searched in namespace/name order.
func Match(host, path string, header func(string) string, ingresses []*nv1a1.Ingress) (*nv1a1.HTTPIngressPath, bool) {
	sorted := append([]*nv1a1.Ingress{}, ingresses...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Namespace != sorted[j].Namespace {
			return sorted[i].Namespace < sorted[j].Namespace
		}
		return sorted[i].Name < sorted[j].Name
	})
	host = NormalizeHost(host)
	for depth := 0; depth < 4; depth++ {
		p, ok := matchOnce(host, path, header, sorted)
		if !ok {
			return nil, false
		}
		if p.RewriteHost == "" || NormalizeHost(p.RewriteHost) == host {
			return p, true
		}
		host = NormalizeHost(p.RewriteHost)
	}
	return nil, false
}

func matchOnce(host, path string, header func(string) string, ingresses []*nv1a1.Ingress) (*nv1a1.HTTPIngressPath, bool) {
	for _, ing := range ingresses {
		if ing.DeletionTimestamp != nil {
			continue
		}
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP == nil || !hasHost(rule.Hosts, host) {
				continue
			}
			for i := range rule.HTTP.Paths {
				p := &rule.HTTP.Paths[i]
				if p.Path != "" && !strings.HasPrefix(path, p.Path) {
					continue
				}
				if headersMatch(p.Headers, header) {
					return p, true
				}
			}
		}
	}
	return nil, false
}

func hasHost(hosts []string, host string) bool {
	for _, h := range hosts {
		if NormalizeHost(h) == host {
			return true
		}
	}
	return false
}

func headersMatch(want map[string]nv1a1.HeaderMatch, header func(string) string) bool {
	for name, m := range want {
		if header(name) != m.Exact {
			return false
		}
	}
	return true
}

// Pick chooses a split by weight, r being uniform in [0,1). Splits at 0 % are never chosen; it
// returns false when no split has any weight.
func Pick(splits []nv1a1.IngressBackendSplit, r float64) (nv1a1.IngressBackendSplit, bool) {
	total := 0
	for _, s := range splits {
		total += max(s.Percent, 0)
	}
	if total == 0 {
		return nv1a1.IngressBackendSplit{}, false
	}
	x := int(r * float64(total))
	for _, s := range splits {
		if p := max(s.Percent, 0); x < p {
			return s, true
		} else {
			x -= p
		}
	}
	return splits[len(splits)-1], true
}

// RevisionOf names the revision a split sends to (Knative appends it as a header; the split's
// service has the revision's name).
func RevisionOf(s nv1a1.IngressBackendSplit) string {
	if r := s.AppendHeaders["Knative-Serving-Revision"]; r != "" {
		return r
	}
	return s.ServiceName
}

// IsvcHost maps a host of an InferenceService itself (its status.url or status.address.url) to
// the host of its top component, as KServe's virtual service does: the transformer if it has one,
// else the predictor; a path ending in ":explain" goes to the explainer when there is one.
// The component host is the component's own URL when KServe has recorded it, else its
// Knative Service's cluster-local name (<isvc>-<component>.<ns>.svc.cluster.local).
func IsvcHost(host, path string, isvcs []*unstructured.Unstructured) (string, bool) {
	host = NormalizeHost(host)
	for _, isvc := range isvcs {
		own := false
		for _, field := range [][]string{{"status", "url"}, {"status", "address", "url"}} {
			if u, _, _ := unstructured.NestedString(isvc.Object, field...); u != "" && urlHost(u) == host {
				own = true
			}
		}
		if !own {
			continue
		}
		component := "predictor"
		if _, ok, _ := unstructured.NestedMap(isvc.Object, "spec", "transformer"); ok {
			component = "transformer"
		}
		if _, ok, _ := unstructured.NestedMap(isvc.Object, "spec", "explainer"); ok && strings.HasSuffix(path, ":explain") {
			component = "explainer"
		}
		if u, _, _ := unstructured.NestedString(isvc.Object, "status", "components", component, "url"); u != "" {
			return urlHost(u), true
		}
		return isvc.GetName() + "-" + component + "." + isvc.GetNamespace() + ".svc.cluster.local", true
	}
	return "", false
}

func urlHost(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexAny(u, "/?#"); i >= 0 {
		u = u[:i]
	}
	return NormalizeHost(u)
}
