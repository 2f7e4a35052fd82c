#!/usr/bin/env bash
# Configures and builds everything (binaries land in $BUILD_DIR/bin, default build/bin).
# CI=true adds -DGATEWAY_WERROR=ON (warnings are errors). Extra arguments go to cmake.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-"$ROOT/build"}

cmake_args=(-S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [[ "${CI:-}" == "true" ]]; then
  cmake_args+=(-DGATEWAY_WERROR=ON)
fi

cmake "${cmake_args[@]}" "$@"
if [[ -n "${JOBS:-}" ]]; then
  ninja -C "$BUILD_DIR" -j "$JOBS"
else
  ninja -C "$BUILD_DIR"
fi
