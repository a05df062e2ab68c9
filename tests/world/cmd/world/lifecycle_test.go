package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNothingOutlivesAKilledLauncher starts a cluster of its own (the one exception to one
// cluster per test run), SIGKILLs the launcher once it is ready, and checks that every process it
// started is gone within a few seconds: each child has Pdeathsig SIGKILL.
func TestNothingOutlivesAKilledLauncher(t *testing.T) {
	binDir := os.Getenv("ISVC_CANARY_BIN_DIR")
	if binDir == "" {
		t.Fatal("ISVC_CANARY_BIN_DIR is not set: run tests/run.sh")
	}
	w := launchOwnWorld(t, binDir)
	state := w.state
	t.Logf("READY %s", w.ready)

	pids := readPIDs(t, filepath.Join(state, "pids"))
	for name, pid := range pids {
		if !alive(pid) {
			t.Fatalf("%s (pid %d) is not running at READY", name, pid)
		}
	}
	if len(pids) < 8 { // world, etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kserve-manager, knative-controller, knative-autoscaler
		t.Fatalf("only %d processes in the pids file: %v", len(pids), pids)
	}

	if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-w.exited

	deadline := time.Now().Add(5 * time.Second)
	for {
		var left []string
		for name, pid := range pids {
			if alive(pid) {
				left = append(left, fmt.Sprintf("%s (pid %d)", name, pid))
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL) // do not leave them behind for the next test
			}
			t.Fatalf("still running 5s after the launcher was killed: %s", strings.Join(left, ", "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readPIDs reads the "name pid" lines of the launcher's pids file.
func readPIDs(t *testing.T, path string) map[string]int {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pids := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		name, pid, ok := strings.Cut(line, " ")
		n, err := strconv.Atoi(pid)
		if !ok || err != nil {
			t.Fatalf("bad line %q in %s", line, path)
		}
		pids[name] = n
	}
	return pids
}

// alive says whether pid is a running process. A zombie (exited, not yet reaped by whoever
// inherited it) counts as gone: it holds no memory, port or file.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	i := bytes.LastIndexByte(data, ')')
	return i < 0 || i+2 >= len(data) || data[i+2] != 'Z'
}

func tail(path string) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(string(data), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
