// Package e2e tests the whole test cluster through the real API: KServe's and Knative's real
// controllers, driven with kubectl (apply, merge patch) exactly as a user of KServe's
// documentation would, and checked with what kubectl prints and what the fake ingress answers.
// The plugin is not used here.
//
// The tests need the cluster that tests/run.sh starts (env ISVC_CANARY_TEST_ENV names its
// env.json); without it they fail, never skip. Each test works in a namespace of its own.
//
// This file holds the pieces that need no *testing.T: reading kubectl's tables, the
// InferenceService status shape, and short names for revisions.
package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Table is kubectl's human-readable output: a header line, then one map per row from the
// header's names to the cells. Empty cells (kubectl prints nothing when a printer column's
// JSONPath finds nothing, e.g. PREV after a promote) are "".
type Table struct {
	Header []string
	Rows   []map[string]string
}

var headerWord = regexp.MustCompile(`\S+`)

// ParseTable cuts each line at the start offsets of the header's words. kubectl aligns its
// columns with a tab writer, so a cell starts where its header starts; this survives empty cells,
// which splitting on blanks would not.
func ParseTable(out string) (Table, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) == "" {
		return Table{}, fmt.Errorf("no table in %q", out)
	}
	locs := headerWord.FindAllStringIndex(lines[0], -1)
	t := Table{}
	for _, l := range locs {
		t.Header = append(t.Header, lines[0][l[0]:l[1]])
	}
	for _, line := range lines[1:] {
		if strings.TrimSpace(line) == "" {
			continue
		}
		row := map[string]string{}
		for i, l := range locs {
			start, end := l[0], len(line)
			if i+1 < len(locs) {
				end = locs[i+1][0]
			}
			cell := ""
			if start < len(line) {
				cell = line[start:min(end, len(line))]
			}
			if start > 0 && start <= len(line) && line[start-1] != ' ' {
				return Table{}, fmt.Errorf("cell of %s does not start at its header in %q", t.Header[i], line)
			}
			row[t.Header[i]] = strings.TrimSpace(cell)
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// ISVC is the part of an InferenceService the tests read (kubectl get isvc -o json).
type ISVC struct {
	Metadata struct {
		Name        string            `json:"name"`
		Generation  int64             `json:"generation"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Predictor struct {
			CanaryTrafficPercent *int64 `json:"canaryTrafficPercent"`
		} `json:"predictor"`
	} `json:"spec"`
	Status struct {
		URL         string               `json:"url"`
		Conditions  []Condition          `json:"conditions"`
		Components  map[string]Component `json:"components"`
		ModelStatus ModelStatus          `json:"modelStatus"`
	} `json:"status"`
}

// Condition is a status condition.
type Condition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Component is status.components.<c>.
type Component struct {
	LatestReadyRevision       string          `json:"latestReadyRevision"`
	LatestCreatedRevision     string          `json:"latestCreatedRevision"`
	PreviousRolledoutRevision string          `json:"previousRolledoutRevision"`
	LatestRolledoutRevision   string          `json:"latestRolledoutRevision"`
	Traffic                   []TrafficTarget `json:"traffic"`
	URL                       string          `json:"url"`
}

// TrafficTarget is a Knative status traffic entry.
type TrafficTarget struct {
	Tag            string `json:"tag"`
	RevisionName   string `json:"revisionName"`
	LatestRevision *bool  `json:"latestRevision"`
	Percent        *int64 `json:"percent"`
	URL            string `json:"url"`
}

// ModelStatus is status.modelStatus.
type ModelStatus struct {
	TransitionStatus string `json:"transitionStatus"`
	States           *struct {
		ActiveModelState string `json:"activeModelState"`
		TargetModelState string `json:"targetModelState"`
	} `json:"states"`
	LastFailureInfo *struct {
		Location          string `json:"location"`
		Reason            string `json:"reason"`
		Message           string `json:"message"`
		ModelRevisionName string `json:"modelRevisionName"`
		ExitCode          int    `json:"exitCode"`
	} `json:"lastFailureInfo"`
}

// Cond returns the condition of that type (Status "" when absent).
func (s *ISVC) Cond(typ string) Condition {
	for _, c := range s.Status.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return Condition{Type: typ}
}

// Predictor is status.components.predictor.
func (s *ISVC) Predictor() Component { return s.Status.Components["predictor"] }

// Rev is the full name of the n-th revision of an InferenceService's predictor.
func Rev(isvc string, n int) string { return fmt.Sprintf("%s-predictor-%05d", isvc, n) }

// Short writes <isvc>-predictor-0000N as rN (other names unchanged, "" stays "").
func Short(isvc, rev string) string {
	if n, ok := strings.CutPrefix(rev, isvc+"-predictor-"); ok && len(n) == 5 {
		if i, err := strconv.Atoi(n); err == nil {
			return fmt.Sprintf("r%d", i)
		}
	}
	return rev
}

// TrafficString renders the predictor's status traffic compactly, in order: each entry is
// rN/percent, then /tag when tagged, then * when it is the latestRevision target; e.g. after a
// canary of 10 %: "r2/10* r1/90/prev"; with tag routing: "r3/10/latest* r1/90/prev".
func (s *ISVC) TrafficString() string {
	var parts []string
	for _, t := range s.Predictor().Traffic {
		p := Short(s.Metadata.Name, t.RevisionName)
		if t.Percent != nil {
			p += "/" + strconv.FormatInt(*t.Percent, 10)
		} else {
			p += "/-"
		}
		if t.Tag != "" {
			p += "/" + t.Tag
		}
		if t.LatestRevision != nil && *t.LatestRevision {
			p += "*"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

// State is the canary picture of an InferenceService's predictor, with short revision names.
type State struct {
	Traffic string // TrafficString
	LRO     string // latestRolledoutRevision
	PRO     string // previousRolledoutRevision
	LRR     string // latestReadyRevision
	LCR     string // latestCreatedRevision
	Ready   string // the Ready condition's status
}

// Any in a wanted State field means "not checked".
const Any = "?"

// StateOf reads the State of an InferenceService.
func StateOf(s *ISVC) State {
	p := s.Predictor()
	n := s.Metadata.Name
	return State{
		Traffic: s.TrafficString(),
		LRO:     Short(n, p.LatestRolledoutRevision),
		PRO:     Short(n, p.PreviousRolledoutRevision),
		LRR:     Short(n, p.LatestReadyRevision),
		LCR:     Short(n, p.LatestCreatedRevision),
		Ready:   s.Cond("Ready").Status,
	}
}

// Diff lists the fields of have that differ from want (fields of want set to Any are skipped).
func (want State) Diff(have State) error {
	var bad []string
	check := func(name, w, h string) {
		if w != Any && w != h {
			bad = append(bad, fmt.Sprintf("%s=%q (want %q)", name, h, w))
		}
	}
	check("traffic", want.Traffic, have.Traffic)
	check("LRO", want.LRO, have.LRO)
	check("PRO", want.PRO, have.PRO)
	check("LRR", want.LRR, have.LRR)
	check("LCR", want.LCR, have.LCR)
	check("Ready", want.Ready, have.Ready)
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, ", "))
	}
	return nil
}

// PodName matches a Knative revision's pod: <revision>-deployment-<replicaset hash>-<pod hash>.
func PodName(revision string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(revision) + `-deployment-[a-z0-9]{6,10}-[a-z0-9]{5}$`)
}
