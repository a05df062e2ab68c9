package knative

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
	"go.uber.org/zap"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	filteredpodinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/pod/filtered"
	filteredinformerfactory "knative.dev/pkg/client/injection/kube/informers/factory/filtered"
	configmap "knative.dev/pkg/configmap/informer"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/system"
	autoscalingv1alpha1 "knative.dev/serving/pkg/apis/autoscaling/v1alpha1"
	"knative.dev/serving/pkg/apis/serving"
	asmetrics "knative.dev/serving/pkg/autoscaler/metrics"
	"knative.dev/serving/pkg/autoscaler/scaling"
	"knative.dev/serving/pkg/reconciler/autoscaling/kpa"
	servingmetric "knative.dev/serving/pkg/reconciler/metric"
	"knative.dev/serving/pkg/resources"
)

// RunAutoscaler is our own main for Knative Serving's autoscaler: the KPA reconciler, the metric
// reconciler, the multi-scaler and the metric collector, wired as knative.dev/serving's
// cmd/autoscaler/main.go wires them, with these differences:
//   - no stats server (it binds :8080 on all interfaces) and no bucket leader election (one
//     replica; it needs POD_NAME/POD_IP). In their place reportTraffic hands the collector and the
//     multi-scaler, every second, what the test ingress (at statsURL) served to each revision, as
//     the activators' pushes would be handed on: with target-burst-capacity -1 (install.Autoscaler)
//     the activator is always in the path and Knative scrapes no pod at all;
//   - the scraper factory therefore only ever sees an empty scrape target (and refuses any other);
//   - no metrics or profiling exporters (a no-op meter provider).
//
// It needs SYSTEM_NAMESPACE in its environment, as the controller does.
func RunAutoscaler(ctx context.Context, kubeconfig, statsURL string) error {
	if os.Getenv("SYSTEM_NAMESPACE") == "" {
		return fmt.Errorf("SYSTEM_NAMESPACE is not set (Knative's ConfigMaps are in knative-serving)")
	}
	if statsURL == "" {
		return fmt.Errorf("--stats-url is required (the test ingress's statistics endpoint)")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	// As Knative's main: two controllers, twice the default rate limits.
	cfg.QPS = 2 * rest.DefaultQPS
	cfg.Burst = 2 * rest.DefaultBurst
	ctx = filteredinformerfactory.WithSelectors(ctx, serving.RevisionUID)
	ctx, informers := injection.Default.SetupInformers(ctx, cfg)

	loggingConfig, err := sharedmain.GetLoggingConfig(ctx)
	if err != nil {
		return fmt.Errorf("logging configuration: %w", err)
	}
	logger, _ := logging.NewLoggerFromConfig(loggingConfig, "autoscaler")
	defer func() { _ = logger.Sync() }()
	ctx = logging.WithLogger(ctx, logger)
	mp := noop.NewMeterProvider()

	cmw := configmap.NewInformedWatcher(kubeclient.Get(ctx), system.Namespace())
	podLister := filteredpodinformer.Get(ctx, serving.RevisionUID).Lister()
	collector := asmetrics.NewMetricCollector(noScraper, logger)
	multiScaler := scaling.NewMultiScaler(ctx.Done(), uniScalerFactory(mp, podLister, collector), logger)
	controllers := []*controller.Impl{
		kpa.NewController(ctx, cmw, multiScaler),
		servingmetric.NewController(ctx, cmw, collector),
	}
	if err := cmw.Start(ctx.Done()); err != nil {
		return fmt.Errorf("watching ConfigMaps: %w", err)
	}
	if err := controller.StartInformers(ctx.Done(), informers...); err != nil {
		return fmt.Errorf("starting informers: %w", err)
	}
	// The main's `accept`, for the statistics the activators would push.
	accept := func(sm asmetrics.StatMessage) {
		collector.Record(sm.Key, time.Unix(sm.Stat.Timestamp, 0), sm.Stat)
		multiScaler.Poke(sm.Key, sm.Stat)
	}
	go reportTraffic(ctx, statsURL, accept, logger.Infof)
	log.Printf("autoscaler: running (traffic statistics from %s)", statsURL)
	// With no elector builder in ctx, each controller promotes itself when it runs.
	return controller.StartAll(ctx, controllers...)
}

// uniScalerFactory is cmd/autoscaler's uniScalerFactoryFunc.
func uniScalerFactory(mp noop.MeterProvider, podLister corev1listers.PodLister, client asmetrics.MetricClient) scaling.UniScalerFactory {
	return func(decider *scaling.Decider) (scaling.UniScaler, error) {
		configName := decider.Labels[serving.ConfigurationLabelKey]
		if configName == "" {
			return nil, fmt.Errorf("label %q not found or empty in Decider %s", serving.ConfigurationLabelKey, decider.Name)
		}
		revisionName := decider.Labels[serving.RevisionLabelKey]
		if revisionName == "" {
			return nil, fmt.Errorf("label %q not found or empty in Decider %s", serving.RevisionLabelKey, decider.Name)
		}
		pods := resources.NewPodAccessor(podLister, decider.Namespace, revisionName)
		return scaling.New(attribute.NewSet(), mp, decider.Namespace, decider.Name, client, pods, &decider.Spec), nil
	}
}

// noScraper is the scraper factory: with target-burst-capacity -1 the KPA gives every Metric an
// empty scrape target, for which Knative's factory returns no scraper either.
func noScraper(m *autoscalingv1alpha1.Metric, _ *zap.SugaredLogger) (asmetrics.StatsScraper, error) {
	if m.Spec.ScrapeTarget == "" {
		return nil, nil
	}
	return nil, fmt.Errorf("metric %s/%s: scrape target %q, but this world has no queue-proxy to scrape (target-burst-capacity must stay -1)",
		m.Namespace, m.Name, m.Spec.ScrapeTarget)
}
