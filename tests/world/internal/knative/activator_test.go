package knative

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	asmetrics "knative.dev/serving/pkg/autoscaler/metrics"
)

func TestStatFor(t *testing.T) {
	now := time.Unix(1700000000, 0)
	sm := StatFor(Traffic{Namespace: "ns", Revision: "r-00001", Concurrency: 1.5, RequestsPerSecond: 7, Waiting: 2}, now)
	if sm.Key.Namespace != "ns" || sm.Key.Name != "r-00001" {
		t.Fatalf("key %v", sm.Key)
	}
	st := sm.Stat
	if st.PodName != "activator" || st.AverageConcurrentRequests != 3.5 || st.AverageProxiedConcurrentRequests != 0 ||
		st.RequestCount != 7 || st.ProxiedRequestCount != 0 || st.Timestamp != now.Unix() {
		t.Fatalf("stat %+v", st)
	}
}

func TestReportTrafficAsksTheIngressEachPeriod(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`[{"namespace":"ns","revision":"r-00001","concurrency":4,"requestsPerSecond":10}]`))
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan asmetrics.StatMessage, 10)
	go reportTraffic(ctx, srv.URL, func(sm asmetrics.StatMessage) { got <- sm }, t.Logf)
	select {
	case sm := <-got:
		if sm.Key.Name != "r-00001" || sm.Stat.AverageConcurrentRequests != 4 || sm.Stat.RequestCount != 10 {
			t.Fatalf("%+v", sm)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no statistic within 5 s")
	}
	cancel()
	if _, err := fetchTraffic(context.Background(), http.DefaultClient, srv.URL+"/x"); err != nil {
		t.Fatalf("decoding: %v", err)
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 500) }))
	defer bad.Close()
	if _, err := fetchTraffic(context.Background(), http.DefaultClient, bad.URL); err == nil {
		t.Fatal("an HTTP error must be an error")
	}
}
