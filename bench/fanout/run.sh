#!/usr/bin/env bash
# bench/fanout/run.sh [--build DIR] [fanout flags...]: runs <build>/bin/fanout (default build dir:
# build/ at the repository root). Build it first: scripts/build.sh, or `ninja -C DIR fanout`.
# With no flag but --build it runs the standard rows and exits 1 when a target is missed (see
# bench/README.md).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build="$ROOT/build"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --build) build="${args[i + 1]:-}" ;;
    --build=*) build="${args[i]#--build=}" ;;
  esac
done

binary="$build/bin/fanout"
if [[ ! -x "$binary" ]]; then
  echo "bench/fanout/run.sh: $binary not found; build it: ninja -C $build fanout" >&2
  exit 2
fi
has_build=false
for arg in "$@"; do
  [[ "$arg" == --build || "$arg" == --build=* ]] && has_build=true
done
if [[ "$has_build" == true ]]; then
  exec "$binary" "$@"
fi
exec "$binary" --build "$build" "$@"
