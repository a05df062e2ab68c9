package kubelet

import (
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// ipPool hands out unique pod IPs from documentation ranges (RFC 5737), which EndpointSlice
// validation accepts and nothing routes: 192.0.2.0/24 first (192.0.2.1 is the node), then
// 198.51.100.0/24 and 203.0.113.0/24 if a run ever has more than 253 pods at once.
type ipPool struct {
	mu    sync.Mutex
	byUID map[types.UID]string
	used  map[string]types.UID
}

func newIPPool() *ipPool {
	return &ipPool{byUID: map[types.UID]string{}, used: map[string]types.UID{NodeIP: "node"}}
}

var ipRanges = []string{"192.0.2.", "198.51.100.", "203.0.113."}

func (p *ipPool) get(uid types.UID) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ip, ok := p.byUID[uid]; ok {
		return ip, nil
	}
	for _, prefix := range ipRanges {
		for i := 1; i < 255; i++ {
			ip := fmt.Sprintf("%s%d", prefix, i)
			if _, taken := p.used[ip]; !taken {
				p.used[ip], p.byUID[uid] = uid, ip
				return ip, nil
			}
		}
	}
	return "", fmt.Errorf("no free pod IP")
}

func (p *ipPool) claim(uid types.UID, ip string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.used[ip], p.byUID[uid] = uid, ip
}

func (p *ipPool) release(uid types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ip, ok := p.byUID[uid]; ok {
		delete(p.byUID, uid)
		delete(p.used, ip)
	}
}
