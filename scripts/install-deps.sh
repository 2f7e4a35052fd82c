#!/usr/bin/env bash
# Installs the Debian packages needed to build and test the gateway, only those missing.
# Runs `apt-get update` only when something is missing. Non-interactive; needs root (or sudo).
#
#   scripts/install-deps.sh           build and test dependencies
#   scripts/install-deps.sh --bench   only what bench/proxy runs against: nginx, haproxy, wrk, h2load, openssl
set -euo pipefail

PACKAGES=(
  # GCC brings its sanitizer runtimes (libasan, libubsan, libtsan) for scripts/sanitize.sh.
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libboost-dev libboost-system-dev libsqlite3-dev libcli11-dev
  libyaml-cpp-dev  # gatewayctl apply/diff/export: YAML documents
  libssl-dev  # common/jwt, common/api_key: OpenSSL libcrypto
  libgtest-dev libgmock-dev python3
  clang libclang-rt-dev  # scripts/fuzz.sh: libFuzzer and the sanitizer runtimes (compiler-rt)
  clang-format           # scripts/check-format.sh
  # The cluster work (issue 10): the PostgreSQL store (libpq; tests start their own server from
  # postgresql-15's binaries, as an unprivileged user) and cluster-wide rate limits (hiredis;
  # tests start their own redis-server). Their system services are not used.
  postgresql-15 libpq-dev redis-server libhiredis-dev
  # HTTP/2 to clients (gateway/http2): nghttp2; its tests drive it with curl, h2load and
  # python3-h2.
  libnghttp2-dev nghttp2-client python3-h2 curl
  # gRPC behind the gateway (tests/integration/test_grpc.py): a Python gRPC server and client.
  python3-grpcio
  # The dashboard test (tests/integration/test_dashboard.py) drives headless Chromium over
  # WebDriver.
  chromium chromium-driver
)

case "${1:-}" in
  "") ;;
  --bench) PACKAGES=(nginx haproxy wrk nghttp2-client openssl curl) ;;
  *)
    echo "usage: $0 [--bench]" >&2
    exit 2
    ;;
esac

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "install-deps: missing ${missing[*]}; run as root or install sudo" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"
