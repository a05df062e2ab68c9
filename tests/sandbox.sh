#!/usr/bin/env bash
# The sandbox: a local cluster with KServe's and Knative's real controllers, namespace kserve-test
# and the InferenceService sklearn-iris of KServe's "Canary Rollout Example". Once it is ready it
# prints the `export` lines for kubectl, curl and the plugin, and runs until Ctrl-C or SIGTERM, then
# stops every process it started. Its state, kubeconfig included, is in .sandbox/ inside the
# project: ~/.kube/config is never touched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

bin=$("$here/build-go.sh" | tail -n 1)
(cd "$root" && cargo build)
cd "$root"
# exec: Ctrl-C reaches the launcher, which stops its children (each in a process group of its own,
# so the terminal's signal does not hit them out of order).
# Extra arguments go to the launcher: `tests/sandbox.sh --kserve v0.17.0` runs that KServe release
# (default v0.20.0).
exec "$bin/world" sandbox --state "$root/.sandbox" --plugin-dir "$root/target/debug" "$@"
