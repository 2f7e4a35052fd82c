#!/usr/bin/env bash
# The issue-2 story, live, on loopback: installs what is missing, builds, starts a control plane
# on a SQLite file in a temp dir, one gateway and three small demo services (order, payment,
# auth), then runs each gatewayctl command over TLS with a token (certificates made with openssl,
# the gateway authenticated by its client certificate) and shows requests through the gateway, including
# /api/payment moving from order to payment under load without a failed request.
# Stops everything it started and exits 0 (non-zero if a step fails). Bounded: every wait has
# a deadline.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-"$ROOT/build"}
export BUILD_DIR
BIN="$BUILD_DIR/bin"
HARNESS="$ROOT/tests/integration/harness.py"

if [[ "${DEMO_SKIP_BUILD:-}" != "1" ]]; then
  "$ROOT/scripts/install-deps.sh"
  "$ROOT/scripts/build.sh"
fi

WORK=$(mktemp -d /tmp/gateway-demo.XXXXXX)
PIDS=()
cleanup() {
  local status=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $status -ne 0 ]]; then
    echo "demo failed (exit $status); logs:" >&2
    tail -n 20 "$WORK"/*.log >&2 || true
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for_line FILE REGEX: prints the first match's last word (an address), 15 s deadline.
wait_for_line() {
  local file=$1 regex=$2 line
  for _ in $(seq 150); do
    line=$(grep -m1 -E "$regex" "$file" 2>/dev/null || true)
    if [[ -n "$line" ]]; then
      echo "${line##* }"
      return 0
    fi
    sleep 0.1
  done
  echo "no line matching '$regex' in $file after 15 s" >&2
  return 1
}

start_service() {  # start_service NAME: a demo HTTP service that answers with its name
  python3 "$HARNESS" upstream "$1" >"$WORK/$1.log" 2>&1 &
  PIDS+=($!)
}

if [[ -t 1 ]]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD='' PLAIN=''; fi
say() { printf '\n%s# %s%s\n' "$BOLD" "$*" "$PLAIN"; }
ctl() {
  echo "\$ gatewayctl $*"
  "$BIN/gatewayctl" "$@" 2>&1
}
# request PATH: one request through the gateway; prints status and which service answered.
request() {
  echo "\$ GET http://$GATEWAY$1"
  python3 - "$GATEWAY" "$1" <<'PY'
import http.client, json, sys
host, port = sys.argv[1].rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(port), timeout=5)
conn.request("GET", sys.argv[2])
r = conn.getresponse()
body = r.read()
upstream = r.getheader("X-Upstream")
if upstream:
    seen = json.loads(body)["headers"]
    print("  HTTP %d from %s (X-Request-Id %s, X-Forwarded-For %s)" % (
        r.status, upstream, seen.get("x-request-id"), seen.get("x-forwarded-for")))
else:
    print("  HTTP %d from the gateway: %s" % (r.status, body.decode().strip()))
PY
}

say "demo services (stand-ins for the real ones)"
start_service order
start_service payment
start_service auth
ORDER=$(wait_for_line "$WORK/order.log" "^upstream order listening on ")
PAYMENT=$(wait_for_line "$WORK/payment.log" "^upstream payment listening on ")
AUTH=$(wait_for_line "$WORK/auth.log" "^upstream auth listening on ")
echo "order on $ORDER, payment on $PAYMENT, auth on $AUTH"

say "certificates and tokens (README: Securing the control channel)"
PKI="$WORK/pki"
mkdir -p "$PKI"
# issue NAME SUBJECT_CN SANS: a certificate signed by the demo CA.
issue() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
    -keyout "$PKI/$1.key" -out "$PKI/$1.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 1 -out "$PKI/$1.crt" \
    -extfile <(printf 'basicConstraints=critical,CA:FALSE\nsubjectAltName=%s\n' "$3") 2>/dev/null
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj "/CN=demo-ca" -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null
issue controlplane controlplane "DNS:localhost,IP:127.0.0.1"
issue demo-gw-1 demo-gw-1 "DNS:demo-gw-1"
ADMIN_TOKEN=$(openssl rand -hex 32)
VIEWER_TOKEN=$(openssl rand -hex 32)
printf '# TOKEN,NAME,ROLE\n%s,demo-admin,admin\n%s,demo-viewer,viewer\n' \
  "$ADMIN_TOKEN" "$VIEWER_TOKEN" >"$WORK/tokens.csv"
ls "$PKI"/*.crt

say "control plane on a SQLite file (TLS, client certificates, tokens), and one gateway"
"$BIN/controlplane" --listen 127.0.0.1:0 --db "$WORK/gateway.db" --admin 127.0.0.1:0 \
  --tls-cert "$PKI/controlplane.crt" --tls-key "$PKI/controlplane.key" \
  --client-ca "$PKI/ca.crt" --auth-token-file "$WORK/tokens.csv" \
  2>"$WORK/controlplane.log" &
PIDS+=($!)
CONTROL_PLANE=$(wait_for_line "$WORK/controlplane.log" "grpc listening on ")
"$BIN/gateway" --listen 127.0.0.1:0 --control-plane "$CONTROL_PLANE" --node-id demo-gw-1 \
  --control-plane-ca "$PKI/ca.crt" --tls-cert "$PKI/demo-gw-1.crt" --tls-key "$PKI/demo-gw-1.key" \
  --cache "$WORK/gateway.cache" --admin 127.0.0.1:0 2>"$WORK/gateway.log" &
PIDS+=($!)
GATEWAY=$(wait_for_line "$WORK/gateway.log" "http listening on ")
GATEWAY_ADMIN=$(wait_for_line "$WORK/gateway.log" "admin listening on ")
echo "control plane (gRPC) on $CONTROL_PLANE; gateway on $GATEWAY (admin $GATEWAY_ADMIN)"
export GATEWAYCTL_SERVER=$CONTROL_PLANE GATEWAYCTL_TLS_CA="$PKI/ca.crt"
export GATEWAYCTL_TOKEN=$ADMIN_TOKEN

say "register the services and the routes"
ctl service add order-svc --endpoint "$ORDER"
ctl service add payment-svc --endpoint "$PAYMENT"
ctl service add auth-svc --endpoint "$AUTH"
ctl route add /api order-svc
ctl route add /api/auth auth-svc

# wait_served PATH NAME: until the gateway answers PATH from service NAME (10 s deadline).
wait_served() {
  python3 - "$GATEWAY" "$1" "$2" <<'PY'
import http.client, sys, time
host, port = sys.argv[1].rsplit(":", 1)
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        conn = http.client.HTTPConnection(host, int(port), timeout=2)
        conn.request("GET", sys.argv[2])
        r = conn.getresponse()
        r.read()
        if r.getheader("X-Upstream") == sys.argv[3]:
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.02)
sys.exit("gateway never served %s from %s" % (sys.argv[2], sys.argv[3]))
PY
}
wait_served /api/auth/login auth

say "requests through the gateway: order answers everything under /api except /api/auth"
request /api/orders/7
request /api/payment/42
request /api/auth/login
request /nothing-here

say "the split, live, while a client sends requests to /api/payment on one keep-alive connection"
python3 - "$GATEWAY" >"$WORK/load.out" 2>&1 <<'PY' &
import http.client, sys, time
host, port = sys.argv[1].rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(port), timeout=5)
counts, failures, seen_payment_at = {}, 0, None
deadline = time.monotonic() + 8
while time.monotonic() < deadline:
    try:
        conn.request("GET", "/api/payment/42")
        r = conn.getresponse()
        r.read()
        name = r.getheader("X-Upstream") if r.status == 200 else None
    except OSError:
        name = None
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
    if name is None:
        failures += 1
    else:
        counts[name] = counts.get(name, 0) + 1
        if name == "payment" and seen_payment_at is None:
            seen_payment_at = time.monotonic()
    if seen_payment_at and time.monotonic() - seen_payment_at > 1.0:
        break
print("  %d requests during the split: %s; failed: %d" % (
    sum(counts.values()) + failures,
    ", ".join("%d answered by %s" % (n, k) for k, n in sorted(counts.items())), failures))
sys.exit(1 if failures or "payment" not in counts else 0)
PY
LOAD=$!
sleep 1
ctl route add /api/payment payment-svc
load_status=0
wait "$LOAD" || load_status=$?
cat "$WORK/load.out"
if [[ $load_status -ne 0 ]]; then
  echo "requests failed during the split" >&2
  exit 1
fi

request /api/payment/42
request /api/payments
request /api/orders/7

say "which gateway runs which version"
ctl gateways
ctl status
ctl route list
ctl -o json route get /api/payment

say "without a token, or with a viewer's, nothing changes"
echo "(no token)"
GATEWAYCTL_TOKEN= ctl route list || echo "(exit $?)"
echo "(the viewer's token)"
GATEWAYCTL_TOKEN=$VIEWER_TOKEN ctl route list
GATEWAYCTL_TOKEN=$VIEWER_TOKEN ctl route delete /api || echo "(exit $?)"
echo "(no --tls-ca)"
GATEWAYCTL_TLS_CA= ctl status || echo "(exit $?)"
echo "\$ grep 'by demo-admin' controlplane.log"
grep -o 'config version .* by demo-admin: .*' "$WORK/controlplane.log" | tail -n 3

say "a bad command is refused and changes nothing"
ctl route add api/x order-svc || echo "(exit $?)"
ctl service delete payment-svc || echo "(exit $?)"
ctl route list

say "done: stopping everything"
