package main

// The control socket of a running world: `world restart --state DIR NAME` asks the launcher to
// restart one of its children (kube-apiserver, kserve-manager, knative-controller, …) with the
// same flags and ports, and waits until it serves again. Fault-injection tests use it on a world
// of their own: restarting a child of the shared world would break the tests running beside it.
//
// Protocol: one request line per connection, "restart NAME\n"; one answer line, "ok\n" once the
// child is back, or "error: …\n". Only one restart runs at a time.

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"isvc-canary.test/world/internal/controlplane"
)

// controlSocket is the control socket's name in the state folder.
const controlSocket = "control.sock"

// restartTimeout bounds one restart, the wait for readiness included.
const restartTimeout = 2 * time.Minute

// serveControl listens on path (a Unix socket, owner-only) and serves restart requests until ctx
// ends or the returned stop is called.
func (w *world) serveControl(ctx context.Context, path string) (func(), error) {
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	var mu sync.Mutex // one restart at a time
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(restartTimeout + 30*time.Second))
				line, err := bufio.NewReader(conn).ReadString('\n')
				if err != nil {
					return
				}
				verb, name, _ := strings.Cut(strings.TrimSpace(line), " ")
				if verb != "restart" || name == "" {
					fmt.Fprintf(conn, "error: unknown request %q (want \"restart NAME\")\n", strings.TrimSpace(line))
					return
				}
				mu.Lock()
				err = w.restart(ctx, name)
				mu.Unlock()
				if err != nil {
					w.log.Printf("restart %s: %v", name, err)
					fmt.Fprintf(conn, "error: %v\n", err)
					return
				}
				fmt.Fprintln(conn, "ok")
			}()
		}
	}()
	stop := func() { ln.Close(); _ = os.Remove(path) }
	go func() { <-ctx.Done(); ln.Close() }()
	return stop, nil
}

// restart restarts the child called name and waits until it serves again.
func (w *world) restart(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, restartTimeout)
	defer cancel()
	start := time.Now()
	p, err := w.sup.Restart(name, 10*time.Second)
	if err != nil {
		return err
	}
	if ready := w.ready[name]; ready != nil {
		err = ready(ctx, p)
	} else {
		select { // as at start: a child that cannot start exits at once
		case <-p.Done():
			err = fmt.Errorf("exited at restart: %v (see logs/%s.log)", p.Err(), name)
		case <-time.After(time.Second):
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	w.log.Printf("restarted %s (pid %d) in %.1fs", name, p.Cmd.Process.Pid, time.Since(start).Seconds())
	return nil
}

// waitAPIServer polls kube-apiserver's /readyz as cfg's user until it answers ok.
func waitAPIServer(ctx context.Context, p *controlplane.Proc, cfg *rest.Config, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := rest.CopyConfig(cfg)
	c.Timeout = 2 * time.Second
	kube, err := kubernetes.NewForConfig(c)
	if err != nil {
		return err
	}
	for {
		body, err := kube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && strings.TrimSpace(string(body)) == "ok" {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("exited while starting: %v", p.Err())
		case <-ctx.Done():
			return fmt.Errorf("/readyz not ok: %w (last: %v)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// restartCommand is `world restart --state DIR NAME`: it asks the running launcher of that state
// folder to restart child NAME and waits for its answer. Exit 0 once the child serves again.
func restartCommand(args []string) int {
	fs := flag.NewFlagSet("restart", flag.ExitOnError)
	state := fs.String("state", "", "state directory of the running world")
	_ = fs.Parse(args)
	if *state == "" || fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: world restart --state DIR NAME (kube-apiserver, kserve-manager, knative-controller, …)")
		return 2
	}
	if err := Restart(*state, fs.Arg(0)); err != nil {
		fmt.Fprintf(os.Stderr, "world restart: %v\n", err)
		return 1
	}
	return 0
}

// Restart asks the launcher running on state to restart child name, and waits until it is back.
func Restart(state, name string) error {
	conn, err := net.Dial("unix", filepath.Join(state, controlSocket))
	if err != nil {
		return fmt.Errorf("no running world on %s: %w", state, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(restartTimeout + time.Minute))
	if _, err := fmt.Fprintf(conn, "restart %s\n", name); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no answer from the launcher: %w", err)
	}
	line = strings.TrimSpace(line)
	if line != "ok" {
		return errors.New(strings.TrimPrefix(line, "error: "))
	}
	return nil
}
