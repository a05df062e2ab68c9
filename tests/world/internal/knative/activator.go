package knative

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/types"
	asmetrics "knative.dev/serving/pkg/autoscaler/metrics"
)

// Traffic is one entry of the test ingress's statistics: what it served to one revision since
// the previous question (only revisions with something to report are listed).
type Traffic struct {
	Namespace string `json:"namespace"`
	Revision  string `json:"revision"`
	// Concurrency is the average number of requests in flight to the revision over the period.
	Concurrency float64 `json:"concurrency"`
	// RequestsPerSecond is the number of requests the revision answered over the period, divided
	// by the period in seconds.
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	// Waiting is the number of requests held now because the revision has no pod yet (the
	// activator's buffer).
	Waiting int `json:"waiting"`
}

// ReportPeriod is how often the activators report to the autoscaler (Knative's activator
// reports every second).
const ReportPeriod = time.Second

// StatFor is the statistic an activator pushes for a revision (its concurrency reporter): the
// average concurrency it saw, held requests included, and the requests it handled. The
// "proxied" fields stay 0: they are the queue-proxy's count of requests that came through an
// activator, which the collector subtracts so as not to count them twice.
func StatFor(t Traffic, now time.Time) asmetrics.StatMessage {
	return asmetrics.StatMessage{
		Key: types.NamespacedName{Namespace: t.Namespace, Name: t.Revision},
		Stat: asmetrics.Stat{PodName: "activator", AverageConcurrentRequests: t.Concurrency + float64(t.Waiting),
			RequestCount: t.RequestsPerSecond, Timestamp: now.Unix()},
	}
}

// reportTraffic is the one piece of the autoscaler we replace: where Knative's activators push
// their statistics to the autoscaler's stats server, it asks the test ingress (which plays the
// activator) every ReportPeriod and hands each revision's statistic to accept, as the main's
// stats-server loop does. Errors are logged and the next period tried.
func reportTraffic(ctx context.Context, statsURL string, accept func(asmetrics.StatMessage), logf func(string, ...any)) {
	client := &http.Client{Timeout: ReportPeriod}
	t := time.NewTicker(ReportPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		list, err := fetchTraffic(ctx, client, statsURL)
		if err != nil {
			logf("traffic statistics: %v", err)
			continue
		}
		now := time.Now()
		for _, tr := range list {
			accept(StatFor(tr, now))
		}
	}
}

func fetchTraffic(ctx context.Context, client *http.Client, url string) ([]Traffic, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	var list []Traffic
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return list, nil
}
