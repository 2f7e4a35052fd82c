#!/usr/bin/env bash
# Installs what is missing, builds, runs every fuzzer briefly (scripts/fuzz.sh, FUZZ_SECONDS
# each, default 30; 0 skips), then every test (unit and integration) with ctest.
# Exits non-zero when a test fails or a fuzzer finds a crash. Extra arguments go to ctest (e.g.
# -L unit, -R routing).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-"$ROOT/build"}
export BUILD_DIR

"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/build.sh"

# The fuzzers run first so that ctest's summary is the last thing printed.
status=0
if [[ "${FUZZ_SECONDS:-30}" != "0" ]]; then
  "$ROOT/scripts/fuzz.sh" || status=$?
fi
cd "$BUILD_DIR"
ctest --output-on-failure "$@" || status=$?
exit "$status"
