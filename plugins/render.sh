#!/bin/sh
# Prints the krew manifest for a release: plugins/isvc-canary.yaml with the version, the homepage,
# and each platform's archive URL and sha256 filled in from the real archives.
#
#   plugins/render.sh --version v0.1.0 --url-base https://HOST/OWNER/REPO/releases/download/v0.1.0 \
#     --homepage https://HOST/OWNER/REPO dist/isvc-canary_v0.1.0_*_*.tar.gz dist/isvc-canary_v0.1.0_windows_amd64.zip
#
# Archives are matched to platforms by name: *_<os>_<arch>.tar.gz (or .zip), os/arch as Go names
# them. Each tar.gz holds kubectl-isvc_canary, kubectl_complete-isvc_canary and LICENSE at its
# top level; the Windows zip holds kubectl-isvc_canary.exe and LICENSE.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
template="$here/isvc-canary.yaml"
platforms="linux_amd64 linux_arm64 darwin_amd64 darwin_arm64 windows_amd64"

die() { echo "render.sh: $*" >&2; exit 2; }
usage() { die "usage: render.sh --version vX.Y.Z --url-base URL --homepage URL ARCHIVE..."; }

version="" base="" homepage=""
while [ $# -gt 0 ]; do
  case $1 in
    --version) [ $# -ge 2 ] || usage; version=$2; shift 2 ;;
    --url-base) [ $# -ge 2 ] || usage; base=${2%/}; shift 2 ;;
    --homepage) [ $# -ge 2 ] || usage; homepage=$2; shift 2 ;;
    --) shift; break ;;
    -*) usage ;;
    *) break ;;
  esac
done
[ -n "$version" ] && [ -n "$base" ] && [ -n "$homepage" ] && [ $# -gt 0 ] || usage
case $version in v[0-9]*.[0-9]*.[0-9]*) ;; *) die "--version must be semver with a leading v (got '$version')" ;; esac
case $base in https://*) ;; *) die "--url-base must be an https URL" ;; esac
case $homepage in https://*) ;; *) die "--homepage must be an https URL" ;; esac

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  else
    shasum -a 256 "$1" | cut -d ' ' -f 1
  fi
}
# A value for the right-hand side of a sed s||| command.
esc() { printf '%s' "$1" | sed 's/[|&\\]/\\&/g'; }

script=$(mktemp)
trap 'rm -f "$script"' EXIT
{
  printf 's|@VERSION@|%s|g\n' "$(esc "$version")"
  printf 's|@HOMEPAGE@|%s|g\n' "$(esc "$homepage")"
} >"$script"

for platform in $platforms; do
  found=""
  for archive in "$@"; do
    case $(basename "$archive") in
      *_"$platform".tar.gz | *_"$platform".zip)
        [ -z "$found" ] || die "two archives for $platform: $found and $archive"
        found=$archive ;;
    esac
  done
  [ -n "$found" ] || die "no archive for $platform (want a file named *_$platform.tar.gz or *_$platform.zip)"
  [ -f "$found" ] || die "$found: no such file"
  key=$(printf '%s' "$platform" | tr '[:lower:]' '[:upper:]')
  printf 's|@URI_%s@|%s|g\n' "$key" "$(esc "$base/$(basename "$found")")" >>"$script"
  printf 's|@SHA256_%s@|%s|g\n' "$key" "$(sha256 "$found")" >>"$script"
done

# The template's header comment is for this repository, not for the manifest.
out=$(sed -f "$script" "$template" | sed '/^# /d')
if printf '%s\n' "$out" | grep -q '@[A-Z0-9_]*@'; then
  die "placeholders left: $(printf '%s\n' "$out" | grep -o '@[A-Z0-9_]*@' | sort -u | tr '\n' ' ')"
fi
printf '%s\n' "$out"
