package knobs

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	cfg, err := Parse(map[string]string{
		"paused": "true",
		"rules": `[{"match":"model-2","readyDelay":"5s","fail":true,"flap":"3s","errorRate":0.5,"latency":"200ms"},
		           {"match":""}]`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Paused || len(cfg.Rules) != 2 {
		t.Fatalf("got %+v", cfg)
	}
	want := Rule{Match: "model-2", ReadyDelay: 5 * time.Second, Fail: true, Flap: 3 * time.Second, ErrorRate: 0.5, Latency: 200 * time.Millisecond}
	if cfg.Rules[0] != want {
		t.Fatalf("rule 0 = %+v, want %+v", cfg.Rules[0], want)
	}
}

func TestParseEmptyAndPausedVariants(t *testing.T) {
	for in, paused := range map[string]bool{"": false, "false": false, "TRUE": true, " true ": true, "yes": false} {
		cfg, err := Parse(map[string]string{"paused": in})
		if err != nil || cfg.Paused != paused || cfg.Rules != nil {
			t.Errorf("paused %q: got %+v, %v", in, cfg, err)
		}
	}
}

func TestParseErrorsKeepPause(t *testing.T) {
	for _, rules := range []string{
		`{"match":"x"}`,
		`[{"match":"x","readyDelay":"5"}]`,
		`[{"match":"x","latency":"-1s"}]`,
		`[{"match":"x","errorRate":1.5}]`,
		`[{"match":"x","flap":3}]`,
	} {
		cfg, err := Parse(map[string]string{"paused": "true", "rules": rules})
		if err == nil {
			t.Errorf("rules %s: no error", rules)
		}
		if !cfg.Paused {
			t.Errorf("rules %s: pause lost", rules)
		}
	}
}

func TestFor(t *testing.T) {
	cfg := Config{Rules: []Rule{
		{Match: "model-2", ReadyDelay: time.Second},
		{Match: "model", Latency: time.Second},
	}}
	if r := cfg.For("gs://kfserving-examples/models/sklearn/1.0/model-2"); r.ReadyDelay != time.Second || r.Latency != 0 {
		t.Errorf("first match must win: %+v", r)
	}
	if r := cfg.For("gs://x/model"); r.Latency != time.Second {
		t.Errorf("second rule: %+v", r)
	}
	if r := cfg.For("s3://other"); r != (Rule{}) {
		t.Errorf("no match: %+v", r)
	}
	if r := cfg.For("gs://bucket/sim-fail/model"); !r.Fail || r.Latency != time.Second {
		t.Errorf("sim-fail must fail and keep the matching rule: %+v", r)
	}
	if r := (Config{}).For("gs://sim-fail"); !r.Fail {
		t.Errorf("sim-fail without rules: %+v", r)
	}
}
