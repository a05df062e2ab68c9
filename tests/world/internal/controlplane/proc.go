package controlplane

import (
	"bufio"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is one child process of the launcher.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // its exit status, valid once done is closed

	path, args, env []string // how it was started (path has one element), for Restart
	expected        bool     // stopped on purpose by Restart: its exit is not a death (s.mu)
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the process's exit status once Done is closed.
func (p *Proc) Err() error { return p.err }

// Supervisor starts child processes, remembers them in start order and stops them in reverse.
type Supervisor struct {
	StateDir string
	Log      *log.Logger

	mu       sync.Mutex
	procs    []*Proc
	stopping bool
	// Died receives a process that exited while the world was not stopping: the world is broken.
	Died chan *Proc
}

// NewSupervisor makes a supervisor writing logs to stateDir/logs and PIDs to stateDir/pids.
func NewSupervisor(stateDir string, logger *log.Logger) (*Supervisor, error) {
	if err := os.MkdirAll(filepath.Join(stateDir, "logs"), 0o755); err != nil {
		return nil, err
	}
	return &Supervisor{StateDir: stateDir, Log: logger, Died: make(chan *Proc, 16)}, nil
}

// Start runs path with args; its stdout and stderr go to stateDir/logs/<name>.log.
// Every child is put in a process group of its own (so that a stop reaches whatever it spawned)
// and gets Pdeathsig SIGKILL: if the launcher dies, even by SIGKILL, the kernel kills the child.
// Pdeathsig is tied to the OS thread that forked the child; the launcher never locks goroutines to
// threads, and the Go runtime does not end unlocked threads, so that thread lives as long as the process.
func (s *Supervisor) Start(name, path string, args []string, env []string) (*Proc, error) {
	logFile, err := os.OpenFile(filepath.Join(s.StateDir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Stdin = nil // /dev/null: no child ever reads the terminal
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		logFile.Close()
		return nil, fmt.Errorf("not starting %s: stopping", name)
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, Cmd: cmd, done: make(chan struct{}), path: []string{path}, args: args, env: env}
	replaced := false
	for i, old := range s.procs {
		if old.Name == name { // a restart: the new process takes the old one's place in the order
			s.procs[i], replaced = p, true
		}
	}
	if !replaced {
		s.procs = append(s.procs, p)
	}
	s.Log.Printf("started %s (pid %d), log %s", name, cmd.Process.Pid, logFile.Name())
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
		s.mu.Lock()
		stopping := s.stopping || p.expected
		s.mu.Unlock()
		if !stopping {
			s.Log.Printf("%s exited unexpectedly: %v (see %s)", name, p.err, logFile.Name())
			s.Died <- p
		}
	}()
	return p, s.writePIDs()
}

// Restart stops the child called name (SIGTERM to its group, SIGKILL after grace) and starts it
// again with the same path, flags and environment, so with the same ports; its log continues in
// the same file. The stop is not reported on Died. It returns the new process.
func (s *Supervisor) Restart(name string, grace time.Duration) (*Proc, error) {
	s.mu.Lock()
	var p *Proc
	for _, q := range s.procs {
		if q.Name == name {
			p = q
		}
	}
	if p == nil || s.stopping {
		s.mu.Unlock()
		if p == nil {
			return nil, fmt.Errorf("no child called %q", name)
		}
		return nil, fmt.Errorf("not restarting %s: stopping", name)
	}
	select {
	case <-p.done:
		s.mu.Unlock()
		return nil, fmt.Errorf("%s had already exited: %v", name, p.err)
	default:
	}
	p.expected = true
	s.mu.Unlock()

	pid := p.Cmd.Process.Pid
	s.Log.Printf("restarting %s (pid %d)", name, pid)
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		s.Log.Printf("%s did not stop within %s: SIGKILL", name, grace)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-p.done
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	return s.Start(name, p.path[0], p.args, p.env)
}

// writePIDs records "name pid" per line in stateDir/pids (the launcher's own first), so that a
// test can check that nothing outlives a killed launcher. Called with s.mu held.
func (s *Supervisor) writePIDs() error {
	var b strings.Builder
	fmt.Fprintf(&b, "world %d\n", os.Getpid())
	for _, p := range s.procs {
		fmt.Fprintf(&b, "%s %d\n", p.Name, p.Cmd.Process.Pid)
	}
	return os.WriteFile(filepath.Join(s.StateDir, "pids"), []byte(b.String()), 0o644)
}

// StopAll stops every child in reverse start order: SIGTERM to its process group, up to grace to
// exit, then SIGKILL. Before signalling, it logs the child's peak resident memory (VmHWM).
func (s *Supervisor) StopAll(grace time.Duration) {
	s.mu.Lock()
	s.stopping = true
	procs := append([]*Proc(nil), s.procs...)
	s.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		pid := p.Cmd.Process.Pid
		select {
		case <-p.done:
			s.Log.Printf("%s had already exited: %v", p.Name, p.err)
			continue
		default:
		}
		s.Log.Printf("peak RSS %s: %s", p.Name, PeakRSS(pid))
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			s.Log.Printf("%s did not stop within %s: SIGKILL", p.Name, grace)
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-p.done
		}
		// Whatever the child left in its group goes too.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	s.Log.Printf("peak RSS world (launcher, fakes included): %s", PeakRSS(os.Getpid()))
}

// PeakRSS reads VmHWM (the peak resident set size) of a process from /proc.
func PeakRSS(pid int) string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
