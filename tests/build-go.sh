#!/usr/bin/env bash
# Builds the test cluster's Go binaries (Kubernetes from tests/cluster, KServe/Knative/fakes from
# tests/world) into a cache outside the clone, keyed on everything that decides their bytes.
# Prints the directory that holds the binaries on its last line of stdout.
# Fails loudly: a missing Go toolchain or module proxy is an error, never a skip.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${ISVC_CANARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/isvc-canary}

command -v go >/dev/null || { echo "build-go: Go is not installed (need go >= 1.25.8 on PATH)" >&2; exit 1; }
mkdir -p "$cache"
# A cold build needs about 5.5 GB of module cache and 7 GB of build cache (kube-scheduler,
# Prometheus and both KServe managers included; the two managers share little: measured cold, v0.17.0
# took 1.45 GB of build cache, v0.20.0 then added 1.2 GB, and 0.75 GB of module sources only it
# uses): checked before building anything, not when every binary is already cached.
need_space() {
  local free_kb
  free_kb=$(df -Pk "$cache" | awk 'NR==2{print $4}')
  if [ "${free_kb:-0}" -lt $((14 * 1024 * 1024)) ]; then
    echo "build-go: only $((free_kb / 1024)) MiB free under $cache; the Go builds need about 14 GiB" >&2
    exit 1
  fi
}

export CGO_ENABLED=0
goversion=$(go env GOVERSION)
k8s_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v1.33.13 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=33 -X k8s.io/component-base/version.gitTreeState=clean"
world_ldflags="-s -w"

hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# Kubernetes: keyed on its module files, the Go version and the flags.
k8s_key=$( { cat "$here/cluster/go.mod" "$here/cluster/go.sum"; echo "$goversion $k8s_ldflags"; } | sha256sum | cut -c1-16)
k8s_dir="$cache/k8s-$k8s_key"
if [ ! -x "$k8s_dir/kube-apiserver" ] || [ ! -x "$k8s_dir/kube-controller-manager" ] || [ ! -x "$k8s_dir/etcd" ]; then
  need_space
  echo "build-go: building kube-apiserver, kube-controller-manager, kube-scheduler, etcd (cold: about 5 minutes)" >&2
  tmp="$k8s_dir.tmp.$$"; mkdir -p "$tmp"
  (cd "$here/cluster" &&
    go build -trimpath -ldflags "$k8s_ldflags" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver &&
    go build -trimpath -ldflags "$k8s_ldflags" -o "$tmp/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager &&
    go build -trimpath -ldflags "$k8s_ldflags" -o "$tmp/kube-scheduler" k8s.io/kubernetes/cmd/kube-scheduler &&
    go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
  rm -rf "$k8s_dir"; mv "$tmp" "$k8s_dir"
elif [ ! -x "$k8s_dir/kube-scheduler" ]; then
  # A cache from before the scheduler was part of the world: add it alone.
  need_space
  echo "build-go: building kube-scheduler" >&2
  (cd "$here/cluster" && go build -trimpath -ldflags "$k8s_ldflags" -o "$k8s_dir/kube-scheduler.tmp.$$" k8s.io/kubernetes/cmd/kube-scheduler)
  mv "$k8s_dir/kube-scheduler.tmp.$$" "$k8s_dir/kube-scheduler"
fi

# KServe's managers, one per release, each from its own module under tests/kserve/<release> (that
# release's replace lines and pins): keyed on that module's go.mod and go.sum, the Go version and the
# flags. The binary is kserve-manager-<release>; `world up --kserve <release>` runs it.
kserve_releases="v0.17.0 v0.20.0"
kserve_dirs=""
for release in $kserve_releases; do
  mod="$here/kserve/$release"
  key=$( { cat "$mod/go.mod" "$mod/go.sum"; echo "$release $goversion $world_ldflags"; } | sha256sum | cut -c1-16)
  dir="$cache/kserve-$release-$key"
  kserve_dirs="$kserve_dirs $dir"
  if [ ! -x "$dir/kserve-manager-$release" ]; then
    need_space
    echo "build-go: building KServe $release's manager (cold: about 5 minutes; 4 after the other release)" >&2
    tmp="$dir.tmp.$$"; mkdir -p "$tmp"
    (cd "$mod" && go build -trimpath -ldflags "$world_ldflags" -o "$tmp/kserve-manager-$release" github.com/kserve/kserve/cmd/manager)
    rm -rf "$dir"; mv "$tmp" "$dir"
  fi
done

# Prometheus (the metric gates' oracle), from its own module: keyed on that module's files, the Go
# version and the flags. remove_all_sd leaves out the service-discovery plugins (the world's
# Prometheus uses http_sd, which is built in); no builtinassets tag, so no web UI assets.
prom_flags="-tags remove_all_sd"
prom_key=$( { cat "$here/prometheus/go.mod" "$here/prometheus/go.sum"; echo "$goversion $world_ldflags $prom_flags"; } | sha256sum | cut -c1-16)
prom_dir="$cache/prometheus-$prom_key"
if [ ! -x "$prom_dir/prometheus" ]; then
  need_space
  echo "build-go: building Prometheus (cold: about 11 minutes on a busy two-core machine)" >&2
  tmp="$prom_dir.tmp.$$"; mkdir -p "$tmp"
  (cd "$here/prometheus" && go build -trimpath $prom_flags -ldflags "$world_ldflags" -o "$tmp/prometheus" github.com/prometheus/prometheus/cmd/prometheus)
  rm -rf "$prom_dir"; mv "$tmp" "$prom_dir"
fi

# The launcher (with our Knative controller main and the fakes): keyed on the module files, our Go
# sources, the Go version and the flags.
world_src=$(cd "$here/world" && find . \( -name '*.go' ! -name '*_test.go' \) -o -name 'go.mod' -o -name 'go.sum' | LC_ALL=C sort)
world_key=$( { (cd "$here/world" && cat $world_src); echo "$goversion $world_ldflags"; } | sha256sum | cut -c1-16)
world_dir="$cache/world-$world_key"
if [ ! -x "$world_dir/world" ]; then
  need_space
  echo "build-go: building the launcher (Knative's controller main and the fakes included)" >&2
  tmp="$world_dir.tmp.$$"; mkdir -p "$tmp"
  (cd "$here/world" && go build -trimpath -ldflags "$world_ldflags" -o "$tmp/world" ./cmd/world)
  rm -rf "$world_dir"; mv "$tmp" "$world_dir"
fi

# Old builds go, except the three newest of each kind: a sandbox or a test run started a moment
# ago may still run one (Knative's controller is a re-execution of the launcher's own file).
# A KServe manager's kind is its release (kserve-v0.20.0-*); kserve-<key> folders of the single
# manager built before the releases had modules of their own are removed whatever their age.
for kind in k8s kserve-v0.17.0 kserve-v0.20.0 prometheus world; do
  { ls -1dt "$cache/$kind"-* 2>/dev/null || true; } | { grep -v '\.tmp\.' || true; } | tail -n +4 | while read -r old; do
    case " $k8s_dir $kserve_dirs $prom_dir $world_dir " in *" $old "*) ;; *) rm -rf "$old" ;; esac
  done
done
{ ls -1d "$cache"/kserve-* 2>/dev/null || true; } | { grep -v -e '\.tmp\.' -e '/kserve-v[0-9]' || true; } | while read -r old; do rm -rf "$old"; done

mkdir -p "$cache/bin"
rm -f "$cache/bin/kserve-manager" # the single manager of before, if its link is still there
for f in "$k8s_dir"/* $(for d in $kserve_dirs; do echo "$d"/*; done) "$prom_dir"/* "$world_dir"/*; do ln -sf "$f" "$cache/bin/$(basename "$f")"; done
echo "$cache/bin"
