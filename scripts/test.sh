#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit and integration) with ctest.
# Exits with ctest's status. Extra arguments go to ctest (e.g. -L unit, -R routing).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-"$ROOT/build"}
export BUILD_DIR

"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/build.sh"

cd "$BUILD_DIR"
status=0
ctest --output-on-failure "$@" || status=$?
exit "$status"
