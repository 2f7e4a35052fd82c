"""Issue 4's traffic policies on the data path, end to end: gatewayctl sets each one, the
control plane stores and pushes it, the gateway applies it live (loopback, real binaries)."""

import base64
import hashlib
import hmac
import json
import re
import socket
import threading
import time
import unittest

import harness


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_token(secret, claims):
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())
    signing_input = (header + "." + payload).encode()
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return header + "." + payload + "." + b64url(signature)


class Always503:
    """A loopback upstream answering every request 503 (keep-alive), counting them."""

    def __init__(self):
        import socketserver
        outer = self
        self.count = 0

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    length = 0
                    while True:
                        header = self.rfile.readline()
                        if header in (b"\r\n", b"\n", b""):
                            break
                        if header.lower().startswith(b"content-length:"):
                            length = int(header.split(b":", 1)[1])
                    if length:
                        self.rfile.read(length)
                    outer.count += 1
                    self.wfile.write(b"HTTP/1.1 503 Service Unavailable\r\n"
                                     b"Content-Length: 4\r\n\r\ndown")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.address = "127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class TrafficPoliciesTest(harness.SharedClusterTestCase):
    @classmethod
    def setUpCluster(cls):
        c = cls.cluster
        cls.v1 = c.upstream("v1")
        cls.v2 = c.upstream("v2")
        cls.slow = c.upstream("slow", delay=1.0)
        c.start_control_plane()
        cls.ctl = c.ctl
        for name, up in (("v1-svc", cls.v1), ("v2-svc", cls.v2), ("slow-svc", cls.slow)):
            cls.ctl.ok("service", "add", name, "--endpoint", up.address)
        cls.gw = c.start_gateway("gw-policies", ["--workers", "2"])
        cls.gw.wait_version(cls.ctl.version())

    def apply(self, *commands):
        for command in commands:
            self.ctl.ok(*command)
        self.gw.wait_version(self.ctl.version())

    def route(self, path, *args):
        """Adds a route for this test, removed at its end."""
        self.apply(("route", "add", path) + args)
        self.addCleanup(self.ctl.ok, "route", "delete", path, *self._key_args(args))

    @staticmethod
    def _key_args(args):
        key, i = [], 0
        while i < len(args):
            if args[i] in ("--host", "--method", "--header"):
                key += [args[i], args[i + 1]]
                i += 2
            elif args[i] == "--exact":
                key.append(args[i])
                i += 1
            else:
                i += 1
        return key

    # ------------------------------------------------------------------ routing

    def test_weighted_split_within_statistical_bounds(self):
        self.route("/split", "v1-svc=80", "v2-svc=20")
        n = 1000
        client = self.gw.client()
        self.addCleanup(client.close)
        counts = {"v1": 0, "v2": 0}
        for _ in range(n):
            r = client.request("/split/x")
            self.assertEqual(r.status, 200)
            counts[r.upstream_name()] += 1
        # Binomial(1000, 0.2): sd ~12.6; 5 sd either side.
        self.assertGreater(counts["v2"], 200 - 63, counts)
        self.assertLess(counts["v2"], 200 + 63, counts)
        # Weights change live; draining a target means leaving it out (weight 0 is refused).
        self.apply(("route", "update", "/split", "v2-svc"))
        for _ in range(50):
            self.assertEqual(client.request("/split/x").upstream_name(), "v2")

    def test_host_method_and_header_matches_most_specific_wins(self):
        self.route("/m", "v1-svc")
        self.route("/m", "v2-svc", "--host", "*.example.com")
        self.route("/m", "slow-svc", "--host", "api.example.com", "--method", "DELETE")
        self.assertEqual(self.gw.get("/m", headers={"Host": "other.org"}).upstream_name(), "v1")
        self.assertEqual(self.gw.get("/m", headers={"Host": "a.example.com"}).upstream_name(),
                         "v2")
        self.assertEqual(self.gw.get("/m", headers={"Host": "api.example.com"}).upstream_name(),
                         "v2")
        self.route("/h", "v1-svc")
        self.route("/h", "v2-svc", "--header", "X-Canary=1")
        self.assertEqual(self.gw.get("/h", headers={"X-Canary": "1"}).upstream_name(), "v2")
        self.assertEqual(self.gw.get("/h", headers={"X-Canary": "0"}).upstream_name(), "v1")

    def test_strip_and_rewrite_prefix(self):
        self.route("/strip", "v1-svc", "--strip-prefix")
        self.assertEqual(self.gw.get("/strip/a/b?q=1").json()["path"], "/a/b?q=1")
        self.assertEqual(self.gw.get("/strip").json()["path"], "/")
        self.route("/old", "v1-svc", "--rewrite-prefix", "/new")
        self.assertEqual(self.gw.get("/old/x").json()["path"], "/new/x")

    def test_request_and_response_headers(self):
        self.route("/hdr", "v1-svc", "--set-request-header", "X-Env=prod",
                   "--remove-request-header", "X-Debug", "--set-response-header",
                   "X-Served-By=gateway", "--remove-response-header", "X-Upstream")
        r = self.gw.get("/hdr", headers={"X-Debug": "1", "X-Env": "dev"})
        self.assertEqual(r.status, 200)
        seen = r.json()["headers"]
        self.assertEqual(seen.get("x-env"), "prod")
        self.assertNotIn("x-debug", seen)
        self.assertEqual(r.header("X-Served-By"), "gateway")
        self.assertIsNone(r.header("X-Upstream"))

    def test_route_timeout_is_504(self):
        self.route("/slow", "slow-svc", "--timeout", "200ms")
        started = time.monotonic()
        r = self.gw.get("/slow")
        self.assertEqual(r.status, 504)
        self.assertLess(time.monotonic() - started, 0.9)

    def test_route_timeout_bounds_the_connect(self):
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        for _ in range(3):  # a full accept queue: later SYNs are dropped, connects hang
            filler = socket.socket()
            self.addCleanup(filler.close)
            filler.setblocking(False)
            try:
                filler.connect(listener.getsockname())
            except BlockingIOError:
                pass
        address = "127.0.0.1:%d" % listener.getsockname()[1]
        self.service("blackhole-svc", "--endpoint", address, "--connect-timeout", "10s")
        self.route("/blackhole", "blackhole-svc", "--timeout", "300ms")
        started = time.monotonic()
        self.assertEqual(self.gw.get("/blackhole").status, 504)
        self.assertLess(time.monotonic() - started, 3)

    # ------------------------------------------------------------------ resilience

    def service(self, name, *args):
        self.apply(("service", "add", name) + args)
        self.addCleanup(self.ctl.ok, "service", "delete", name)

    def test_ring_hash_keeps_a_key_on_one_endpoint(self):
        a, b, c = (self.cluster.upstream(n) for n in ("ra", "rb", "rc"))
        self.service("ring-svc", "--endpoint", ",".join(u.address for u in (a, b, c)),
                     "--lb", "ring_hash", "--hash-header", "X-User")
        self.route("/ring", "ring-svc")
        client = self.gw.client()
        self.addCleanup(client.close)
        seen = {}
        for user in ("u%d" % i for i in range(30)):
            names = {client.request("/ring", headers={"X-User": user}).upstream_name()
                     for _ in range(5)}
            self.assertEqual(len(names), 1, "%s went to %s" % (user, names))
            seen[user] = names.pop()
        self.assertGreater(len(set(seen.values())), 1, "30 keys all on one endpoint")

    def test_health_checks_take_a_dead_endpoint_out_and_back(self):
        good = self.cluster.upstream("hgood")
        flaky = self.cluster.upstream("hflaky")
        port = flaky.port
        self.service("health-svc", "--endpoint", good.address + "," + flaky.address,
                     "--health-path", "/healthz", "--health-interval", "100ms",
                     "--unhealthy-threshold", "1", "--healthy-threshold", "1")
        self.route("/health", "health-svc")
        def healthy(endpoint):
            metrics = self.gw.admin_get("/metrics").body.decode()
            line = re.search(r'^gateway_upstream_endpoint_healthy\{service="health-svc",'
                             r'endpoint="%s"\} (\d)$' % re.escape(endpoint), metrics, re.MULTILINE)
            return line and line.group(1) == "1"

        self.assertTrue(healthy(flaky.address))
        flaky.close()  # refused from now on
        # The checker marks it down (a refused connect alone would only be failed over).
        harness.wait_until(lambda: not healthy(flaky.address), timeout=10,
                           message="the health checker did not mark the dead endpoint down")
        self.assertTrue(healthy(good.address))
        for _ in range(20):
            self.assertEqual(self.gw.get("/health").upstream_name(), "hgood")
        back = harness.FakeUpstream("hflaky", port=port)
        self.addCleanup(back.close)
        harness.wait_until(lambda: healthy(flaky.address), timeout=10,
                           message="the health checker did not mark the endpoint up again")
        harness.wait_until(lambda: any(self.gw.get("/health").upstream_name() == "hflaky"
                                       for _ in range(6)), timeout=10,
                           message="the recovered endpoint gets no traffic")

    def test_retries_hide_a_failing_endpoint(self):
        failing = Always503()
        self.addCleanup(failing.close)
        good = self.cluster.upstream("rgood")
        self.service("retry-svc", "--endpoint", failing.address + "," + good.address)
        self.route("/retry", "retry-svc", "--retries", "2")
        client = self.gw.client()
        self.addCleanup(client.close)
        for _ in range(30):
            r = client.request("/retry")
            self.assertEqual((r.status, r.upstream_name()), (200, "rgood"))
        self.assertGreater(failing.count, 0, "the failing endpoint was tried")
        metrics = self.gw.admin_get("/metrics").body.decode()
        retried = re.search(r"^gateway_upstream_retries_total (\d+)$", metrics, re.MULTILINE)
        self.assertGreater(int(retried.group(1)), 0, metrics)
        # A PUT's small body is read whole first and sent again with the retry, intact.
        tried = failing.count
        for i in range(10):
            body = b"put-%d-" % i + b"x" * 3000
            r = client.request("/retry/item%d" % i, method="PUT", body=body)
            self.assertEqual((r.status, r.upstream_name()), (200, "rgood"))
            received = [q for q in good.requests if q["path"] == "/retry/item%d" % i]
            self.assertEqual([q["body"] for q in received], [body.decode()])
        self.assertGreater(failing.count, tried, "the PUTs went to the failing endpoint too")
        # A POST is never retried: some reach the failing endpoint and get its 503.
        statuses = {client.request("/retry", method="POST", body=b"x").status for _ in range(30)}
        self.assertIn(503, statuses)

    def test_a_retry_that_reaches_no_endpoint_keeps_the_upstreams_status(self):
        failing = Always503()
        self.addCleanup(failing.close)
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        refused = "127.0.0.1:%d" % closed.getsockname()[1]
        closed.close()  # nothing listens there: connects are refused
        self.service("refused-svc", "--endpoint", failing.address + "," + refused)
        self.route("/refused", "refused-svc", "--retries", "2")
        for _ in range(6):
            self.assertEqual(self.gw.get("/refused").status, 503)
        self.assertGreater(failing.count, 0)

    def test_per_try_timeout_retries_past_a_hanging_endpoint(self):
        hanging = self.cluster.upstream("hang", delay=30.0)  # accepts, answers far too late
        good = self.cluster.upstream("tgood")
        self.service("hang-svc", "--endpoint", hanging.address + "," + good.address)
        self.route("/hang", "hang-svc", "--retries", "1", "--per-try-timeout", "200ms",
                   "--timeout", "5s")
        for _ in range(6):
            started = time.monotonic()
            r = self.gw.get("/hang")
            self.assertEqual((r.status, r.upstream_name()), (200, "tgood"))
            self.assertLess(time.monotonic() - started, 2.5)
        self.assertGreater(len(hanging.requests), 0, "the hanging endpoint was tried")
        # Without retries the per-try timeout is the answer's deadline: 504, not 30 s.
        self.apply(("route", "update", "/hang", "--reset", "retries"))
        statuses = {self.gw.get("/hang").status for _ in range(6)}
        self.assertEqual(statuses, {200, 504})

    def test_max_connections_is_503_with_the_reason(self):
        slow = self.cluster.upstream("cslow", delay=1.0)
        self.service("circuit-svc", "--endpoint", slow.address, "--max-connections", "1")
        self.route("/circuit", "circuit-svc")
        first = {}
        thread = threading.Thread(target=lambda: first.update(r=self.gw.get("/circuit")))
        thread.start()
        harness.wait_until(lambda: len(slow.requests) == 1, timeout=5)
        r = self.gw.get("/circuit")
        self.assertEqual(r.status, 503)
        self.assertEqual(r.header("X-Circuit-Breaker"), "max_connections")
        thread.join(5)
        self.assertEqual(first["r"].status, 200)

    def test_max_connections_counts_connections_pooled_by_another_service(self):
        shared = self.cluster.upstream("shared", delay=1.0)
        self.service("open-svc", "--endpoint", shared.address)
        self.service("capped-svc", "--endpoint", shared.address, "--max-connections", "2")
        self.route("/open", "open-svc")
        self.route("/capped", "capped-svc")

        def parallel(path, n):
            statuses = []
            threads = [threading.Thread(target=lambda: statuses.append(self.gw.get(path).status))
                       for _ in range(n)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(10)
            return sorted(statuses)

        self.assertEqual(parallel("/open", 8), [200] * 8)  # 8 connections left idle in the pools
        statuses = parallel("/capped", 8)
        self.assertIn(statuses.count(200), (1, 2), statuses)
        self.assertEqual(statuses.count(200) + statuses.count(503), 8, statuses)

    def test_max_pending_queues_requests_at_max_connections(self):
        slow = self.cluster.upstream("queued", delay=1.0)
        self.service("queue-svc", "--endpoint", slow.address, "--max-connections", "2",
                     "--max-pending", "3")
        self.route("/queue", "queue-svc")
        answers = []

        def get():
            r = self.gw.get("/queue")
            answers.append((r.status, r.header("X-Circuit-Breaker")))

        threads = [threading.Thread(target=get) for _ in range(8)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(15)
        # Two served at once, three queued until a connection is free, three refused at once.
        self.assertEqual(sorted(answers, key=str),
                         sorted([(200, None)] * 5 + [(503, "max_pending")] * 3, key=str))
        self.assertGreater(time.monotonic() - started, 1.9)  # the queued ones waited their turn
        self.assertEqual(len(slow.requests), 5)

    def test_idle_pooled_connections_hold_no_place_under_max_connections(self):
        up = self.cluster.upstream("one")
        self.service("one-svc", "--endpoint", up.address, "--max-connections", "1")
        self.route("/one", "one-svc")
        # One at a time, each from a new client connection on either worker: the connection
        # left idle in one worker's pool must not keep the other worker from connecting.
        for _ in range(10):
            self.assertEqual(self.gw.get("/one").status, 200)

    # ------------------------------------------------------------------ protection

    def test_api_key_auth(self):
        key = "k-" + "a" * 30
        self.apply(("consumer", "add", "alice", "--api-key", key))
        self.addCleanup(self.ctl.ok, "consumer", "delete", "alice")
        self.route("/keyed", "v1-svc", "--auth", "api-key")
        before = len(self.v1.requests)
        r = self.gw.get("/keyed")
        self.assertEqual(r.status, 401)
        self.assertIn("X-API-Key", r.header("WWW-Authenticate") or "")
        self.assertEqual(self.gw.get("/keyed", headers={"X-API-Key": "b" * 32}).status, 401)
        self.assertEqual(len(self.v1.requests), before, "the upstream is never contacted")
        r = self.gw.get("/keyed", headers={"X-API-Key": key, "X-Consumer": "mallory"})
        self.assertEqual(r.status, 200)
        seen = r.json()["headers"]
        self.assertEqual(seen.get("x-consumer"), "alice")
        self.assertNotIn("x-api-key", seen)
        # Two keys, one of them good: ambiguous, refused whatever their order.
        host, port = self.gw.address.rsplit(":", 1)
        for keys in ((key, "b" * 32), ("b" * 32, key)):
            with socket.create_connection((host, int(port)), timeout=10) as conn:
                conn.sendall(b"GET /keyed HTTP/1.1\r\nHost: gw\r\nX-API-Key: %s\r\n"
                             b"X-API-Key: %s\r\nConnection: close\r\n\r\n"
                             % (keys[0].encode(), keys[1].encode()))
                self.assertTrue(conn.makefile("rb").readline().startswith(b"HTTP/1.1 401"))

    def test_jwt_auth(self):
        secret = "s" * 40
        self.apply(("consumer", "add", "bob", "--jwt-issuer", "issuer-b", "--jwt-secret", secret))
        self.addCleanup(self.ctl.run, "consumer", "delete", "bob")  # gone already if it passed
        self.route("/jwt", "v1-svc", "--auth", "jwt")
        now = int(time.time())
        good = hs256_token(secret, {"iss": "issuer-b", "exp": now + 300})
        r = self.gw.get("/jwt", headers={"Authorization": "Bearer " + good})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["headers"].get("x-consumer"), "bob")
        for token in (hs256_token(secret, {"iss": "issuer-b", "exp": now - 300}),
                      hs256_token("t" * 40, {"iss": "issuer-b", "exp": now + 300}),
                      hs256_token(secret, {"iss": "other", "exp": now + 300})):
            r = self.gw.get("/jwt", headers={"Authorization": "Bearer " + token})
            self.assertEqual(r.status, 401)
            self.assertIn("Bearer", r.header("WWW-Authenticate") or "")
        self.assertEqual(self.gw.get("/jwt").status, 401)
        # A token verified before (each worker remembers it) is refused once its consumer goes.
        client = self.gw.client()
        self.addCleanup(client.close)
        for _ in range(4):
            self.assertEqual(client.request("/jwt", headers={"Authorization": "Bearer " + good})
                             .status, 200)
        self.apply(("consumer", "delete", "bob"))
        self.assertEqual(client.request("/jwt", headers={"Authorization": "Bearer " + good})
                         .status, 401)

    def test_rate_limit_is_429_with_headers(self):
        self.route("/limited", "v1-svc", "--rate-limit", "5/m", "--burst", "5",
                   "--rate-limit-by", "header:X-User")
        client = self.gw.client()
        self.addCleanup(client.close)
        answers = [client.request("/limited", headers={"X-User": "u1"}) for _ in range(7)]
        self.assertEqual([r.status for r in answers], [200] * 5 + [429] * 2)
        # Allowed responses say what is left of the quota.
        self.assertEqual([r.header("RateLimit-Remaining") for r in answers[:5]],
                         ["4", "3", "2", "1", "0"])
        self.assertEqual(answers[0].header("RateLimit-Limit"), "5")
        r = client.request("/limited", headers={"X-User": "u1"})
        self.assertEqual(r.status, 429)
        self.assertGreaterEqual(int(r.header("Retry-After")), 1)
        self.assertEqual(r.header("RateLimit-Limit"), "5")
        self.assertEqual(r.header("RateLimit-Remaining"), "0")
        # Another key has its own bucket.
        self.assertEqual(client.request("/limited", headers={"X-User": "u2"}).status, 200)

    def test_cors_preflight_and_actual_responses(self):
        self.route("/cors", "v1-svc", "--cors-origin", "https://app.example.com",
                   "--cors-methods", "GET,PUT", "--cors-headers", "X-Token", "--cors-max-age",
                   "10m")
        before = len(self.v1.requests)
        r = self.gw.get("/cors", method="OPTIONS", headers={
            "Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "x-token"})
        self.assertEqual(r.status, 204)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "https://app.example.com")
        self.assertIn("PUT", r.header("Access-Control-Allow-Methods"))
        self.assertEqual(r.header("Access-Control-Max-Age"), "600")
        self.assertEqual(len(self.v1.requests), before, "a preflight is answered by the gateway")
        r = self.gw.get("/cors", headers={"Origin": "https://app.example.com"})
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "https://app.example.com")
        r = self.gw.get("/cors", headers={"Origin": "https://evil.example.org"})
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("Access-Control-Allow-Origin"))

    def test_cors_headers_on_the_gateways_own_answers(self):
        self.route("/cors-auth", "v1-svc", "--auth", "api-key", "--cors-origin",
                   "https://app.example.com")
        r = self.gw.get("/cors-auth", headers={"Origin": "https://app.example.com"})
        self.assertEqual(r.status, 401)  # readable by the page: it carries the CORS headers
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "https://app.example.com")
        r = self.gw.get("/cors-auth", headers={"Origin": "https://evil.example.org"})
        self.assertEqual(r.status, 401)
        self.assertIsNone(r.header("Access-Control-Allow-Origin"))


if __name__ == "__main__":
    unittest.main()
