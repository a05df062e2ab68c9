package ingress

import (
	"sort"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	nv1a1 "knative.dev/networking/pkg/apis/networking/v1alpha1"
)

// programs is the gateway's configuration: for each Ingress, the generation it serves (the last
// one programmed), and when the generation being programmed was first seen.
type programs struct {
	mu      sync.RWMutex
	served  map[types.NamespacedName]*nv1a1.Ingress
	pending map[types.NamespacedName]seenGeneration
}

type seenGeneration struct {
	generation int64
	at         time.Time
}

func newPrograms() *programs {
	return &programs{served: map[types.NamespacedName]*nv1a1.Ingress{}, pending: map[types.NamespacedName]seenGeneration{}}
}

func keyOf(ing *nv1a1.Ingress) types.NamespacedName {
	return types.NamespacedName{Namespace: ing.Namespace, Name: ing.Name}
}

// seen returns when the Ingress's current generation was first seen (now, the first time).
func (p *programs) seen(ing *nv1a1.Ingress, now time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := keyOf(ing)
	if s, ok := p.pending[k]; ok && s.generation == ing.Generation {
		return s.at
	}
	p.pending[k] = seenGeneration{ing.Generation, now}
	return now
}

// program makes the gateway serve this generation of the Ingress.
func (p *programs) program(ing *nv1a1.Ingress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := keyOf(ing)
	if cur, ok := p.served[k]; ok && cur.Generation == ing.Generation && cur.ResourceVersion == ing.ResourceVersion {
		return
	}
	p.served[k] = ing.DeepCopy()
	delete(p.pending, k)
}

func (p *programs) forget(k types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.served, k)
	delete(p.pending, k)
}

// list is every Ingress as programmed, in namespace/name order.
func (p *programs) list() []*nv1a1.Ingress {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]*nv1a1.Ingress, 0, len(p.served))
	for _, ing := range p.served {
		out = append(out, ing)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out
}
