#!/usr/bin/env bash
# The release build of the Lambda functions (arm64, cargo lambda), for `sam build` and the
# benchmark alike:
#
#   build.sh <LogicalId> <functions/<crate>> <dir>   what `sam build` runs (through the Makefile
#                               here) for each Rust function of template.yaml: the one workspace
#                               build, then that crate's binary copied to <dir>/bootstrap
#   build.sh --workspace [cargo lambda flags]        the workspace build alone (infra/bench.sh
#                               adds --output-format zip: target/lambda/<crate>/bootstrap.zip)
#
# Every caller builds the same packages with the same flags, so cargo compiles each release
# artefact once into target/ and every later build finds it fresh. With `parallel = true` the
# first function's build compiles everything (both cores busy) and the others find it done.
# Builds run one at a time (a lock in the target directory): cargo locks its own compile, but
# cargo lambda then moves the binaries out of target/, and two doing that at once would race.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$root"

package_of() { sed -n 's/^name *= *"\(.*\)"/\1/p' "$1/Cargo.toml" | head -n 1; }

workspace_build() {
  local packages=() dir target_dir
  for dir in functions/*/; do
    packages+=(-p "$(package_of "$dir")")
  done
  target_dir=${CARGO_TARGET_DIR:-target}
  mkdir -p "$target_dir"
  python3 -c 'import fcntl, subprocess, sys
lock = open(sys.argv[1], "a")
fcntl.flock(lock, fcntl.LOCK_EX)
sys.exit(subprocess.call(sys.argv[2:]))' "$target_dir/.gatehouse-release.lock" \
    cargo lambda build --release --arm64 "${packages[@]}" "$@"
}

case "${1:-}" in
  --workspace)
    shift
    workspace_build "$@"
    ;;
  -* | "" | *[!A-Za-z0-9]*)
    echo "usage: build.sh <LogicalId> <function dir> <artifacts dir> | --workspace [cargo lambda flags]" >&2
    exit 2
    ;;
  *)
    [ $# = 3 ] || { echo "usage: build.sh <LogicalId> <function dir> <artifacts dir>" >&2; exit 2; }
    logical_id=$1 artifacts=$3
    dir=$(cd "$2" && pwd -P)
    if [ "$(dirname "$dir")" != "$root/functions" ] || [ ! -f "$dir/Cargo.toml" ]; then
      echo "sam build: $logical_id is built in $dir; give it Metadata WorkingDirectory: functions/<crate>" \
        "(docs/design.md, \"Building and deploying\")" >&2
      exit 1
    fi
    bin=$(package_of "$dir")
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
    workspace_build --lambda-dir "$out"
    mkdir -p "$artifacts"
    cp "$out/$bin/bootstrap" "$artifacts/bootstrap"
    chmod 755 "$artifacts/bootstrap"
    ;;
esac
