//go:build tools

// Package tools pins KServe's manager, which this module builds as a binary of its own.
package tools

import _ "github.com/kserve/kserve/cmd/manager"
