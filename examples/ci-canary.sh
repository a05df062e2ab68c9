#!/usr/bin/env bash
# A canary rollout step for a CI pipeline:
#   canary PERCENT% of traffic to a new model → a smoke request through the `latest-` tag URL →
#   promote exactly the revision that was tested; on any failure, roll back and exit with the
#   plugin's exit code (3 timeout, 4 rollout failed, 5 forbidden, 7 refused, ...).
#
# usage: ci-canary.sh NAMESPACE NAME MODEL_URI [PERCENT] [INPUT_JSON]
# needs: kubectl, kubectl-isvc_canary and curl on PATH; INGRESS_HOST and INGRESS_PORT set.
set -uo pipefail

ns=$1 name=$2 model=$3 percent=${4:-10} input=${5:-}
timeout=${CANARY_TIMEOUT:-10m}
canary() { kubectl isvc-canary -n "$ns" --yes "$@"; }

roll_back() {
  local code=$1
  echo "ci-canary: step failed (exit $code): rolling back" >&2
  canary rollback "$name" --wait --timeout "$timeout" >&2 || echo "ci-canary: rollback failed too" >&2
  exit "$code"
}

# Tag routing gives the canary its own URL (enabling it rolls out a new revision once).
canary tag-routing "$name" on --wait --timeout "$timeout" >/dev/null || roll_back $?

canary set "$name" "$percent" --model-uri "$model" --wait --timeout "$timeout" || roll_back $?

# The revision under test, and its URL, from status.
jsonpath() { kubectl get inferenceservice "$name" -n "$ns" -o jsonpath="$1"; }
revision=$(jsonpath '{.status.components.predictor.latestReadyRevision}')
url=$(jsonpath '{.status.components.predictor.traffic[?(@.tag=="latest")].url}')
host=${url#*://}
host=${host%%/*}
if [ -z "$input" ]; then
  input=$(mktemp)
  printf '{"instances": [[6.8, 2.8, 4.8, 1.4]]}' >"$input"
fi
echo "ci-canary: smoke test of $revision at $url" >&2
if ! curl -sS --fail --max-time 30 -H "Host: $host" -H "Content-Type: application/json" \
  "http://${INGRESS_HOST}:${INGRESS_PORT}/v1/models/${name}:predict" -d @"$input" >&2; then
  roll_back 4
fi
echo >&2

# Promote only the revision that was tested: the write fails (exit 7) if another took its place.
canary promote "$name" --expect-revision "$revision" --wait --timeout "$timeout" || roll_back $?
echo "ci-canary: $revision promoted" >&2
