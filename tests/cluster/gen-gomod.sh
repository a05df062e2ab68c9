#!/usr/bin/env bash
# Regenerates go.mod for the Kubernetes wrapper module: k8s.io/kubernetes requires its staging
# modules at v0.0.0 and replaces them with ./staging directories that do not exist for a consumer,
# so each one is replaced here with its published v0.<minor>.<patch>.
set -euo pipefail
cd "$(dirname "$0")"
K8S=v1.33.13
STAGING=v0.${K8S#v1.}
modfile=$(go mod download -json "k8s.io/kubernetes@$K8S" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
{
  echo "module isvc-canary.test/cluster"
  echo
  echo "go 1.24.0"
  echo
  echo "godebug default=go1.24"
  echo
  echo "require k8s.io/kubernetes $K8S"
  echo
  echo "replace ("
  sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 '"$STAGING"'#p' "$modfile"
  echo ")"
} > go.mod
go mod tidy
