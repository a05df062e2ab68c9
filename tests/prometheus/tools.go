//go:build tools

// Pins Prometheus's server main in this module: tests/build-go.sh builds
// github.com/prometheus/prometheus/cmd/prometheus from it.
package tools

import _ "github.com/prometheus/prometheus/cmd/prometheus"
