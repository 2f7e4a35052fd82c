#!/usr/bin/env bash
# Installs what is missing, checks the formatting (scripts/check-format.sh), builds, runs every
# fuzzer briefly (scripts/fuzz.sh, FUZZ_SECONDS each, default 30; 0 skips), the unit tests under
# sanitizers (scripts/sanitize.sh for each job in SANITIZERS, default "asan tsan"; empty skips),
# then every test (unit and integration) with ctest.
# Exits non-zero when any of them fails; a failed check, fuzzer, sanitizer job or test does not
# stop the steps after it, and the ones that failed are named after ctest's summary. Extra
# arguments go to the last ctest (e.g. -L unit, -R routing).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-"$ROOT/build"}
export BUILD_DIR

"$ROOT/scripts/install-deps.sh"

failed=()
"$ROOT/scripts/check-format.sh" || failed+=(format)
"$ROOT/scripts/build.sh"

# The fuzzers and sanitizer jobs run first so that ctest's summary is (nearly) the last thing
# printed.
if [[ "${FUZZ_SECONDS:-30}" != "0" ]]; then
  "$ROOT/scripts/fuzz.sh" || failed+=(fuzz)
fi
for job in ${SANITIZERS-asan tsan}; do
  "$ROOT/scripts/sanitize.sh" "$job" || failed+=("$job")
done
cd "$BUILD_DIR"
ctest --output-on-failure "$@" || failed+=(ctest)
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "test.sh: failed: ${failed[*]}" >&2
  exit 1
fi
