package kubelet

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestRegisterNodeReadyWithoutNotReadyTaint(t *testing.T) {
	ctx := context.Background()
	// As the API server's TaintNodesByCondition admission would create it.
	cs := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: NodeName},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{
			{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule},
			{Key: "keep", Effect: corev1.TaintEffectNoSchedule},
		}}})
	if err := registerNode(ctx, cs); err != nil {
		t.Fatal(err)
	}
	node, _ := cs.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
	if len(node.Spec.Taints) != 1 || node.Spec.Taints[0].Key != "keep" {
		t.Fatalf("taints %+v", node.Spec.Taints)
	}
	ready := false
	for _, c := range node.Status.Conditions {
		ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
	}
	if !ready || node.Status.Addresses[0].Address != NodeIP {
		t.Fatalf("status %+v", node.Status)
	}
	lease, err := cs.CoordinationV1().Leases(leaseNS).Get(ctx, NodeName, metav1.GetOptions{})
	if err != nil || *lease.Spec.HolderIdentity != NodeName || lease.Spec.RenewTime == nil {
		t.Fatalf("lease %+v %v", lease, err)
	}
	// Registering again (a restarted fake) works.
	if err := registerNode(ctx, cs); err != nil {
		t.Fatal(err)
	}
}
