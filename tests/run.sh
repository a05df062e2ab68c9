#!/usr/bin/env bash
# The project's test command (README; .ci/run calls it).
#  0. checks that every Rust file under tests/ is wired into a [[test]] target
#     (tests/check-test-wiring.sh: with autotests = false an unlisted file never runs);
#  1. builds the Go binaries of the test cluster (tests/build-go.sh), then the Rust crate: Go
#     before cargo, not alongside (two cores);
#  2. starts ONE test cluster (`world up`, KServe v0.20.0) for the whole suite, holding the write
#     end of a pipe the launcher watches: if this script dies, even by SIGKILL, the pipe closes and
#     the launcher stops every process it started;
#  3. runs the Go tests of tests/world, then every cargo test, against that cluster
#     (ISVC_CANARY_TEST_ENV names its env.json), and stops it;
#  4. starts a second cluster on KServe v0.17.0 and runs the compatibility subset there: the e2e
#     tests of the docs' flow, the waits and the guard rails (modules readme::, waits::, guards::);
#  5. fails if anything failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

# Step 0, before anything is built: a test file cargo would silently skip fails the run.
echo "run.sh: checking that every test file is wired in (tests/check-test-wiring.sh)" >&2
"$here/check-test-wiring.sh"

# The generated-files tests drive the completion scripts in zsh and fish and render the man pages
# with man/groff; install them where we can (root with apt-get), else say what is missing.
missing=()
for tool in zsh fish man groff; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ "${#missing[@]}" -gt 0 ]; then
  pkgs=("${missing[@]/#man/man-db}")
  pkgs=("${pkgs[@]/#groff/groff-base}")
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "run.sh: installing ${pkgs[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
  else
    echo "run.sh: the tests need ${missing[*]}: install ${pkgs[*]}" >&2
    exit 1
  fi
fi

bin=$("$here/build-go.sh" | tail -n 1)
echo "run.sh: Go binaries in $bin" >&2
(cd "$root" && cargo test --all-targets --no-run)

work=$(mktemp -d "${TMPDIR:-/tmp}/isvc-canary-test.XXXXXX")
state=""
parent=""
world_pid=""
child=""

# Runs a test command in the background, in a process group of its own, and waits for it: bash
# runs a trap only once the foreground command has finished, and `wait` lets a SIGTERM to this
# script stop everything at once. The command does not inherit the pipe's write end ({parent}>&-),
# or a test process left behind would keep the cluster alive.
run_tests() { # DIR COMMAND...
  local dir=$1 rc=0
  shift
  set -m
  (cd "$dir" && exec "$@") {parent}>&- &
  child=$!
  set +m
  wait "$child" || rc=$?
  child=""
  return "$rc"
}

stop_world() {
  if [ -n "$child" ]; then
    kill -TERM -- "-$child" 2>/dev/null || true
    child=""
  fi
  if [ -n "$parent" ]; then
    exec {parent}>&-   # EOF on the launcher's --parent-fd: it stops everything and exits
    parent=""
  fi
  if [ -n "$world_pid" ]; then
    for _ in $(seq 1 300); do kill -0 "$world_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$world_pid" 2>/dev/null; then
      echo "run.sh: the launcher did not stop within 30s; SIGTERM" >&2
      kill -TERM "$world_pid" 2>/dev/null || true
    fi
    wait "$world_pid" 2>/dev/null || true
    world_pid=""
  fi
}
show_logs() {
  echo "run.sh: launcher output ($work/world.err):" >&2
  tail -n 40 "$work/world.err" >&2 || true
  for f in "$state"/logs/*.log; do
    [ -f "$f" ] || continue
    echo "---- $f (last 20 lines)" >&2
    tail -n 20 "$f" >&2
  done
}
trap stop_world EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_world RELEASE: starts `world up --kserve RELEASE` on $work/world-RELEASE and waits for READY.
# The launcher opens the read end of a FIFO as its fd 3 (opening blocks until this script opens
# the write end just below); only this script holds the write end.
start_world() {
  local release=$1
  state="$work/world-$release"
  rm -f "$work/parent.fifo"
  mkfifo "$work/parent.fifo"
  "$bin/world" up --kserve "$release" --state "$state" --parent-fd 3 3<"$work/parent.fifo" >"$work/ready.out" 2>"$work/world.err" &
  world_pid=$!
  exec {parent}>"$work/parent.fifo"

  # 180 s: about 30 s on an idle two-core machine, 110 s seen with three other clusters and a build running.
  local ready_timeout=${ISVC_CANARY_READY_TIMEOUT:-180} ready=""
  echo "run.sh: starting the test cluster on KServe $release (state $state)" >&2
  for _ in $(seq 1 $((ready_timeout * 10))); do
    if grep -q '^READY ' "$work/ready.out" 2>/dev/null; then ready=1; break; fi
    kill -0 "$world_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$ready" ]; then
    echo "run.sh: the test cluster on KServe $release did not become ready within $ready_timeout s" >&2
    show_logs
    exit 1
  fi
  grep '^READY ' "$work/ready.out" >&2
  export ISVC_CANARY_TEST_ENV="$state/env.json"
}
# The launcher's start-up time and each process's peak memory, for the record.
world_record() { grep -E 'ready in|peak RSS' "$work/world.err" | sed "s/^/run.sh: [KServe $1] /" >&2 || true; }

start_world v0.20.0
export ISVC_CANARY_BIN_DIR="$bin"
failed=()
run_tests "$here/world" go test -count=1 -timeout 40m ./... || failed+=("go test")
# No panic backtraces: a test's own message says what failed, and a shortened log keeps its end.
RUST_BACKTRACE=0 run_tests "$root" cargo test --all-targets || failed+=("cargo test")
stop_world
world_record v0.20.0
cp "$work/world.err" "$work/world-v0.20.0.err"

# The compatibility subset on KServe v0.17.0: the docs' flow, the waits and the guard rails.
start_world v0.17.0
RUST_BACKTRACE=0 run_tests "$root" cargo test --test e2e -- readme:: waits:: guards:: || failed+=("cargo test on KServe v0.17.0")
stop_world
world_record v0.17.0
if [ ${#failed[@]} -gt 0 ]; then
  echo "run.sh: FAILED: ${failed[*]} (cluster state and logs kept in $work)" >&2
  exit 1
fi
rm -rf "$work"
echo "run.sh: all tests passed" >&2
