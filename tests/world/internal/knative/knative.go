// Package knative is our own main for Knative Serving's controller: the reconcilers of
// knative.dev/serving's cmd/controller that a cluster without cert-manager, domain mappings or
// Knative's webhook needs, with no port bound for health probes. Knative's own main binds :8080
// (probes, hard-coded) on all interfaces, so two clusters on one machine would collide.
package knative

import (
	"context"
	"fmt"
	"os"

	"k8s.io/client-go/tools/clientcmd"
	filteredinformerfactory "knative.dev/pkg/client/injection/kube/informers/factory/filtered"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/serving/pkg/apis/serving"
	"knative.dev/serving/pkg/reconciler/configuration"
	"knative.dev/serving/pkg/reconciler/gc"
	"knative.dev/serving/pkg/reconciler/labeler"
	"knative.dev/serving/pkg/reconciler/revision"
	"knative.dev/serving/pkg/reconciler/route"
	"knative.dev/serving/pkg/reconciler/serverlessservice"
	"knative.dev/serving/pkg/reconciler/service"
)

// Run runs the controller until ctx ends. It needs SYSTEM_NAMESPACE (where Knative's ConfigMaps
// are) in its environment; PROFILING_PORT=0 makes the profiling server, which sharedmain always
// starts on all interfaces, take a free port instead of 8008.
func Run(ctx context.Context, kubeconfig string) error {
	if os.Getenv("SYSTEM_NAMESPACE") == "" {
		return fmt.Errorf("SYSTEM_NAMESPACE is not set (Knative's ConfigMaps are in knative-serving)")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	// One replica: no leader election (it would only delay the start by a lease acquisition).
	ctx = sharedmain.WithHADisabled(ctx)
	ctx = sharedmain.WithHealthProbesDisabled(ctx)
	// This binary links the autoscaler's packages too (RunAutoscaler), which register a pod
	// informer filtered on the revision UID label: sharedmain sets up every registered informer,
	// and panics ("Unable to fetch labelkey from context") unless the selector is in ctx.
	ctx = filteredinformerfactory.WithSelectors(ctx, serving.RevisionUID)
	sharedmain.MainWithConfig(ctx, "controller", cfg,
		configuration.NewController,
		labeler.NewController,
		revision.NewController,
		route.NewController,
		serverlessservice.NewController,
		service.NewController,
		gc.NewController,
	)
	return nil
}
