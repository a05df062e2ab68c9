package main

// `bench fill` fills a bench world (`world up --no-controllers`) with InferenceServices and their
// pods, as KServe and Knative would have left them once everything is ready: each object created,
// then its status written, by a pool of concurrent clients (one kubectl call per object would take
// many minutes for thousands). Nothing reconciles them afterwards.
//
// Every tenth InferenceService is in the middle of a canary (10 % to a second revision), so the
// table has PREV and LATEST cells of both kinds. Prints what it wrote on its last line.

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

var isvcGVR = schema.GroupVersionResource{Group: "serving.kserve.io", Version: "v1beta1", Resource: "inferenceservices"}

func fill(args []string) {
	fs := flag.NewFlagSet("fill", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the bench world")
	ns := fs.String("namespace", "bench-big", "namespace to fill (created if missing)")
	count := fs.Int("isvcs", 2000, "InferenceServices to create")
	podsPer := fs.Int("pods", 3, "pods per InferenceService")
	workers := fs.Int("workers", 32, "concurrent clients")
	label := fs.String("label", "", "an extra label k=v on every tenth InferenceService (for -l)")
	_ = fs.Parse(args)
	logger := log.New(os.Stderr, "bench fill: ", log.Ltime)

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		logger.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 2000, 4000
	cfg.UserAgent = "bench-fill"
	kube := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: *ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		logger.Fatal(err)
	}
	// A pod needs its namespace's default service account, which kube-controller-manager makes.
	for {
		if _, err := kube.CoreV1().ServiceAccounts(*ns).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			logger.Fatal("no default service account in ", *ns)
		case <-time.After(200 * time.Millisecond):
		}
	}

	start := time.Now()
	jobs := make(chan int)
	var wrote, pods atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				n, err := one(ctx, kube, dyn, *ns, i, *podsPer, *label)
				if err != nil {
					failed.Store(err)
					cancel()
					return
				}
				wrote.Add(1)
				pods.Add(int64(n))
			}
		}()
	}
	for i := range *count {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		logger.Fatal(err)
	}
	fmt.Printf("bench fill: %d InferenceServices and %d pods in namespace %s in %.1fs\n", wrote.Load(), pods.Load(), *ns, time.Since(start).Seconds())
}

// one writes InferenceService number i, its status, and its pods with theirs.
func one(ctx context.Context, kube kubernetes.Interface, dyn dynamic.Interface, ns string, i, podsPer int, label string) (int, error) {
	name := fmt.Sprintf("model-%04d", i)
	canary := i%10 == 3
	obj := isvc(ns, name, canary)
	if label != "" && i%10 == 0 {
		k, v, _ := strings.Cut(label, "=")
		obj.SetLabels(map[string]string{k: v})
	}
	created, err := dyn.Resource(isvcGVR).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", name, err)
	}
	created.Object["status"] = isvcStatus(ns, name, canary)
	if _, err := dyn.Resource(isvcGVR).Namespace(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return 0, fmt.Errorf("status of %s: %w", name, err)
	}
	for p := range podsPer {
		rev := 1
		if canary && p == 0 {
			rev = 2
		}
		pod := podOf(ns, name, rev, p)
		made, err := kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			return p, fmt.Errorf("pod of %s: %w", name, err)
		}
		made.Status = podStatus(made, i*podsPer+p)
		if _, err := kube.CoreV1().Pods(ns).UpdateStatus(ctx, made, metav1.UpdateOptions{}); err != nil {
			return p, fmt.Errorf("pod status of %s: %w", name, err)
		}
	}
	return podsPer, nil
}

func revision(name string, n int) string { return fmt.Sprintf("%s-predictor-%05d", name, n) }

func isvc(ns, name string, canary bool) *unstructured.Unstructured {
	predictor := map[string]any{
		"minReplicas": int64(1),
		"model": map[string]any{
			"modelFormat": map[string]any{"name": "sklearn"},
			"storageUri":  "gs://kfserving-examples/models/sklearn/1.0/model",
			"resources": map[string]any{
				"requests": map[string]any{"cpu": "100m", "memory": "256Mi"},
				"limits":   map[string]any{"cpu": "1", "memory": "1Gi"},
			},
		},
	}
	if canary {
		predictor["canaryTrafficPercent"] = int64(10)
		predictor["model"].(map[string]any)["storageUri"] = "gs://kfserving-examples/models/sklearn/2.0/model"
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.kserve.io/v1beta1",
		"kind":       "InferenceService",
		"metadata": map[string]any{
			"name": name, "namespace": ns,
			"annotations": map[string]any{"serving.kserve.io/deploymentMode": "Serverless"},
		},
		"spec": map[string]any{"predictor": predictor},
	}}
}

// isvcStatus is the status KServe writes once the predictor is ready (a canary: 10 % latest,
// 90 % on the previous revision tagged prev).
func isvcStatus(ns, name string, canary bool) map[string]any {
	now := time.Now().UTC().Format(time.RFC3339)
	cond := func(t string) any {
		return map[string]any{"type": t, "status": "True", "lastTransitionTime": now}
	}
	url := fmt.Sprintf("http://%s.%s.example.com", name, ns)
	pURL := fmt.Sprintf("http://%s-predictor.%s.example.com", name, ns)
	latest := revision(name, 1)
	traffic := []any{map[string]any{"latestRevision": true, "percent": int64(100), "revisionName": latest}}
	component := map[string]any{
		"address":                 map[string]any{"url": fmt.Sprintf("http://%s-predictor.%s.svc.cluster.local", name, ns)},
		"latestCreatedRevision":   latest,
		"latestReadyRevision":     latest,
		"latestRolledoutRevision": latest,
		"url":                     pURL,
	}
	if canary {
		latest = revision(name, 2)
		component["latestCreatedRevision"] = latest
		component["latestReadyRevision"] = latest
		component["previousRolledoutRevision"] = revision(name, 1)
		traffic = []any{
			map[string]any{"latestRevision": true, "percent": int64(10), "revisionName": latest, "tag": "latest",
				"url": fmt.Sprintf("http://latest-%s-predictor.%s.example.com", name, ns)},
			map[string]any{"latestRevision": false, "percent": int64(90), "revisionName": revision(name, 1), "tag": "prev",
				"url": fmt.Sprintf("http://prev-%s-predictor.%s.example.com", name, ns)},
		}
	}
	component["traffic"] = traffic
	return map[string]any{
		"address":    map[string]any{"url": fmt.Sprintf("http://%s.%s.svc.cluster.local", name, ns)},
		"components": map[string]any{"predictor": component},
		"conditions": []any{cond("IngressReady"), cond("LatestDeploymentReady"), cond("PredictorConfigurationReady"),
			cond("PredictorReady"), cond("PredictorRouteReady"), cond("Ready")},
		"deploymentMode": "Serverless",
		"modelStatus": map[string]any{
			"copies":           map[string]any{"failedCopies": int64(0), "totalCopies": int64(1)},
			"states":           map[string]any{"activeModelState": "Loaded", "targetModelState": "Loaded"},
			"transitionStatus": "UpToDate",
		},
		"observedGeneration": int64(1),
		"url":                url,
	}
}

// podOf is the pod Knative's Deployment would make for a revision (unscheduled: the bench world
// has no node, and a pod bound to a missing node would be collected).
func podOf(ns, name string, rev, p int) *corev1.Pod {
	r := revision(name, rev)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s-deployment-7d776c67fc-%05d", r, p),
			Namespace: ns,
			Labels: map[string]string{
				"serving.kserve.io/inferenceservice": name,
				"serving.knative.dev/revision":       r,
				"serving.knative.dev/configuration":  name + "-predictor",
				"serving.knative.dev/service":        name + "-predictor",
				"component":                          "predictor",
				"app":                                r,
			},
			Annotations: map[string]string{
				"internal.serving.kserve.io/storage-initializer-sourceuri": "gs://kfserving-examples/models/sklearn/1.0/model",
			},
		},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "storage-initializer", Image: "kserve/storage-initializer:v0.17.0",
				Args: []string{"gs://kfserving-examples/models/sklearn/1.0/model", "/mnt/models"}}},
			Containers: []corev1.Container{
				{Name: "kserve-container", Image: "kserve/sklearnserver:v0.17.0",
					Args: []string{"--model_name=" + name, "--model_dir=/mnt/models", "--http_port=8080"}},
				{Name: "queue-proxy", Image: "gcr.io/knative-releases/knative.dev/serving/cmd/queue:v1.18.1"},
			},
		},
	}
}

func podStatus(pod *corev1.Pod, n int) corev1.PodStatus {
	now := metav1.Now()
	ready := func(name string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: name, Ready: true, Started: ptr(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}
	}
	cond := func(t corev1.PodConditionType) corev1.PodCondition {
		return corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now}
	}
	return corev1.PodStatus{
		Phase:      corev1.PodRunning,
		Conditions: []corev1.PodCondition{cond(corev1.PodInitialized), cond(corev1.PodReady), cond(corev1.ContainersReady), cond(corev1.PodScheduled)},
		PodIP:      fmt.Sprintf("10.%d.%d.%d", 1+n/65536%200, n/256%256, n%256),
		StartTime:  &now,
		InitContainerStatuses: []corev1.ContainerStatus{{Name: "storage-initializer", Ready: true,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: now, FinishedAt: now}}}},
		ContainerStatuses: []corev1.ContainerStatus{ready("kserve-container"), ready("queue-proxy")},
	}
}

func ptr[T any](v T) *T { return &v }
