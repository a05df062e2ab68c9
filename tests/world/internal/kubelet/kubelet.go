// Package kubelet is the test cluster's fake kubelet: one Ready Node ("sim-node", fixed large
// allocatable) whose Lease and Ready heartbeat are renewed, and, for every pod kube-scheduler bound
// to it, pod status written through pods/status as a real kubelet would: Pending → Init:0/1 (the
// storage initializer KServe injected) → Running 2/2 and ready, with an IP from 192.0.2.0/24 that
// nothing connects to. Failures (knobs) follow the kubelet's crash-loop back-off: a model that
// fails to load (knob "fail" or a storage URI containing "sim-fail") leaves the pod in
// Init:CrashLoopBackOff; "oomAfter" OOMKills the model container; "imagePull" never pulls its
// image; "neverReady" never passes readiness. Deleted pods stay Terminating until their containers
// exit (knob terminationDelay, never past the grace period) and are then removed. See package
// knobs for the per-namespace switches.
package kubelet

import (
	"context"
	"fmt"
	"log"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"

	"isvc-canary.test/world/internal/knobs"
	"isvc-canary.test/world/internal/workloop"
)

const (
	// NodeName is the only node of the test cluster.
	NodeName = "sim-node"
	// NodeIP is the node's address (documentation range; never used for traffic).
	NodeIP = "192.0.2.1"
	// Heartbeat is how often the node's Lease and Ready condition are renewed.
	Heartbeat = 10 * time.Second
	leaseNS   = "kube-node-lease"
	version   = "v1.33.13"
)

type kubelet struct {
	cs    kubernetes.Interface
	pods  corelisters.PodLister
	knobs *knobs.Store
	ips   *ipPool
	queue workqueue.TypedRateLimitingInterface[types.NamespacedName]
}

// Run registers the node and keeps pods moving until ctx is done.
func Run(ctx context.Context, cfg *rest.Config) error {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "sim-kubelet"
	cfg.QPS, cfg.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	// Registration races kube-controller-manager's first updates of the Node; keep trying a while.
	for deadline := time.Now().Add(30 * time.Second); ; {
		err := registerNode(ctx, cs)
		if err == nil {
			break
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("kubelet: registering node: %w", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	go heartbeat(ctx, cs)

	factory := informers.NewSharedInformerFactory(cs, 10*time.Minute)
	podInformer := factory.Core().V1().Pods()
	k := &kubelet{
		cs:    cs,
		pods:  podInformer.Lister(),
		knobs: knobs.NewStore(cs),
		ips:   newIPPool(),
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName]()),
	}
	defer k.queue.ShutDown()
	enqueue := func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if pod, ok := obj.(*corev1.Pod); ok {
			k.queue.Add(types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name})
		}
	}
	_, _ = podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				k.ips.release(pod.UID)
			}
		},
	})
	k.knobs.OnChange(func(ns string) {
		pods, _ := k.pods.Pods(ns).List(everything)
		for _, p := range pods {
			enqueue(p)
		}
	})
	if err := k.knobs.Start(ctx); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("kubelet: informer %v did not sync", typ)
		}
	}
	// Remember the addresses already given (a restarted fake must not hand them out again).
	pods, _ := k.pods.List(everything)
	for _, p := range pods {
		if p.Spec.NodeName == NodeName && p.Status.PodIP != "" {
			k.ips.claim(p.UID, p.Status.PodIP)
		}
	}

	workloop.Start(ctx, "kubelet", 2, k.queue, k.sync)
	<-ctx.Done()
	return nil
}

// sync brings one pod one step further and returns when to look at it again.
func (k *kubelet) sync(ctx context.Context, key types.NamespacedName) (time.Duration, error) {
	pod, err := k.pods.Pods(key.Namespace).Get(key.Name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if k.knobs.Paused(pod.Namespace) {
		return 0, nil // the knob's OnChange requeues the namespace when it is unpaused
	}
	if pod.Spec.NodeName != "" && pod.Spec.NodeName != NodeName {
		return 0, nil
	}
	now := time.Now()
	if pod.DeletionTimestamp != nil {
		if wait := DeleteAt(pod, k.knobs.Get(pod.Namespace).TerminationDelay).Sub(now); wait > 0 {
			return wait, nil
		}
		uid := pod.UID
		err := k.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr(int64(0)), Preconditions: &metav1.Preconditions{UID: &uid}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return 0, nil
		}
		return 0, err
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0, nil
	}
	if pod.Spec.NodeName == "" {
		return 0, nil // kube-scheduler binds it (or reports it Unschedulable)
	}
	ip := pod.Status.PodIP
	if ip == "" {
		if ip, err = k.ips.get(pod.UID); err != nil {
			return 0, err
		}
	} else {
		k.ips.claim(pod.UID, ip)
	}
	rule := k.knobs.For(pod.Namespace, StorageURI(pod))
	status, next := DesiredStatus(pod, rule, ip, NodeIP, now)
	if !equality.Semantic.DeepEqual(status, pod.Status) {
		updated := pod.DeepCopy()
		updated.Status = status
		if _, err := k.cs.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
			return 0, err
		}
	}
	return next, nil
}

var everything = labels.Everything()

func registerNode(ctx context.Context, cs kubernetes.Interface) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("64"),
		corev1.ResourceMemory:           resource.MustParse("256Gi"),
		corev1.ResourcePods:             resource.MustParse("250"),
		corev1.ResourceEphemeralStorage: resource.MustParse("1Ti"),
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: NodeName, Labels: map[string]string{
		"kubernetes.io/hostname": NodeName, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
		"node.kubernetes.io/instance-type": "sim",
	}}}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	// kube-controller-manager updates a new Node at once (taints, CIDRs): re-read on conflict.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := cs.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		current.Status = corev1.NodeStatus{
			Capacity: capacity, Allocatable: capacity,
			Phase: corev1.NodeRunning,
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: NodeIP}, {Type: corev1.NodeHostName, Address: NodeName},
			},
			NodeInfo: corev1.NodeSystemInfo{
				KubeletVersion: version, KubeProxyVersion: version, OperatingSystem: "linux", Architecture: "amd64",
				ContainerRuntimeVersion: "sim://1.0", OSImage: "isvc-canary test cluster", KernelVersion: "sim",
			},
			Conditions: nodeConditions(now),
		}
		_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, current, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return err
	}
	if err := dropNotReadyTaints(ctx, cs); err != nil {
		return err
	}
	return renewLease(ctx, cs)
}

// dropNotReadyTaints removes the taints the API server puts on a new node (TaintNodesByCondition)
// and node-lifecycle would remove once the node is Ready: the launcher may run without that
// controller.
func dropNotReadyTaints(ctx context.Context, cs kubernetes.Interface) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := cs.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var keep []corev1.Taint
		for _, t := range node.Spec.Taints {
			if t.Key != corev1.TaintNodeNotReady && t.Key != corev1.TaintNodeUnreachable {
				keep = append(keep, t)
			}
		}
		if len(keep) == len(node.Spec.Taints) {
			return nil
		}
		node.Spec.Taints = keep
		_, err = cs.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		return err
	})
}

func nodeConditions(now metav1.Time) []corev1.NodeCondition {
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	return []corev1.NodeCondition{
		cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
	}
}

// heartbeat renews the Lease and the Ready condition so node-lifecycle never marks the node NotReady.
func heartbeat(ctx context.Context, cs kubernetes.Interface) {
	t := time.NewTicker(Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := renewLease(ctx, cs); err != nil && ctx.Err() == nil {
			log.Printf("kubelet: lease: %v", err)
		}
		if err := heartbeatNode(ctx, cs); err != nil && ctx.Err() == nil {
			log.Printf("kubelet: node status: %v", err)
		}
		if err := dropNotReadyTaints(ctx, cs); err != nil && ctx.Err() == nil {
			log.Printf("kubelet: node taints: %v", err)
		}
	}
}

// heartbeatNode renews the node's condition heartbeats (and turns Ready back on if anything
// turned it off).
func heartbeatNode(ctx context.Context, cs kubernetes.Interface) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := cs.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		for i := range node.Status.Conditions {
			c := &node.Status.Conditions[i]
			c.LastHeartbeatTime = now
			if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
				c.Status, c.Reason, c.Message, c.LastTransitionTime = corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status", now
			}
		}
		_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		return err
	})
}

func renewLease(ctx context.Context, cs kubernetes.Interface) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error { return renewLeaseOnce(ctx, cs) })
}

func renewLeaseOnce(ctx context.Context, cs kubernetes.Interface) error {
	now := metav1.NewMicroTime(time.Now())
	leases := cs.CoordinationV1().Leases(leaseNS)
	lease, err := leases.Get(ctx, NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: NodeName, Namespace: leaseNS},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr(NodeName), LeaseDurationSeconds: ptr(int32(40)), RenewTime: &now},
		}
		_, err = leases.Create(ctx, lease, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	lease.Spec.RenewTime = &now
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}
