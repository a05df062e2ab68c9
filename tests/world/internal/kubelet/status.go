package kubelet

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"isvc-canary.test/world/internal/knobs"
)

const (
	// SourceURIAnnotation carries the model's storage URI on KServe's pods and Knative revisions.
	SourceURIAnnotation = "internal.serving.kserve.io/storage-initializer-sourceuri"
	// StorageInitializer is the init container KServe's pod webhook injects.
	StorageInitializer = "storage-initializer"
	// ModelContainer is KServe's model server container.
	ModelContainer = "kserve-container"

	// InitDuration is how long init containers "run" (long enough for Init:0/1 to be seen), and
	// how long a model that fails to load runs before it exits.
	InitDuration = time.Second
	// BackOffInitial, BackOffMax and BackOffReset are the kubelet's crash-loop back-off: 10 s
	// after the first exit, doubling up to 5 min; a container that ran 10 min starts over at 10 s.
	BackOffInitial = 10 * time.Second
	BackOffMax     = 5 * time.Minute
	BackOffReset   = 10 * time.Minute
	// PullFailure is how long a failed image pull shows ErrImagePull before ImagePullBackOff.
	PullFailure = 2 * time.Second
)

// StorageURI returns the model URI of a pod: KServe's annotation, else the storage initializer's
// first argument.
func StorageURI(pod *corev1.Pod) string {
	if uri := pod.Annotations[SourceURIAnnotation]; uri != "" {
		return uri
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == StorageInitializer && len(c.Args) > 0 {
			return c.Args[0]
		}
	}
	return ""
}

// DeleteAt is when a pod being deleted is removed for good: once its containers have exited,
// `exit` after the delete request, but never past the grace period the API server granted (the
// request time is deletionTimestamp minus that grace period).
func DeleteAt(pod *corev1.Pod, exit time.Duration) time.Time {
	end := pod.DeletionTimestamp.Time
	if g := pod.DeletionGracePeriodSeconds; g != nil {
		requested := end.Add(-time.Duration(*g) * time.Second)
		if at := requested.Add(exit); at.Before(end) {
			return at
		}
	}
	return end
}

// BackOff is the kubelet's wait before restarting a container after its n-th exit (n >= 1).
func BackOff(n int) time.Duration {
	d := BackOffInitial
	for i := 1; i < n && d < BackOffMax; i++ {
		d *= 2
	}
	return min(d, BackOffMax)
}

// Attempt is one run of a container: started and (if it did) finished.
type Attempt struct {
	Start, End time.Time
	Ended      bool
}

// CrashLoop is where a container that exits `run` after each start stands at `now`, started
// first at `first` and restarted after the kubelet's back-off: its restart count, the current
// attempt (running, or the last one ended while it waits), the one before, and when this changes.
func CrashLoop(first time.Time, run time.Duration, now time.Time) (restarts int32, cur, prev Attempt, next time.Time) {
	start, failures := first, 0
	var last Attempt
	for i := int32(0); ; i++ {
		end := start.Add(run)
		a := Attempt{Start: start, End: end, Ended: !now.Before(end)}
		if !a.Ended {
			return i, a, last, end
		}
		failures++
		if run >= BackOffReset {
			failures = 1
		}
		restartAt := end.Add(BackOff(failures))
		if now.Before(restartAt) {
			return i, a, last, restartAt
		}
		last, start = a, restartAt
	}
}

// failingInit returns the index of the init container that fails to load the model
// (the storage initializer, else the first one), or -1 when there is none.
func failingInit(pod *corev1.Pod) int {
	for i, c := range pod.Spec.InitContainers {
		if c.Name == StorageInitializer {
			return i
		}
	}
	if len(pod.Spec.InitContainers) > 0 {
		return 0
	}
	return -1
}

// modelIndex is the index of the model container (kserve-container, else the first container).
func modelIndex(pod *corev1.Pod) int {
	for i, c := range pod.Spec.Containers {
		if c.Name == ModelContainer {
			return i
		}
	}
	return 0
}

// DesiredStatus computes the status of a bound pod at time now, given its knob rule and the IP it
// was given. The pod's own status.startTime is the clock origin (set on the first write). It also
// returns when the status changes next by itself (0: never).
//
// Timeline: startTime → init containers running for InitDuration (Init:0/N) → containers running,
// ready after rule.ReadyDelay, then ready toggling every rule.Flap if set. Failures, with the
// kubelet's crash-loop back-off (BackOff): rule.Fail, the storage initializer exits 1 after
// InitDuration and crash-loops (Init:CrashLoopBackOff; without init containers, the model
// container does); rule.OOMAfter, the model container is OOMKilled (137) that long after each
// start (CrashLoopBackOff); rule.ImagePull, the model container's image is never pulled
// (ErrImagePull, then ImagePullBackOff until the next try); rule.NeverReady, nothing is ever ready.
func DesiredStatus(pod *corev1.Pod, rule knobs.Rule, ip, hostIP string, now time.Time) (corev1.PodStatus, time.Duration) {
	st := *pod.Status.DeepCopy()
	start := now.Truncate(time.Second)
	if st.StartTime != nil {
		start = st.StartTime.Time
	} else {
		st.StartTime = &metav1.Time{Time: start}
	}
	st.HostIP, st.HostIPs = hostIP, []corev1.HostIP{{IP: hostIP}}
	st.PodIP, st.PodIPs = ip, []corev1.PodIP{{IP: ip}}

	var next time.Duration
	wake := func(at time.Time) {
		if d := at.Sub(now); d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	hasInit := len(pod.Spec.InitContainers) > 0
	failIdx := -1
	if rule.Fail && hasInit {
		failIdx = failingInit(pod)
	}
	// crash fills a crash-looping container's status: running (the current attempt), or waiting
	// in CrashLoopBackOff with the attempt that ended as its last state.
	crash := func(cs *corev1.ContainerStatus, first time.Time, run time.Duration, exit int32, reason, msg string) bool {
		restarts, cur, prev, at := CrashLoop(first, run, now)
		wake(at)
		terminated := func(a Attempt) corev1.ContainerState {
			return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exit, Reason: reason, Message: msg,
				StartedAt: metav1.Time{Time: a.Start}, FinishedAt: metav1.Time{Time: a.End}, ContainerID: cs.ContainerID}}
		}
		cs.RestartCount = restarts
		if !cur.Ended {
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.Time{Time: cur.Start}}
			cs.Started = ptr(true)
			if restarts > 0 {
				cs.LastTerminationState = terminated(prev)
			}
			return true
		}
		cs.LastTerminationState = terminated(cur)
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", BackOff(int(restarts)+1), cs.Name, pod.Name, pod.Namespace, pod.UID)}
		cs.Started = ptr(false)
		return false
	}
	loadFailure := fmt.Sprintf("RuntimeError: Failed to fetch model. No model found in %s.", StorageURI(pod))

	// Init containers.
	containersAt := start // when the regular containers start
	if hasInit {
		containersAt = start.Add(InitDuration)
	}
	initOK := failIdx < 0 && !now.Before(containersAt)
	wake(containersAt)
	var pendingInit []string
	st.InitContainerStatuses = nil
	for i, c := range pod.Spec.InitContainers {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: imageID(c.Image), ContainerID: containerID(pod, c.Name)}
		switch {
		case i == failIdx:
			crash(&cs, start, InitDuration, 1, "Error", loadFailure)
			pendingInit = append(pendingInit, c.Name)
		case failIdx >= 0 && i > failIdx:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "PodInitializing"}
			cs.ContainerID, cs.ImageID = "", ""
			cs.Started = ptr(false)
			pendingInit = append(pendingInit, c.Name)
		case !initOK:
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.Time{Time: start}}
			cs.Started = ptr(true)
			pendingInit = append(pendingInit, c.Name)
		default:
			cs.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed",
				StartedAt: metav1.Time{Time: start}, FinishedAt: metav1.Time{Time: containersAt}, ContainerID: cs.ContainerID}
			cs.Ready = true
			cs.Started = ptr(false)
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}
	if !hasInit {
		initOK = true
	}

	// Regular containers.
	model := modelIndex(pod)
	readyAt := containersAt.Add(rule.ReadyDelay)
	var notReady []string
	allStarted := true
	st.ContainerStatuses = nil
	for i, c := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: imageID(c.Image), ContainerID: containerID(pod, c.Name), Started: ptr(false)}
		runStart := containersAt
		running := true
		switch {
		case !initOK:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "PodInitializing"}
			cs.ImageID, cs.ContainerID = "", ""
			running = false
		case i == model && rule.ImagePull:
			cs.State.Waiting = pullFailure(c.Image, containersAt, now, wake)
			cs.ImageID, cs.ContainerID = "", ""
			running = false
		case i == model && rule.Fail && !hasInit:
			running = crash(&cs, containersAt, InitDuration, 1, "Error", loadFailure)
		case i == model && rule.OOMAfter > 0:
			running = crash(&cs, containersAt, rule.OOMAfter, 137, "OOMKilled", "")
			if running {
				runStart = cs.State.Running.StartedAt.Time
			}
		default:
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.Time{Time: containersAt}}
			cs.Started = ptr(true)
		}
		if !running && cs.State.Waiting != nil && cs.LastTerminationState.Terminated == nil && cs.RestartCount == 0 {
			allStarted = false
		}
		if running {
			at := readyAt
			if r := runStart.Add(rule.ReadyDelay); r.After(at) {
				at = r
			}
			ready := !now.Before(at) && !rule.NeverReady
			wake(at)
			if ready && rule.Flap > 0 {
				n := now.Sub(at) / rule.Flap
				ready = n%2 == 0
				wake(at.Add((n + 1) * rule.Flap))
			}
			cs.Ready = ready
		}
		if !cs.Ready {
			notReady = append(notReady, c.Name)
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}

	if !initOK || !allStarted {
		st.Phase = corev1.PodPending
	} else {
		st.Phase = corev1.PodRunning
	}
	sort.Strings(notReady)
	setCondition(&st, corev1.PodScheduled, true, "", "", now)
	if len(pendingInit) == 0 {
		setCondition(&st, corev1.PodInitialized, true, "", "", now)
	} else {
		setCondition(&st, corev1.PodInitialized, false, "ContainersNotInitialized",
			fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(pendingInit, " ")), now)
	}
	for _, t := range []corev1.PodConditionType{corev1.ContainersReady, corev1.PodReady} {
		if len(notReady) == 0 {
			setCondition(&st, t, true, "", "", now)
		} else {
			setCondition(&st, t, false, "ContainersNotReady",
				fmt.Sprintf("containers with unready status: [%s]", strings.Join(notReady, " ")), now)
		}
	}
	return st, next
}

// pullFailure is the waiting state of a container whose image cannot be pulled: each pull, tried
// after the kubelet's back-off (as for crashes), fails with ErrImagePull, then the container waits
// in ImagePullBackOff until the next try.
func pullFailure(image string, first time.Time, now time.Time, wake func(time.Time)) *corev1.ContainerStateWaiting {
	_, cur, _, at := CrashLoop(first, PullFailure, now)
	wake(at)
	if !cur.Ended {
		return &corev1.ContainerStateWaiting{Reason: "ErrImagePull",
			Message: fmt.Sprintf("failed to pull and unpack image %q: failed to resolve reference %q: not found", image, image)}
	}
	return &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: fmt.Sprintf("Back-off pulling image %q", image)}
}

func hasContainer(pod *corev1.Pod, name string) bool {
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// setCondition sets a pod condition, keeping its transition time when its status is unchanged.
func setCondition(st *corev1.PodStatus, t corev1.PodConditionType, ok bool, reason, msg string, now time.Time) {
	status := corev1.ConditionFalse
	if ok {
		status = corev1.ConditionTrue
	}
	c := corev1.PodCondition{Type: t, Status: status, Reason: reason, Message: msg,
		LastTransitionTime: metav1.Time{Time: now.Truncate(time.Second)}}
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			if st.Conditions[i].Status == status {
				c.LastTransitionTime = st.Conditions[i].LastTransitionTime
			}
			st.Conditions[i] = c
			return
		}
	}
	st.Conditions = append(st.Conditions, c)
}

func containerID(pod *corev1.Pod, name string) string {
	h := fnv.New64a()
	h.Write([]byte(string(pod.UID) + "/" + name))
	return fmt.Sprintf("containerd://%016x", h.Sum64())
}

func imageID(image string) string {
	if image == "" {
		return ""
	}
	h := fnv.New64a()
	h.Write([]byte(image))
	return fmt.Sprintf("%s@sha256:%064x", strings.SplitN(image, ":", 2)[0], h.Sum64())
}

func ptr[T any](v T) *T { return &v }
