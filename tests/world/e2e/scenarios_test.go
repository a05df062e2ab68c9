package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The 11 scenarios of ../shared/kserve-facts.md §4.5, on the real controllers, driven with
// `kubectl apply` and `kubectl patch --type=merge`. Traffic is written as in State.Traffic:
// "r2/10* r1/90/prev" = status entries in order, revision/percent/tag, * on the latestRevision one.

// deploy creates an InferenceService on model uri (no canaryTrafficPercent) and waits for its first
// rollout: r1 takes all traffic.
func (n *ns) deploy(name, uri string) {
	n.t.Helper()
	n.apply(isvcSpec{name: name, uri: uri}.manifest())
	n.waitState(name, State{Traffic: "r1/100*", LRO: "r1", PRO: "", LRR: "r1", LCR: "r1", Ready: "True"})
}

// setCanary patches a new model and a canaryTrafficPercent in one merge patch.
func (n *ns) setCanary(name, uri string, ctp int) {
	n.t.Helper()
	n.patch(name, fmt.Sprintf(`{"spec":{"predictor":{"canaryTrafficPercent":%d,"model":{"storageUri":%q}}}}`, ctp, uri))
}

// setPercent patches only canaryTrafficPercent.
func (n *ns) setPercent(name string, ctp int) {
	n.t.Helper()
	n.patch(name, fmt.Sprintf(`{"spec":{"predictor":{"canaryTrafficPercent":%d}}}`, ctp))
}

// promote removes canaryTrafficPercent (merge patch null).
func (n *ns) promote(name string) {
	n.t.Helper()
	n.patch(name, `{"spec":{"predictor":{"canaryTrafficPercent":null}}}`)
}

// revisions counts the Knative Revisions of an InferenceService's predictor.
func (n *ns) revisions(name string) int {
	n.t.Helper()
	out := n.must("", "get", "revisions", "-l", "serving.knative.dev/service="+name+"-predictor", "-o", "name")
	return len(strings.Fields(out))
}

// Scenario 1, without canaryTrafficPercent: r1 created, then [latest r1 100], LRO=r1, PRO="".
func TestScenario01FirstDeploy(t *testing.T) {
	t.Parallel()
	n := newNS(t, "s01")
	const name = "first"
	n.deploy(name, model1)
	n.waitColumns(name, Columns{Ready: "True", Prev: "", Latest: "100", PrevRolledout: "", LatestReady: Rev(name, 1)})
	n.waitPods(name, Rev(name, 1))
}

// Scenario 1, with canaryTrafficPercent 10 at creation: ignored for the first rollout (no LRO);
// the next reconcile, with LRO=r1, writes [latest 10, prev r1 90], both entries on r1; the
// rollback rule does not fire (PRO=""). The table shows PREV 90 / LATEST 10 with r1 twice.
func TestScenario01FirstDeployWithCanaryPercent(t *testing.T) {
	t.Parallel()
	n := newNS(t, "s01c")
	const name = "first-ctp"
	n.apply(isvcSpec{name: name, uri: model1, ctp: pct(10)}.manifest())
	n.waitState(name, State{Traffic: "r1/10* r1/90/prev", LRO: "r1", PRO: "", LRR: "r1", LCR: "r1", Ready: "True"})
	n.waitColumns(name, Columns{Ready: "True", Prev: "90", Latest: "10", PrevRolledout: Rev(name, 1), LatestReady: Rev(name, 1)})
	n.waitPods(name, Rev(name, 1))
	n.w.waitServes(t, name+"."+n.name+".example.com", name, Rev(name, 1), 50)
}

// Scenarios 2 (canary), 3 (step change) and 4 (promote), in sequence.
func TestScenario02to04CanaryStepPromote(t *testing.T) {
	t.Parallel()
	n := newNS(t, "s02")
	const name = "canary"
	// Model 2 takes a while to become ready, so that the state before it is ready can be seen.
	n.knobs(`[{"match": "2.0", "readyDelay": "10s"}]`)
	n.deploy(name, model1)

	n.step(t, "2 canary 10 with a new model", func(t *testing.T) {
		n.setCanary(name, model2, 10)
		// Until r2 is ready both entries resolve to r1; LCR=r2≠LRR: no marker change; not Ready.
		n.waitISVC(name, "canary pending", func(s *ISVC) error {
			return (State{Traffic: "r1/10* r1/90/prev", LRO: "r1", PRO: "", LRR: "r1", LCR: "r2", Ready: "Unknown"}).Diff(StateOf(s))
		})
		// test-cluster.md's table, row "canary 10 + model-2, while -00002 starts".
		n.waitColumns(name, Columns{Ready: "Unknown", Prev: "90", Latest: "10", PrevRolledout: Rev(name, 1), LatestReady: Rev(name, 1)})
		n.waitState(name, State{Traffic: "r2/10* r1/90/prev", LRO: "r1", PRO: "", LRR: "r2", LCR: "r2", Ready: "True"})
		n.waitColumns(name, Columns{Ready: "True", Prev: "90", Latest: "10", PrevRolledout: Rev(name, 1), LatestReady: Rev(name, 2)})
		n.waitPods(name, Rev(name, 1), Rev(name, 2))
	})

	n.step(t, "3 step change 10 to 50", func(t *testing.T) {
		n.setPercent(name, 50)
		n.waitState(name, State{Traffic: "r2/50* r1/50/prev", LRO: "r1", PRO: "", LRR: "r2", LCR: "r2", Ready: "True"})
		if got := n.revisions(name); got != 2 {
			t.Fatalf("%d revisions after a traffic-only change, want 2", got)
		}
		n.waitColumns(name, Columns{Ready: "True", Prev: "50", Latest: "50", PrevRolledout: Rev(name, 1), LatestReady: Rev(name, 2)})
	})

	n.step(t, "4 promote", func(t *testing.T) {
		n.promote(name)
		n.waitState(name, State{Traffic: "r2/100*", LRO: "r2", PRO: "r1", LRR: "r2", LCR: "r2", Ready: "True"})
		n.waitColumns(name, Columns{Ready: "True", Prev: "", Latest: "100", PrevRolledout: "", LatestReady: Rev(name, 2)})
		// r1 is no longer routed: scaled to zero.
		n.waitPods(name, Rev(name, 2))
		if got := n.revisions(name); got != 2 {
			t.Fatalf("%d revisions after promote, want 2", got)
		}
	})
}

// Scenario 5: rollback/pin during a canary (LRO=r1, LRR=r2, ctp 0): [latest r2 0, prev r1 100];
// markers unchanged; r2's pod stays (a 0 % target is still routed).
func TestScenario05PinDuringCanary(t *testing.T) {
	t.Parallel()
	n := newNS(t, "s05")
	const name = "pin"
	n.deploy(name, model1)
	n.setCanary(name, model2, 10)
	n.waitState(name, State{Traffic: "r2/10* r1/90/prev", LRO: "r1", PRO: "", LRR: "r2", LCR: "r2", Ready: "True"})

	n.setPercent(name, 0)
	n.waitState(name, State{Traffic: "r2/0* r1/100/prev", LRO: "r1", PRO: "", LRR: "r2", LCR: "r2", Ready: "True"})
	n.waitColumns(name, Columns{Ready: "True", Prev: "100", Latest: "0", PrevRolledout: Rev(name, 1), LatestReady: Rev(name, 2)})
	n.waitPods(name, Rev(name, 1), Rev(name, 2))
	n.w.waitServes(t, name+"."+n.name+".example.com", name, Rev(name, 1), 100)
}

// Scenarios 6 (rollback after promote: LRO=PRO=r1 at the end) and 9 (re-promote after it).
func TestScenario06and09RollbackAfterPromoteThenRepromote(t *testing.T) {
	t.Parallel()
	n := newNS(t, "s06")
	const name = "rollback"
	host := name + "." + n.name + ".example.com"
	n.deploy(name, model1)
	n.setCanary(name, model2, 10)
	n.waitState(name, State{Traffic: "r2/10* r1/90/prev", LRO: "r1", PRO: "", LRR: "r2", LCR: "r2", Ready: "True"})
	n.promote(name)
	n.waitState(name, State{Traffic: "r2/100*", LRO: "r2", PRO: "r1", LRR: "r2", LCR: "r2", Ready: "True"})

	n.step(t, "6 rollback with 0 after promote", func(t *testing.T) {
		n.setPercent(name, 0)
		// Pass 1 writes [latest 0, prev r2 100] (sum on r2 is 100: LRO:=PRO=r1); pass 2 writes
		// [latest 0, prev r1 100]. Stable with LRO = PRO = r1.
		n.waitState(name, State{Traffic: "r2/0* r1/100/prev", LRO: "r1", PRO: "r1", LRR: "r2", LCR: "r2", Ready: "True"})
		n.waitColumns(name, Columns{Ready: "True", Prev: "100", Latest: "0", PrevRolledout: Rev(name, 1), LatestReady: Rev(name, 2)})
		n.waitPods(name, Rev(name, 1), Rev(name, 2))
		n.w.waitServes(t, host, name, Rev(name, 1), 100)
	})

	n.step(t, "9 re-promote after the rollback", func(t *testing.T) {
		n.promote(name)
		n.waitState(name, State{Traffic: "r2/100*", LRO: "r2", PRO: "r1", LRR: "r2", LCR: "r2", Ready: "True"})
		n.waitPods(name, Rev(name, 2))
		n.w.waitServes(t, host, name, Rev(name, 2), 100)
		if got := n.revisions(name); got != 2 {
			t.Fatalf("%d revisions, want 2", got)
		}
	})
}

// Scenario 7: canaryTrafficPercent set with no new model after two rollouts (LRO=r2, PRO=r1,
// ctp 20): LRO:=PRO=r1 and 80 % goes back to r1.
func TestScenario07CanaryPercentWithoutNewModel(t *testing.T) {
	t.Parallel()
	n := newNS(t, "s07")
	const name = "noop-canary"
	n.deploy(name, model1)
	// Second rollout without a canary: the new model takes 100 % at once.
	n.patch(name, fmt.Sprintf(`{"spec":{"predictor":{"model":{"storageUri":%q}}}}`, model2))
	n.waitState(name, State{Traffic: "r2/100*", LRO: "r2", PRO: "r1", LRR: "r2", LCR: "r2", Ready: "True"})

	n.setPercent(name, 20)
	n.waitState(name, State{Traffic: "r2/20* r1/80/prev", LRO: "r1", PRO: "r1", LRR: "r2", LCR: "r2", Ready: "True"})
	n.waitColumns(name, Columns{Ready: "True", Prev: "80", Latest: "20", PrevRolledout: Rev(name, 1), LatestReady: Rev(name, 2)})
	n.waitPods(name, Rev(name, 1), Rev(name, 2))
	if got := n.revisions(name); got != 2 {
		t.Fatalf("%d revisions, want 2 (a traffic change creates none)", got)
	}
	// 1,000 requests: r2 gets 20 % within 5 standard deviations (σ = √(1000·0.2·0.8) ≈ 12.6, so
	// 200 ± 63; a sound split fails this about once in 3.5 million runs), r1 the rest.
	seen, err := n.w.count(name+"."+n.name+".example.com", name, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if r2 := seen[Rev(name, 2)]; r2 < 137 || r2 > 263 || seen[Rev(name, 1)]+r2 != 1000 {
		t.Fatalf("1000 requests at 20/80 answered by %v, want %s 137..263", seen, Rev(name, 2))
	}
}

// Scenario 8: the new revision fails during a canary. LRR stays r1, the latest entry resolves to
// r1, markers unchanged, traffic keeps flowing to r1; modelStatus says BlockedByFailedLoad with
// lastFailureInfo; the InferenceService is not Ready. A good model then replaces the failed one.
func TestScenario08NewRevisionFails(t *testing.T) {
	t.Parallel()
	n := newNS(t, "s08")
	const name = "failing-canary"
	host := name + "." + n.name + ".example.com"
	// A short progress deadline of its own, so that the failed revision is failed within the test.
	n.apply(isvcSpec{name: name, uri: model1, progressDeadline: deadline.String()}.manifest())
	n.waitState(name, State{Traffic: "r1/100*", LRO: "r1", PRO: "", LRR: "r1", LCR: "r1", Ready: "True"})

	n.step(t, "8 canary of a model that cannot load", func(t *testing.T) {
		n.setCanary(name, modelFail, 10)
		s := n.waitISVC(name, "failed canary", func(s *ISVC) error {
			if err := (State{Traffic: "r1/10* r1/90/prev", LRO: "r1", PRO: "", LRR: "r1", LCR: "r2", Ready: Any}).Diff(StateOf(s)); err != nil {
				return err
			}
			return failedLoad(s, Rev(name, 2))
		})
		if c := s.Cond("Ready"); c.Status == "True" {
			t.Fatalf("Ready is True with a failed revision: %+v", c)
		}
		eventually(t, stepTimeout, "the failing revision's pod crash-loops", func() error {
			rows, err := n.podsOf(Rev(name, 2))
			if err != nil {
				return err
			}
			for _, r := range rows {
				if r["STATUS"] == "Init:CrashLoopBackOff" {
					return nil
				}
			}
			return fmt.Errorf("pods of %s: %v", Rev(name, 2), rows)
		})
		// Every request still reaches r1 (both targets resolve to it).
		n.w.waitServes(t, host, name, Rev(name, 1), 100)
		// The table: the latest entry resolves to r1, so both revision columns show r1.
		row, err := n.columns(name)
		if err != nil {
			t.Fatal(err)
		}
		if row["READY"] == "True" || row["PREV"] != "90" || row["LATEST"] != "10" ||
			row["PREVROLLEDOUTREVISION"] != Rev(name, 1) || row["LATESTREADYREVISION"] != Rev(name, 1) {
			t.Fatalf("kubectl get isvc: %v", row)
		}
		// At its progress deadline Knative fails r2 and the InferenceService is Ready False; it
		// stays False, traffic still on r1, for two deadlines (until Knative's autoscaler gives up
		// activating r2, 30 s after the deadline: FINDINGS.md §3).
		n.falseFor(name, 2*deadline, State{Traffic: "r1/10* r1/90/prev", LRO: "r1", PRO: "", LRR: "r1", LCR: "r2", Ready: "False"}, Rev(name, 2))
	})

	n.step(t, "pin with 0 while the canary is failed", func(t *testing.T) {
		// The failed revision stays the latest created one: a rollback leaves the
		// InferenceService not Ready (kserve-facts.md 4.5 #8).
		n.setPercent(name, 0)
		n.waitISVC(name, "pinned", func(s *ISVC) error {
			return (State{Traffic: "r1/0* r1/100/prev", LRO: "r1", PRO: "", LRR: "r1", LCR: "r2", Ready: Any}).Diff(StateOf(s))
		})
		n.notReadyFor(name, 10*time.Second, State{Traffic: "r1/0* r1/100/prev", LRO: "r1", PRO: "", LRR: "r1", LCR: "r2", Ready: Any}, Rev(name, 2))
		n.w.waitServes(t, host, name, Rev(name, 1), 50)
	})

	n.step(t, "a good model replaces the failed one", func(t *testing.T) {
		n.setCanary(name, model2, 10)
		s := n.waitState(name, State{Traffic: "r3/10* r1/90/prev", LRO: "r1", PRO: "", LRR: "r3", LCR: "r3", Ready: "True"})
		if ms := s.Status.ModelStatus; ms.TransitionStatus != "UpToDate" {
			t.Fatalf("modelStatus %+v after a good model", ms)
		}
		n.waitPods(name, Rev(name, 1), Rev(name, 3))
	})
}

// failedLoad checks that modelStatus says the model of revision failed to load.
// kserve-facts.md §3 lists lastFailureInfo {location, reason, message, modelRevisionName, time,
// exitCode}; KServe v0.17.0 (PropagateModelStatus) fills only reason, message and exitCode from
// the storage initializer, so modelRevisionName is checked only when present. copies.failedCopies
// stays 0 even with a crash-looping pod (nothing sets it), so it is not checked.
func failedLoad(s *ISVC, revision string) error {
	ms := s.Status.ModelStatus
	if ms.TransitionStatus != "BlockedByFailedLoad" {
		return fmt.Errorf("modelStatus.transitionStatus %q", ms.TransitionStatus)
	}
	if ms.States == nil || ms.States.TargetModelState != "FailedToLoad" {
		return fmt.Errorf("modelStatus.states %+v", ms.States)
	}
	f := ms.LastFailureInfo
	if f == nil || f.Reason != "ModelLoadFailed" || f.ExitCode != 1 || f.Message == "" {
		return fmt.Errorf("modelStatus.lastFailureInfo %+v", f)
	}
	if f.ModelRevisionName != "" && f.ModelRevisionName != revision {
		return fmt.Errorf("lastFailureInfo.modelRevisionName %q, want %q", f.ModelRevisionName, revision)
	}
	return nil
}

// Scenario 10: enabling tag routing is a template change, so a new revision r3 rolls out under the
// current canaryTrafficPercent, tagged latest, with prev on LRO; with ctp unset a template change
// takes 100 % and shifts LRO/PRO.
func TestScenario10TagRouting(t *testing.T) {
	t.Parallel()
	n := newNS(t, "s10")
	const name = "tags"
	n.deploy(name, model1)
	n.setCanary(name, model2, 10)
	n.waitState(name, State{Traffic: "r2/10* r1/90/prev", LRO: "r1", PRO: "", LRR: "r2", LCR: "r2", Ready: "True"})
	latest := fmt.Sprintf("latest-%s-predictor.%s.example.com", name, n.name)
	prev := fmt.Sprintf("prev-%s-predictor.%s.example.com", name, n.name)

	n.step(t, "enable tag routing under ctp 10", func(t *testing.T) {
		n.patch(name, `{"metadata":{"annotations":{"serving.kserve.io/enable-tag-routing":"true"}}}`)
		s := n.waitState(name, State{Traffic: "r3/10/latest* r1/90/prev", LRO: "r1", PRO: "", LRR: "r3", LCR: "r3", Ready: "True"})
		tr := s.Predictor().Traffic
		if tr[0].URL != "http://"+latest || tr[1].URL != "http://"+prev {
			t.Fatalf("tag URLs %q, %q; want http://%s, http://%s", tr[0].URL, tr[1].URL, latest, prev)
		}
		n.waitColumns(name, Columns{Ready: "True", Prev: "90", Latest: "10", PrevRolledout: Rev(name, 1), LatestReady: Rev(name, 3)})
		n.waitPods(name, Rev(name, 1), Rev(name, 3))
		n.w.waitServes(t, latest, name, Rev(name, 3), 100)
		n.w.waitServes(t, prev, name, Rev(name, 1), 50)
	})

	n.step(t, "promote keeps the latest tag", func(t *testing.T) {
		n.promote(name)
		n.waitState(name, State{Traffic: "r3/100/latest*", LRO: "r3", PRO: "r1", LRR: "r3", LCR: "r3", Ready: "True"})
		n.waitPods(name, Rev(name, 3))
		n.w.waitServes(t, latest, name, Rev(name, 3), 20)
	})

	n.step(t, "disable tag routing without ctp", func(t *testing.T) {
		n.patch(name, `{"metadata":{"annotations":{"serving.kserve.io/enable-tag-routing":null}}}`)
		n.waitState(name, State{Traffic: "r4/100*", LRO: "r4", PRO: "r3", LRR: "r4", LCR: "r4", Ready: "True"})
		n.waitPods(name, Rev(name, 4))
	})
}

// Scenario 11: an invalid canaryTrafficPercent (150, -5) with LRO set. KServe admits it; Knative's
// admission (here the launcher's ValidatingAdmissionPolicy) refuses the Knative Service update;
// KServe reports PredictorReady False, reason ReconcileFailed; traffic is unchanged.
func TestScenario11InvalidCanaryPercent(t *testing.T) {
	t.Parallel()
	n := newNS(t, "s11")
	const name = "invalid"
	n.deploy(name, model1)
	before := n.ksvcTraffic(name)

	for _, v := range []int{150, -5} {
		n.step(t, "ctp "+strconv.Itoa(v), func(t *testing.T) {
			n.setPercent(name, v)
			s := n.waitISVC(name, "PredictorReady False ReconcileFailed", func(s *ISVC) error {
				c := s.Cond("PredictorReady")
				if c.Status != "False" || c.Reason != "ReconcileFailed" {
					return fmt.Errorf("PredictorReady %+v", c)
				}
				if !strings.Contains(c.Message, strconv.Itoa(v)) {
					return fmt.Errorf("PredictorReady message does not name %d: %q", v, c.Message)
				}
				return nil
			})
			// kserve-facts.md §4.5 #11 names PredictorReady only; the controllers also set the
			// top-level Ready False with the same reason and message (checked below: not True).
			t.Logf("PredictorReady: %+v; Ready: %+v", s.Cond("PredictorReady"), s.Cond("Ready"))
			if err := (State{Traffic: "r1/100*", LRO: "r1", PRO: "", LRR: "r1", LCR: "r1", Ready: Any}).Diff(StateOf(s)); err != nil {
				t.Fatalf("status changed: %v", err)
			}
			if c := s.Cond("Ready"); c.Status == "True" {
				t.Fatalf("Ready is True: %+v", c)
			}
			if after := n.ksvcTraffic(name); after != before {
				t.Fatalf("Knative Service traffic changed: %s, was %s", after, before)
			}
			n.w.waitServes(t, name+"."+n.name+".example.com", name, Rev(name, 1), 20)
		})
	}

	n.step(t, "a valid value again", func(t *testing.T) {
		n.promote(name)
		n.waitISVC(name, "PredictorReady True", func(s *ISVC) error {
			if c := s.Cond("PredictorReady"); c.Status != "True" {
				return fmt.Errorf("PredictorReady %+v", c)
			}
			return nil
		})
		n.waitState(name, State{Traffic: "r1/100*", LRO: "r1", PRO: "", LRR: "r1", LCR: "r1", Ready: "True"})
	})
}

// A model that cannot load, from the first deploy: the InferenceService ends not Ready and
// modelStatus says why.
func TestFailingModelIsNotReady(t *testing.T) {
	t.Parallel()
	n := newNS(t, "fail")
	const name = "broken"
	n.apply(isvcSpec{name: name, uri: modelFail, progressDeadline: deadline.String()}.manifest())
	s := n.waitISVC(name, "not Ready, modelStatus BlockedByFailedLoad", func(s *ISVC) error {
		if c := s.Cond("Ready"); c.Status == "True" || c.Status == "" {
			return fmt.Errorf("Ready %+v", c)
		}
		return failedLoad(s, Rev(name, 1))
	})
	t.Logf("Ready: %+v; modelStatus: %+v", s.Cond("Ready"), *s.Status.ModelStatus.LastFailureInfo)
	// At the progress deadline it is Ready False, and stays False for two deadlines, with no
	// traffic, and modelStatus says why.
	n.falseFor(name, 2*deadline, State{Traffic: "", LRO: "", PRO: "", LRR: "", LCR: "r1", Ready: "False"}, Rev(name, 1))
	row, err := n.columns(name)
	if err != nil {
		t.Fatal(err)
	}
	if row["READY"] == "True" || row["LATEST"] != "" || row["LATESTREADYREVISION"] != "" {
		t.Fatalf("kubectl get isvc: %v", row)
	}
	eventually(t, stepTimeout, "the pod crash-loops", func() error {
		rows, err := n.podsOf(Rev(name, 1))
		if err != nil {
			return err
		}
		for _, r := range rows {
			if r["STATUS"] == "Init:CrashLoopBackOff" && r["READY"] == "0/2" {
				return nil
			}
		}
		return fmt.Errorf("pods of %s: %v", Rev(name, 1), rows)
	})
}

// falseFor waits until the InferenceService is in state want (Ready False), then checks that it
// stays so for d, and that modelStatus says the model of revision failed to load.
func (n *ns) falseFor(name string, d time.Duration, want State, revision string) {
	n.t.Helper()
	check := func(s *ISVC) error {
		if err := want.Diff(StateOf(s)); err != nil {
			return err
		}
		return failedLoad(s, revision)
	}
	n.waitISVC(name, "Ready False, modelStatus BlockedByFailedLoad", check)
	stays(n.t, d, "Ready False with a failed model", func() error {
		s, err := n.get(name)
		if err != nil {
			return err
		}
		return check(s)
	})
}

// notReadyFor checks for d that the InferenceService is not Ready and in state want, then that
// modelStatus says the model of revision failed to load. Used after the window falseFor checks:
// from then on Knative's autoscaler scales the failed revision to zero and back (it is at
// min-scale 1, FINDINGS.md §3), so Ready is False or Unknown depending on the moment, and
// modelStatus reads InProgress while the new pod starts.
func (n *ns) notReadyFor(name string, d time.Duration, want State, revision string) {
	n.t.Helper()
	check := func(s *ISVC) error {
		if c := s.Cond("Ready"); c.Status == "True" {
			return fmt.Errorf("Ready %+v", c)
		}
		return want.Diff(StateOf(s))
	}
	stays(n.t, d, "not Ready with a failed model", func() error {
		s, err := n.get(name)
		if err != nil {
			return err
		}
		return check(s)
	})
	n.waitISVC(name, "not Ready, modelStatus BlockedByFailedLoad", func(s *ISVC) error {
		if err := check(s); err != nil {
			return err
		}
		return failedLoad(s, revision)
	})
}
