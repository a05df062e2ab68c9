package ingress

import (
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"time"
)

// revisionTraffic is what the ingress served to one revision since its scraper last asked.
type revisionTraffic struct {
	inFlight int           // requests being answered now
	waiting  int           // requests held for want of a ready pod
	area     time.Duration // ∫ inFlight dt since `since` (request-time)
	last     time.Time     // when area was last brought up to date
	answered int           // requests answered in the current period
}

func (r *revisionTraffic) advance(now time.Time) {
	r.area += time.Duration(r.inFlight) * now.Sub(r.last)
	r.last = now
}

// TrafficStats counts, per revision, the requests in flight and answered: what Knative's
// activator reports to its autoscaler, here measured where the requests are served.
type TrafficStats struct {
	mu    sync.Mutex
	now   func() time.Time
	since time.Time // start of the current period
	m     map[[2]string]*revisionTraffic
}

// NewTrafficStats makes empty statistics on the given clock.
func NewTrafficStats(now func() time.Time) *TrafficStats {
	return &TrafficStats{now: now, since: now(), m: map[[2]string]*revisionTraffic{}}
}

func (s *TrafficStats) get(ns, rev string) *revisionTraffic {
	k := [2]string{ns, rev}
	r := s.m[k]
	if r == nil {
		r = &revisionTraffic{last: s.now()}
		s.m[k] = r
	}
	return r
}

// Begin counts a request to the revision as in flight; the returned function ends it.
func (s *TrafficStats) Begin(ns, rev string) (end func()) {
	s.mu.Lock()
	r := s.get(ns, rev)
	r.advance(s.now())
	r.inFlight++
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		r.advance(s.now())
		r.inFlight--
		r.answered++
	}
}

// Wait counts a request held for want of a ready pod; the returned function ends the wait.
func (s *TrafficStats) Wait(ns, rev string) (done func()) {
	s.mu.Lock()
	s.get(ns, rev).waiting++
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.get(ns, rev).waiting--
		s.mu.Unlock()
	}
}

// Entry is one revision's traffic over a period (the JSON of the statistics endpoint).
type Entry struct {
	Namespace         string  `json:"namespace"`
	Revision          string  `json:"revision"`
	Concurrency       float64 `json:"concurrency"`
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	Waiting           int     `json:"waiting"`
}

// TakeAll returns, for every revision with something to report, its traffic since the previous
// TakeAll (average concurrency, requests answered per second, requests waiting now), and starts
// a new period. Revisions with nothing going on are forgotten.
func (s *TrafficStats) TakeAll() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	period := now.Sub(s.since)
	s.since = now
	var out []Entry
	for k, r := range s.m {
		r.advance(now)
		if r.area > 0 || r.answered > 0 || r.inFlight > 0 || r.waiting > 0 {
			e := Entry{Namespace: k[0], Revision: k[1], Waiting: r.waiting}
			if period > 0 {
				e.Concurrency = float64(r.area) / float64(period)
				e.RequestsPerSecond = float64(r.answered) / period.Seconds()
			}
			out = append(out, e)
		}
		r.area, r.answered = 0, 0
		if r.inFlight == 0 && r.waiting == 0 {
			delete(s.m, k)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Revision < out[j].Namespace+"/"+out[j].Revision
	})
	return out
}

// ServeHTTP answers GET with TakeAll's list as JSON: what Knative's autoscaler main of the world
// reads every second (knative.Traffic).
func (s *TrafficStats) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(append([]Entry{}, s.TakeAll()...))
}
