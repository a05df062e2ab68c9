package kubelet

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"isvc-canary.test/world/internal/knobs"
)

var t0 = time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)

func kservePod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sklearn-iris-predictor-00001-deployment-abc-xyz", Namespace: "kserve-test", UID: "u1",
			Annotations: map[string]string{SourceURIAnnotation: "gs://kfserving-examples/models/sklearn/1.0/model"}},
		Spec: corev1.PodSpec{
			NodeName:       NodeName,
			InitContainers: []corev1.Container{{Name: StorageInitializer, Image: "kserve/storage-initializer:v0.17.0", Args: []string{"gs://from-args", "/mnt/models"}}},
			Containers:     []corev1.Container{{Name: ModelContainer, Image: "kserve-sklearnserver:replace"}, {Name: "queue-proxy", Image: "queue:1"}},
		},
	}
}

// step writes the status computed at now back into the pod, as the API server would store it.
func step(pod *corev1.Pod, rule knobs.Rule, now time.Time) time.Duration {
	st, next := DesiredStatus(pod, rule, "192.0.2.7", NodeIP, now)
	pod.Status = st
	return next
}

func cond(pod *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

// kubectlStatus mirrors the STATUS and READY columns of `kubectl get pods` for what we write.
func kubectlStatus(pod *corev1.Pod) (string, string) {
	reason := string(pod.Status.Phase)
	initializing := false
	for i, c := range pod.Status.InitContainerStatuses {
		switch {
		case c.State.Terminated != nil && c.State.Terminated.ExitCode == 0:
			continue
		case c.State.Waiting != nil && c.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + c.State.Waiting.Reason
		default:
			reason = "Init:" + string(rune('0'+i)) + "/" + string(rune('0'+len(pod.Spec.InitContainers)))
		}
		initializing = true
		break
	}
	ready := 0
	for _, c := range pod.Status.ContainerStatuses {
		if c.Ready {
			ready++
		}
		if !initializing && c.State.Waiting != nil {
			reason = c.State.Waiting.Reason
		}
	}
	return reason, string(rune('0'+ready)) + "/" + string(rune('0'+len(pod.Spec.Containers)))
}

func TestStorageURI(t *testing.T) {
	pod := kservePod()
	if got := StorageURI(pod); got != "gs://kfserving-examples/models/sklearn/1.0/model" {
		t.Errorf("annotation: %q", got)
	}
	delete(pod.Annotations, SourceURIAnnotation)
	if got := StorageURI(pod); got != "gs://from-args" {
		t.Errorf("init container argument: %q", got)
	}
}

func TestHealthyPodTimeline(t *testing.T) {
	pod := kservePod()
	next := step(pod, knobs.Rule{}, t0.Add(300*time.Millisecond))
	if s, r := kubectlStatus(pod); s != "Init:0/1" || r != "0/2" || pod.Status.Phase != corev1.PodPending {
		t.Fatalf("first write: %s %s %s", s, r, pod.Status.Phase)
	}
	if !pod.Status.StartTime.Time.Equal(t0) || pod.Status.PodIP != "192.0.2.7" || pod.Status.PodIPs[0].IP != "192.0.2.7" {
		t.Fatalf("start time / IP: %v %v", pod.Status.StartTime, pod.Status.PodIP)
	}
	if next != 700*time.Millisecond {
		t.Fatalf("next check after %v, want 700ms", next)
	}
	if cond(pod, corev1.PodScheduled) != corev1.ConditionTrue || cond(pod, corev1.PodInitialized) != corev1.ConditionFalse {
		t.Fatalf("conditions while initializing: %+v", pod.Status.Conditions)
	}

	next = step(pod, knobs.Rule{}, t0.Add(InitDuration))
	if s, r := kubectlStatus(pod); s != "Running" || r != "2/2" || pod.Status.Phase != corev1.PodRunning {
		t.Fatalf("after init: %s %s", s, r)
	}
	if next != 0 {
		t.Fatalf("a ready pod needs no timer, got %v", next)
	}
	for _, c := range []corev1.PodConditionType{corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		if cond(pod, c) != corev1.ConditionTrue {
			t.Fatalf("%s not True: %+v", c, pod.Status.Conditions)
		}
	}
	ic := pod.Status.InitContainerStatuses[0]
	if ic.State.Terminated == nil || ic.State.Terminated.Reason != "Completed" || ic.State.Terminated.ExitCode != 0 {
		t.Fatalf("init container: %+v", ic)
	}

	// Stable: computing again later changes nothing.
	before := pod.Status.DeepCopy()
	step(pod, knobs.Rule{}, t0.Add(time.Hour))
	if !equalStatus(before, &pod.Status) {
		t.Fatalf("status changed while nothing happened")
	}
}

func equalStatus(a, b *corev1.PodStatus) bool {
	x, y := a.DeepCopy(), b.DeepCopy()
	return x.String() == y.String()
}

func TestReadyDelay(t *testing.T) {
	pod := kservePod()
	rule := knobs.Rule{ReadyDelay: 5 * time.Second}
	step(pod, rule, t0)
	next := step(pod, rule, t0.Add(2*time.Second))
	if s, r := kubectlStatus(pod); s != "Running" || r != "0/2" {
		t.Fatalf("running, not ready yet: %s %s", s, r)
	}
	if next != 4*time.Second {
		t.Fatalf("next %v, want 4s (ready at 1s init + 5s)", next)
	}
	step(pod, rule, t0.Add(6*time.Second))
	if _, r := kubectlStatus(pod); r != "2/2" {
		t.Fatalf("ready after the delay: %s", r)
	}
}

func TestFailingModelCrashLoops(t *testing.T) {
	for _, tc := range []struct {
		name string
		uri  string
		rule knobs.Rule
	}{
		{"knob", "gs://x/model-2", knobs.Rule{Fail: true}},
		{"sim-fail", "gs://x/sim-fail", knobs.Config{}.For("gs://x/sim-fail")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := kservePod()
			pod.Annotations[SourceURIAnnotation] = tc.uri
			step(pod, tc.rule, t0)
			if s, _ := kubectlStatus(pod); s != "Init:0/1" {
				t.Fatalf("first: %s", s)
			}
			next := step(pod, tc.rule, t0.Add(3*time.Second))
			s, r := kubectlStatus(pod)
			if s != "Init:CrashLoopBackOff" || r != "0/2" || pod.Status.Phase != corev1.PodPending {
				t.Fatalf("crash: %s %s %s", s, r, pod.Status.Phase)
			}
			// The first run ended at 1 s: no restart yet, the next one 10 s later.
			ic := pod.Status.InitContainerStatuses[0]
			if ic.RestartCount != 0 || ic.LastTerminationState.Terminated == nil || ic.LastTerminationState.Terminated.ExitCode != 1 {
				t.Fatalf("init status: %+v", ic)
			}
			if !strings.Contains(ic.LastTerminationState.Terminated.Message, tc.uri) {
				t.Fatalf("message should name the model: %q", ic.LastTerminationState.Terminated.Message)
			}
			if next != InitDuration+BackOffInitial-3*time.Second {
				t.Fatalf("next %v", next)
			}
			// Restarts at 11 s and 32 s (back-off 10 s, then 20 s).
			step(pod, tc.rule, t0.Add(26*time.Second))
			if got := pod.Status.InitContainerStatuses[0].RestartCount; got != 1 {
				t.Fatalf("restarts after 26s: %d", got)
			}
			step(pod, tc.rule, t0.Add(32*time.Second))
			if s, _ := kubectlStatus(pod); s != "Init:0/1" || pod.Status.InitContainerStatuses[0].RestartCount != 2 {
				t.Fatalf("third run: %s %+v", s, pod.Status.InitContainerStatuses[0])
			}
			if cond(pod, corev1.PodReady) != corev1.ConditionFalse || cond(pod, corev1.PodInitialized) != corev1.ConditionFalse {
				t.Fatalf("conditions: %+v", pod.Status.Conditions)
			}
		})
	}
}

func TestFlapping(t *testing.T) {
	pod := kservePod()
	rule := knobs.Rule{Flap: 3 * time.Second}
	step(pod, rule, t0)
	want := []string{"2/2", "2/2", "0/2", "0/2", "0/2", "2/2"} // at 1s, 3.5s, 4s, 5s, 6.9s, 7s
	for i, at := range []time.Duration{1000, 3500, 4000, 5000, 6900, 7000} {
		step(pod, rule, t0.Add(at*time.Millisecond))
		if _, r := kubectlStatus(pod); r != want[i] {
			t.Errorf("at %dms: %s, want %s", at, r, want[i])
		}
	}
	if next := step(pod, rule, t0.Add(8*time.Second)); next != 2*time.Second {
		t.Errorf("next toggle in %v, want 2s", next)
	}
}

func TestPlainPodGoesStraightToRunning(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", UID: "u2"},
		Spec: corev1.PodSpec{NodeName: NodeName, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	next := step(pod, knobs.Rule{}, t0)
	if s, r := kubectlStatus(pod); s != "Running" || r != "1/1" || next != 0 {
		t.Fatalf("%s %s %v", s, r, next)
	}
	if len(pod.Status.InitContainerStatuses) != 0 {
		t.Fatalf("no init statuses expected")
	}
	step(pod, knobs.Rule{Fail: true}, t0.Add(5*time.Second))
	if s, r := kubectlStatus(pod); s != "CrashLoopBackOff" || r != "0/1" {
		t.Fatalf("failing plain pod: %s %s", s, r)
	}
}

func TestConditionTransitionTimesKept(t *testing.T) {
	pod := kservePod()
	step(pod, knobs.Rule{}, t0)
	step(pod, knobs.Rule{}, t0.Add(2*time.Second))
	step(pod, knobs.Rule{}, t0.Add(9*time.Second))
	for _, c := range pod.Status.Conditions {
		want := t0.Add(2 * time.Second)
		if c.Type == corev1.PodScheduled {
			want = t0
		}
		if !c.LastTransitionTime.Time.Equal(want) {
			t.Errorf("%s transition %v, want %v", c.Type, c.LastTransitionTime, want)
		}
	}
}

func TestDeleteAt(t *testing.T) {
	ts := metav1.NewTime(t0.Add(30 * time.Second))
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &ts, DeletionGracePeriodSeconds: ptr(int64(30))}}
	if got := DeleteAt(pod, 2*time.Second); !got.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("DeleteAt = %v", got)
	}
	// Never past the grace period.
	if got := DeleteAt(pod, time.Minute); !got.Equal(ts.Time) {
		t.Fatalf("DeleteAt past the grace period = %v", got)
	}
}

// The kubelet's back-off: 10 s after the first exit, doubling to 5 min.
func TestCrashLoopBackOff(t *testing.T) {
	starts := []time.Duration{0, 11, 32, 73, 154, 315, 616, 917}
	for i, at := range starts {
		restarts, cur, _, _ := CrashLoop(t0, time.Second, t0.Add(at*time.Second))
		if restarts != int32(i) || cur.Ended || !cur.Start.Equal(t0.Add(at*time.Second)) {
			t.Fatalf("at %ds: restarts %d, attempt %+v", at, restarts, cur)
		}
		if i > 0 {
			restarts, cur, _, next := CrashLoop(t0, time.Second, t0.Add(at*time.Second-time.Millisecond))
			if restarts != int32(i-1) || !cur.Ended || !next.Equal(t0.Add(at*time.Second)) {
				t.Fatalf("just before %ds: restarts %d, attempt %+v, next %v", at, restarts, cur, next)
			}
		}
	}
	// A container that ran 10 minutes starts over at 10 s.
	if _, cur, _, next := CrashLoop(t0, BackOffReset, t0.Add(BackOffReset+time.Second)); !cur.Ended || !next.Equal(t0.Add(BackOffReset+BackOffInitial)) {
		t.Fatalf("reset: %+v %v", cur, next)
	}
}

func TestFailureKnobs(t *testing.T) {
	// OOMKilled 5 s after each start, exit 137, CrashLoopBackOff.
	pod := kservePod()
	rule := knobs.Rule{OOMAfter: 5 * time.Second}
	step(pod, rule, t0)
	step(pod, rule, t0.Add(3*time.Second))
	if s, r := kubectlStatus(pod); s != "Running" || r != "2/2" {
		t.Fatalf("before the OOM: %s %s", s, r)
	}
	step(pod, rule, t0.Add(7*time.Second))
	mc := pod.Status.ContainerStatuses[0]
	if s, r := kubectlStatus(pod); s != "CrashLoopBackOff" || r != "1/2" || mc.LastTerminationState.Terminated == nil ||
		mc.LastTerminationState.Terminated.ExitCode != 137 || mc.LastTerminationState.Terminated.Reason != "OOMKilled" {
		t.Fatalf("after the OOM: %s %s %+v", s, r, mc)
	}
	step(pod, rule, t0.Add(17*time.Second))
	if s, _ := kubectlStatus(pod); s != "Running" || pod.Status.ContainerStatuses[0].RestartCount != 1 {
		t.Fatalf("restarted: %s %+v", s, pod.Status.ContainerStatuses[0])
	}

	// The image is never pulled: ErrImagePull, then ImagePullBackOff; the pod stays Pending.
	pod = kservePod()
	rule = knobs.Rule{ImagePull: true}
	step(pod, rule, t0)
	step(pod, rule, t0.Add(2*time.Second))
	if s, r := kubectlStatus(pod); s != "ErrImagePull" || r != "1/2" || pod.Status.Phase != corev1.PodPending {
		t.Fatalf("pull: %s %s %s", s, r, pod.Status.Phase)
	}
	step(pod, rule, t0.Add(5*time.Second))
	if s, _ := kubectlStatus(pod); s != "ImagePullBackOff" || pod.Status.Phase != corev1.PodPending {
		t.Fatalf("back-off: %s %s", s, pod.Status.Phase)
	}

	// The readiness probe never passes.
	pod = kservePod()
	rule = knobs.Rule{NeverReady: true}
	step(pod, rule, t0)
	step(pod, rule, t0.Add(time.Hour))
	if s, r := kubectlStatus(pod); s != "Running" || r != "0/2" || cond(pod, corev1.PodReady) != corev1.ConditionFalse {
		t.Fatalf("never ready: %s %s", s, r)
	}
}

func TestIPPool(t *testing.T) {
	p := newIPPool()
	a, _ := p.get("a")
	b, _ := p.get("b")
	if a != "192.0.2.2" || b != "192.0.2.3" {
		t.Fatalf("%s %s", a, b)
	}
	if again, _ := p.get("a"); again != a {
		t.Fatalf("same pod, same IP")
	}
	p.release("a")
	p.claim("c", "192.0.2.4")
	if d, _ := p.get("d"); d != "192.0.2.2" {
		t.Fatalf("released address reused first: %s", d)
	}
	if e, _ := p.get("e"); e != "192.0.2.5" {
		t.Fatalf("claimed address skipped: %s", e)
	}
}
