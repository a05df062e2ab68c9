//go:build tools

// Package tools pins KServe v0.17.0's manager, the only thing this module builds.
package tools

import _ "github.com/kserve/kserve/cmd/manager"
