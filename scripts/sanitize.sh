#!/usr/bin/env bash
# Builds the unit tests with sanitizers, in a build dir of their own, and runs them with ctest:
#
#   scripts/sanitize.sh asan   every unit test (label `unit`) under AddressSanitizer, with
#                              LeakSanitizer, and UndefinedBehaviorSanitizer
#   scripts/sanitize.sh tsan   the unit tests of the code that runs on several threads (label
#                              `concurrent`: store worker, snapshot publisher, rate limiters,
#                              endpoint state, config swaps) under ThreadSanitizer. Not the tests
#                              whose threads meet inside gRPC (the stream reactors): Debian's
#                              libgrpc is not instrumented, so every hand-over in it looks like a
#                              race (see tests/unit/controlplane/CMakeLists.txt)
#
# Only the test binaries are built (targets unit_tests, concurrent_unit_tests). Any sanitizer
# report fails the test that made it, and ctest prints it. Extra arguments go to ctest (e.g.
# -R rate_limiter). The build dir is $BUILD_DIR-asan (-tsan) when BUILD_DIR is set, else
# build-asan (build-tsan). Warnings are not errors here: GCC warns falsely about instrumented code
# (-Wmaybe-uninitialized), and scripts/build.sh holds every warning against the plain build.
# scripts/test.sh runs both jobs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

job=${1:-}
case "$job" in
  asan)
    sanitizers=address,undefined
    target=unit_tests
    label=unit
    ;;
  tsan)
    sanitizers=thread
    target=concurrent_unit_tests
    label=concurrent
    ;;
  *)
    echo "usage: $0 asan|tsan [ctest arguments]" >&2
    exit 2
    ;;
esac
shift

if [[ -n "${BUILD_DIR:-}" ]]; then
  build_dir="$BUILD_DIR-$job"
else
  build_dir="$ROOT/build-$job"
fi

# -O1 -g1: about half the compile time of -O2 -g; the stacks still give file and line.
cmake -S "$ROOT" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DGATEWAY_SANITIZE="$sanitizers" >/dev/null
ninja -C "$build_dir" ${JOBS:+-j "$JOBS"} "$target"

# The first report ends the process with a stack; a leak at exit is a report too.
asan_options=halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_init_order=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-$asan_options}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

cd "$build_dir"
ctest --output-on-failure -L "$label" "$@"
