package main

import (
	"flag"
	"fmt"
	"log"
	"os/exec"
	"strings"
)

// big: `status` over a namespace of thousands, against kubectl get.
func big(args []string) {
	fs := flag.NewFlagSet("big", flag.ExitOnError)
	ns := fs.String("namespace", "bench-big", "the filled namespace")
	selector := fs.String("selector", "tier=gold", "a label selector for -l")
	w := newWorld(fs, args)
	w.ns = *ns
	log.SetPrefix("bench big: ")
	log.SetFlags(log.Ltime)
	count := func(argv ...string) int {
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		if err != nil {
			log.Fatalf("%s: %v", strings.Join(argv, " "), err)
		}
		return strings.Count(string(out), "\n")
	}
	isvcs := count(w.kubectl, "get", "isvc", "-n", w.ns, "-o", "name")
	pods := count(w.kubectl, "get", "pods", "-n", w.ns, "-o", "name")
	all := count(w.kubectl, "get", "isvc", "-A", "-o", "name")
	sel := count(w.kubectl, "get", "isvc", "-n", w.ns, "-l", *selector, "-o", "name")
	fmt.Printf("\n## status over a large namespace: %d InferenceServices and %d pods in %s (kubectl counts; %d in all namespaces, %d with -l %s), a world without controllers\n",
		isvcs, pods, w.ns, all, sel, *selector)
	kube := w.kubectlAgent()
	rss := func(s *series) string {
		var kb []float64
		for _, r := range s.runs {
			kb = append(kb, float64(r.rssKB))
		}
		return fmt.Sprintf("; peak RSS median %.1f MiB, max %.1f MiB", quantile(kb, 0.5)/1024, quantile(kb, 1)/1024)
	}
	report("status (no NAME)", compare(w.rounds, w.log, nil,
		cmd{label: "isvc-canary status", argv: [][]string{w.p("status", "-n", w.ns)}, agent: ours},
		cmd{label: "kubectl get isvc", argv: [][]string{w.k("get", "isvc", "-n", w.ns)}, agent: kube},
		cmd{label: "kubectl get isvc + kubectl get pods", argv: [][]string{w.k("get", "isvc", "-n", w.ns), w.k("get", "pods", "-n", w.ns)}, agent: kube}), rss)
	report("status -A", compare(w.rounds, w.log, nil,
		cmd{label: "isvc-canary status -A", argv: [][]string{w.p("status", "-A")}, agent: ours},
		cmd{label: "kubectl get isvc -A", argv: [][]string{w.k("get", "isvc", "-A")}, agent: kube}), rss)
	report("status -l "+*selector, compare(w.rounds, w.log, nil,
		cmd{label: "isvc-canary status -l " + *selector, argv: [][]string{w.p("status", "-n", w.ns, "-l", *selector)}, agent: ours},
		cmd{label: "kubectl get isvc -l " + *selector, argv: [][]string{w.k("get", "isvc", "-n", w.ns, "-l", *selector)}, agent: kube}), rss)
}
