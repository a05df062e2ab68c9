package e2e

// How the world fails, read through the real API: Knative's own autoscaler, kube-scheduler and
// the kubelet's back-off decide what happens to a revision that cannot run (issue 11). Each test
// sets a short progress deadline on its own InferenceService (the world keeps Knative's 600 s).

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// deadline is the progress deadline the failure tests give their revisions. Knative scales a
// revision that never became ready to zero at deadline + 30 s (activationTimeoutBuffer).
const deadline = 10 * time.Second

// revCond is one condition of a Knative Revision.
type revCond struct {
	Type, Status, Reason, Message string
}

// knRevision is what the tests read of a Knative Revision and its Deployment.
type knRevision struct {
	Ready            revCond
	ResourcesAvail   revCond
	DesiredReplicas  int // the Deployment's spec.replicas (what the autoscaler asked)
	PodNames         []string
	PodStatus        []string // kubectl's STATUS column
	ScheduledReasons []string
}

func (n *ns) revision(rev string) (knRevision, error) {
	var r knRevision
	out, err := n.k("", "get", "revisions.serving.knative.dev", rev, "-o", "jsonpath={.status.conditions}")
	if err != nil {
		return r, err
	}
	var conds []revCond
	if strings.TrimSpace(out) != "" {
		if err := json.Unmarshal([]byte(out), &conds); err != nil {
			return r, fmt.Errorf("revision %s conditions: %v", rev, err)
		}
	}
	for _, c := range conds {
		switch c.Type {
		case "Ready":
			r.Ready = c
		case "ResourcesAvailable":
			r.ResourcesAvail = c
		}
	}
	out, err = n.k("", "get", "deployment", rev+"-deployment", "-o", "jsonpath={.spec.replicas}")
	if err != nil {
		return r, err
	}
	if _, err := fmt.Sscan(out, &r.DesiredReplicas); err != nil {
		return r, fmt.Errorf("deployment of %s: replicas %q", rev, out)
	}
	rows, err := n.podsOf(rev)
	if err != nil {
		return r, err
	}
	for _, row := range rows {
		r.PodNames = append(r.PodNames, row["NAME"])
		r.PodStatus = append(r.PodStatus, row["STATUS"])
	}
	out, err = n.k("", "get", "pods", "-l", "serving.knative.dev/revision="+rev,
		"-o", `jsonpath={range .items[*]}{.status.conditions[?(@.type=="PodScheduled")].reason}{" "}{end}`)
	if err != nil {
		return r, err
	}
	r.ScheduledReasons = strings.Fields(out)
	return r, nil
}

// waitRevision polls a Knative Revision until check accepts it.
func (n *ns) waitRevision(rev, what string, timeout time.Duration, check func(knRevision) error) knRevision {
	n.t.Helper()
	var last knRevision
	eventually(n.t, timeout, rev+": "+what, func() error {
		r, err := n.revision(rev)
		if err != nil {
			return err
		}
		last = r
		if err := check(r); err != nil {
			return fmt.Errorf("%v (revision %+v)", err, r)
		}
		return nil
	})
	return last
}

// revisionStays checks that a Revision keeps satisfying check for d.
func (n *ns) revisionStays(rev, what string, d time.Duration, check func(knRevision) error) {
	n.t.Helper()
	stays(n.t, d, rev+": "+what, func() error {
		r, err := n.revision(rev)
		if err != nil {
			return err
		}
		if err := check(r); err != nil {
			return fmt.Errorf("%v (revision %+v)", err, r)
		}
		return nil
	})
}

func readyFalse(r knRevision) error {
	if r.Ready.Status != "False" {
		return fmt.Errorf("Ready %s %s", r.Ready.Status, r.Ready.Reason)
	}
	return nil
}

// A model that never loads, with KServe's default minReplicas (1, so min-scale 1): Ready turns
// False at the progress deadline and stays False, one crash-looping pod throughout, until Knative's
// autoscaler gives up activating it (deadline + 30 s) and scales it to zero. (Knative then sees the
// revision routed and at min-scale 1 again and starts it over: FINDINGS.md §3.)
func TestNeverLoadsHoldsStill(t *testing.T) {
	t.Parallel()
	n := newNS(t, "never")
	const name = "never"
	rev := Rev(name, 1)
	n.apply(isvcSpec{name: name, uri: modelFail, progressDeadline: deadline.String()}.manifest())
	first := n.waitRevision(rev, "Ready False at the progress deadline", stepTimeout, func(r knRevision) error {
		if err := readyFalse(r); err != nil {
			return err
		}
		if len(r.PodNames) != 1 {
			return fmt.Errorf("pods %v", r.PodNames)
		}
		return nil
	})
	t.Logf("Ready False: %s: %s", first.Ready.Reason, first.Ready.Message)
	// Two progress deadlines: still False, still the same one pod (no recreation), crash-looping.
	n.revisionStays(rev, "Ready False with its one pod", 2*deadline, func(r knRevision) error {
		if err := readyFalse(r); err != nil {
			return err
		}
		if len(r.PodNames) != 1 || r.PodNames[0] != first.PodNames[0] || r.DesiredReplicas != 1 {
			return fmt.Errorf("pods %v (was %v), replicas %d", r.PodNames, first.PodNames, r.DesiredReplicas)
		}
		if !strings.HasPrefix(r.PodStatus[0], "Init:") {
			return fmt.Errorf("pod status %s", r.PodStatus[0])
		}
		return nil
	})
	// Knative's autoscaler scales it to zero once activation timed out (deadline + 30 s), and at
	// once back to its min-scale of 1: the zero lasts a moment, but the pod is a new one.
	n.waitRevision(rev, "scaled to zero and started over by the autoscaler", stepTimeout, func(r knRevision) error {
		for _, p := range r.PodNames {
			if p == first.PodNames[0] {
				return fmt.Errorf("still the first pod %s", p)
			}
		}
		return nil
	})
}

// The same model with minReplicas 0: scaled to zero at deadline + 30 s, Ready False ("Initial
// scale was never achieved") and nothing brings it back: it holds still, with no pod.
func TestNeverLoadsAtMinZeroStaysFailed(t *testing.T) {
	t.Parallel()
	n := newNS(t, "never0")
	const name = "never0"
	rev := Rev(name, 1)
	n.apply(isvcSpec{name: name, uri: modelFail, progressDeadline: deadline.String(), minReplicas: pct(0)}.manifest())
	failed := func(r knRevision) error {
		if err := readyFalse(r); err != nil {
			return err
		}
		if r.Ready.Message != "Initial scale was never achieved" || r.DesiredReplicas != 0 || len(r.PodNames) != 0 {
			return fmt.Errorf("message %q, replicas %d, pods %v", r.Ready.Message, r.DesiredReplicas, r.PodNames)
		}
		return nil
	}
	n.waitRevision(rev, "failed and scaled to zero", stepTimeout, failed)
	n.revisionStays(rev, "failed at zero", 2*deadline, failed)
	s, err := n.get(name)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Cond("Ready"); c.Status != "False" {
		t.Fatalf("InferenceService Ready %+v", c)
	}
}

// A pod that asks for more CPU than the one Node has is never scheduled: kube-scheduler reports it
// Unschedulable, Knative marks the revision failed at once (no deadline needed), and the
// autoscaler scales it to zero at deadline + 30 s.
func TestUnschedulableRevision(t *testing.T) {
	t.Parallel()
	n := newNS(t, "unsched")
	const name = "huge"
	rev := Rev(name, 1)
	n.apply(isvcSpec{name: name, uri: model1, progressDeadline: deadline.String(), cpu: "1000"}.manifest())
	first := n.waitRevision(rev, "Pending, Unschedulable, Ready False", stepTimeout, func(r knRevision) error {
		if err := readyFalse(r); err != nil {
			return err
		}
		if len(r.PodStatus) != 1 || r.PodStatus[0] != "Pending" || len(r.ScheduledReasons) != 1 || r.ScheduledReasons[0] != "Unschedulable" {
			return fmt.Errorf("pods %v, scheduled %v", r.PodStatus, r.ScheduledReasons)
		}
		return nil
	})
	if first.Ready.Reason != "Unschedulable" || !strings.Contains(first.Ready.Message, "Insufficient cpu") {
		t.Fatalf("Ready %+v", first.Ready)
	}
	// Pending until the autoscaler scales it to zero (deadline + 30 s); at min-scale 1 it is started
	// over at once: a new pod, Pending and Unschedulable again.
	n.waitRevision(rev, "scaled to zero and started over", stepTimeout, func(r knRevision) error {
		for _, p := range r.PodNames {
			if p == first.PodNames[0] {
				return fmt.Errorf("still the first pod %s", p)
			}
		}
		return nil
	})
}

// An image that cannot be pulled: ErrImagePull then ImagePullBackOff, the pod Pending; at the
// progress deadline Knative marks the revision failed with the waiting reason.
func TestImagePullFailure(t *testing.T) {
	t.Parallel()
	n := newNS(t, "pull")
	const name = "nopull"
	rev := Rev(name, 1)
	n.knobs(`[{"match": "1.0/model", "imagePull": true}]`)
	n.apply(isvcSpec{name: name, uri: model1, progressDeadline: deadline.String()}.manifest())
	r := n.waitRevision(rev, "Ready False, pod waiting on its image", stepTimeout, func(r knRevision) error {
		if err := readyFalse(r); err != nil {
			return err
		}
		if len(r.PodStatus) != 1 || (r.PodStatus[0] != "ImagePullBackOff" && r.PodStatus[0] != "ErrImagePull") {
			return fmt.Errorf("pods %v", r.PodStatus)
		}
		return nil
	})
	if r.Ready.Reason != "ImagePullBackOff" && r.Ready.Reason != "ErrImagePull" {
		t.Fatalf("Ready %+v", r.Ready)
	}
}

// minReplicas 0: Knative's autoscaler scales an idle revision to zero, the revision stays Ready,
// and a request brings a pod back (the ingress holds it, as the activator does).
func TestScaleToZeroAndBack(t *testing.T) {
	t.Parallel()
	n := newNS(t, "zero")
	const name = "idle"
	rev := Rev(name, 1)
	n.apply(isvcSpec{name: name, uri: model1, minReplicas: pct(0)}.manifest())
	s := n.waitISVC(name, "Ready", func(s *ISVC) error {
		if c := s.Cond("Ready"); c.Status != "True" {
			return fmt.Errorf("Ready %+v", c)
		}
		return nil
	})
	n.waitRevision(rev, "at zero and Ready", stepTimeout, func(r knRevision) error {
		if r.Ready.Status != "True" || r.DesiredReplicas != 0 || len(r.PodNames) != 0 {
			return fmt.Errorf("Ready %s, replicas %d, pods %v", r.Ready.Status, r.DesiredReplicas, r.PodNames)
		}
		return nil
	})
	a, err := n.w.predict(hostOf(s.Status.URL), name)
	if err != nil || a.status != 200 || a.revision != rev {
		t.Fatalf("request at zero: %+v %v", a, err)
	}
	n.waitRevision(rev, "scaled up by the request", stepTimeout, func(r knRevision) error {
		if r.DesiredReplicas < 1 {
			return fmt.Errorf("replicas %d", r.DesiredReplicas)
		}
		return nil
	})
}

// A slow model (ready after 30 s, well within Knative's 600 s deadline) is waited for, never
// failed: its revision is Unknown until the pod is ready, then True.
func TestSlowModelIsNotFailed(t *testing.T) {
	t.Parallel()
	n := newNS(t, "slow")
	const name = "slow"
	rev := Rev(name, 1)
	n.knobs(`[{"match": "1.0/model", "readyDelay": "30s"}]`)
	n.apply(isvcSpec{name: name, uri: model1}.manifest())
	n.waitRevision(rev, "deploying", stepTimeout, func(r knRevision) error {
		if len(r.PodNames) != 1 {
			return fmt.Errorf("pods %v", r.PodNames)
		}
		return nil
	})
	eventually(t, stepTimeout, rev+" Ready True, never False on the way", func() error {
		r, err := n.revision(rev)
		if err != nil {
			return err
		}
		if r.Ready.Status == "False" {
			t.Fatalf("a slow model was failed: %+v", r.Ready)
		}
		if r.Ready.Status != "True" {
			return fmt.Errorf("Ready %s", r.Ready.Status)
		}
		return nil
	})
}

// The ingress takes ingressDelay to program a change: in between the Knative Ingress reads
// LoadBalancerReady Unknown and requests follow the previous split.
func TestIngressDelay(t *testing.T) {
	t.Parallel()
	n := newNS(t, "ingdelay")
	const name = "slowgw"
	n.apply(isvcSpec{name: name, uri: model1}.manifest())
	s := n.waitState(name, State{Traffic: "r1/100*", LRO: "r1", PRO: "", LRR: "r1", LCR: "r1", Ready: "True"})
	host := hostOf(s.Status.URL)
	b, _ := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "isvc-sim"},
		"data": map[string]any{"ingressDelay": "5s"},
	})
	n.apply(string(b))
	n.setCanary(name, model2, 50)
	lbReady := func() (string, error) {
		return n.k("", "get", "ingresses.networking.internal.knative.dev", name+"-predictor",
			"-o", `jsonpath={.status.conditions[?(@.type=="LoadBalancerReady")].status}`)
	}
	// While a generation is being programmed (LoadBalancerReady Unknown before and after the
	// requests), requests follow the one programmed before, which never has r2 in it: r2 is only
	// served once the generation naming it is programmed, and that makes the Ingress Ready.
	eventually(t, stepTimeout, "requests while the Knative Ingress is programmed", func() error {
		if st, err := lbReady(); err != nil || st != "Unknown" {
			return fmt.Errorf("LoadBalancerReady %q %v", st, err)
		}
		seen, err := n.w.count(host, name, 10)
		if err != nil {
			return err
		}
		if st, err := lbReady(); err != nil || st != "Unknown" {
			return fmt.Errorf("programmed meanwhile (%q %v)", st, err)
		}
		if seen[Rev(name, 1)] != 10 {
			t.Fatalf("while programming, requests went to %v", seen)
		}
		return nil
	})
	n.waitState(name, State{Traffic: "r2/50* r1/50/prev", LRO: "r1", PRO: "", LRR: "r2", LCR: "r2", Ready: "True"})
}

// A readiness probe that never passes: the pod runs (0/2), nothing crashes; at the progress
// deadline the Deployment has not progressed and Knative fails the revision with that reason.
func TestNeverReadyFailsAtTheDeadline(t *testing.T) {
	t.Parallel()
	n := newNS(t, "deaf")
	const name = "deaf"
	rev := Rev(name, 1)
	n.knobs(`[{"match": "1.0/model", "neverReady": true}]`)
	n.apply(isvcSpec{name: name, uri: model1, progressDeadline: deadline.String()}.manifest())
	r := n.waitRevision(rev, "Ready False at the deadline, its pod running", stepTimeout, func(r knRevision) error {
		if err := readyFalse(r); err != nil {
			return err
		}
		if len(r.PodStatus) != 1 || r.PodStatus[0] != "Running" {
			return fmt.Errorf("pods %v", r.PodStatus)
		}
		return nil
	})
	if r.Ready.Reason != "ProgressDeadlineExceeded" {
		t.Fatalf("Ready %+v", r.Ready)
	}
}
