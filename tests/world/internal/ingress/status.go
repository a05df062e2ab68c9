package ingress

import (
	"k8s.io/apimachinery/pkg/api/equality"
	nv1a1 "knative.dev/networking/pkg/apis/networking/v1alpha1"
)

// GatewayDomain is the internal name the fake gateway claims in Ingress status (Knative's route
// reconciler points its placeholder services at it; nothing resolves it).
const GatewayDomain = "sim-ingress.knative-serving.svc.cluster.local"

// ReadyStatus is the status of a programmed Ingress: the generation observed, NetworkConfigured,
// LoadBalancerReady and so Ready, with the gateway as public and private load balancer.
func ReadyStatus(ing *nv1a1.Ingress) nv1a1.IngressStatus {
	st := ing.Status.DeepCopy()
	st.InitializeConditions()
	st.ObservedGeneration = ing.Generation
	st.MarkNetworkConfigured()
	lb := []nv1a1.LoadBalancerIngressStatus{{DomainInternal: GatewayDomain}}
	st.MarkLoadBalancerReady(lb, lb)
	return *st
}

// ProgrammingStatus is the status of an Ingress whose new generation the gateway has seen but not
// programmed yet: observed, NetworkConfigured, the load balancer not ready (Unknown), as Knative's
// ingress implementations report it while their probes of the new configuration do not pass.
func ProgrammingStatus(ing *nv1a1.Ingress) nv1a1.IngressStatus {
	st := ing.Status.DeepCopy()
	st.InitializeConditions()
	st.ObservedGeneration = ing.Generation
	st.MarkNetworkConfigured()
	st.MarkLoadBalancerNotReady()
	return *st
}

// NeedsUpdate tells whether the stored status differs from the wanted one.
func NeedsUpdate(ing *nv1a1.Ingress, want *nv1a1.IngressStatus) bool {
	return !equality.Semantic.DeepEqual(&ing.Status, want)
}
