package ingress

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The series and labels are queue-proxy's as the OTel Prometheus exporter writes them.
func TestRevisionMetricsExportWhatQueueProxyExports(t *testing.T) {
	m := NewRevisionMetrics("127.0.0.1:9")
	m.Record("ns", "m-predictor-00002", "m-predictor", "", 200, 30*time.Millisecond)
	m.Record("ns", "m-predictor-00002", "m-predictor", "", 500, 300*time.Millisecond)
	get := func(path string) string {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != 200 {
			t.Fatalf("%s: %d", path, rec.Code)
		}
		b, _ := io.ReadAll(rec.Body)
		return string(b)
	}
	text := get("/metrics/ns/m-predictor-00002")
	for _, want := range []string{
		`kn_serving_invocation_duration_seconds_bucket{http_response_status_code="200",otel_scope_name="knative.dev/serving/pkg/queue",otel_scope_schema_url="",otel_scope_version="",le="0.05"} 1`,
		`kn_serving_invocation_duration_seconds_bucket{http_response_status_code="200",otel_scope_name="knative.dev/serving/pkg/queue",otel_scope_schema_url="",otel_scope_version="",le="0.025"} 0`,
		`kn_serving_invocation_duration_seconds_count{http_response_status_code="500",otel_scope_name="knative.dev/serving/pkg/queue"`,
		`kn_serving_invocation_duration_seconds_sum{http_response_status_code="500"`,
		`kn_revision_name="m-predictor-00002"`,
		`k8s_namespace_name="ns"`,
		`service_name="m-predictor"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %s in\n%s", want, text)
		}
	}
	// The revision is a resource attribute: on target_info only, never on the histogram.
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "kn_serving_invocation_duration_seconds") && strings.Contains(line, "kn_revision_name") {
			t.Errorf("the revision leaked onto a series: %s", line)
		}
	}
	var groups []struct {
		Targets []string
		Labels  map[string]string
	}
	if err := json.Unmarshal([]byte(get("/sd")), &groups); err != nil || len(groups) != 1 {
		t.Fatalf("sd: %v %v", err, groups)
	}
	if groups[0].Labels["__metrics_path__"] != "/metrics/ns/m-predictor-00002" || groups[0].Labels["revision"] != "m-predictor-00002" {
		t.Errorf("sd labels: %v", groups[0].Labels)
	}
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics/ns/other", nil))
	if rec.Code != 404 {
		t.Errorf("unknown revision: %d", rec.Code)
	}
}
