package autoscaler

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	nv1a1 "knative.dev/networking/pkg/apis/networking/v1alpha1"
	"knative.dev/pkg/kmeta"
	asv1a1 "knative.dev/serving/pkg/apis/autoscaling/v1alpha1"
)

const (
	minScaleKey     = "autoscaling.knative.dev/min-scale"
	initialScaleKey = "autoscaling.knative.dev/initial-scale"
	metricKey       = "autoscaling.knative.dev/metric"
)

func annotationInt(pa *asv1a1.PodAutoscaler, keys ...string) (int32, bool) {
	for _, k := range keys {
		if s, ok := pa.Annotations[k]; ok {
			if v, err := strconv.ParseInt(s, 10, 32); err == nil && v >= 0 {
				return int32(v), true
			}
		}
	}
	return 0, false
}

// minScale is the PA's lower bound: its min-scale annotation (default 0) while the revision is
// reachable, 0 when Knative marked it unreachable (as Knative's ScaleBounds).
func minScale(pa *asv1a1.PodAutoscaler) int32 {
	if pa.Spec.Reachability == asv1a1.ReachabilityUnreachable {
		return 0
	}
	v, _ := annotationInt(pa, minScaleKey, "autoscaling.knative.dev/minScale")
	return v
}

// WantScale is the number of replicas the fake autoscaler asks for. With no request metrics, a
// reachable revision gets its min-scale (at least 1, Knative's default initial scale); an
// unreachable one gets 0.
func WantScale(pa *asv1a1.PodAutoscaler) int32 {
	if pa.Spec.Reachability == asv1a1.ReachabilityUnreachable {
		return 0
	}
	return max(minScale(pa), 1)
}

// activeThreshold is how many ready pods make the PA Active (Knative's activeThreshold).
func activeThreshold(pa *asv1a1.PodAutoscaler) int32 {
	if !pa.Status.IsScaleTargetInitialized() {
		initial, ok := annotationInt(pa, initialScaleKey, "autoscaling.knative.dev/initialScale")
		if !ok {
			initial = 1
		}
		return max(minScale(pa), initial)
	}
	return max(minScale(pa), 1)
}

// DesiredSKS is the ServerlessService Knative's autoscaler keeps for a PA (same name, owned by the
// PA, Serve mode: our ingress never goes through an activator).
func DesiredSKS(pa *asv1a1.PodAutoscaler) *nv1a1.ServerlessService {
	ann := map[string]string{}
	if v, ok := pa.Annotations[metricKey]; ok {
		ann[metricKey] = v
	}
	return &nv1a1.ServerlessService{
		ObjectMeta: metav1.ObjectMeta{
			Name:            pa.Name,
			Namespace:       pa.Namespace,
			Labels:          kmeta.CopyMap(pa.Labels),
			Annotations:     ann,
			OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(pa)},
		},
		Spec: nv1a1.ServerlessServiceSpec{
			Mode:         nv1a1.SKSOperationModeServe,
			ObjectRef:    pa.Spec.ScaleTargetRef,
			ProtocolType: pa.Spec.ProtocolType,
		},
	}
}

// SKSUpToDate tells whether an existing ServerlessService already has the desired spec.
func SKSUpToDate(have, want *nv1a1.ServerlessService) bool {
	return equality.Semantic.DeepEqual(have.Spec, want.Spec)
}

// Status computes the PA status from the SKS (nil if not created yet) and the number of ready pods
// of the revision, following Knative's KPA reconciler:
//   - ScaleTargetInitialized turns True once the ready pods reach the activation threshold while
//     the SKS has a service name, and then stays True. It is never derived from "ready >= desired"
//     alone: a failed revision scaled to zero would otherwise look initialized, and Knative would
//     make it the latest ready revision.
//   - Active: False (NoTraffic) when scaled to zero; False (TimedOut) when scaled to zero while
//     still activating; Unknown (Queued) while pods are coming up; True when enough are ready.
//   - SKSReady mirrors the SKS Ready condition; Ready is Knative's living condition set.
func Status(pa *asv1a1.PodAutoscaler, sks *nv1a1.ServerlessService, readyPods int32) asv1a1.PodAutoscalerStatus {
	out := pa.DeepCopy()
	st := &out.Status
	st.InitializeConditions()
	st.ObservedGeneration = pa.Generation

	if sks != nil {
		st.ServiceName = sks.Status.ServiceName
		st.MetricsServiceName = sks.Status.PrivateServiceName
	}
	switch {
	case sks == nil:
		st.MarkSKSNotReady("No Private Service Name")
	case sks.IsReady():
		st.MarkSKSReady()
	default:
		st.MarkSKSNotReady(sks.Status.GetCondition(nv1a1.ServerlessServiceConditionReady).GetMessage())
	}

	want := WantScale(pa)
	st.DesiredScale = &want
	st.ActualScale = &readyPods

	minReady := activeThreshold(out)
	if readyPods >= minReady && st.ServiceName != "" {
		st.MarkScaleTargetInitialized()
	}
	switch {
	case want == 0 || minReady == 0:
		if st.IsActivating() && minReady > 0 {
			st.MarkInactive("TimedOut", "The target could not be activated.")
		} else {
			st.MarkInactive("NoTraffic", "The target is not receiving traffic.")
		}
	case readyPods < minReady:
		st.MarkActivating("Queued", "Requests to the target are being buffered as resources are provisioned.")
	default:
		st.MarkActive()
	}
	return *st
}

// StatusChanged compares two PA statuses the way an update would (condition times included only
// when something else in the condition changed: Knative's condition manager keeps them).
func StatusChanged(have, want *asv1a1.PodAutoscalerStatus) bool {
	return !equality.Semantic.DeepEqual(have, want)
}

// podReady tells whether a pod counts as a ready replica (running, Ready, not terminating).
func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
