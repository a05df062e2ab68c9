package autoscaler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/networking/pkg/apis/networking"
	nv1a1 "knative.dev/networking/pkg/apis/networking/v1alpha1"
	"knative.dev/pkg/apis"
	asv1a1 "knative.dev/serving/pkg/apis/autoscaling/v1alpha1"
)

func newPA(reach asv1a1.ReachabilityType, ann map[string]string) *asv1a1.PodAutoscaler {
	return &asv1a1.PodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "sklearn-iris-predictor-00001", Namespace: "kserve-test", UID: "pa-uid",
			Generation: 3, Annotations: ann, Labels: map[string]string{revisionLabel: "sklearn-iris-predictor-00001"}},
		Spec: asv1a1.PodAutoscalerSpec{
			ScaleTargetRef: corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "sklearn-iris-predictor-00001-deployment"},
			Reachability:   reach,
			ProtocolType:   networking.ProtocolHTTP1,
		},
	}
}

func readySKS() *nv1a1.ServerlessService {
	s := &nv1a1.ServerlessService{Status: nv1a1.ServerlessServiceStatus{
		ServiceName: "sklearn-iris-predictor-00001", PrivateServiceName: "sklearn-iris-predictor-00001-private"}}
	s.Status.InitializeConditions()
	s.Status.MarkEndpointsReady()
	s.Status.MarkActivatorEndpointsRemoved()
	return s
}

func condStatus(st asv1a1.PodAutoscalerStatus, t apis.ConditionType) corev1.ConditionStatus {
	if c := st.GetCondition(t); c != nil {
		return c.Status
	}
	return ""
}

func TestWantScale(t *testing.T) {
	for _, tc := range []struct {
		reach asv1a1.ReachabilityType
		ann   map[string]string
		want  int32
	}{
		{"", nil, 1},
		{asv1a1.ReachabilityReachable, nil, 1},
		{asv1a1.ReachabilityReachable, map[string]string{minScaleKey: "3"}, 3},
		{asv1a1.ReachabilityReachable, map[string]string{"autoscaling.knative.dev/minScale": "2"}, 2},
		{asv1a1.ReachabilityReachable, map[string]string{minScaleKey: "0"}, 1},
		{asv1a1.ReachabilityReachable, map[string]string{minScaleKey: "junk"}, 1},
		{asv1a1.ReachabilityUnreachable, map[string]string{minScaleKey: "3"}, 0},
	} {
		if got := WantScale(newPA(tc.reach, tc.ann)); got != tc.want {
			t.Errorf("%q %v: %d, want %d", tc.reach, tc.ann, got, tc.want)
		}
	}
}

func TestDesiredSKS(t *testing.T) {
	pa := newPA(asv1a1.ReachabilityReachable, map[string]string{metricKey: "concurrency", minScaleKey: "1"})
	sks := DesiredSKS(pa)
	if sks.Name != pa.Name || sks.Namespace != pa.Namespace {
		t.Fatalf("name %s/%s", sks.Namespace, sks.Name)
	}
	if !metav1.IsControlledBy(sks, pa) {
		t.Fatalf("owner refs %+v", sks.OwnerReferences)
	}
	if sks.Spec.Mode != nv1a1.SKSOperationModeServe || sks.Spec.ObjectRef != pa.Spec.ScaleTargetRef || sks.Spec.ProtocolType != networking.ProtocolHTTP1 {
		t.Fatalf("spec %+v", sks.Spec)
	}
	if len(sks.Annotations) != 1 || sks.Labels[revisionLabel] != pa.Name {
		t.Fatalf("meta %v %v", sks.Annotations, sks.Labels)
	}
	have := sks.DeepCopy()
	if !SKSUpToDate(have, sks) {
		t.Fatal("same spec must be up to date")
	}
	have.Spec.Mode = nv1a1.SKSOperationModeProxy
	if SKSUpToDate(have, sks) {
		t.Fatal("Proxy mode must be updated")
	}
}

func TestStatusHealthyRevision(t *testing.T) {
	pa := newPA("", nil)

	// No SKS yet.
	st := Status(pa, nil, 0)
	if st.ObservedGeneration != 3 || *st.DesiredScale != 1 || *st.ActualScale != 0 {
		t.Fatalf("counts %+v", st)
	}
	if condStatus(st, asv1a1.PodAutoscalerConditionReady) == corev1.ConditionTrue || st.IsScaleTargetInitialized() {
		t.Fatalf("must not be ready or initialized: %+v", st.Conditions)
	}

	// SKS exists (not ready yet), pods not ready.
	pa.Status = st
	sks := readySKS()
	sks.Status.MarkEndpointsNotReady("NoHealthyBackends")
	st = Status(pa, sks, 0)
	if st.ServiceName != "sklearn-iris-predictor-00001" || st.MetricsServiceName != "sklearn-iris-predictor-00001-private" {
		t.Fatalf("names %+v", st)
	}
	if condStatus(st, asv1a1.PodAutoscalerConditionActive) != corev1.ConditionUnknown ||
		condStatus(st, asv1a1.PodAutoscalerConditionSKSReady) != corev1.ConditionUnknown ||
		condStatus(st, asv1a1.PodAutoscalerConditionScaleTargetInitialized) != corev1.ConditionUnknown {
		t.Fatalf("activating: %+v", st.Conditions)
	}

	// Pod ready, SKS ready.
	pa.Status = st
	st = Status(pa, readySKS(), 1)
	for _, c := range []apis.ConditionType{asv1a1.PodAutoscalerConditionReady, asv1a1.PodAutoscalerConditionActive,
		asv1a1.PodAutoscalerConditionScaleTargetInitialized, asv1a1.PodAutoscalerConditionSKSReady} {
		if condStatus(st, c) != corev1.ConditionTrue {
			t.Fatalf("%s not True: %+v", c, st.Conditions)
		}
	}
	if *st.ActualScale != 1 {
		t.Fatalf("actual %d", *st.ActualScale)
	}

	// Stable: nothing changes on a second pass.
	pa.Status = st
	if again := Status(pa, readySKS(), 1); StatusChanged(&st, &again) {
		t.Fatalf("status not stable:\n%+v\n%+v", st, again)
	}

	// Made unreachable (promote): scaled to zero, inactive, still initialized.
	pa.Spec.Reachability = asv1a1.ReachabilityUnreachable
	st = Status(pa, readySKS(), 1)
	if *st.DesiredScale != 0 || condStatus(st, asv1a1.PodAutoscalerConditionActive) != corev1.ConditionFalse ||
		st.GetCondition(asv1a1.PodAutoscalerConditionActive).Reason != "NoTraffic" || !st.IsScaleTargetInitialized() {
		t.Fatalf("unreachable: %+v", st)
	}
	pa.Status = st
	sks = readySKS()
	sks.Status.MarkEndpointsNotReady("NoHealthyBackends")
	st = Status(pa, sks, 0)
	if !st.IsScaleTargetInitialized() {
		t.Fatal("ScaleTargetInitialized must stay True once reached")
	}

	// Reachable again (rollback): comes back.
	pa.Status = st
	pa.Spec.Reachability = asv1a1.ReachabilityReachable
	st = Status(pa, sks, 0)
	if *st.DesiredScale != 1 || condStatus(st, asv1a1.PodAutoscalerConditionActive) != corev1.ConditionUnknown {
		t.Fatalf("reactivating: %+v", st)
	}
}

// The trap: a revision whose pods never became ready must never look initialized, not even once it
// is scaled to zero (ready 0 >= desired 0).
func TestStatusFailedRevisionNeverInitialized(t *testing.T) {
	pa := newPA(asv1a1.ReachabilityReachable, nil)
	for i := 0; i < 3; i++ {
		pa.Status = Status(pa, readySKS(), 0)
	}
	if pa.Status.IsScaleTargetInitialized() || condStatus(pa.Status, asv1a1.PodAutoscalerConditionActive) != corev1.ConditionUnknown {
		t.Fatalf("failing, reachable: %+v", pa.Status.Conditions)
	}
	pa.Spec.Reachability = asv1a1.ReachabilityUnreachable
	st := Status(pa, readySKS(), 0)
	if st.IsScaleTargetInitialized() {
		t.Fatal("a failed revision scaled to zero must not be ScaleTargetInitialized")
	}
	if *st.DesiredScale != 0 || *st.ActualScale != 0 {
		t.Fatalf("scale %d/%d", *st.DesiredScale, *st.ActualScale)
	}
	active := st.GetCondition(asv1a1.PodAutoscalerConditionActive)
	if active.Status != corev1.ConditionFalse || active.Reason != "TimedOut" {
		t.Fatalf("active %+v", active)
	}
	if condStatus(st, asv1a1.PodAutoscalerConditionReady) == corev1.ConditionTrue {
		t.Fatal("not ready")
	}
}

func TestStatusMinScaleThreshold(t *testing.T) {
	pa := newPA(asv1a1.ReachabilityReachable, map[string]string{minScaleKey: "2"})
	st := Status(pa, readySKS(), 1)
	if st.IsScaleTargetInitialized() || condStatus(st, asv1a1.PodAutoscalerConditionActive) == corev1.ConditionTrue {
		t.Fatalf("1 of 2 ready: %+v", st.Conditions)
	}
	pa.Status = st
	st = Status(pa, readySKS(), 2)
	if !st.IsScaleTargetInitialized() || condStatus(st, asv1a1.PodAutoscalerConditionReady) != corev1.ConditionTrue {
		t.Fatalf("2 of 2 ready: %+v", st.Conditions)
	}
}

func TestPodReady(t *testing.T) {
	ready := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	if !podReady(ready) {
		t.Fatal("ready pod")
	}
	now := metav1.Now()
	term := ready.DeepCopy()
	term.DeletionTimestamp = &now
	pending := ready.DeepCopy()
	pending.Status.Phase = corev1.PodPending
	notReady := ready.DeepCopy()
	notReady.Status.Conditions[0].Status = corev1.ConditionFalse
	for _, p := range []*corev1.Pod{term, pending, notReady} {
		if podReady(p) {
			t.Fatalf("%+v counted ready", p.Status)
		}
	}
}
