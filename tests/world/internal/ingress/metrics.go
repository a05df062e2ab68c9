package ingress

// What queue-proxy v0.48.1 exports, per revision: the OpenTelemetry histogram
// kn.serving.invocation.duration (seconds, queue-proxy's buckets, one data-point attribute
// http.response.status_code) under a resource naming the pod and the revision, served by the
// OTel Prometheus exporter with the translation strategy knative.dev/pkg sets
// (UnderscoreEscapingWithSuffixes): kn_serving_invocation_duration_seconds_{bucket,sum,count}
// and target_info. One scrape target per revision (/metrics/NS/REV on the statistics
// listener, its instance named after the revision's simulated pod), listed for Prometheus's
// http_sd at /sd. The simplification: one "pod" per revision, whatever its replicas.

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

// latencyBounds are queue-proxy's (pkg/queue/request_metric.go).
var latencyBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

type revMeter struct {
	handler  http.Handler
	duration metric.Float64Histogram
	pod      string
}

// RevisionMetrics holds one exporter per revision.
type RevisionMetrics struct {
	mu     sync.Mutex
	revs   map[string]*revMeter // "ns/rev"
	order  []string
	target string // the statistics listener's host:port
}

// NewRevisionMetrics serves its targets from target (host:port).
func NewRevisionMetrics(target string) *RevisionMetrics {
	return &RevisionMetrics{revs: map[string]*revMeter{}, target: target}
}

// simPod is the name of a revision's simulated pod (its scrape target's instance).
func simPod(rev string) string { return rev + "-deployment-sim" }

func (m *RevisionMetrics) meter(ns, rev, config, service string) (*revMeter, error) {
	key := ns + "/" + rev
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.revs[key]; ok {
		return r, nil
	}
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
	)
	if err != nil {
		return nil, err
	}
	pod := simPod(rev)
	attrs := []attribute.KeyValue{
		attribute.String("k8s.container.name", "queue-proxy"),
		attribute.String("k8s.namespace.name", ns),
		attribute.String("k8s.pod.name", pod),
		// queue-proxy: SERVING_SERVICE, else SERVING_CONFIGURATION, else SERVING_REVISION.
		attribute.String("service.name", cmp.Or(service, config, rev)),
		attribute.String("service.instance.id", pod),
		attribute.String("kn.revision.name", rev),
	}
	if config != "" {
		attrs = append(attrs, attribute.String("kn.configuration.name", config))
	}
	if service != "" {
		attrs = append(attrs, attribute.String("kn.service.name", service))
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
	if err != nil {
		return nil, err
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res))
	hist, err := provider.Meter("knative.dev/serving/pkg/queue").Float64Histogram(
		"kn.serving.invocation.duration",
		metric.WithDescription("The duration of task execution"),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(latencyBounds...),
	)
	if err != nil {
		return nil, err
	}
	r := &revMeter{handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), duration: hist, pod: pod}
	m.revs[key] = r
	m.order = append(m.order, key)
	return r, nil
}

// Record adds one request a revision served, as queue-proxy records it.
func (m *RevisionMetrics) Record(ns, rev, config, service string, status int, took time.Duration) {
	r, err := m.meter(ns, rev, config, service)
	if err != nil {
		return
	}
	r.duration.Record(context.Background(), took.Seconds(),
		metric.WithAttributes(attribute.Int("http.response.status_code", status)))
}

// ServeHTTP serves /metrics/NS/REV (a revision's scrape) and /sd (the targets, for http_sd).
func (m *RevisionMetrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/sd" {
		m.mu.Lock()
		type group struct {
			Targets []string          `json:"targets"`
			Labels  map[string]string `json:"labels"`
		}
		groups := []group{}
		for _, key := range m.order {
			ns, rev, _ := strings.Cut(key, "/")
			groups = append(groups, group{Targets: []string{m.target}, Labels: map[string]string{
				"__metrics_path__": "/metrics/" + key,
				"instance":         m.revs[key].pod,
				// What a kubernetes_sd scrape relabels from the pod (the `labels` presets).
				"namespace": ns,
				"revision":  rev,
			}})
		}
		m.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(groups)
		return
	}
	key, ok := strings.CutPrefix(r.URL.Path, "/metrics/")
	m.mu.Lock()
	rm := m.revs[key]
	m.mu.Unlock()
	if !ok || rm == nil {
		http.NotFound(w, r)
		return
	}
	rm.handler.ServeHTTP(w, r)
}

// statusWriter keeps the status an answer was written with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}
