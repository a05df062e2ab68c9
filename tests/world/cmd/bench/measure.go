package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// run is one timed process.
type run struct {
	took time.Duration
	// rssKB is the process's peak resident set (getrusage's maxrss).
	rssKB int64
	code  int
	// exited is when Wait returned.
	exited time.Time
	// requests the process made, by the audit log (its user agent), and their lines.
	requests int
	trace    []string
	// server is the time the API server spent on them (received to answered, summed).
	server time.Duration
	stderr string
}

// cmd is one command of a comparison: one or several processes run one after the other (timed
// together), the user agent its requests carry, and what to do before each run (not timed).
type cmd struct {
	label string
	argv  [][]string
	agent string
	env   []string
}

// audit reads the API server's audit log from where the last read stopped.
type audit struct {
	path   string
	offset int64
}

type auditEvent struct {
	AuditID                  string `json:"auditID"`
	Stage                    string `json:"stage"`
	RequestReceivedTimestamp string `json:"requestReceivedTimestamp"`
	Verb                     string `json:"verb"`
	RequestURI               string `json:"requestURI"`
	UserAgent                string `json:"userAgent"`
	StageTimestamp           string `json:"stageTimestamp"`
	ObjectRef                struct {
		Resource    string `json:"resource"`
		Name        string `json:"name"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// skip moves past everything logged so far.
func (a *audit) skip() {
	if st, err := os.Stat(a.path); err == nil {
		a.offset = st.Size()
	}
}

// read returns the events logged since the last read (or skip).
func (a *audit) read() []auditEvent {
	f, err := os.Open(a.path)
	if err != nil {
		return nil
	}
	defer f.Close()
	st, _ := f.Stat()
	if st.Size() < a.offset {
		a.offset = 0 // rotated
	}
	if _, err := f.Seek(a.offset, io.SeekStart); err != nil {
		return nil
	}
	data, _ := io.ReadAll(f)
	// Only whole lines: the rest is read next time.
	end := bytes.LastIndexByte(data, '\n') + 1
	a.offset += int64(end)
	var out []auditEvent
	sc := bufio.NewScanner(bytes.NewReader(data[:end]))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e auditEvent
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// ours is the plugin's user agent (its version follows).
const ours = "kubectl-isvc-canary/"

// requestsOf counts the distinct requests of a user agent (prefix) among events, with a short
// trace line each: verb and path (query shortened).
func requestsOf(events []auditEvent, agent string) (int, []string, time.Duration) {
	seen := map[string]bool{}
	var trace []string
	var server time.Duration
	for _, e := range events {
		if e.Stage == "ResponseComplete" && e.Verb != "watch" && strings.HasPrefix(e.UserAgent, agent) &&
			(agent == ours || !strings.HasPrefix(e.UserAgent, ours)) {
			from, err1 := time.Parse(time.RFC3339Nano, e.RequestReceivedTimestamp)
			to, err2 := time.Parse(time.RFC3339Nano, e.StageTimestamp)
			if err1 == nil && err2 == nil {
				server += to.Sub(from)
			}
		}
		// kubectl's agent is its file name: "kubectl/…", "kubectl.1.33/…"; never ours.
		if !strings.HasPrefix(e.UserAgent, agent) || (agent != ours && strings.HasPrefix(e.UserAgent, ours)) || seen[e.AuditID] {
			continue
		}
		seen[e.AuditID] = true
		trace = append(trace, e.Verb+" "+shortURI(e.RequestURI))
	}
	return len(seen), trace, server
}

func shortURI(uri string) string {
	path, query, _ := strings.Cut(uri, "?")
	path = strings.Replace(path, "/apis/serving.kserve.io/v1beta1", "", 1)
	path = strings.Replace(path, "/apis/serving.knative.dev/v1", "", 1)
	path = strings.Replace(path, "/api/v1", "", 1)
	var keep []string
	for _, kv := range strings.Split(query, "&") {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "limit", "continue", "includeObject", "watch", "labelSelector":
			if k == "continue" {
				kv = "continue=…"
			}
			keep = append(keep, kv)
		}
	}
	if len(keep) > 0 {
		path += "?" + strings.Join(keep, "&")
	}
	return path
}

// timeOne runs c's processes one after the other and times them together.
func timeOne(c cmd) run {
	var r run
	for _, argv := range c.argv {
		p := exec.Command(argv[0], argv[1:]...)
		p.Env = append(os.Environ(), c.env...)
		p.Stdout = io.Discard
		var errb bytes.Buffer
		p.Stderr = &errb
		start := time.Now()
		err := p.Start()
		var hwm chan int64
		if err == nil {
			hwm = make(chan int64, 1)
			go func() { hwm <- peakRSS(p.Process.Pid, filepath.Base(argv[0])) }()
			err = p.Wait()
		}
		r.exited = time.Now()
		r.took += r.exited.Sub(start)
		if hwm != nil {
			if kb := <-hwm; kb > r.rssKB {
				r.rssKB = kb
			}
		}
		if p.ProcessState != nil {
			r.code = p.ProcessState.ExitCode()
		}
		if err != nil && r.code == 0 {
			r.code = -1
		}
		r.stderr += errb.String()
	}
	return r
}

// peakRSS follows a process's high-water mark of resident memory (VmHWM, kB) until it exits.
// getrusage's maxrss cannot be used: Go starts a child with vfork, and the child's maxrss then
// includes this driver's own memory from before the exec. Readings count only once the process
// runs the program (its comm is the program's name), and the mark only grows.
func peakRSS(pid int, program string) int64 {
	if len(program) > 15 {
		program = program[:15]
	}
	var peak int64
	for {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			return peak
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return peak
		}
		if strings.TrimSpace(string(comm)) == program {
			for _, line := range strings.Split(string(status), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					var kb int64
					if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil && kb > peak {
						peak = kb
					}
				}
				if strings.HasPrefix(line, "State:") && strings.Contains(line, "zombie") {
					return peak
				}
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// series is every run of one command of a comparison.
type series struct {
	c    cmd
	runs []run
}

func (s *series) durations() []float64 {
	var d []float64
	for _, r := range s.runs {
		d = append(d, float64(r.took.Microseconds())/1000)
	}
	return d
}

func (s *series) failures() int {
	n := 0
	for _, r := range s.runs {
		if r.code != 0 {
			n++
		}
	}
	return n
}

// quantile of sorted-on-the-fly values (nearest rank, interpolated).
func quantile(values []float64, q float64) float64 {
	if len(values) == 0 {
		return 0
	}
	v := append([]float64(nil), values...)
	sort.Float64s(v)
	pos := q * float64(len(v)-1)
	lo := int(pos)
	if lo+1 >= len(v) {
		return v[len(v)-1]
	}
	return v[lo] + (pos-float64(lo))*(v[lo+1]-v[lo])
}

// compare runs the commands `rounds` times each, rotating which goes first, with `before` (not
// timed) ahead of every run; the audit log attributes requests to each run.
func compare(rounds int, log *audit, before func(), cmds ...cmd) []*series {
	out := make([]*series, len(cmds))
	for i, c := range cmds {
		out[i] = &series{c: c}
	}
	for round := 0; round < rounds; round++ {
		for k := range cmds {
			s := out[(round+k)%len(cmds)]
			if before != nil {
				before()
			}
			log.skip()
			r := timeOne(s.c)
			if s.c.agent != "" {
				time.Sleep(20 * time.Millisecond) // the audit line of the last answer
				r.requests, r.trace, r.server = requestsOf(log.read(), s.c.agent)
			}
			s.runs = append(s.runs, r)
		}
	}
	return out
}

// report prints one comparison: per command its median, spread, ratio to the first (ours) and
// the requests of its median run.
func report(title string, all []*series, extra func(s *series) string) {
	fmt.Printf("\n### %s (%d rounds, alternating)\n", title, len(all[0].runs))
	fmt.Printf("| command | median ms | p25–p75 ms | ours ÷ this | API server ms | requests (audit log) |\n|---|---|---|---|---|---|\n")
	ours := quantile(all[0].durations(), 0.5)
	for i, s := range all {
		d := s.durations()
		med := quantile(d, 0.5)
		ratio := "—"
		if i > 0 && med > 0 {
			ratio = fmt.Sprintf("%.2f", ours/med)
		}
		reqs := "—"
		if s.c.agent != "" {
			reqs = requestSummary(s)
		}
		note := ""
		if f := s.failures(); f > 0 {
			note = fmt.Sprintf(" (%d runs failed: %s)", f, firstLine(s))
		}
		if extra != nil {
			note += extra(s)
		}
		server := "—"
		if s.c.agent != "" {
			var sv []float64
			for _, r := range s.runs {
				sv = append(sv, float64(r.server.Microseconds())/1000)
			}
			server = fmt.Sprintf("%.1f", quantile(sv, 0.5))
		}
		fmt.Printf("| %s | %.1f | %.1f–%.1f | %s | %s | %s%s |\n", s.c.label, med, quantile(d, 0.25), quantile(d, 0.75), ratio, server, reqs, note)
	}
}

func firstLine(s *series) string {
	for _, r := range s.runs {
		if r.code != 0 {
			line, _, _ := strings.Cut(strings.TrimSpace(r.stderr), "\n")
			return fmt.Sprintf("exit %d %q", r.code, line)
		}
	}
	return ""
}

// requestSummary: the most common request count over the runs, and the trace of one such run.
func requestSummary(s *series) string {
	counts := map[int]int{}
	for _, r := range s.runs {
		counts[r.requests]++
	}
	best, most := 0, -1
	for n, c := range counts {
		if c > most || (c == most && n < best) {
			best, most = n, c
		}
	}
	for _, r := range s.runs {
		if r.requests == best {
			spread := ""
			if len(counts) > 1 {
				var ks []string
				for n, c := range counts {
					if n != best {
						ks = append(ks, fmt.Sprintf("%d requests in %d of %d runs", n, c, len(s.runs)))
					}
				}
				sort.Strings(ks)
				spread = " (" + strings.Join(ks, "; ") + ": a conflict retry, or a reopened watch)"
			}
			return fmt.Sprintf("%d: %s%s", best, strings.Join(dedupe(r.trace), ", "), spread)
		}
	}
	return "?"
}

// dedupe folds repeated trace lines into `line ×N`.
func dedupe(lines []string) []string {
	var out []string
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && lines[j] == lines[i] {
			j++
		}
		if j-i > 1 {
			out = append(out, fmt.Sprintf("%s ×%d", lines[i], j-i))
		} else {
			out = append(out, lines[i])
		}
		i = j
	}
	return out
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }
