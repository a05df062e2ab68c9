// Package autoscaler is the test cluster's fake Knative autoscaler (the KPA). For each
// PodAutoscaler it keeps the ServerlessService of the same name (Serve mode; Knative's own SKS
// reconciler then creates its services and marks it ready from the endpoints), scales the
// revision's Deployment to its min-scale (at least 1) while the revision is reachable and to 0
// when Knative marks it unreachable, and writes the PA status Knative's revision reconciler
// waits for. It never looks at requests: there are no metrics here. See package knobs for the
// pause switch.
package autoscaler

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	netclient "knative.dev/networking/pkg/client/clientset/versioned"
	netinformers "knative.dev/networking/pkg/client/informers/externalversions"
	netlisters "knative.dev/networking/pkg/client/listers/networking/v1alpha1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"
	servinginformers "knative.dev/serving/pkg/client/informers/externalversions"
	aslisters "knative.dev/serving/pkg/client/listers/autoscaling/v1alpha1"

	"isvc-canary.test/world/internal/knobs"
	"isvc-canary.test/world/internal/workloop"
)

const revisionLabel = "serving.knative.dev/revision"

type autoscaler struct {
	kube    kubernetes.Interface
	serving servingclient.Interface
	net     netclient.Interface
	pas     aslisters.PodAutoscalerLister
	sks     netlisters.ServerlessServiceLister
	pods    corelisters.PodLister
	deploys appslisters.DeploymentLister
	knobs   *knobs.Store
	queue   workqueue.TypedRateLimitingInterface[types.NamespacedName]
}

// Run reconciles PodAutoscalers until ctx is done.
func Run(ctx context.Context, cfg *rest.Config) error {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "sim-autoscaler"
	cfg.QPS, cfg.Burst = 100, 200
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	serving, err := servingclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	net, err := netclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	// Only objects that belong to a Knative revision.
	onlyRevisions := func(o *metav1.ListOptions) { o.LabelSelector = revisionLabel }
	kubeInf := informers.NewSharedInformerFactoryWithOptions(kube, 10*time.Minute, informers.WithTweakListOptions(onlyRevisions))
	servingInf := servinginformers.NewSharedInformerFactory(serving, 10*time.Minute)
	netInf := netinformers.NewSharedInformerFactory(net, 10*time.Minute)

	a := &autoscaler{
		kube: kube, serving: serving, net: net,
		pas:     servingInf.Autoscaling().V1alpha1().PodAutoscalers().Lister(),
		sks:     netInf.Networking().V1alpha1().ServerlessServices().Lister(),
		pods:    kubeInf.Core().V1().Pods().Lister(),
		deploys: kubeInf.Apps().V1().Deployments().Lister(),
		knobs:   knobs.NewStore(kube),
		queue:   workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName]()),
	}
	defer a.queue.ShutDown()

	// A PA and its SKS share the revision's name; pods and Deployments carry it as a label.
	byName := func(obj any) {
		if m, ok := meta(obj); ok {
			a.queue.Add(types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()})
		}
	}
	byLabel := func(obj any) {
		if m, ok := meta(obj); ok && m.GetLabels()[revisionLabel] != "" {
			a.queue.Add(types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetLabels()[revisionLabel]})
		}
	}
	handler := func(fn func(any)) cache.ResourceEventHandler {
		return cache.ResourceEventHandlerFuncs{AddFunc: fn, UpdateFunc: func(_, o any) { fn(o) }, DeleteFunc: fn}
	}
	_, _ = servingInf.Autoscaling().V1alpha1().PodAutoscalers().Informer().AddEventHandler(handler(byName))
	_, _ = netInf.Networking().V1alpha1().ServerlessServices().Informer().AddEventHandler(handler(byName))
	_, _ = kubeInf.Core().V1().Pods().Informer().AddEventHandler(handler(byLabel))
	_, _ = kubeInf.Apps().V1().Deployments().Informer().AddEventHandler(handler(byLabel))
	a.knobs.OnChange(func(ns string) {
		pas, _ := a.pas.PodAutoscalers(ns).List(labels.Everything())
		for _, pa := range pas {
			byName(pa)
		}
	})
	if err := a.knobs.Start(ctx); err != nil {
		return err
	}
	kubeInf.Start(ctx.Done())
	servingInf.Start(ctx.Done())
	netInf.Start(ctx.Done())
	for _, synced := range []map[string]bool{typed(kubeInf.WaitForCacheSync(ctx.Done())), typed(servingInf.WaitForCacheSync(ctx.Done())), typed(netInf.WaitForCacheSync(ctx.Done()))} {
		for name, ok := range synced {
			if !ok {
				return fmt.Errorf("autoscaler: informer %s did not sync", name)
			}
		}
	}
	workloop.Start(ctx, "autoscaler", 2, a.queue, func(ctx context.Context, key types.NamespacedName) (time.Duration, error) {
		return 0, a.sync(ctx, key)
	})
	<-ctx.Done()
	return nil
}

func typed[K comparable](m map[K]bool) map[string]bool {
	out := map[string]bool{}
	for k, v := range m {
		out[fmt.Sprint(k)] = v
	}
	return out
}

func meta(obj any) (metav1.Object, bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, ok := obj.(metav1.Object)
	return m, ok
}

func (a *autoscaler) sync(ctx context.Context, key types.NamespacedName) error {
	pa, err := a.pas.PodAutoscalers(key.Namespace).Get(key.Name)
	if apierrors.IsNotFound(err) {
		return nil // its SKS goes with it (owner reference)
	}
	if err != nil {
		return err
	}
	if pa.DeletionTimestamp != nil || a.knobs.Paused(pa.Namespace) {
		return nil
	}

	// The ServerlessService.
	want := DesiredSKS(pa)
	sks, err := a.sks.ServerlessServices(pa.Namespace).Get(pa.Name)
	switch {
	case apierrors.IsNotFound(err):
		if sks, err = a.net.NetworkingV1alpha1().ServerlessServices(pa.Namespace).Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating SKS: %w", err)
		}
	case err != nil:
		return err
	case !metav1.IsControlledBy(sks, pa):
		return fmt.Errorf("SKS %s/%s is not owned by its PodAutoscaler", sks.Namespace, sks.Name)
	case !SKSUpToDate(sks, want):
		upd := sks.DeepCopy()
		upd.Spec = want.Spec
		if sks, err = a.net.NetworkingV1alpha1().ServerlessServices(pa.Namespace).Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating SKS: %w", err)
		}
	}

	// The Deployment's scale.
	ref := pa.Spec.ScaleTargetRef
	scale := WantScale(pa)
	if ref.Kind == "Deployment" {
		d, err := a.deploys.Deployments(pa.Namespace).Get(ref.Name)
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err == nil && (d.Spec.Replicas == nil || *d.Spec.Replicas != scale) {
			patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, scale)
			if _, err := a.kube.AppsV1().Deployments(pa.Namespace).Patch(ctx, ref.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				return fmt.Errorf("scaling %s: %w", ref.Name, err)
			}
		}
	}

	// The status.
	pods, err := a.pods.Pods(pa.Namespace).List(labels.SelectorFromSet(labels.Set{revisionLabel: pa.Name}))
	if err != nil {
		return err
	}
	var ready int32
	for _, p := range pods {
		if podReady(p) {
			ready++
		}
	}
	status := Status(pa, sks, ready)
	if !StatusChanged(&pa.Status, &status) {
		return nil
	}
	upd := pa.DeepCopy()
	upd.Status = status
	_, err = a.serving.AutoscalingV1alpha1().PodAutoscalers(pa.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	return err
}
