#!/usr/bin/env bash
# The benchmark (figures, never a pass/fail test). Starts its own test clusters and prints, side
# by side with kubectl 1.33 and with the floor (curl making the same requests), medians and
# spreads over ROUNDS runs per command, the commands alternating:
#   1. on a world WITHOUT controllers (`world up --no-controllers`, CRDs only), filled by
#      `bench fill` with 2,000 InferenceServices and 6,000 pods: `status`, `-A`, `-l` against
#      `kubectl get isvc` (+ `kubectl get pods`), wall time and peak RSS;
#   2. on the test world (KServe and Knative running): set, rollback, promote, tag-routing against
#      `kubectl patch --type merge`; `status NAME` against `kubectl get isvc NAME` + `kubectl get
#      pods -l …`; the requests each makes (the audit log, by user agent); how soon `set --wait`
#      and `wait --for` return after the status write that decided them, against `kubectl wait`;
#      start-up (`--help`, `version`, completion of a live name, also through kubectl);
#   3. the size of the stripped release binary.
# The driver is tests/world/cmd/bench (Go); the report is also written to target/bench/.
#
# usage: bench/run.sh [ROUNDS]      (default 20; about 12 minutes on two cores)
#        bench/run.sh --check       (builds nothing, starts nothing: checks the tools it needs)
# KUBECTL=/path/to/kubectl picks the kubectl to compare with (default: kubectl 1.33, found
# behind a version dispatcher if the kubectl on PATH is one).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=20
check=false
case "${1:-}" in
  --check) check=true ;;
  "") ;;
  *[!0-9]* | 0) echo "usage: bench/run.sh [ROUNDS|--check]" >&2; exit 2 ;;
  *) rounds=$1 ;;
esac

# kubectl 1.33 itself: a version dispatcher (kubectl version says "dispatcher") adds ~45 ms to
# every call, so the binary it would run is used.
find_kubectl() {
  if [ -n "${KUBECTL:-}" ]; then echo "$KUBECTL"; return; fi
  local k real
  k=$(command -v kubectl) || { echo "bench: kubectl is not on PATH (or set KUBECTL)" >&2; return 1; }
  local version
  version=$("$k" version --client 2>/dev/null || true)
  if [[ $version == *dispatcher* ]]; then
    real=$(dirname "$(readlink -f "$k")")/kubectl.1.33
    [ -x "$real" ] || { echo "bench: $k is a version dispatcher and $real is missing: set KUBECTL" >&2; return 1; }
    echo "$real"
  else
    echo "$k"
  fi
}
kubectl_bin=$(find_kubectl)
for tool in go cargo curl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not on PATH" >&2; exit 1; }
done
[ -r /proc/self/status ] || { echo "bench: /proc is needed (peak RSS is read from it)" >&2; exit 1; }
if $check; then
  echo "bench: would compare with $kubectl_bin ($("$kubectl_bin" version --client 2>/dev/null | head -n 1)), $rounds rounds"
  exit 0
fi

out="$root/target/bench"
mkdir -p "$out"
bin=$("$root/tests/build-go.sh" | tail -n 1)
# The launcher and the driver of this tree, in a folder of their own (the shared bin/ may link
# another clone's launcher); Go's build cache makes a rebuild quick.
(cd "$root/tests/world" && go build -trimpath -o "$out/world" ./cmd/world && go build -trimpath -o "$out/bench" ./cmd/bench)
(cd "$root" && cargo build --release --quiet)
plugin="$root/target/release/kubectl-isvc_canary"

work=$(mktemp -d)
world_pid=
stop_world() {
  if [ -n "$world_pid" ]; then
    exec {keep}>&-
    wait "$world_pid" || true
    world_pid=
  fi
}
trap 'stop_world; rm -rf "$work"' EXIT
# start_world NAME [--no-controllers]: one world at a time; it stops when the pipe closes.
start_world() {
  local name=$1; shift
  mkfifo "$work/$name.pipe"
  "$out/world" up --bin-dir "$bin" --state "$work/$name" --parent-fd 3 "$@" 3<"$work/$name.pipe" >"$work/$name.out" 2>"$work/$name.err" &
  world_pid=$!
  exec {keep}>"$work/$name.pipe"
  for _ in $(seq 1 1800); do grep -q '^READY ' "$work/$name.out" && break; sleep 0.1; done
  grep -q '^READY ' "$work/$name.out" || { echo "bench: the $name world did not start" >&2; tail -n 20 "$work/$name.err" >&2; exit 1; }
  export KUBECONFIG="$work/$name/kubeconfigs/admin"
}

report="$out/report-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "# kubectl isvc-canary benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, Linux $(uname -r)."
  echo "kubectl: $kubectl_bin ($("$kubectl_bin" version --client 2>/dev/null | head -n 1)); plugin: $plugin (release)."
  echo "Ratios are ours ÷ the other command's median, measured in this run; absolute times on a shared machine are noise."
} | tee "$report"

start_world big --no-controllers
"$out/bench" fill --kubeconfig "$KUBECONFIG" --namespace bench-big --isvcs 2000 --pods 3 --label tier=gold >&2
"$out/bench" big --kubeconfig "$KUBECONFIG" --audit "$work/big/audit.log" --plugin "$plugin" --kubectl "$kubectl_bin" \
  --namespace bench-big --selector tier=gold --rounds "$rounds" | tee -a "$report"
stop_world

start_world small
"$out/bench" small --kubeconfig "$KUBECONFIG" --audit "$work/small/audit.log" --plugin "$plugin" --kubectl "$kubectl_bin" \
  --completions "$root/completions" --rounds "$rounds" | tee -a "$report"
stop_world

size=$(stat -c %s "$plugin")
{
  echo
  echo "## Binary"
  echo "release build (strip, lto, opt-level z, codegen-units 1, panic abort): $(awk -v s="$size" 'BEGIN {printf "%.1f MB (%d bytes)", s/1e6, s}'), $(file -b "$plugin" 2>/dev/null | grep -o 'stripped\|not stripped' || echo 'strip = true')"
} | tee -a "$report"
echo "bench: report in $report" >&2
