// Package knobs holds the test-only switches that the two fakes of the test cluster (kubelet,
// ingress) read live, per namespace, from a ConfigMap named "isvc-sim". Nothing here is
// on the InferenceService: its annotations would cut new revisions. The rules are keyed by a
// substring of the model's storage URI, so a revision's behaviour is known before it exists.
//
// Keys of the ConfigMap "isvc-sim" (in the namespace it applies to):
//
//	ingressDelay: "500ms"
//	    How long a changed Knative Ingress takes to be programmed (its LoadBalancerReady is Unknown
//	    meanwhile, and requests follow the previous configuration). Default DefaultIngressDelay.
//	terminationDelay: "2s"
//	    How long the containers of a deleted pod take to exit (the pod is Terminating meanwhile);
//	    never longer than the pod's grace period. Default DefaultTerminationDelay.
//	paused: "true"
//	    Neither fake writes anything in this namespace (no pod status or pod deletion, no Ingress
//	    status), so a test can read twice with nothing changing in between (Knative's, KServe's and
//	    Kubernetes' own controllers still write). The ingress still answers requests.
//	rules: a JSON array; the first rule whose "match" is a substring of the storage URI wins
//	    ("" matches every URI):
//	    [{"match": "model-2", "readyDelay": "5s", "fail": true, "flap": "3s",
//	      "errorRate": 0.5, "latency": "200ms"}]
//	    readyDelay  time from "containers started" to "pod ready" (default 0)
//	    fail        the model never loads: the storage-initializer init container crash-loops
//	                (Init:CrashLoopBackOff, exit code 1, the kubelet's back-off)
//	    oomAfter    the model container is OOMKilled (exit 137) this long after each start, and
//	                crash-loops (CrashLoopBackOff)
//	    imagePull   the model container's image cannot be pulled (ErrImagePull, ImagePullBackOff)
//	    neverReady  the containers run but the readiness probe never passes
//	    flap        once ready, pod readiness toggles with this period (ready, not ready, ...)
//	    errorRate   fraction (0..1) of requests the ingress answers with HTTP 500
//	    latency     delay the ingress adds before answering
//
// A storage URI containing "sim-fail" always fails to load, whatever the rules say.
// Durations use Go's syntax ("150ms", "2s", "1m"). A ConfigMap that does not parse is logged and
// treated as "no rules" (the pause switch is still honoured).
package knobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// ConfigMapName is the name of the per-namespace ConfigMap holding the knobs.
const ConfigMapName = "isvc-sim"

// FailMarker in a storage URI makes the model fail to load.
const FailMarker = "sim-fail"

// Rule is the behaviour of the revisions whose storage URI contains Match.
type Rule struct {
	Match      string
	ReadyDelay time.Duration
	Fail       bool
	OOMAfter   time.Duration
	ImagePull  bool
	NeverReady bool
	Flap       time.Duration
	ErrorRate  float64
	Latency    time.Duration
}

// Config is the parsed content of one namespace's ConfigMap.
type Config struct {
	Paused           bool
	IngressDelay     time.Duration
	TerminationDelay time.Duration
	Rules            []Rule
}

// Defaults of the namespace-wide durations: a gateway programs a change in a fraction of a
// second; a model server exits within a couple of seconds of its SIGTERM.
const (
	DefaultIngressDelay     = 500 * time.Millisecond
	DefaultTerminationDelay = 2 * time.Second
)

type jsonRule struct {
	Match      string  `json:"match"`
	ReadyDelay string  `json:"readyDelay"`
	Fail       bool    `json:"fail"`
	OOMAfter   string  `json:"oomAfter"`
	ImagePull  bool    `json:"imagePull"`
	NeverReady bool    `json:"neverReady"`
	Flap       string  `json:"flap"`
	ErrorRate  float64 `json:"errorRate"`
	Latency    string  `json:"latency"`
}

// Parse reads a ConfigMap's data. On an error in "rules" it still returns the pause switch.
func Parse(data map[string]string) (Config, error) {
	cfg := Config{Paused: strings.TrimSpace(strings.ToLower(data["paused"])) == "true",
		IngressDelay: DefaultIngressDelay, TerminationDelay: DefaultTerminationDelay}
	for _, d := range []struct {
		key  string
		into *time.Duration
	}{{"ingressDelay", &cfg.IngressDelay}, {"terminationDelay", &cfg.TerminationDelay}} {
		if text := strings.TrimSpace(data[d.key]); text != "" {
			v, err := time.ParseDuration(text)
			if err != nil || v < 0 {
				return cfg, fmt.Errorf("%s: %q is not a duration >= 0", d.key, text)
			}
			*d.into = v
		}
	}
	raw := strings.TrimSpace(data["rules"])
	if raw == "" {
		return cfg, nil
	}
	var rules []jsonRule
	if err := json.Unmarshal([]byte(raw), &rules); err != nil {
		return cfg, fmt.Errorf("rules: %w", err)
	}
	for i, r := range rules {
		rule := Rule{Match: r.Match, Fail: r.Fail, ImagePull: r.ImagePull, NeverReady: r.NeverReady, ErrorRate: r.ErrorRate}
		if r.ErrorRate < 0 || r.ErrorRate > 1 {
			return cfg, fmt.Errorf("rules[%d].errorRate: %v is not within 0..1", i, r.ErrorRate)
		}
		for _, d := range []struct {
			name string
			text string
			into *time.Duration
		}{{"readyDelay", r.ReadyDelay, &rule.ReadyDelay}, {"flap", r.Flap, &rule.Flap}, {"latency", r.Latency, &rule.Latency}, {"oomAfter", r.OOMAfter, &rule.OOMAfter}} {
			if d.text == "" {
				continue
			}
			v, err := time.ParseDuration(d.text)
			if err != nil || v < 0 {
				return cfg, fmt.Errorf("rules[%d].%s: %q is not a duration >= 0", i, d.name, d.text)
			}
			*d.into = v
		}
		cfg.Rules = append(cfg.Rules, rule)
	}
	return cfg, nil
}

// For returns the rule for a storage URI: the first rule whose Match is a substring of it (the
// zero Rule when none matches), with Fail forced on for URIs containing FailMarker.
func (c Config) For(storageURI string) Rule {
	var rule Rule
	for _, r := range c.Rules {
		if strings.Contains(storageURI, r.Match) {
			rule = r
			break
		}
	}
	if strings.Contains(storageURI, FailMarker) {
		rule.Fail = true
	}
	return rule
}

// Store keeps every namespace's Config up to date from an informer.
type Store struct {
	mu        sync.RWMutex
	byNS      map[string]Config
	listeners []func(namespace string)
	informer  cache.SharedIndexInformer
}

// NewStore builds a Store watching the "isvc-sim" ConfigMaps of all namespaces. Call OnChange
// before Start.
func NewStore(cs kubernetes.Interface) *Store {
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 10*time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", ConfigMapName).String()
		}))
	s := &Store{byNS: map[string]Config{}, informer: factory.Core().V1().ConfigMaps().Informer()}
	_, _ = s.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.set(obj, false) },
		UpdateFunc: func(_, obj any) { s.set(obj, false) },
		DeleteFunc: func(obj any) { s.set(obj, true) },
	})
	return s
}

// OnChange registers fn, called with the namespace whenever its knobs change.
func (s *Store) OnChange(fn func(namespace string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listeners = append(s.listeners, fn)
}

// Start runs the informer and waits for its first list.
func (s *Store) Start(ctx context.Context) error {
	go s.informer.Run(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), s.informer.HasSynced) {
		return fmt.Errorf("knobs: ConfigMap informer did not sync")
	}
	return nil
}

func (s *Store) set(obj any, deleted bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok || cm.Name != ConfigMapName {
		return
	}
	var cfg Config
	if !deleted {
		var err error
		if cfg, err = Parse(cm.Data); err != nil {
			log.Printf("knobs: %s/%s: %v (rules ignored)", cm.Namespace, cm.Name, err)
		}
	}
	s.mu.Lock()
	if deleted {
		delete(s.byNS, cm.Namespace)
	} else {
		s.byNS[cm.Namespace] = cfg
	}
	listeners := append([]func(string){}, s.listeners...)
	s.mu.Unlock()
	for _, fn := range listeners {
		fn(cm.Namespace)
	}
}

// Get returns the Config of a namespace (the defaults when it has no ConfigMap).
func (s *Store) Get(namespace string) Config {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if cfg, ok := s.byNS[namespace]; ok {
		return cfg
	}
	return Config{IngressDelay: DefaultIngressDelay, TerminationDelay: DefaultTerminationDelay}
}

// Paused tells whether the fakes must not write anything in the namespace.
func (s *Store) Paused(namespace string) bool { return s.Get(namespace).Paused }

// For returns the rule for a storage URI in a namespace.
func (s *Store) For(namespace, storageURI string) Rule { return s.Get(namespace).For(storageURI) }

// NewStatic returns a Store with fixed content and no informer (for unit tests of the fakes).
func NewStatic(byNamespace map[string]Config) *Store {
	return &Store{byNS: byNamespace}
}
