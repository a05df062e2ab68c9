package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ownWorld is a `world up` that a test started on a state folder of its own (the exception to one
// cluster per test run), holding the write end of its parent pipe.
type ownWorld struct {
	state string
	cmd   *exec.Cmd
	// ready is the JSON of the launcher's READY line.
	ready string
	// exited is closed once the launcher has exited (and been waited for).
	exited chan struct{}
}

// launchOwnWorld starts `world up` on a state folder of the test and waits for its READY line.
// When the test ends it closes the parent pipe (EOF: the launcher stops every child) and waits
// for the launcher, killing it after 30 s; a failed test gets the launcher's log.
func launchOwnWorld(t *testing.T, binDir string) *ownWorld {
	t.Helper()
	state := t.TempDir()
	parentR, parentW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(state, "launcher.err"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "world"), "up", "--state", state, "--parent-fd", "3")
	cmd.ExtraFiles = []*os.File{parentR} // fd 3 in the child
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	parentR.Close()
	w := &ownWorld{state: state, cmd: cmd, exited: make(chan struct{})}
	t.Cleanup(func() {
		parentW.Close()
		select {
		case <-w.exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-w.exited
		}
		stderr.Close()
		if t.Failed() {
			t.Logf("launcher log (tail):\n%s", tail(filepath.Join(state, "launcher.err")))
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY ") {
				ready <- strings.TrimPrefix(sc.Text(), "READY ")
			}
		}
		cmd.Wait()
		close(w.exited)
	}()
	select {
	case w.ready = <-ready:
	case <-w.exited:
		t.Fatalf("launcher exited before READY:\n%s", tail(filepath.Join(state, "launcher.err")))
	case <-time.After(240 * time.Second):
		t.Fatalf("no READY line within 240s:\n%s", tail(filepath.Join(state, "launcher.err")))
	}
	return w
}
