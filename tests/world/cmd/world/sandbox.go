package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"isvc-canary.test/world/internal/controlplane"
)

// The first InferenceService of KServe's "Canary Rollout Example", as its documentation gives it.
const sklearnIris = `
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: sklearn-iris
  namespace: kserve-test
spec:
  predictor:
    model:
      modelFormat:
        name: sklearn
      storageUri: gs://kfserving-examples/models/sklearn/1.0/model
`

var isvcGVR = schema.GroupVersionResource{Group: "serving.kserve.io", Version: "v1beta1", Resource: "inferenceservices"}

// sandbox creates namespace kserve-test and InferenceService sklearn-iris, waits until it is
// Ready, then prints the shell lines that point kubectl, curl and the plugin at this world.
func sandbox(ctx context.Context, w *world, pluginDir string) error {
	cfg, err := controlplane.RESTConfig(w.env.Kubeconfigs.Admin)
	if err != nil {
		return err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kserve-test"}}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(sklearnIris), &obj.Object); err != nil {
		return err
	}
	isvcs := dyn.Resource(isvcGVR).Namespace("kserve-test")
	if _, err := isvcs.Create(ctx, obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create sklearn-iris: %w", err)
	}
	w.log.Printf("created InferenceService kserve-test/sklearn-iris; waiting until it is Ready")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		got, err := isvcs.Get(ctx, "sklearn-iris", metav1.GetOptions{})
		if err == nil && readyTrue(got) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sklearn-iris not Ready after 3 minutes (see %s/logs)", w.env.StateDir)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(500 * time.Millisecond):
		}
	}
	_, port, err := net.SplitHostPort(w.env.Ingress)
	if err != nil {
		return err
	}
	fmt.Printf("export KUBECONFIG=%s\n", filepath.Join(w.env.StateDir, "kubeconfig"))
	fmt.Printf("export INGRESS_HOST=127.0.0.1\n")
	fmt.Printf("export INGRESS_PORT=%s\n", port)
	if w.env.Prometheus != "" {
		// For metric gates: rollout --prometheus "$PROMETHEUS_URL".
		fmt.Printf("export PROMETHEUS_URL=%s\n", w.env.Prometheus)
	}
	if pluginDir != "" {
		abs, err := filepath.Abs(pluginDir)
		if err != nil {
			return err
		}
		fmt.Printf("export PATH=%s:$PATH\n", abs)
	}
	w.log.Printf("sandbox ready; Ctrl-C or SIGTERM stops it")
	return nil
}

func readyTrue(obj *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" && m["status"] == "True" {
			return true
		}
	}
	return false
}
