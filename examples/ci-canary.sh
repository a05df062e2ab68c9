#!/usr/bin/env bash
# A canary rollout for a CI pipeline, in one command: PERCENT % of traffic to the new model, a
# smoke request through the canary's own `latest-` URL (tag routing comes on in the same patch if
# it is off), then 100 % to exactly the revision that was tested. A failed smoke request or a
# model that never loads rolls back; the exit code says how it ended (0 promoted, 3 timeout,
# 4 rolled back, 5 forbidden, 7 refused or another rollout running, 130 interrupted).
#
# usage: ci-canary.sh NAMESPACE NAME MODEL_URI [PERCENT] [INPUT_JSON]
# needs: kubectl and kubectl-isvc_canary on PATH; INGRESS_HOST and INGRESS_PORT set when the tag
# URLs' hosts do not resolve to the ingress (the smoke request then connects there, as
# curl --resolve would).
# env: CANARY_TIMEOUT (default 10m, per step), CANARY_PAUSE (default 1m: the hold at PERCENT).
set -uo pipefail

ns=$1 name=$2 model=$3 percent=${4:-10} input=${5:-}
smoke=(--smoke)
if [ -n "$input" ]; then
  smoke+=(--input "$input")
fi

# A job killed half-way leaves its rollout recorded in the Lease isvc-canary-NAME: re-running
# this job then says so (exit 7); `rollout NAME --resume` continues it, `abort NAME` rolls it back.
exec kubectl isvc-canary -n "$ns" --yes rollout "$name" --model-uri "$model" \
  --steps "$percent,100" --pause "${CANARY_PAUSE:-1m}" "${smoke[@]}" --timeout "${CANARY_TIMEOUT:-10m}"
