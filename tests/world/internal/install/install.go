package install

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

const (
	KServeNamespace  = "kserve"
	KnativeNamespace = "knative-serving"
)

// Autoscaler is what the world sets in Knative's config-autoscaler: the shortest windows Knative
// accepts, so that scaling to zero takes seconds, and target-burst-capacity -1, which keeps the
// activator in the path whatever the load (here the fake ingress plays it), so that the KPA never
// probes an activator before scaling to zero (there is none to answer). The progress deadline
// stays Knative's (600 s): a test that wants a revision to fail sooner sets the annotation
// serving.knative.dev/progress-deadline on its own InferenceService.
var Autoscaler = map[string]string{
	"target-burst-capacity":      "-1",
	"stable-window":              "6s",
	"scale-to-zero-grace-period": "6s",
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Installer installs manifests with an admin client.
type Installer struct {
	Mods Modules
	Dyn  dynamic.Interface
	Kube kubernetes.Interface
	Log  *log.Logger
}

// New makes an installer for the cluster behind cfg.
func New(cfg *rest.Config, mods Modules, logger *log.Logger) (*Installer, error) {
	// Knative reads the activator's v1 Endpoints, which the server flags as deprecated on every
	// request: not news to anyone reading the launcher's output.
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = rest.NoWarnings{}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Installer{Mods: mods, Dyn: dyn, Kube: kube, Log: logger}, nil
}

// readDocs decodes every YAML document of a file; empty documents are dropped.
func readDocs(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		obj := map[string]any{}
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(obj) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
}

// crdFiles lists the YAML files of a folder, sub-folders included, in a stable order.
func crdFiles(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// CRDs creates every CRD of KServe (config/crd/full, sub-folders included), Knative Serving
// (config/core/300-resources), Knative networking, Knative caching and, for a release that routes
// Standard mode with the Gateway API, the Gateway API's standard channel, then waits until each is
// Established. They are created, never applied client-side: v0.20's InferenceService CRD (about
// 640 kB of JSON) would not fit the last-applied annotation's 256 kB. Only documents of kind CustomResourceDefinition with spec.versions are CRDs:
// config/crd/full also holds kustomization files and partial conversion-webhook patches.
func (in *Installer) CRDs(ctx context.Context) ([]string, error) {
	var files []string
	kserve, err := crdFiles(filepath.Join(in.Mods.KServe, "config/crd/full"))
	if err != nil {
		return nil, err
	}
	files = append(files, kserve...)
	serving, err := crdFiles(filepath.Join(in.Mods.Serving, "config/core/300-resources"))
	if err != nil {
		return nil, err
	}
	files = append(files, serving...)
	for _, f := range []string{"certificate.yaml", "domain-claim.yaml", "ingress.yaml", "serverlessservice.yaml"} {
		files = append(files, filepath.Join(in.Mods.Networking, "config", f))
	}
	files = append(files, filepath.Join(in.Mods.Caching, "config/image.yaml"))
	if in.Mods.GatewayAPI != "" {
		// The Gateway API's standard channel (GatewayClass, Gateway, HTTPRoute, ...), for KServe's
		// Standard mode; the channel's ValidatingAdmissionPolicy file holds no CRD and is skipped.
		gw, err := crdFiles(filepath.Join(in.Mods.GatewayAPI, "config/crd/standard"))
		if err != nil {
			return nil, err
		}
		files = append(files, gw...)
	}

	// Files are read and their CRDs created three at a time: kube-apiserver spends seconds of CPU
	// on each large CRD, and the client as long turning 2 MB of YAML into JSON; in parallel both
	// cores work.
	var (
		mu    sync.Mutex
		names []string
		errs  []error
		wg    sync.WaitGroup
		slots = make(chan struct{}, 3)
	)
	for _, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			created, err := in.createCRDs(ctx, f)
			mu.Lock()
			defer mu.Unlock()
			names = append(names, created...)
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Strings(names)
	in.Log.Printf("created %d CRDs", len(names))
	if err := in.WaitEstablished(ctx, names, 120*time.Second); err != nil {
		return nil, err
	}
	in.Log.Printf("every CRD is Established")
	return names, nil
}

// createCRDs creates the CRDs of one file and returns their names.
func (in *Installer) createCRDs(ctx context.Context, file string) ([]string, error) {
	docs, err := readDocs(file)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, doc := range docs {
		if doc.GetKind() != "CustomResourceDefinition" {
			continue
		}
		if _, found, _ := unstructured.NestedSlice(doc.Object, "spec", "versions"); !found {
			continue
		}
		// The stored YAML has creationTimestamp: null and sometimes a status; neither belongs in a create.
		unstructured.RemoveNestedField(doc.Object, "status")
		unstructured.RemoveNestedField(doc.Object, "metadata", "creationTimestamp")
		if err := in.create(ctx, crdGVR, "", doc); err != nil {
			return names, fmt.Errorf("CRD from %s: %w", file, err)
		}
		names = append(names, doc.GetName())
	}
	return names, nil
}

// WaitEstablished waits until every named CRD has condition Established=True. It lists the CRDs
// once, then watches them: KServe's CRDs are up to 800 kB of JSON each, and polling them one by
// one costs seconds per request on a loaded two-core machine.
func (in *Installer) WaitEstablished(ctx context.Context, names []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	waiting := map[string]bool{}
	for _, n := range names {
		waiting[n] = true
	}
	list, err := in.Dyn.Resource(crdGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list CRDs: %w", err)
	}
	for i := range list.Items {
		if hasCondition(&list.Items[i], "Established") {
			delete(waiting, list.Items[i].GetName())
		}
	}
	rv := list.GetResourceVersion()
	for len(waiting) > 0 {
		w, err := in.Dyn.Resource(crdGVR).Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
		if err != nil {
			return fmt.Errorf("CRDs not Established (%v): %w", keys(waiting), err)
		}
		for ev := range w.ResultChan() {
			obj, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue // a watch error event: watch again from the last version seen
			}
			rv = obj.GetResourceVersion()
			if hasCondition(obj, "Established") {
				delete(waiting, obj.GetName())
			}
			if len(waiting) == 0 {
				break
			}
		}
		w.Stop()
		if ctx.Err() != nil {
			return fmt.Errorf("CRDs not Established after %s: %v", timeout, keys(waiting))
		}
	}
	return nil
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func hasCondition(obj *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ && m["status"] == "True" {
			return true
		}
	}
	return false
}

// create creates obj, accepting one that already exists.
func (in *Installer) create(ctx context.Context, gvr schema.GroupVersionResource, ns string, obj *unstructured.Unstructured) error {
	var ri dynamic.ResourceInterface = in.Dyn.Resource(gvr)
	if ns != "" {
		ri = in.Dyn.Resource(gvr).Namespace(ns)
	}
	_, err := ri.Create(ctx, obj, metav1.CreateOptions{FieldManager: "world"})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// Config creates the namespaces, KServe's and Knative's ConfigMaps (with the values a cluster
// without a registry, a DNS or a gateway needs), the sklearn ClusterServingRuntime, and the
// activator Service that Knative's ServerlessService reconciler reads even in Serve mode.
func (in *Installer) Config(ctx context.Context) error {
	for _, ns := range []string{KServeNamespace, KnativeNamespace} {
		_, err := in.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("namespace %s: %w", ns, err)
		}
	}

	// ConfigMaps, as shipped; then the overrides below.
	cmGVR := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	cmFiles := []string{filepath.Join(in.Mods.KServe, "config/configmap/inferenceservice.yaml")}
	knativeCMs, err := filepath.Glob(filepath.Join(in.Mods.Serving, "config/core/configmaps/*.yaml"))
	if err != nil {
		return err
	}
	cmFiles = append(cmFiles, knativeCMs...)
	cmFiles = append(cmFiles, filepath.Join(in.Mods.Networking, "config/config-network.yaml"))
	for _, f := range cmFiles {
		docs, err := readDocs(f)
		if err != nil {
			return err
		}
		for _, doc := range docs {
			if doc.GetKind() != "ConfigMap" {
				continue
			}
			unstructured.RemoveNestedField(doc.Object, "metadata", "creationTimestamp")
			if err := in.create(ctx, cmGVR, doc.GetNamespace(), doc); err != nil {
				return fmt.Errorf("ConfigMap from %s: %w", f, err)
			}
		}
	}
	// Values outside the _example blocks (those are documentation, not settings).
	overrides := map[string]map[string]string{
		"config-deployment": {
			// The shipped value is a build placeholder; nothing pulls images here.
			"queue-sidecar-image": "knative-queue-proxy:test",
			// Otherwise the controller asks registries for image digests, and there is no network.
			"registries-skipping-tag-resolving": "kind.local,ko.local,dev.local,docker.io,index.docker.io",
		},
		"config-autoscaler": Autoscaler,
		// URLs end in example.com, as in KServe's documentation, not svc.cluster.local.
		"config-domain": {"example.com": ""},
	}
	for name, data := range overrides {
		cms := in.Kube.CoreV1().ConfigMaps(KnativeNamespace)
		cm, err := cms.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("ConfigMap %s: %w", name, err)
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		for k, v := range data {
			cm.Data[k] = v
		}
		if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "world"}); err != nil {
			return fmt.Errorf("ConfigMap %s: %w", name, err)
		}
	}

	// The sklearn runtime. Its image tag is a placeholder ("…:replace"): cosmetic here.
	rtGVR := schema.GroupVersionResource{Group: "serving.kserve.io", Version: "v1alpha1", Resource: "clusterservingruntimes"}
	docs, err := readDocs(filepath.Join(in.Mods.KServe, "config/runtimes/kserve-sklearnserver.yaml"))
	if err != nil {
		return err
	}
	for _, doc := range docs {
		if doc.GetKind() == "ClusterServingRuntime" {
			if err := in.create(ctx, rtGVR, "", doc); err != nil {
				return fmt.Errorf("ClusterServingRuntime %s: %w", doc.GetName(), err)
			}
		}
	}

	if in.Mods.GatewayAPI != "" {
		if err := in.gatewayAPI(ctx); err != nil {
			return err
		}
	}
	return in.activator(ctx)
}

// Gateway is the Gateway (namespace/name) KServe's Standard-mode HTTPRoutes name as their parent,
// and GatewayClass its class; the test ingress implements both.
const (
	Gateway           = KServeNamespace + "/kserve-ingress-gateway"
	GatewayName       = "kserve-ingress-gateway"
	GatewayClass      = "isvc-canary-test"
	GatewayController = "isvc-canary.test/ingress"
)

// gatewayAPI turns on KServe's Gateway API routing for Standard mode (read once, at the manager's
// start: one world serves one routing mode) and creates the GatewayClass and Gateway the HTTPRoutes
// name. Knative-mode InferenceServices are not affected: KServe's ingress reconciler factory picks
// the Knative reconciler for them whatever enableGatewayApi says.
func (in *Installer) gatewayAPI(ctx context.Context) error {
	cms := in.Kube.CoreV1().ConfigMaps(KServeNamespace)
	cm, err := cms.Get(ctx, "inferenceservice-config", metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("ConfigMap inferenceservice-config: %w", err)
	}
	ingress := map[string]any{}
	if err := json.Unmarshal([]byte(cm.Data["ingress"]), &ingress); err != nil {
		return fmt.Errorf("inferenceservice-config ingress: %w", err)
	}
	ingress["enableGatewayApi"] = true
	ingress["kserveIngressGateway"] = Gateway
	raw, err := json.MarshalIndent(ingress, "", "  ")
	if err != nil {
		return err
	}
	cm.Data["ingress"] = string(raw)
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "world"}); err != nil {
		return fmt.Errorf("ConfigMap inferenceservice-config: %w", err)
	}

	gcGVR := schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gatewayclasses"}
	gwGVR := schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
	gc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
		"metadata": map[string]any{"name": GatewayClass},
		"spec":     map[string]any{"controllerName": GatewayController},
	}}
	if err := in.create(ctx, gcGVR, "", gc); err != nil {
		return fmt.Errorf("GatewayClass: %w", err)
	}
	gw := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": GatewayName, "namespace": KServeNamespace},
		"spec": map[string]any{
			"gatewayClassName": GatewayClass,
			"listeners": []any{map[string]any{
				"name": "http", "protocol": "HTTP", "port": int64(80),
				"allowedRoutes": map[string]any{"namespaces": map[string]any{"from": "All"}},
			}},
		},
	}}
	if err := in.create(ctx, gwGVR, KServeNamespace, gw); err != nil {
		return fmt.Errorf("Gateway: %w", err)
	}
	return nil
}

// activator creates knative-serving/activator-service and its Endpoints. Knative's
// ServerlessService reconciler reads them even in Serve mode. The Service has no selector, so that
// kube-controller-manager's Endpoints controller leaves our Endpoints alone (with a selector and
// no matching pod it would write them empty). The address is from 192.0.2.0/24, a documentation
// range: Endpoints refuse loopback, and nothing ever connects to it.
func (in *Installer) activator(ctx context.Context) error {
	labels := map[string]string{"app": "activator"}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "activator-service", Namespace: KnativeNamespace, Labels: labels},
		Spec: corev1.ServiceSpec{
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8012)},
				{Name: "http2", Port: 81, TargetPort: intstr.FromInt32(8013)},
			},
		},
	}
	if _, err := in.Kube.CoreV1().Services(KnativeNamespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("activator-service: %w", err)
	}
	ep := &corev1.Endpoints{ //nolint:staticcheck // Knative reads Endpoints, not EndpointSlices
		ObjectMeta: metav1.ObjectMeta{Name: "activator-service", Namespace: KnativeNamespace, Labels: labels},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "192.0.2.254"}},
			Ports: []corev1.EndpointPort{
				{Name: "http", Port: 8012},
				{Name: "http2", Port: 8013},
			},
		}},
	}
	if _, err := in.Kube.CoreV1().Endpoints(KnativeNamespace).Create(ctx, ep, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("activator-service endpoints: %w", err)
	}
	return nil
}

// Webhooks registers KServe's InferenceService defaulter and validator and its pod mutator, as
// config/webhook/manifests.yaml declares them, with clientConfig.url on loopback in place of the
// in-cluster Service. The other webhooks of that file are not registered (not needed here).
func (in *Installer) Webhooks(ctx context.Context, port int, caPEM []byte) error {
	wanted := map[string]bool{
		"inferenceservice.kserve-webhook-server.defaulter":   true,
		"inferenceservice.kserve-webhook-server.pod-mutator": true,
		"inferenceservice.kserve-webhook-server.validator":   true,
	}
	docs, err := readDocs(filepath.Join(in.Mods.KServe, "config/webhook/manifests.yaml"))
	if err != nil {
		return err
	}
	point := func(cc *admissionv1.WebhookClientConfig) {
		path := "/"
		if cc.Service != nil && cc.Service.Path != nil {
			path = *cc.Service.Path
		}
		url := fmt.Sprintf("https://127.0.0.1:%d%s", port, path)
		*cc = admissionv1.WebhookClientConfig{URL: &url, CABundle: caPEM}
	}
	registered := 0
	for _, doc := range docs {
		raw, err := yaml.Marshal(doc.Object)
		if err != nil {
			return err
		}
		switch doc.GetKind() {
		case "MutatingWebhookConfiguration":
			var c admissionv1.MutatingWebhookConfiguration
			if err := yaml.Unmarshal(raw, &c); err != nil {
				return err
			}
			var keep []admissionv1.MutatingWebhook
			for _, w := range c.Webhooks {
				if wanted[w.Name] {
					point(&w.ClientConfig)
					keep = append(keep, w)
				}
			}
			if len(keep) == 0 {
				continue
			}
			c.Webhooks, c.ObjectMeta = keep, metav1.ObjectMeta{Name: c.Name}
			if _, err := in.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &c, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("webhook %s: %w", c.Name, err)
			}
			registered += len(keep)
		case "ValidatingWebhookConfiguration":
			var c admissionv1.ValidatingWebhookConfiguration
			if err := yaml.Unmarshal(raw, &c); err != nil {
				return err
			}
			var keep []admissionv1.ValidatingWebhook
			for _, w := range c.Webhooks {
				if wanted[w.Name] {
					point(&w.ClientConfig)
					keep = append(keep, w)
				}
			}
			if len(keep) == 0 {
				continue
			}
			c.Webhooks, c.ObjectMeta = keep, metav1.ObjectMeta{Name: c.Name}
			if _, err := in.Kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &c, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("webhook %s: %w", c.Name, err)
			}
			registered += len(keep)
		}
	}
	if registered != len(wanted) {
		return fmt.Errorf("registered %d of KServe's %d webhooks: manifests.yaml changed?", registered, len(wanted))
	}
	return nil
}
