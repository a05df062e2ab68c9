#!/usr/bin/env bash
# Benchmark (prints figures; never a pass/fail test): measured side by side on the test cluster,
#  1. how soon `kubectl isvc-canary wait --for=traffic=N` returns after a traffic change, against
#     `kubectl wait --for=jsonpath=…` started at the same moment on the same object;
#  2. how long `kubectl isvc-canary status NAME` takes against `kubectl get isvc NAME`.
# Absolute times on a shared two-core machine are noise: read the ratios.
# usage: bench/wait-latency.sh [ROUNDS]   (starts its own test cluster; about 3 minutes)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-5}
bin=$("$root/tests/build-go.sh" | tail -n 1)
(cd "$root" && cargo build --quiet)
plugin="$root/target/debug/kubectl-isvc_canary"

work=$(mktemp -d)
mkfifo "$work/parent"
"$bin/world" up --state "$work/w" --parent-fd 3 3<"$work/parent" >"$work/out" 2>"$work/err" &
world=$!
exec {keep}>"$work/parent"
trap 'exec {keep}>&-; wait "$world"' EXIT
for _ in $(seq 1 1800); do grep -q '^READY ' "$work/out" && break; sleep 0.1; done
export KUBECONFIG="$work/w/kubeconfigs/admin"

ns=bench
kubectl create namespace $ns >/dev/null
kubectl apply -n $ns -f - >/dev/null <<YAML
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: iris}
spec:
  predictor:
    model:
      modelFormat: {name: sklearn}
      storageUri: gs://kfserving-examples/models/sklearn/1.0/model
YAML
"$plugin" -n $ns wait iris --for=ready --timeout 5m >/dev/null
kubectl patch isvc iris -n $ns --type=merge -p '{"spec":{"predictor":{"model":{"storageUri":"gs://kfserving-examples/models/sklearn/2.0/model"},"canaryTrafficPercent":10}}}' >/dev/null
"$plugin" -n $ns wait iris --for=traffic=10 --timeout 5m >/dev/null

now_ms() { date +%s%3N; }
ours=() theirs=()
percent=10
for i in $(seq 1 "$rounds"); do
  percent=$((percent == 10 ? 30 : 10))
  start_ours="$work/ours.$i" start_theirs="$work/theirs.$i"
  ( "$plugin" -n $ns wait iris --for=traffic=$percent --timeout 2m >/dev/null; now_ms >"$start_ours" ) &
  p1=$!
  ( kubectl wait -n $ns isvc/iris --for=jsonpath='{.status.components.predictor.traffic[0].percent}'=$percent --timeout=2m >/dev/null; now_ms >"$start_theirs" ) &
  p2=$!
  sleep 2   # both watches open
  t0=$(now_ms)
  kubectl patch isvc iris -n $ns --type=merge -p "{\"spec\":{\"predictor\":{\"canaryTrafficPercent\":$percent}}}" >/dev/null
  wait "$p1" "$p2"
  ours+=($(( $(cat "$start_ours") - t0 )))
  theirs+=($(( $(cat "$start_theirs") - t0 )))
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mo=$(median "${ours[@]}"); mt=$(median "${theirs[@]}")
echo "wait after a traffic change, $rounds rounds (ms from the patch to exit):"
echo "  kubectl isvc-canary wait --for=traffic=N : ${ours[*]}  (median $mo)"
echo "  kubectl wait --for=jsonpath=...          : ${theirs[*]}  (median $mt)"
awk -v a="$mo" -v b="$mt" 'BEGIN { if (b > 0) printf "  ratio ours/kubectl: %.2f (ours also waits for the route, ingress and a ready pod per revision)\n", a / b }'

time_ms() { local t0; t0=$(now_ms); "$@" >/dev/null 2>&1; echo $(( $(now_ms) - t0 )); }
so=() sk=()
for _ in $(seq 1 "$rounds"); do
  so+=($(time_ms "$plugin" -n $ns status iris))
  sk+=($(time_ms kubectl get isvc iris -n $ns))
done
mso=$(median "${so[@]}"); msk=$(median "${sk[@]}")
echo "status, $rounds rounds (ms):"
echo "  kubectl isvc-canary status iris : ${so[*]}  (median $mso; table + revisions + pods: 3 requests)"
echo "  kubectl get isvc iris           : ${sk[*]}  (median $msk)"
awk -v a="$mso" -v b="$msk" 'BEGIN { if (b > 0) printf "  ratio ours/kubectl: %.2f\n", a / b }'
