#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang with ASan and UBSan) in their own build dir and runs
# each for a bounded time on a copy of its seed corpus (fuzz/corpus/<name>/, the repo is never
# written). Exits non-zero when a fuzzer finds a crash, printing the reproducer and how to replay
# it. scripts/test.sh runs it after ctest; CI therefore fuzzes briefly on every build.
#
#   scripts/fuzz.sh                     every fuzzer, FUZZ_SECONDS (default 30) each
#   scripts/fuzz.sh request_fuzzer      only the ones named
#
# FUZZ_BUILD_DIR: default $BUILD_DIR-fuzz when BUILD_DIR is set, else build-fuzz.
# Reproducers land in $FUZZ_BUILD_DIR/fuzz-artifacts/<fuzzer>/ and are kept.
# CI=true builds with warnings as errors, as scripts/build.sh does.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -n "${BUILD_DIR:-}" ]]; then
  FUZZ_BUILD_DIR=${FUZZ_BUILD_DIR:-"$BUILD_DIR-fuzz"}
else
  FUZZ_BUILD_DIR=${FUZZ_BUILD_DIR:-"$ROOT/build-fuzz"}
fi
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
if ! [[ "$FUZZ_SECONDS" =~ ^[0-9]+$ ]] || [[ "$FUZZ_SECONDS" -eq 0 ]]; then
  echo "fuzz: FUZZ_SECONDS must be a positive number of seconds, not '$FUZZ_SECONDS'" >&2
  exit 2
fi

cmake_args=(-S "$ROOT" -B "$FUZZ_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  -DGATEWAY_FUZZ=ON -DGATEWAY_TESTS=OFF)
if [[ ! -f "$FUZZ_BUILD_DIR/CMakeCache.txt" ]]; then
  # The compiler is chosen once, when the build dir is made.
  cmake_args+=(-DCMAKE_CXX_COMPILER="${FUZZ_CXX:-clang++}")
fi
if [[ "${CI:-}" == "true" ]]; then
  cmake_args+=(-DGATEWAY_WERROR=ON)
fi
cmake "${cmake_args[@]}" >/dev/null
ninja -C "$FUZZ_BUILD_DIR" ${JOBS:+-j "$JOBS"} fuzzers

if [[ $# -gt 0 ]]; then
  fuzzers=("$@")
else
  fuzzers=()
  for corpus in "$ROOT"/fuzz/corpus/*/; do
    fuzzers+=("$(basename "$corpus")_fuzzer")
  done
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/gateway-fuzz.XXXXXX")
# The fuzzers' own scratch files (the admin fuzzers' SQLite databases, synced each time a store
# closes) go to a RAM file system when there is one: on a disk the syncs take most of the time.
scratch=$work
if [[ -d /dev/shm && -w /dev/shm ]]; then
  scratch=$(mktemp -d /dev/shm/gateway-fuzz.XXXXXX)
fi
trap 'rm -rf "$work" "$scratch"' EXIT

# Any sanitizer report is fatal; libFuzzer saves the input that caused it.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:symbolize=1}

status=0
for fuzzer in "${fuzzers[@]}"; do
  binary="$FUZZ_BUILD_DIR/bin/$fuzzer"
  seeds="$ROOT/fuzz/corpus/${fuzzer%_fuzzer}"
  if [[ ! -x "$binary" || ! -d "$seeds" ]]; then
    echo "fuzz: no fuzzer $fuzzer (wanted $binary and $seeds)" >&2
    exit 2
  fi
  corpus="$work/$fuzzer"
  artifacts="$FUZZ_BUILD_DIR/fuzz-artifacts/$fuzzer"
  mkdir -p "$corpus" "$artifacts"
  cp -R "$seeds/." "$corpus/"
  log="$work/$fuzzer.log"
  echo "fuzz: $fuzzer for ${FUZZ_SECONDS}s on $(find "$seeds" -type f | wc -l) seeds"
  fuzzer_status=0
  TMPDIR="$scratch" "$binary" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 "$corpus" >"$log" 2>&1 ||
    fuzzer_status=$?
  grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
  if [[ $fuzzer_status -ne 0 ]]; then
    status=1
    echo "fuzz: $fuzzer FAILED (exit $fuzzer_status); its report:" >&2
    grep -E -A40 'ERROR: |fuzz invariant failed|runtime error' "$log" | head -80 >&2 || tail -40 "$log" >&2
    for reproducer in $(grep -oE "Test unit written to [^ ]+" "$log" | awk '{print $5}'); do
      echo "fuzz: reproducer $reproducer" >&2
      echo "fuzz:   replay with: $binary $reproducer" >&2
      echo "fuzz:   hex: $(od -An -tx1 -v "$reproducer" | tr -d ' \n' | head -c 2000)" >&2
    done
  fi
done
exit "$status"
