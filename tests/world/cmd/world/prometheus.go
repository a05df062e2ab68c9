package main

// The world's Prometheus (the metric gates' oracle): built by tests/build-go.sh from its own
// module, started on loopback when its binary is in the bin folder, scraping every revision's
// target that the test ingress lists for http_sd (what queue-proxy exports, per revision).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"isvc-canary.test/world/internal/controlplane"
)

// prometheusConfig scrapes the ingress's per-revision targets every second, found every second.
func prometheusConfig(statsAddr string) string {
	return fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: queue-proxy
    http_sd_configs:
      - url: http://%s/sd
        refresh_interval: 1s
`, statsAddr)
}

// startPrometheus starts Prometheus when binDir has it; its URL, or "" without it.
func startPrometheus(ctx context.Context, w *world, binDir, state, statsAddr string) (string, error) {
	bin := filepath.Join(binDir, "prometheus")
	if _, err := os.Stat(bin); err != nil {
		w.log.Printf("no prometheus in %s: metric gates have no Prometheus in this world", binDir)
		return "", nil
	}
	ports, err := controlplane.FreePorts(1)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(state, "prometheus")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte(prometheusConfig(statsAddr)), 0o644); err != nil {
		return "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	p, err := w.sup.Start("prometheus", bin, []string{
		"--config.file=" + config,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr,
		"--log.level=warn",
	}, nil)
	if err != nil {
		return "", err
	}
	ready := "http://" + addr + "/-/ready"
	if err := waitChild(ctx, p, ready, 60*time.Second); err != nil {
		return "", fmt.Errorf("prometheus: %w", err)
	}
	w.ready["prometheus"] = func(ctx context.Context, p *controlplane.Proc) error {
		return waitChild(ctx, p, ready, 60*time.Second)
	}
	w.log.Printf("prometheus ready at http://%s", addr)
	return "http://" + addr, nil
}
