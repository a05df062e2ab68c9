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

	// InitDuration is how long init containers "run" (long enough for Init:0/1 to be seen).
	InitDuration = time.Second
	// CrashPeriod is the time between two restarts of a container that fails to load a model.
	CrashPeriod = 10 * time.Second
	// TerminatingGrace is how long a deleted pod stays Terminating before it is removed.
	TerminatingGrace = 1500 * time.Millisecond
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

// DeleteAt is when a pod being deleted is removed for good: a short grace after the delete
// request (the request time is deletionTimestamp minus the grace period the API server granted).
func DeleteAt(pod *corev1.Pod) time.Time {
	ts := pod.DeletionTimestamp.Time
	if g := pod.DeletionGracePeriodSeconds; g != nil {
		ts = ts.Add(-time.Duration(*g) * time.Second)
	}
	return ts.Add(TerminatingGrace)
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

// DesiredStatus computes the status of a bound pod at time now, given its knob rule and the IP it
// was given. The pod's own status.startTime is the clock origin (set on the first write). It also
// returns when the status changes next by itself (0: never).
//
// Timeline: startTime → init containers running for InitDuration (Init:0/N) → containers running,
// ready after rule.ReadyDelay, then ready toggling every rule.Flap if set. With rule.Fail, the
// storage initializer ends with exit code 1 and crash-loops instead (Init:CrashLoopBackOff,
// restartCount growing every CrashPeriod); a pod without init containers crash-loops its model
// container instead.
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
	containersAt := start // when the regular containers start
	if hasInit {
		containersAt = start.Add(InitDuration)
	}
	initDone := !now.Before(containersAt)
	wake(containersAt)

	crashing := rule.Fail && initDone
	failIdx := -1
	if rule.Fail {
		failIdx = failingInit(pod)
	}
	crashFor := func(name string) (corev1.ContainerState, corev1.ContainerState, int32) {
		restarts := int32(now.Sub(containersAt)/CrashPeriod) + 1
		lastEnd := containersAt.Add(time.Duration(restarts-1) * CrashPeriod)
		wake(lastEnd.Add(CrashPeriod))
		last := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 1, Reason: "Error",
			Message:     fmt.Sprintf("RuntimeError: Failed to fetch model. No model found in %s.", StorageURI(pod)),
			StartedAt:   metav1.Time{Time: lastEnd.Add(-InitDuration)},
			FinishedAt:  metav1.Time{Time: lastEnd},
			ContainerID: containerID(pod, name),
		}}
		waiting := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason:  "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", CrashPeriod, name, pod.Name, pod.Namespace, pod.UID),
		}}
		return waiting, last, restarts
	}

	// Init containers.
	initOK := initDone && failIdx < 0
	var pendingInit []string
	st.InitContainerStatuses = nil
	for i, c := range pod.Spec.InitContainers {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: imageID(c.Image), ContainerID: containerID(pod, c.Name)}
		switch {
		case !initDone:
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.Time{Time: start}}
			cs.Started = ptr(true)
			pendingInit = append(pendingInit, c.Name)
		case crashing && i == failIdx:
			cs.State, cs.LastTerminationState, cs.RestartCount = crashFor(c.Name)
			cs.ContainerID = ""
			cs.Started = ptr(false)
			pendingInit = append(pendingInit, c.Name)
		case crashing && i > failIdx:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "PodInitializing"}
			cs.ContainerID = ""
			cs.Started = ptr(false)
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
		initOK = !rule.Fail
	}

	// Regular containers.
	readyAt := containersAt.Add(rule.ReadyDelay)
	ready := initOK && !now.Before(readyAt)
	if initOK {
		wake(readyAt)
	}
	if ready && rule.Flap > 0 {
		n := now.Sub(readyAt) / rule.Flap
		ready = n%2 == 0
		wake(readyAt.Add((n + 1) * rule.Flap))
	}
	crashMain := rule.Fail && !hasInit
	var notReady []string
	st.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: imageID(c.Image), ContainerID: containerID(pod, c.Name), Started: ptr(false)}
		switch {
		case hasInit && !initOK:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "PodInitializing"}
			cs.ImageID, cs.ContainerID = "", ""
		case crashMain && (c.Name == ModelContainer || (c.Name == pod.Spec.Containers[0].Name && !hasContainer(pod, ModelContainer))):
			cs.State, cs.LastTerminationState, cs.RestartCount = crashFor(c.Name)
		default:
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.Time{Time: containersAt}}
			cs.Started = ptr(true)
			cs.Ready = ready && !crashMain
		}
		if !cs.Ready {
			notReady = append(notReady, c.Name)
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}

	if hasInit && !initOK {
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
