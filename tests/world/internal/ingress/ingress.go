// Package ingress is the test cluster's fake gateway. It programs every Knative Ingress
// (networking.internal.knative.dev/v1alpha1) after the namespace's ingressDelay knob — meanwhile
// the Ingress reads LoadBalancerReady Unknown and requests follow the spec programmed before — and
// serves them over HTTP on one loopback listener: requests are routed by their Host header (port
// ignored) through the programmed Ingress rules — external hosts, cluster-local names,
// latest-/prev- tag hosts — and a weighted random choice among the rule's splits, so traffic is
// split exactly as Knative asked. The InferenceService's own hosts
// (status.url and status.address.url) go to its top component, as KServe's virtual service does.
//
// The "model" answers KServe's V1 (POST /v1/models/NAME:predict, GET /v1/models/NAME) and V2
// (POST /v2/models/NAME/infer, GET /v2/models/NAME/ready) protocols with a deterministic fake
// prediction: one integer in 0..2 per instance, a hash of the revision name and the instance.
// Every answer from a revision carries X-Sim-Revision and Knative-Serving-Revision headers.
// Unknown host: 404. The chosen revision not ready (its Revision not Ready, or pods but none
// ready): 503. A Ready revision with no pod at all (scaled to zero) holds the request until a pod
// is ready, as Knative's activator does, for up to HoldTimeout (then 503).
// It also counts, per revision, the requests in flight and answered, and tells Knative's
// autoscaler on a second listener (TrafficStats): the activator's report, measured here.
// Knobs (package knobs): errorRate → 500, latency → added delay, ingressDelay → time to program a
// changed Ingress; pause stops status writes only.
// In a world with the Gateway API's CRDs (KServe v0.20.0, Standard mode) it also implements
// HTTPRoutes: a host no Knative Ingress claims is served by them (httproute.go).
package ingress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	netclient "knative.dev/networking/pkg/client/clientset/versioned"
	netinformers "knative.dev/networking/pkg/client/informers/externalversions"
	netlisters "knative.dev/networking/pkg/client/listers/networking/v1alpha1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"
	servinginformers "knative.dev/serving/pkg/client/informers/externalversions"
	servinglisters "knative.dev/serving/pkg/client/listers/serving/v1"

	"isvc-canary.test/world/internal/knobs"
	"isvc-canary.test/world/internal/workloop"
)

const (
	sourceURIAnnotation = "internal.serving.kserve.io/storage-initializer-sourceuri"
	isvcLabel           = "serving.kserve.io/inferenceservice"
	revisionLabel       = "serving.knative.dev/revision"
	// RevisionHeader names the revision that answered.
	RevisionHeader = "X-Sim-Revision"
)

var isvcGVR = schema.GroupVersionResource{Group: "serving.kserve.io", Version: "v1beta1", Resource: "inferenceservices"}

// HoldTimeout is how long a request to a revision at zero waits for a ready pod.
const HoldTimeout = 60 * time.Second

// Run programs Ingresses and serves HTTP on ln, and the traffic statistics on statsLn, until ctx
// is done.
func Run(ctx context.Context, cfg *rest.Config, ln, statsLn net.Listener) error {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "sim-ingress"
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
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	kubeInf := informers.NewSharedInformerFactoryWithOptions(kube, 10*time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = revisionLabel }))
	servingInf := servinginformers.NewSharedInformerFactory(serving, 10*time.Minute)
	netInf := netinformers.NewSharedInformerFactory(net, 10*time.Minute)
	dynInf := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 10*time.Minute)
	isvcInf := dynInf.ForResource(isvcGVR)

	g := &gateway{
		net:       net,
		ingresses: netInf.Networking().V1alpha1().Ingresses().Lister(),
		revisions: servingInf.Serving().V1().Revisions().Lister(),
		pods:      kubeInf.Core().V1().Pods().Lister(),
		isvcs:     isvcInf.Lister(),
		knobs:     knobs.NewStore(kube),
		random:    rand.Float64,
		traffic:   NewTrafficStats(time.Now),
		metrics:   NewRevisionMetrics(statsLn.Addr().String()),
		programs:  newPrograms(),
		queue:     workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName]()),
	}
	defer g.queue.ShutDown()
	enqueue := func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if m, ok := obj.(metav1.Object); ok {
			g.queue.Add(types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()})
		}
	}
	_, _ = netInf.Networking().V1alpha1().Ingresses().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) },
	})
	// Informers we only read from at request time.
	_ = servingInf.Serving().V1().Revisions().Informer()
	_ = kubeInf.Core().V1().Pods().Informer()
	g.knobs.OnChange(func(ns string) {
		ings, _ := g.ingresses.Ingresses(ns).List(labels.Everything())
		for _, ing := range ings {
			enqueue(ing)
		}
	})
	if err := g.knobs.Start(ctx); err != nil {
		return err
	}
	kubeInf.Start(ctx.Done())
	servingInf.Start(ctx.Done())
	netInf.Start(ctx.Done())
	dynInf.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), netInf.Networking().V1alpha1().Ingresses().Informer().HasSynced,
		servingInf.Serving().V1().Revisions().Informer().HasSynced,
		kubeInf.Core().V1().Pods().Informer().HasSynced, isvcInf.Informer().HasSynced) {
		return fmt.Errorf("ingress: informers did not sync")
	}
	workloop.Start(ctx, "ingress", 2, g.queue, g.sync)
	if err := g.startRoutes(ctx, kube, dyn); err != nil {
		return err
	}

	// The statistics listener also serves what queue-proxy exports per revision (metrics.go).
	statsMux := http.NewServeMux()
	statsMux.Handle("/metrics/", g.metrics)
	statsMux.Handle("/sd", g.metrics)
	statsMux.Handle("/", g.traffic)
	stats := &http.Server{Handler: statsMux, ReadHeaderTimeout: 10 * time.Second}
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = stats.Shutdown(shut)
		_ = srv.Shutdown(shut)
	}()
	go func() {
		if err := stats.Serve(statsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("ingress: statistics listener: %v", err)
		}
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type gateway struct {
	net       netclient.Interface
	ingresses netlisters.IngressLister
	revisions servinglisters.RevisionLister
	pods      corelisters.PodLister
	isvcs     cache.GenericLister
	knobs     *knobs.Store
	random    func() float64
	traffic   *TrafficStats
	metrics   *RevisionMetrics
	programs  *programs
	queue     workqueue.TypedRateLimitingInterface[types.NamespacedName]
	routes    *routes // HTTPRoutes (Standard mode); nil without the Gateway API's CRDs
}

// startRoutes watches HTTPRoutes, their Services' EndpointSlices and the InferenceServices' pods
// when the cluster has the Gateway API's HTTPRoute CRD (a world on a KServe release that routes
// Standard mode with it), and writes the routes' status.
func (g *gateway) startRoutes(ctx context.Context, kube kubernetes.Interface, dyn dynamic.Interface) error {
	res, err := kube.Discovery().ServerResourcesForGroupVersion(httpRouteGVR.GroupVersion().String())
	found := false
	if err == nil {
		for _, r := range res.APIResources {
			found = found || r.Name == httpRouteGVR.Resource
		}
	} else if !apierrors.IsNotFound(err) {
		return fmt.Errorf("ingress: discovery of %s: %w", httpRouteGVR.GroupVersion(), err)
	}
	if !found {
		return nil
	}
	dynInf := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 10*time.Minute)
	routeInf := dynInf.ForResource(httpRouteGVR)
	podInf := informers.NewSharedInformerFactoryWithOptions(kube, 10*time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = isvcLabel }))
	sliceInf := informers.NewSharedInformerFactoryWithOptions(kube, 10*time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = discoveryv1.LabelServiceName }))
	pods := podInf.Core().V1().Pods().Lister()
	slices := sliceInf.Discovery().V1().EndpointSlices().Lister()
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName]())
	go func() { <-ctx.Done(); queue.ShutDown() }()
	g.routes = &routes{
		dyn:     dyn,
		lister:  routeInf.Lister(),
		pods:    func(ns, name string) (*corev1.Pod, error) { return pods.Pods(ns).Get(name) },
		pending: map[types.NamespacedName]seenGeneration{},
		slices: func(ns, svc string) ([]*discoveryv1.EndpointSlice, error) {
			return slices.EndpointSlices(ns).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc}))
		},
	}
	enqueue := func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if m, ok := obj.(metav1.Object); ok {
			queue.Add(types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()})
		}
	}
	_, _ = routeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }, DeleteFunc: enqueue,
	})
	_ = podInf.Core().V1().Pods().Informer()
	_ = sliceInf.Discovery().V1().EndpointSlices().Informer()
	g.knobs.OnChange(func(ns string) {
		objs, _ := routeInf.Lister().ByNamespace(ns).List(labels.Everything())
		for _, o := range objs {
			enqueue(o)
		}
	})
	dynInf.Start(ctx.Done())
	podInf.Start(ctx.Done())
	sliceInf.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), routeInf.Informer().HasSynced,
		podInf.Core().V1().Pods().Informer().HasSynced, sliceInf.Discovery().V1().EndpointSlices().Informer().HasSynced) {
		return fmt.Errorf("ingress: HTTPRoute informers did not sync")
	}
	workloop.Start(ctx, "ingress-httproutes", 2, queue, g.syncRoute)
	return nil
}

// sync programs one Ingress: a generation not seen before is marked observed with its load
// balancer not ready yet, and programmed (routed, and marked Ready) once the namespace's
// ingressDelay has passed since it was first seen.
func (g *gateway) sync(ctx context.Context, key types.NamespacedName) (time.Duration, error) {
	ing, err := g.ingresses.Ingresses(key.Namespace).Get(key.Name)
	if apierrors.IsNotFound(err) {
		g.programs.forget(key)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if ing.DeletionTimestamp != nil || g.knobs.Paused(ing.Namespace) {
		return 0, nil
	}
	now := time.Now()
	if ready := ing.IsReady() && ing.Status.ObservedGeneration == ing.Generation; ready {
		g.programs.program(ing) // already Ready (a restarted fake): what it says is what is served
		return 0, nil
	}
	firstSeen := g.programs.seen(ing, now)
	want := ReadyStatus(ing)
	wait := firstSeen.Add(g.knobs.Get(ing.Namespace).IngressDelay).Sub(now)
	if wait > 0 {
		want = ProgrammingStatus(ing)
	}
	if NeedsUpdate(ing, &want) {
		upd := ing.DeepCopy()
		upd.Status = want
		if _, err := g.net.NetworkingV1alpha1().Ingresses(ing.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return 0, err
		}
	}
	if wait > 0 {
		return wait, nil
	}
	g.programs.program(ing)
	return 0, nil
}

// ServeHTTP routes one request as the gateway would and answers as the chosen revision's model.
func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ings := g.programs.list()
	path, ok := Match(r.Host, r.URL.Path, r.Header.Get, ings)
	if !ok {
		if objs, err := g.isvcs.List(labels.Everything()); err == nil {
			isvcs := make([]*unstructured.Unstructured, 0, len(objs))
			for _, o := range objs {
				if u, ok := o.(*unstructured.Unstructured); ok {
					isvcs = append(isvcs, u)
				}
			}
			if host, found := IsvcHost(r.Host, r.URL.Path, isvcs); found {
				path, ok = Match(host, r.URL.Path, r.Header.Get, ings)
			}
		}
	}
	if !ok {
		if rule, _, found := MatchRoute(r.Host, r.URL.Path, r.Header.Get, g.routes.list()); found {
			g.serveRoute(w, r, rule)
			return
		}
		http.Error(w, fmt.Sprintf("sim-ingress: no route for host %q", NormalizeHost(r.Host)), http.StatusNotFound)
		return
	}
	split, ok := Pick(path.Splits, g.random())
	if !ok {
		http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
		return
	}
	ns, revName := split.ServiceNamespace, RevisionOf(split)
	for k, v := range split.AppendHeaders {
		w.Header().Set(k, v)
	}
	w.Header().Set(RevisionHeader, revName)
	w.Header().Set("Knative-Serving-Revision", revName)

	rev, err := g.revisions.Revisions(ns).Get(revName)
	if err == nil && rev.IsReady() && g.atZero(rev) {
		g.hold(r.Context(), rev)
	}
	if err != nil || !g.servable(rev) {
		http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
		return
	}
	defer g.traffic.Begin(ns, revName)()
	// Measured as queue-proxy measures a request that reached the pod: its whole answer.
	started, sw := time.Now(), &statusWriter{ResponseWriter: w}
	w = sw
	defer func() {
		if g.metrics != nil && sw.status != 0 {
			g.metrics.Record(ns, revName, rev.Labels["serving.knative.dev/configuration"],
				rev.Labels["serving.knative.dev/service"], sw.status, time.Since(started))
		}
	}()
	rule := g.knobs.For(ns, rev.Annotations[sourceURIAnnotation])
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if rule.Latency > 0 {
		select {
		case <-time.After(rule.Latency):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if rule.ErrorRate > 0 && g.random() < rule.ErrorRate {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = fmt.Fprintf(w, "{\"error\":\"sim: injected error (errorRate %v) in revision %s\"}\n", rule.ErrorRate, revName)
		return
	}
	status, out := Answer(r.Method, r.URL.Path, body, revName, rev.Labels[isvcLabel])
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(out)
	}
}

// atZero: the revision has no pod at all (scaled to zero, or scaling up from zero with its pod not
// created yet).
func (g *gateway) atZero(rev *servingv1.Revision) bool {
	pods, err := g.pods.Pods(rev.Namespace).List(labels.SelectorFromSet(labels.Set{revisionLabel: rev.Name}))
	return err == nil && len(pods) == 0
}

// hold waits, as Knative's activator does, until the revision has a ready pod (the autoscaler
// hears of the waiting request through TrafficStats and scales the revision up), the request is
// cancelled, or HoldTimeout passes.
func (g *gateway) hold(ctx context.Context, rev *servingv1.Revision) {
	defer g.traffic.Wait(rev.Namespace, rev.Name)()
	ctx, cancel := context.WithTimeout(ctx, HoldTimeout)
	defer cancel()
	for !g.servable(rev) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		if cur, err := g.revisions.Revisions(rev.Namespace).Get(rev.Name); err == nil {
			rev = cur
		}
	}
}

// servable: the Revision is Ready and at least one of its pods is ready (a flapping pod makes its
// revision answer 503 while it is down, as a gateway with no healthy endpoint would).
func (g *gateway) servable(rev *servingv1.Revision) bool {
	if !rev.IsReady() {
		return false
	}
	pods, err := g.pods.Pods(rev.Namespace).List(labels.SelectorFromSet(labels.Set{revisionLabel: rev.Name}))
	if err != nil {
		return false
	}
	for _, p := range pods {
		if PodReady(p) {
			return true
		}
	}
	return false
}

// PodReady: running, Ready, not terminating.
func PodReady(p *corev1.Pod) bool {
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
