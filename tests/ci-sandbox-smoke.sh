#!/usr/bin/env bash
# Runs the README's sandbox command exactly as written, waits for its export lines, follows the
# first steps of KServe's canary example against it with kubectl, curl and the plugin, then stops
# it with SIGTERM and checks that nothing it started is left running.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$(mktemp)
err=$(mktemp)
tests/sandbox.sh >"$out" 2>"$err" &
pid=$!
cleanup() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap cleanup EXIT

for _ in $(seq 1 900); do
  grep -q '^export INGRESS_PORT=' "$out" && break
  kill -0 "$pid" 2>/dev/null || { echo "sandbox exited early:"; tail -n 40 "$err"; exit 1; }
  sleep 1
done
grep -q '^export INGRESS_PORT=' "$out" || { echo "sandbox not ready in 15 minutes:"; tail -n 40 "$err"; exit 1; }
cat "$out"
eval "$(cat "$out")"

kubectl get isvc sklearn-iris -n kserve-test
host=$(kubectl get isvc sklearn-iris -n kserve-test -o jsonpath='{.status.url}' | cut -d/ -f3)
printf '{"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}' >"$out.input"
curl -sS --fail -H "Host: $host" -H "Content-Type: application/json" \
  "http://$INGRESS_HOST:$INGRESS_PORT/v1/models/sklearn-iris:predict" -d @"$out.input"
echo
kubectl isvc-canary status sklearn-iris -n kserve-test

kill -TERM "$pid"
wait "$pid" || true
trap - EXIT
sleep 2
if [ -f .sandbox/pids ]; then
  while read -r name p; do
    if kill -0 "$p" 2>/dev/null; then echo "still running after the sandbox stopped: $name ($p)"; exit 1; fi
  done < .sandbox/pids
fi
echo "sandbox smoke test: 1 passed, 0 failed"
