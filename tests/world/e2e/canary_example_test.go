package e2e

import (
	"fmt"
	"testing"
)

// The manifests of KServe's "Canary Rollout Example", step by step, as its documentation applies
// them with `kubectl apply -f`.
const (
	docsCreate = `apiVersion: "serving.kserve.io/v1beta1"
kind: "InferenceService"
metadata:
  name: "sklearn-iris"
spec:
  predictor:
    model:
      modelFormat:
        name: sklearn
      storageUri: "gs://kfserving-examples/models/sklearn/1.0/model"
`
	docsCanary = `apiVersion: "serving.kserve.io/v1beta1"
kind: "InferenceService"
metadata:
  name: "sklearn-iris"
spec:
  predictor:
    canaryTrafficPercent: 10
    model:
      modelFormat:
        name: sklearn
      storageUri: "gs://kfserving-examples/models/sklearn/2.0/model"
`
	docsPromote = `apiVersion: "serving.kserve.io/v1beta1"
kind: "InferenceService"
metadata:
  name: "sklearn-iris"
spec:
  predictor:
    model:
      modelFormat:
        name: sklearn
      storageUri: "gs://kfserving-examples/models/sklearn/2.0/model"
`
	docsPin = `apiVersion: "serving.kserve.io/v1beta1"
kind: "InferenceService"
metadata:
  name: "sklearn-iris"
spec:
  predictor:
    canaryTrafficPercent: 0
    model:
      modelFormat:
        name: sklearn
      storageUri: "gs://kfserving-examples/models/sklearn/2.0/model"
`
	docsTagRouting = `apiVersion: "serving.kserve.io/v1beta1"
kind: "InferenceService"
metadata:
  name: "sklearn-iris"
  annotations:
    serving.kserve.io/enable-tag-routing: "true"
spec:
  predictor:
    canaryTrafficPercent: 10
    model:
      modelFormat:
        name: sklearn
      storageUri: "gs://kfserving-examples/models/sklearn/2.0/model"
`
)

// TestCanaryRolloutExample follows KServe's "Canary Rollout Example": create sklearn-iris, canary
// 10 % with model-2, promote, pin the previous model with 0, tag routing with canary 10. At each
// step `kubectl get isvc` must print the documented PREV / LATEST / PREVROLLEDOUTREVISION /
// LATESTREADYREVISION and `kubectl get pods -l serving.kserve.io/inferenceservice=sklearn-iris`
// the documented pods; at 10 % about a tenth of 1,000 requests reach the canary.
func TestCanaryRolloutExample(t *testing.T) {
	t.Parallel()
	n := newNS(t, "kserve-test")
	const name = "sklearn-iris"
	r1, r2, r3 := Rev(name, 1), Rev(name, 2), Rev(name, 3)
	host := name + "." + n.name + ".example.com"

	n.step(t, "create", func(t *testing.T) {
		n.apply(docsCreate)
		n.waitColumns(name, Columns{Ready: "True", Prev: "", Latest: "100", PrevRolledout: "", LatestReady: r1})
		n.waitPods(name, r1)
		s := n.waitState(name, State{Traffic: "r1/100*", LRO: "r1", PRO: "", LRR: "r1", LCR: "r1", Ready: "True"})
		if s.Status.URL != "http://"+host {
			t.Errorf("status.url %q, want http://%s", s.Status.URL, host)
		}
		n.w.waitServes(t, host, name, r1, 20)
	})

	n.step(t, "canary 10 with model-2", func(t *testing.T) {
		n.apply(docsCanary)
		n.waitColumns(name, Columns{Ready: "True", Prev: "90", Latest: "10", PrevRolledout: r1, LatestReady: r2})
		n.waitPods(name, r1, r2)
		n.waitState(name, State{Traffic: "r2/10* r1/90/prev", LRO: "r1", PRO: "", LRR: "r2", LCR: "r2", Ready: "True"})

		// 1,000 requests through the ingress to the InferenceService's own host: 10 % ± 5 standard
		// deviations (σ = √(1000·0.1·0.9) ≈ 9.5, so 100 ± 47: a sound split fails this about once
		// in 3.5 million runs) reach the canary, the rest the previous revision, every one answered.
		seen, err := n.w.count(host, name, 1000)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("1000 requests at canary 10%%: %v", seen)
		if seen[r1]+seen[r2] != 1000 {
			t.Fatalf("answers from other revisions: %v", seen)
		}
		if seen[r2] < 53 || seen[r2] > 147 {
			t.Fatalf("%d of 1000 requests reached the canary %s, want 53..147 (%v)", seen[r2], r2, seen)
		}
	})

	n.step(t, "promote", func(t *testing.T) {
		n.apply(docsPromote)
		n.waitColumns(name, Columns{Ready: "True", Prev: "", Latest: "100", PrevRolledout: "", LatestReady: r2})
		// The previous revision is no longer routed: Knative scales it to zero, its pod goes.
		n.waitPods(name, r2)
		n.waitState(name, State{Traffic: "r2/100*", LRO: "r2", PRO: "r1", LRR: "r2", LCR: "r2", Ready: "True"})
		n.w.waitServes(t, host, name, r2, 20)
	})

	n.step(t, "pin the previous model with 0", func(t *testing.T) {
		n.apply(docsPin)
		n.waitColumns(name, Columns{Ready: "True", Prev: "100", Latest: "0", PrevRolledout: r1, LatestReady: r2})
		// r1 is routed again (its pod comes back); r2 keeps its pod: a 0 % target is still a target.
		n.waitPods(name, r1, r2)
		// Documented JSON after the pin: latestRolledoutRevision = previousRolledoutRevision = r1.
		n.waitState(name, State{Traffic: "r2/0* r1/100/prev", LRO: "r1", PRO: "r1", LRR: "r2", LCR: "r2", Ready: "True"})
		n.w.waitServes(t, host, name, r1, 50)
	})

	n.step(t, "tag routing with canary 10", func(t *testing.T) {
		n.apply(docsTagRouting)
		// The annotation is copied into the revision template: a new revision r3 (same model).
		n.waitColumns(name, Columns{Ready: "True", Prev: "90", Latest: "10", PrevRolledout: r1, LatestReady: r3})
		n.waitPods(name, r1, r3)
		s := n.waitState(name, State{Traffic: "r3/10/latest* r1/90/prev", LRO: "r1", PRO: "r1", LRR: "r3", LCR: "r3", Ready: "True"})
		latest := fmt.Sprintf("latest-%s-predictor.%s.example.com", name, n.name)
		prev := fmt.Sprintf("prev-%s-predictor.%s.example.com", name, n.name)
		tr := s.Predictor().Traffic
		if tr[0].URL != "http://"+latest || tr[1].URL != "http://"+prev {
			t.Fatalf("tag URLs %q, %q; want http://%s, http://%s", tr[0].URL, tr[1].URL, latest, prev)
		}
		// The latest- tag host always reaches the latest revision, the prev- host the previous one.
		n.w.waitServes(t, latest, name, r3, 200)
		n.w.waitServes(t, prev, name, r1, 50)
	})
}
