#!/usr/bin/env bash
# Fails when a Rust file under tests/ would never be compiled. Cargo.toml sets `autotests = false`,
# so cargo builds only the [[test]] targets it names and the modules they declare:
#  - a top-level test file tests/NAME.rs must be the `path` of a [[test]] in Cargo.toml;
#  - a test directory tests/DIR/ (any but the Go trees tests/world and tests/cluster) must have a
#    main.rs that is the `path` of a [[test]], and every other .rs file in it must be declared
#    `mod NAME;` in that main.rs (a .rs file in a subfolder SUB/ must be declared in SUB.rs or
#    SUB/mod.rs, which must itself be declared).
# Runs before the build in tests/run.sh; `tests/check-test-wiring.sh` on its own prints what it found.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

# The paths of the [[test]] targets, as written in Cargo.toml.
targets=$(awk '
  /^\[\[test\]\]/ { in_test = 1; next }
  /^\[/ { in_test = 0 }
  in_test && /^[[:space:]]*path[[:space:]]*=/ {
    sub(/^[^=]*=[[:space:]]*"/, ""); sub(/".*$/, ""); print
  }' "$root/Cargo.toml")

is_target() { grep -qxF "$1" <<<"$targets"; }

# Does FILE declare `mod NAME;` (optionally pub, optionally after an attribute on the same line)?
declares() { # FILE NAME
  grep -Eq "^[[:space:]]*(#\[[^]]*\][[:space:]]*)*(pub(\([a-z]+\))?[[:space:]]+)?mod[[:space:]]+$2[[:space:]]*;" "$1"
}

problems=()
checked=0
while IFS= read -r -d '' file; do
  rel=${file#"$root"/}
  checked=$((checked + 1))
  dir=$(dirname "$rel")
  base=$(basename "$rel" .rs)
  if [ "$dir" = tests ]; then
    is_target "$rel" || problems+=("$rel is not the path of a [[test]] in Cargo.toml")
    continue
  fi
  if [ "$(dirname "$dir")" = tests ]; then
    main="$dir/main.rs"
    if [ "$rel" = "$main" ]; then
      is_target "$rel" || problems+=("$rel is not the path of a [[test]] in Cargo.toml")
    elif [ ! -f "$root/$main" ]; then
      problems+=("$rel: $dir has no main.rs (a [[test]] target) to declare it")
    elif ! declares "$root/$main" "$base"; then
      problems+=("$rel is not declared \`mod $base;\` in $main")
    fi
    continue
  fi
  # Deeper: SUB/NAME.rs belongs to SUB.rs or SUB/mod.rs.
  [ "$base" = mod ] && continue # checked as its folder's module file, from the level above
  parent=""
  for candidate in "$dir.rs" "$dir/mod.rs"; do
    [ -f "$root/$candidate" ] && parent=$candidate
  done
  if [ -z "$parent" ]; then
    problems+=("$rel: no $dir.rs or $dir/mod.rs declares it")
  elif ! declares "$root/$parent" "$base"; then
    problems+=("$rel is not declared \`mod $base;\` in $parent")
  fi
done < <(find "$root/tests" \( -path "$root/tests/world" -o -path "$root/tests/cluster" \) -prune \
  -o -type f -name '*.rs' -print0 | sort -z)

# A folder SUB/ with a mod.rs is declared like a file SUB.rs.
while IFS= read -r -d '' file; do
  rel=${file#"$root"/}
  sub=$(dirname "$rel")
  owner_dir=$(dirname "$sub")
  owner="$owner_dir/main.rs"
  [ "$(dirname "$owner_dir")" = tests ] || owner="$owner_dir.rs"
  [ -f "$root/$owner" ] || owner="$owner_dir/mod.rs"
  if [ ! -f "$root/$owner" ] || ! declares "$root/$owner" "$(basename "$sub")"; then
    problems+=("$rel: \`mod $(basename "$sub");\` is not declared in $owner")
  fi
done < <(find "$root/tests" -mindepth 3 \( -path "$root/tests/world" -o -path "$root/tests/cluster" \) -prune \
  -o -type f -name 'mod.rs' -print0 | sort -z)

if [ "${#problems[@]}" -gt 0 ]; then
  echo "check-test-wiring: these test files would never be compiled or run (Cargo.toml has autotests = false):" >&2
  printf '  %s\n' "${problems[@]}" >&2
  exit 1
fi
echo "check-test-wiring: all $checked Rust files under tests/ are wired into a [[test]] target" >&2
