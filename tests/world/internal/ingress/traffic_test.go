package ingress

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func TestTrafficStats(t *testing.T) {
	now := t0
	s := NewTrafficStats(func() time.Time { return now })
	// Two requests overlapping: one over [0, 1s), one over [0.5s, 1.5s); one more over [1.5s, 2s).
	end1 := s.Begin("ns", "r1")
	now = t0.Add(500 * time.Millisecond)
	end2 := s.Begin("ns", "r1")
	now = t0.Add(time.Second)
	end1()
	now = t0.Add(1500 * time.Millisecond)
	end2()
	end3 := s.Begin("ns", "r1")
	now = t0.Add(2 * time.Second)
	end3()
	got := s.TakeAll()
	if len(got) != 1 || got[0].Revision != "r1" || math.Abs(got[0].Concurrency-1.25) > 1e-9 ||
		math.Abs(got[0].RequestsPerSecond-1.5) > 1e-9 || got[0].Waiting != 0 {
		t.Fatalf("%+v; want r1 at concurrency 1.25, 1.5 per second", got)
	}
	// Nothing going on: nothing to report.
	now = t0.Add(3 * time.Second)
	if got := s.TakeAll(); len(got) != 0 {
		t.Fatalf("idle: %+v", got)
	}
	// A request held for want of a pod is reported while it waits, and one in flight over half
	// of the next period counts as 0.5; revisions are reported apart, in order.
	done := s.Wait("ns", "r2")
	end := s.Begin("ns", "r1")
	now = t0.Add(3500 * time.Millisecond)
	end()
	now = t0.Add(4 * time.Second)
	got = s.TakeAll()
	if len(got) != 2 || got[0].Revision != "r1" || math.Abs(got[0].Concurrency-0.5) > 1e-9 || got[1].Revision != "r2" || got[1].Waiting != 1 {
		t.Fatalf("%+v", got)
	}
	done()
	now = t0.Add(5 * time.Second)
	if got := s.TakeAll(); len(got) != 0 {
		t.Fatalf("after the wait: %+v", got)
	}
}

func TestProgramsServeTheProgrammedGeneration(t *testing.T) {
	p := newPrograms()
	ing := canaryIngress()
	ing.Generation = 1
	if first := p.seen(ing, t0); !first.Equal(t0) {
		t.Fatalf("first seen %v", first)
	}
	if len(p.list()) != 0 {
		t.Fatal("nothing is served before it is programmed")
	}
	p.program(ing)
	changed := ing.DeepCopy()
	changed.Generation, changed.ResourceVersion = 2, "2"
	changed.Spec.Rules[0].HTTP.Paths[0].Splits[0].Percent = 0
	if at := p.seen(changed, t0.Add(time.Second)); !at.Equal(t0.Add(time.Second)) {
		t.Fatalf("a new generation is seen anew: %v", at)
	}
	if at := p.seen(changed, t0.Add(2*time.Second)); !at.Equal(t0.Add(time.Second)) {
		t.Fatalf("seen again keeps the first time: %v", at)
	}
	if got := p.list(); len(got) != 1 || got[0].Generation != 1 {
		t.Fatalf("the old generation is served until the new one is programmed: %+v", got)
	}
	p.program(changed)
	if got := p.list(); len(got) != 1 || got[0].Generation != 2 {
		t.Fatalf("programmed: %+v", got)
	}
	p.forget(keyOf(changed))
	if len(p.list()) != 0 {
		t.Fatal("forgotten")
	}
}
