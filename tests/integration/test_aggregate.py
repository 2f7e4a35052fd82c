"""Issue 14's aggregate routes end to end: `gatewayctl route add PATH --aggregate KEY=TARGET[:PATH]`
fans one client call out to several services in parallel and answers one JSON object, over
HTTP/1.1 and HTTP/2 (curl with prior knowledge). Parts merged in order with the path and query
carried to each; a slow part (504, or null under --aggregate-partial); a 500 part (502 naming it,
or partial); a part that is not JSON; authentication before the fan-out (401, no part contacted);
the same X-Request-Id on every part; a 4xx part kept and noted; 405 for POST; the route shown by
`-o json`, exported and applied back."""

import json
import subprocess
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness


class PartsUpstream:
    """One loopback HTTP/1.1 server behind every part; what it answers depends on the path's first
    segment: /users, /carts and /recs answer JSON naming the path, /fail 500, /text a text body,
    /missing 404 with JSON, /forbidden 403 with HTML, /slow JSON after 2 s. Every request is
    recorded (method, path, lower-case headers)."""

    def __init__(self):
        self.requests = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, fmt, *args):
                pass

            def do_GET(self):
                headers = {k.lower(): v for k, v in self.headers.items()}
                with outer._lock:
                    outer.requests.append({"method": self.command, "path": self.path,
                                           "headers": headers})
                kind = self.path.split("/")[1].split("?")[0]
                status, content_type = 200, "application/json"
                body = json.dumps({"kind": kind, "path": self.path})
                if kind == "fail":
                    status = 500
                elif kind == "text":
                    content_type, body = "text/plain", "hello, not json"
                elif kind == "missing":
                    status, body = 404, json.dumps({"error": "no such cart"})
                elif kind == "forbidden":
                    status, content_type, body = 403, "text/html", "<h1>forbidden</h1>"
                elif kind == "slow":
                    time.sleep(2.0)
                payload = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_POST = do_HEAD = do_GET

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request, client_address):
                pass

        self._server = Server(("127.0.0.1", 0), Handler)
        self.address = "127.0.0.1:%d" % self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def count(self):
        with self._lock:
            return len(self.requests)

    def since(self, start):
        with self._lock:
            return self.requests[start:]

    def close(self):
        self._server.shutdown()
        self._server.server_close()


def curl_h2(address, path, *args):
    """One request over HTTP/2 with prior knowledge: (status, {lower-case header: value}, body)."""
    done = subprocess.run(["curl", "--http2-prior-knowledge", "-sS", "--max-time", "20",
                           "-D", "-"] + list(args) + ["http://%s%s" % (address, path)],
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0].startswith("HTTP/2 "), lines[0]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


class AggregateTest(harness.SharedClusterTestCase):
    @classmethod
    def setUpCluster(cls):
        c = cls.cluster
        cls.parts = PartsUpstream()
        c.start_control_plane()
        cls.ctl = c.ctl
        for name in ("users-svc", "cart-svc", "recs-svc"):
            cls.ctl.ok("service", "add", name, "--endpoint", cls.parts.address)
        cls.ctl.ok("consumer", "add", "mobile-app", "--api-key", "mobile-app-key-0123456789")
        cls.gw = c.start_gateway("gw-aggregate", ["--workers", "2"])
        cls.gw.wait_version(cls.ctl.version())

    @classmethod
    def tearDownClass(cls):
        cls.parts.close()
        super().tearDownClass()

    def route(self, path, *args):
        """Adds an aggregate route for this test, removed at its end."""
        self.ctl.ok("route", "add", path, *args)
        self.gw.wait_version(self.ctl.version())
        self.addCleanup(self.ctl.ok, "route", "delete", path)

    def both(self, path, headers=None):
        """The answer over HTTP/1.1 and over HTTP/2: [(status, header(name), body bytes)]."""
        headers = dict(headers or {})
        r = self.gw.get(path, headers=headers)
        args = []
        for name, value in headers.items():
            args += ["-H", "%s: %s" % (name, value)]
        status, h2_headers, body = curl_h2(self.gw.address, path, *args)
        return [(r.status, r.header, r.body), (status, h2_headers.get, body)]

    def test_three_parts_merged_with_the_path_and_query_carried_to_each(self):
        self.route("/api/home", "--aggregate", "user=users-svc:/users",
                   "--aggregate", "cart=cart-svc:/carts", "--aggregate", "recs=recs-svc:/recs")
        for status, header, body in self.both("/api/home/7?x=1"):
            self.assertEqual(status, 200, body)
            self.assertEqual(header("content-type"), "application/json")
            self.assertEqual(list(json.loads(body)), ["user", "cart", "recs"])  # the route's order
            self.assertEqual(json.loads(body), {
                "user": {"kind": "users", "path": "/users/7?x=1"},
                "cart": {"kind": "carts", "path": "/carts/7?x=1"},
                "recs": {"kind": "recs", "path": "/recs/7?x=1"}})
            self.assertIsNone(header("x-aggregate-failed"))
        # HEAD: the header of the same answer, no body; the parts got GETs.
        start = self.parts.count()
        r = harness.http_get(self.gw.address, "/api/home/7?x=1", method="HEAD")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")
        self.assertEqual(int(r.header("Content-Length")), len(body))
        self.assertEqual({p["method"] for p in self.parts.since(start)}, {"GET"})

    def test_the_same_request_id_and_forwarding_headers_on_every_part(self):
        self.route("/api/ids", "--aggregate", "user=users-svc:/users",
                   "--aggregate", "cart=cart-svc:/carts", "--aggregate", "recs=recs-svc:/recs")
        for client_id in (None, "req-from-the-app-1"):
            start = self.parts.count()
            headers = {"X-Request-Id": client_id} if client_id else {}
            headers["Accept-Encoding"] = "gzip"
            r = self.gw.get("/api/ids", headers=headers)
            self.assertEqual(r.status, 200, r.body)
            seen = self.parts.since(start)
            self.assertEqual(len(seen), 3)
            ids = {p["headers"].get("x-request-id") for p in seen}
            self.assertEqual(ids, {r.header("X-Request-Id")})
            if client_id:
                self.assertEqual(ids, {client_id})
            for part in seen:
                self.assertEqual(part["headers"].get("x-forwarded-for"), "127.0.0.1")
                self.assertEqual(part["headers"].get("x-forwarded-proto"), "http")
                self.assertNotIn("accept-encoding", part["headers"])

    def test_a_slow_part_is_504_or_null_with_partial(self):
        self.route("/api/slow", "--aggregate", "user=users-svc:/users",
                   "--aggregate", "slow=recs-svc:/slow", "--aggregate-timeout", "300ms")
        self.route("/api/slow-ok", "--aggregate", "user=users-svc:/users",
                   "--aggregate", "slow=recs-svc:/slow", "--aggregate-timeout", "300ms",
                   "--aggregate-partial")
        started = time.monotonic()
        for status, header, body in self.both("/api/slow"):
            self.assertEqual(status, 504, body)
            self.assertEqual(header("x-aggregate-failed"), "slow")
            self.assertEqual(json.loads(body)["error"], "aggregate_timeout")
            self.assertEqual(json.loads(body)["failed"], ["slow"])
        for status, header, body in self.both("/api/slow-ok"):
            self.assertEqual(status, 200, body)
            self.assertEqual(header("x-aggregate-failed"), "slow")
            self.assertEqual(json.loads(body), {"user": {"kind": "users", "path": "/users"},
                                                "slow": None})
        # Four answers, each bounded by the aggregate's 300 ms, not the part's 2 s.
        self.assertLess(time.monotonic() - started, 6.0)

    def test_a_failing_part_is_502_naming_it_or_null_with_partial(self):
        self.route("/api/fail", "--aggregate", "user=users-svc:/users",
                   "--aggregate", "cart=cart-svc:/fail")
        self.route("/api/fail-ok", "--aggregate", "user=users-svc:/users",
                   "--aggregate", "cart=cart-svc:/fail", "--aggregate-partial")
        for status, header, body in self.both("/api/fail"):
            self.assertEqual(status, 502, body)
            self.assertEqual(header("x-aggregate-failed"), "cart")
            self.assertEqual(json.loads(body), {"error": "aggregate_part_failed",
                                                "failed": ["cart"],
                                                "reasons": {"cart": "upstream_5xx"}})
        for status, header, body in self.both("/api/fail-ok"):
            self.assertEqual(status, 200, body)
            self.assertEqual(header("x-aggregate-failed"), "cart")
            self.assertIsNone(json.loads(body)["cart"])

    def test_a_part_that_is_not_json_fails(self):
        self.route("/api/text", "--aggregate", "user=users-svc:/users",
                   "--aggregate", "note=recs-svc:/text")
        for status, header, body in self.both("/api/text"):
            self.assertEqual(status, 502, body)
            self.assertEqual(json.loads(body)["reasons"], {"note": "not_json"})
            self.assertEqual(header("x-aggregate-failed"), "note")

    def test_a_client_error_part_is_kept_and_noted(self):
        self.route("/api/missing", "--aggregate", "user=users-svc:/users",
                   "--aggregate", "cart=cart-svc:/missing", "--aggregate", "recs=recs-svc:/forbidden")
        for status, header, body in self.both("/api/missing/9"):
            self.assertEqual(status, 200, body)
            self.assertEqual(header("x-aggregate-status"), "cart=404, recs=403")
            self.assertIsNone(header("x-aggregate-failed"))
            self.assertEqual(json.loads(body), {
                "user": {"kind": "users", "path": "/users/9"},
                "cart": {"error": "no such cart"},
                "recs": None})  # a 4xx body that is not JSON

    def test_authentication_comes_before_the_fan_out(self):
        self.route("/api/private", "--aggregate", "user=users-svc:/users",
                   "--aggregate", "cart=cart-svc:/carts", "--auth", "api-key")
        start = self.parts.count()
        for status, header, body in self.both("/api/private"):
            self.assertEqual(status, 401, body)
            self.assertIsNotNone(header("www-authenticate"))
        self.assertEqual(self.parts.count(), start, "a part was contacted without credentials")
        for status, header, body in self.both("/api/private", {"X-API-Key": "mobile-app-key-0123456789"}):
            self.assertEqual(status, 200, body)
        seen = self.parts.since(start)
        self.assertEqual(len(seen), 4)
        for part in seen:
            self.assertEqual(part["headers"].get("x-consumer"), "mobile-app")
            self.assertNotIn("x-api-key", part["headers"])

    def test_other_methods_get_405_with_allow(self):
        self.route("/api/read", "--aggregate", "user=users-svc:/users")
        start = self.parts.count()
        for method in ("POST", "PUT", "DELETE"):
            r = harness.http_get(self.gw.address, "/api/read", method=method, body=b"{}")
            self.assertEqual(r.status, 405, r.body)
            self.assertEqual(r.header("Allow"), "GET, HEAD")
        # Over HTTP/2 without a body: an answer before a request body ends is followed by
        # RST_STREAM(NO_ERROR) (RFC 9113 section 8.1), which curl 7.88 may report as an error.
        status, headers, _ = curl_h2(self.gw.address, "/api/read", "-X", "POST")
        self.assertEqual(status, 405)
        self.assertEqual(headers.get("allow"), "GET, HEAD")
        self.assertEqual(self.parts.count(), start)

    def test_metrics_count_the_parts(self):
        self.route("/api/counted", "--aggregate", "user=users-svc:/users",
                   "--aggregate", "cart=cart-svc:/fail", "--aggregate-partial")
        self.assertEqual(self.gw.get("/api/counted").status, 200)
        metrics = self.gw.admin_get("/metrics").body.decode()
        self.assertRegex(metrics, r'gateway_aggregate_parts_total\{outcome="ok"\} [1-9]')
        self.assertRegex(metrics, r'gateway_aggregate_parts_total\{outcome="failed"\} [1-9]')

    def test_shown_exported_and_applied_back(self):
        self.route("/api/shown", "--aggregate", "user=users-svc:/users",
                   "--aggregate", "cart=%s:/carts" % self.parts.address,
                   "--aggregate-timeout", "2s", "--aggregate-partial")
        shown = self.ctl.json("route", "get", "/api/shown")
        self.assertEqual(shown["aggregate"], [
            {"key": "user", "target": "users-svc", "path_prefix": "/users"},
            {"key": "cart", "target": self.parts.address, "path_prefix": "/carts"}])
        self.assertEqual(shown["aggregate_timeout_ms"], 2000)
        self.assertTrue(shown["aggregate_partial"])
        self.assertIn("aggregate(user,cart)", self.ctl.ok("route", "list"))

        document = self.ctl.ok("export")
        self.assertIn("aggregate", document)
        path = self.cluster.path("exported.yaml")
        with open(path, "w") as f:
            f.write(document)
        self.ctl.ok("route", "delete", "/api/shown")
        self.gw.wait_version(self.ctl.version())
        self.assertEqual(self.gw.get("/api/shown").status, 404)
        self.ctl.ok("apply", "-f", path)
        self.gw.wait_version(self.ctl.version())
        self.assertEqual(self.ctl.json("route", "get", "/api/shown")["aggregate"],
                         shown["aggregate"])
        r = self.gw.get("/api/shown/3")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["cart"], {"kind": "carts", "path": "/carts/3"})
        self.assertIn("no changes", self.ctl.ok("apply", "-f", path))

    def test_bad_aggregates_are_refused_with_one_line(self):
        before = self.ctl.version()
        for args in (["--aggregate", "user"],  # no '='
                     ["--aggregate", "user=users-svc", "--aggregate", "user=cart-svc"],
                     ["--aggregate", "a b=users-svc"],
                     ["users-svc", "--aggregate", "user=users-svc"],
                     ["--aggregate", "user=users-svc", "--method", "POST"],
                     ["--aggregate-timeout", "1s", "users-svc"]):
            code, out, err = self.ctl.run("route", "add", "/api/bad", *args)
            self.assertNotEqual(code, 0, args)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertEqual(self.ctl.version(), before)


if __name__ == "__main__":
    unittest.main()
