"""What a client of one gateway sees: segment-boundary prefixes, --exact, route update and
delete, 404 JSON, forwarded and hop-by-hop headers, 502/503/504, round-robin, hostile framing
(Transfer-Encoding, request-target forms, Host values), a second gateway on a taken address.

One control plane serves the whole class and each test works under its own path prefix; each
test gets its own gateway (--upstream-timeout 500ms), so one that a test breaks cannot fail the
others."""

import json
import time

import harness

UPSTREAM_TIMEOUT_S = 0.5


class RoutingTest(harness.SharedClusterTestCase):
    @classmethod
    def setUpCluster(cls):
        c = cls.cluster
        cls.order = c.upstream("order")
        cls.payment = c.upstream("payment")
        cls.auth = c.upstream("auth")
        c.start_control_plane()
        cls.ctl = c.ctl
        for name, up in (("order-svc", cls.order), ("payment-svc", cls.payment),
                         ("auth-svc", cls.auth)):
            cls.ctl.ok("service", "add", name, "--endpoint", up.address)

    def setUp(self):
        node_id = "gw-" + self.id().rsplit(".", 1)[-1][len("test_"):].replace("_", "-")[:40]
        self.gw = self.cluster.start_gateway(node_id, ["--workers", "2", "--upstream-timeout",
                                                       "500ms", "--connect-timeout", "1s"])
        self.addCleanup(self.gw.stop)
        self.gw.wait_version(self.ctl.version())

    def apply(self, *commands):
        """Runs gatewayctl commands, then waits until the gateway runs the resulting version."""
        for command in commands:
            self.ctl.ok(*command)
        self.gw.wait_version(self.ctl.version())

    def assertServes(self, path, name, client=None):
        r = client.request(path) if client else self.gw.get(path)
        self.assertEqual((r.status, r.upstream_name()), (200, name), "GET %s: %r" % (path, r))
        return r

    def assertNoRoute(self, path):
        r = self.gw.get(path)
        self.assertEqual(r.status, 404, "GET %s: %r" % (path, r))
        self.assertIsNone(r.header("X-Upstream"), "404 comes from the gateway itself")
        return r

    # ------------------------------------------------------------------ matching

    def test_prefix_matches_on_segment_boundaries(self):
        self.apply(["route", "add", "/seg/payment", "payment-svc"])
        self.assertServes("/seg/payment", "payment")
        self.assertServes("/seg/payment/", "payment")
        self.assertServes("/seg/payment/7", "payment")
        self.assertServes("/seg/payment?x=1", "payment")
        self.assertNoRoute("/seg/payments")
        self.assertNoRoute("/seg/paymentx/1")
        self.assertNoRoute("/seg")
        self.assertNoRoute("/seg/pay")

    def test_query_string_reaches_the_upstream(self):
        self.apply(["route", "add", "/query", "order-svc"])
        r = self.assertServes("/query/a?x=1&y=%2F", "order")
        self.assertEqual(r.json()["path"], "/query/a?x=1&y=%2F")

    def test_longest_prefix_wins(self):
        self.apply(["route", "add", "/lp", "order-svc"],
                   ["route", "add", "/lp/a", "payment-svc"],
                   ["route", "add", "/lp/a/b", "auth-svc"])
        self.assertServes("/lp", "order")
        self.assertServes("/lp/x", "order")
        self.assertServes("/lp/ax", "order")
        self.assertServes("/lp/a", "payment")
        self.assertServes("/lp/a/bc", "payment")
        self.assertServes("/lp/a/b", "auth")
        self.assertServes("/lp/a/b/c/d", "auth")

    def test_matching_uses_the_normalized_path(self):
        self.apply(["route", "add", "/norm/payment", "payment-svc"])
        self.assertServes("/norm//payment", "payment")
        self.assertServes("/norm/./payment/1", "payment")
        self.assertServes("/norm/x/../payment", "payment")
        self.assertServes("/norm/%70ayment", "payment")  # %70 is 'p', an unreserved character
        # An encoded slash is never a separator.
        self.assertNoRoute("/norm%2Fpayment")

    def test_exact_matches_one_path_only(self):
        self.apply(["route", "add", "/ex", "order-svc"],
                   ["route", "add", "/ex/only", "payment-svc", "--exact"])
        self.assertServes("/ex/only", "payment")
        self.assertServes("/ex/only?q=1", "payment")
        self.assertServes("/ex/only/x", "order")
        self.assertServes("/ex/onlyx", "order")
        route = self.ctl.json("route", "get", "/ex/only")
        self.assertEqual((route["match"], route["target"]), ("exact", "payment-svc"))

    def test_exact_and_prefix_on_one_path(self):
        self.apply(["route", "add", "/both", "order-svc"],
                   ["route", "add", "/both", "payment-svc", "--exact"])
        self.assertServes("/both", "payment")
        self.assertServes("/both/1", "order")
        # Without --exact/--prefix the path names two routes: refused, asking to choose.
        code, out, err = self.ctl.run("route", "get", "/both")
        self.assertEqual(code, 1, (out, err))
        self.assertIn("--exact", err)
        self.assertEqual(self.ctl.json("route", "get", "/both", "--exact")["target"],
                         "payment-svc")
        self.assertEqual(self.ctl.json("route", "get", "/both", "--prefix")["target"],
                         "order-svc")
        self.apply(["route", "delete", "/both", "--exact"])
        self.assertServes("/both", "order")

    # ------------------------------------------------------------------ changes

    def test_route_update_moves_traffic(self):
        self.apply(["route", "add", "/upd", "order-svc"])
        client = self.gw.client()
        self.addCleanup(client.close)
        self.assertServes("/upd/1", "order", client)
        before = self.ctl.json("route", "get", "/upd")
        self.apply(["route", "update", "/upd", "payment-svc"])
        after = self.ctl.json("route", "get", "/upd")
        self.assertEqual(after["target"], "payment-svc")
        self.assertEqual(after["match"], "prefix")
        self.assertGreater(after["version"], before["version"])
        # The same keep-alive connection sees the new route.
        self.assertServes("/upd/1", "payment", client)
        self.assertServes("/upd/1", "payment")

    def test_route_update_of_an_exact_route(self):
        self.apply(["route", "add", "/kind", "order-svc", "--exact"],
                   ["route", "update", "/kind", "payment-svc", "--exact"])
        self.assertServes("/kind", "payment")
        self.assertNoRoute("/kind/sub")

    def test_route_delete(self):
        self.apply(["route", "add", "/del", "order-svc"])
        self.assertServes("/del/x", "order")
        self.apply(["route", "delete", "/del"])
        self.assertNoRoute("/del/x")
        code, out, err = self.ctl.run("route", "get", "/del")
        self.assertEqual(code, 1, (out, err))

    def test_service_update_moves_traffic(self):
        self.apply(["service", "add", "moving-svc", "--endpoint", self.order.address],
                   ["route", "add", "/moving", "moving-svc"])
        self.assertServes("/moving", "order")
        self.apply(["service", "update", "moving-svc", "--endpoint", self.auth.address])
        self.assertServes("/moving", "auth")

    # ------------------------------------------------------------------ answers

    def test_no_route_is_404_json(self):
        r = self.assertNoRoute("/nothing/here")
        self.assertIn("application/json", r.header("Content-Type") or "")
        body = r.json()
        self.assertEqual(body["error"], "no route")

    def test_forwarded_headers_and_request_id(self):
        self.apply(["route", "add", "/hdr", "order-svc"])
        r1 = self.gw.get("/hdr/1", headers={"Host": "api.example.com"})
        seen = r1.json()["headers"]
        self.assertEqual(seen.get("x-forwarded-for"), "127.0.0.1", seen)
        self.assertEqual(seen.get("x-forwarded-proto"), "http", seen)
        self.assertEqual(seen.get("x-forwarded-host"), "api.example.com", seen)
        generated = seen.get("x-request-id")
        self.assertTrue(generated, "the gateway adds an X-Request-Id: %r" % seen)
        r2 = self.gw.get("/hdr/2")
        self.assertNotEqual(r2.json()["headers"].get("x-request-id"), generated,
                            "every request gets its own id")
        r3 = self.gw.get("/hdr/3", headers={"X-Request-Id": "client-id-123"})
        self.assertEqual(r3.json()["headers"].get("x-request-id"), "client-id-123",
                         "a client's X-Request-Id is kept")

    def test_x_forwarded_for_appends_to_a_client_value(self):
        self.apply(["route", "add", "/xff", "order-svc"])
        seen = self.gw.get("/xff", headers={"X-Forwarded-For": "203.0.113.7"}).json()["headers"]
        self.assertEqual(seen.get("x-forwarded-for"), "203.0.113.7, 127.0.0.1")

    def test_hop_by_hop_headers_are_not_forwarded(self):
        self.apply(["route", "add", "/hop", "order-svc"])
        r = self.gw.get("/hop", headers={"Connection": "close, X-Hop-Secret",
                                         "X-Hop-Secret": "do-not-forward",
                                         "Keep-Alive": "timeout=5",
                                         "TE": "trailers",
                                         "X-End-To-End": "forward-me"})
        self.assertEqual(r.status, 200, r)
        seen = r.json()["headers"]
        self.assertEqual(seen.get("x-end-to-end"), "forward-me")
        for name in ("x-hop-secret", "keep-alive", "te"):
            self.assertNotIn(name, seen, "hop-by-hop header %s reached the upstream" % name)
        connection = seen.get("connection", "").lower()
        self.assertNotIn("close", connection, "the client's Connection: close was forwarded")
        self.assertNotIn("x-hop-secret", connection)
        # The gateway honoured the client's Connection: close.
        self.assertEqual((r.header("Connection") or "").lower(), "close")

    def test_every_connection_header_line_counts(self):
        """Connection may come as several header lines, not next to each other."""
        self.apply(["route", "add", "/hop2", "order-svc"])
        raw = harness.raw_http(self.gw.address, (
            "GET /hop2 HTTP/1.1\r\nHost: h\r\nConnection: close, X-Hop-A\r\nX-Mid: kept\r\n"
            "Connection: X-Hop-B\r\nX-Hop-A: 1\r\nX-Hop-B: 2\r\n\r\n").encode(), timeout=5)
        head, _, body = raw.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), raw[:300])
        seen = json.loads(body)["headers"]
        self.assertEqual(seen.get("x-mid"), "kept")
        self.assertNotIn("x-hop-a", seen)
        self.assertNotIn("x-hop-b", seen)

    def test_oversized_request_line_is_414_and_oversized_header_431(self):
        """RFC 9110 15.5.15 / RFC 6585 5: a request-target too long to parse gets 414, a header
        section over the limit 431; both close the connection."""
        long_target = "/" + "a" * 20000
        raw = harness.raw_http(self.gw.address, (
            "GET %s HTTP/1.1\r\nHost: h\r\n\r\n" % long_target).encode(), timeout=5)
        self.assertTrue(raw.startswith(b"HTTP/1.1 414"), raw[:200])
        raw = harness.raw_http(self.gw.address, (
            "GET / HTTP/1.1\r\nHost: h\r\nX-Big: %s\r\n\r\n" % ("b" * 20000)).encode(),
            timeout=5)
        self.assertTrue(raw.startswith(b"HTTP/1.1 431"), raw[:200])

    def test_close_in_a_later_connection_line_closes(self):
        self.apply(["route", "add", "/close2", "order-svc"])
        start = time.monotonic()
        raw = harness.raw_http(self.gw.address, (
            "GET /close2 HTTP/1.1\r\nHost: h\r\nConnection: X-Hop-A\r\nX-Hop-A: 1\r\n"
            "Connection: close\r\n\r\n").encode(), timeout=5)
        self.assertTrue(raw.startswith(b"HTTP/1.1 200"), raw[:300])
        self.assertLess(time.monotonic() - start, 2.5,
                        "the gateway closes the connection the client asked to close")

    def test_hop_by_hop_headers_from_the_upstream_are_not_returned(self):
        hop = self.cluster.upstream("hop-upstream", response_headers=[
            ("Connection", "X-Up-Hop"), ("X-Up-Hop", "secret"), ("Keep-Alive", "timeout=60"),
            ("X-Up-End", "kept")])
        self.apply(["service", "add", "hop-svc", "--endpoint", hop.address],
                   ["route", "add", "/uphop", "hop-svc"])
        r = self.gw.get("/uphop")
        self.assertEqual((r.status, r.upstream_name()), (200, "hop-upstream"), r)
        self.assertEqual(r.header("X-Up-End"), "kept")
        self.assertIsNone(r.header("X-Up-Hop"))
        self.assertIsNone(r.header("Keep-Alive"))

    def test_request_body_is_forwarded(self):
        self.apply(["route", "add", "/body", "order-svc"])
        payload = json.dumps({"items": list(range(2000))})
        r = self.gw.get("/body", method="POST", body=payload.encode(),
                        headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r)
        echoed = r.json()
        self.assertEqual(echoed["method"], "POST")
        self.assertEqual(echoed["body"], payload)

    def test_refused_endpoint_is_502(self):
        self.apply(["service", "add", "refusing-svc", "--endpoint", harness.refused_address()],
                   ["route", "add", "/refused", "refusing-svc"])
        r = self.gw.get("/refused/x")
        self.assertEqual(r.status, 502, r)

    def test_slow_upstream_is_504_after_the_timeout(self):
        slow = self.cluster.upstream("slow", delay=3.0)
        self.apply(["service", "add", "slow-svc", "--endpoint", slow.address],
                   ["route", "add", "/slow", "slow-svc"])
        start = time.monotonic()
        r = self.gw.get("/slow")
        elapsed = time.monotonic() - start
        self.assertEqual(r.status, 504, r)
        self.assertGreaterEqual(elapsed, UPSTREAM_TIMEOUT_S * 0.9)
        self.assertLess(elapsed, 2.5, "504 comes after --upstream-timeout (500ms), not later")
        # A fast route still answers right after.
        self.apply(["route", "add", "/fast", "order-svc"])
        self.assertServes("/fast", "order")

    def test_round_robin_across_endpoints(self):
        a = self.cluster.upstream("rr-a")
        b = self.cluster.upstream("rr-b")
        self.apply(["service", "add", "rr-svc", "--endpoint", a.address, "--endpoint",
                    b.address],
                   ["route", "add", "/rr", "rr-svc"])
        client = self.gw.client()
        self.addCleanup(client.close)
        names = [client.request("/rr/%d" % i).upstream_name() for i in range(20)]
        self.assertEqual(names.count("rr-a"), 10, names)
        self.assertEqual(names.count("rr-b"), 10, names)
        self.assertTrue(all(x != y for x, y in zip(names, names[1:])),
                        "round-robin alternates: %s" % names)

    def test_round_robin_is_even_across_workers(self):
        """One cursor per upstream, shared by the workers: connections spread over both workers
        by the kernel still give every endpoint exactly its share."""
        ups = [self.cluster.upstream("even-%d" % i) for i in range(3)]
        self.apply(["service", "add", "even-svc"] +
                   [arg for up in ups for arg in ("--endpoint", up.address)],
                   ["route", "add", "/even", "even-svc"])
        names = [self.gw.get("/even/%d" % i).upstream_name() for i in range(12)]
        self.assertEqual(sorted(names.count(up.name) for up in ups), [4, 4, 4], names)
        self.assertEqual(names, names[:3] * 4, "one rotation, whichever worker: %s" % names)

    def test_upstream_connections_are_reused(self):
        reuse = self.cluster.upstream("reuse")
        self.apply(["service", "add", "reuse-svc", "--endpoint", reuse.address],
                   ["route", "add", "/reuse", "reuse-svc"])
        client = self.gw.client()
        self.addCleanup(client.close)
        for i in range(10):
            self.assertServes("/reuse/%d" % i, "reuse", client)
        # At most one connection per worker (2), never one per request.
        self.assertLessEqual(reuse.connections, 2)

    # ------------------------------------------------------------------ hostile framing

    def raw(self, request, timeout=5):
        """Sends raw bytes on a new connection; returns (bytes received until the gateway
        closed, seconds it took)."""
        start = time.monotonic()
        data = harness.raw_http(self.gw.address, request, timeout=timeout)
        return data, time.monotonic() - start

    def assertAnsweredThenClosed(self, request, status):
        """The gateway answers `status` once, nothing after it, and closes the connection."""
        data, elapsed = self.raw(request)
        self.assertRegex(data[:13], br"^HTTP/1\.[01] %d " % status, (request, data[:300]))
        self.assertEqual(data.count(b"HTTP/1."), 1, "one answer only: %r" % data)
        self.assertLess(elapsed, 4.0, "the gateway closes the connection: %r" % request)
        return data

    def test_transfer_encoding_other_than_chunked_alone_is_refused(self):
        """A Transfer-Encoding the gateway would not frame as chunked must not let the body be
        read as a second request (smuggling): 400 and close, or 501 for codings before
        chunked."""
        self.apply(["route", "add", "/te", "order-svc"])
        smuggled = b"GET /te/smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
        refused = [
            (b"Transfer-Encoding: xchunked\r\n", 400),
            (b"Transfer-Encoding: chunked, chunked\r\n", 400),
            (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 400),
            (b"Transfer-Encoding: gzip\r\n", 400),
            (b"Transfer-Encoding: chunked, gzip\r\n", 400),
            (b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", 400),
            (b"Transfer-Encoding: gzip, chunked\r\n", 501),
            (b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", 501),
        ]
        for headers, status in refused:
            with self.subTest(headers=headers):
                request = b"POST /te/x HTTP/1.1\r\nHost: h\r\n" + headers + b"\r\n" + smuggled
                self.assertAnsweredThenClosed(request, status)
        # HTTP/1.0 has no transfer codings: faulty framing.
        self.assertAnsweredThenClosed(b"POST /te/x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"
                                      b"\r\n0\r\n\r\n" + smuggled, 400)
        seen = [r["path"] for r in self.order.requests]
        self.assertFalse([p for p in seen if p.startswith("/te/")], seen)
        # Chunked alone is fine, in any case.
        data, _ = self.raw(b"POST /te/ok HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n"
                           b"Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), data[:300])
        self.assertEqual(json.loads(body)["body"], "hello")

    def test_absolute_form_request_target(self):
        """RFC 9112 section 3.2.2: absolute-form is accepted, routed on its path, and its
        authority replaces the Host header."""
        self.apply(["route", "add", "/abs", "order-svc"])
        for target, path in ((b"http://api.example.com:8080/abs/x?q=1", "/abs/x?q=1"),
                             (b"HTTPS://api.example.com:8080/abs", "/abs")):
            with self.subTest(target=target):
                data, _ = self.raw(b"GET " + target + b" HTTP/1.1\r\nHost: ignored.example\r\n"
                                   b"Connection: close\r\n\r\n")
                head, _, body = data.partition(b"\r\n\r\n")
                self.assertTrue(head.startswith(b"HTTP/1.1 200"), data[:300])
                seen = json.loads(body)
                self.assertEqual(seen["path"], path)
                self.assertEqual(seen["headers"].get("host"), "api.example.com:8080")
                self.assertEqual(seen["headers"].get("x-forwarded-host"), "api.example.com:8080")
        # Other forms are refused; the connection stays usable after them.
        for line in (b"GET * HTTP/1.1", b"OPTIONS * HTTP/1.1", b"GET api.example.com:80 HTTP/1.1",
                     b"CONNECT api.example.com:443 HTTP/1.1", b"GET ftp://h/abs HTTP/1.1",
                     b"GET http://user@h/abs HTTP/1.1"):
            with self.subTest(line=line):
                data, _ = self.raw(line + b"\r\nHost: h\r\n\r\n"
                                   b"GET /abs HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
                self.assertTrue(data.startswith(b"HTTP/1.1 400 "), data[:300])
                self.assertIn(b"HTTP/1.1 200 ", data, "served the next request: %r" % data)

    def test_invalid_host_is_400_and_closes(self):
        self.apply(["route", "add", "/hosts", "order-svc"])
        following = b"GET /hosts HTTP/1.1\r\nHost: h\r\n\r\n"  # must never be answered
        for host in (b"a b", b"evil.example/x", b"user@h", b"h?x", b"h#f", b"", b"[::1",
                     b"h:80:80", b"h:http"):
            with self.subTest(host=host):
                self.assertAnsweredThenClosed(
                    b"GET /hosts HTTP/1.1\r\nHost: " + host + b"\r\n\r\n" + following, 400)
        for host in ("[::1]:8080", "api.example.com:8080", "127.0.0.1"):
            with self.subTest(host=host):
                r = self.gw.get("/hosts", headers={"Host": host})
                self.assertEqual((r.status, r.json()["headers"].get("host")), (200, host), r)
        # HTTP/1.0 may send an empty Host: treated as none.
        data, _ = self.raw(b"GET /hosts HTTP/1.0\r\nHost:\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.0 200"), data[:300])

    def test_a_second_gateway_on_the_same_address_exits(self):
        """With SO_REUSEPORT a second gateway would share the port and steal traffic: it must
        refuse to start instead, whatever its worker count."""
        for workers in ("2", "1"):
            with self.subTest(workers=workers):
                proc = self.cluster.spawn("gateway-second-%s" % workers, [
                    harness.binary("gateway"), "--listen", self.gw.address,
                    "--control-plane", self.cluster.control_plane.address,
                    "--node-id", "gw-second", "--cache", self.cluster.path("second.cache"),
                    "--admin", "127.0.0.1:0", "--workers", workers])
                try:
                    code = proc.popen.wait(timeout=10)
                finally:
                    proc.stop()
                self.assertEqual(code, 1, proc.log_text())
                self.assertIn("gateway cannot listen on %s: address already in use"
                              % self.gw.address, proc.log_text())
        self.apply(["route", "add", "/still", "order-svc"])
        self.assertServes("/still", "order")

    def test_admin_pages(self):
        self.assertEqual(self.gw.admin_get("/healthz").status, 200)
        version = self.ctl.version()
        self.gw.wait_version(version)
        ready = self.gw.ready()
        self.assertEqual(ready.status, 200)
        self.assertEqual(ready.json(), {"ready": True, "version": version})
        config = self.gw.config()
        self.assertEqual((config["source"], config["control_plane_connected"]), ("stream", True))


if __name__ == "__main__":
    harness.main()
