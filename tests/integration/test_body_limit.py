"""Per-route request body limits (413), end to end: gatewayctl sets them, the control plane
stores and pushes them, every gateway enforces them live.

One control plane; gateway `limited` runs with --max-body-size 2k, gateway `open` with none.
Routes (all to the fake upstream `files`): /big 8k (more than the gateway's own limit),
/small 512 (less), /plain (none: the gateway's applies), /live (changed by the tests);
/guarded 1k goes to an upstream of its own that must never be contacted.
"""

import json
import socket
import time

import harness

GATEWAY_LIMIT = 2048
LIMITS = {"/big": 8192, "/small": 512, "/plain": GATEWAY_LIMIT}


class Exchange:
    """What one raw HTTP/1.1 exchange on a fresh connection gave: the responses' status codes in
    order, the last response's headers and body, and whether the gateway closed the connection
    (EOF) rather than leaving it open."""

    def __init__(self, statuses, headers, body, closed):
        self.statuses = statuses
        self.headers = headers
        self.body = body
        self.closed = closed

    @property
    def status(self):
        return self.statuses[-1]

    def __repr__(self):
        return "Exchange(%r, closed=%r, body=%r)" % (self.statuses, self.closed, self.body[:200])


def read_response(sock, buffer, timeout):
    """Reads one response (status line, headers, a Content-Length body) from `sock`, starting
    with the bytes in `buffer`. Returns (status, headers, body, rest, eof)."""
    deadline = time.monotonic() + timeout
    eof = False

    def fill():
        nonlocal buffer, eof
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            eof = True
        buffer += chunk

    while b"\r\n\r\n" not in buffer:
        fill()
        if eof:
            raise AssertionError("connection closed before a response header: %r" % buffer)
    head, buffer = buffer.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(buffer) < length and not eof:
        fill()
    return status, headers, buffer[:length], buffer[length:], eof


def exchange(address, head, body_parts=(), wait_for_continue=False, timeout=10.0):
    """Sends `head` (the request header section), then each of `body_parts`; with
    `wait_for_continue`, the body only after a 100 Continue (and not at all if the first answer
    is final). Reads the final response, then waits up to `timeout` for the connection to close:
    a request that does not say `Connection: close` leaves an answered keep-alive connection
    open, so `closed` is only meaningful for those."""
    host, port = harness.split_host_port(address)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(head)
        statuses = []
        rest = b""
        if wait_for_continue:
            status, headers, body, rest, eof = read_response(sock, rest, timeout)
            statuses.append(status)
            if status != 100:
                return Exchange(statuses, headers, body, eof or _closes(sock, rest, timeout))
        for part in body_parts:
            try:
                sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break  # refused before it all went: the answer is still there to read
        while True:
            status, headers, body, rest, eof = read_response(sock, rest, timeout)
            statuses.append(status)
            if status != 100:
                break
        keep_alive = "close" not in headers.get("connection", "").lower()
        closed = eof or _closes(sock, rest, timeout if not keep_alive else 0.5)
        return Exchange(statuses, headers, body, closed)


def _closes(sock, rest, timeout):
    """Whether the peer closes the connection within `timeout` (bytes it still sends, e.g. a
    lingering close reading ours, are ignored)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
    return False


def head_with_length(path, length, extra=b"", close=False):
    return (b"POST %s HTTP/1.1\r\nHost: gw.test\r\nContent-Length: %d\r\n%s%s\r\n"
            % (path.encode(), length, extra, b"Connection: close\r\n" if close else b""))


def chunked_head(path, close=False):
    return (b"POST %s HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n%s\r\n"
            % (path.encode(), b"Connection: close\r\n" if close else b""))


def chunks(size, chunk=1000, last=True):
    """A chunked body of `size` bytes in chunks of `chunk` bytes, one part per chunk."""
    parts = []
    sent = 0
    while sent < size:
        n = min(chunk, size - sent)
        parts.append(b"%x\r\n%s\r\n" % (n, b"c" * n))
        sent += n
    if last:
        parts.append(b"0\r\n\r\n")
    return parts


class BodyLimitTest(harness.SharedClusterTestCase):

    @classmethod
    def setUpCluster(cls):
        c = cls.cluster
        cp = c.start_control_plane()
        cls.ctl = c.ctl
        cls.files = c.upstream("files")
        cls.guarded = c.upstream("guarded")
        cls.ctl.ok("service", "add", "files", "--endpoint", cls.files.address)
        cls.ctl.ok("service", "add", "guarded", "--endpoint", cls.guarded.address)
        cls.ctl.ok("route", "add", "/big", "files", "--max-body-size", "8k")
        cls.ctl.ok("route", "add", "/small", "files", "--max-body-size", "512")
        cls.ctl.ok("route", "add", "/plain", "files")
        cls.ctl.ok("route", "add", "/live", "files", "--max-body-size", "1K")
        cls.ctl.ok("route", "add", "/guarded", "guarded", "--max-body-size", "1k")
        cls.limited = c.start_gateway("limited", ["--max-body-size", "2k"],
                                      control_plane=cp.address)
        cls.open = c.start_gateway("open", control_plane=cp.address)
        cls.ctl.wait_acked(["limited", "open"])

    def files_requests(self):
        with self.files._lock:
            return len(self.files.requests)

    # ------------------------------------------------------------------ Content-Length

    def test_content_length_under_at_and_over_each_limit(self):
        for path, limit in LIMITS.items():
            for size in (limit - 1, limit):
                r = harness.http_get(self.limited.address, path, method="POST",
                                     body=b"b" * size)
                self.assertEqual(r.status, 200, (path, size, r))
                self.assertEqual(len(r.json()["body"]), size, (path, size))
            before = self.files_requests()
            # Only the header: the 413 comes before any body byte is sent.
            x = exchange(self.limited.address, head_with_length(path, limit + 1))
            self.assertEqual(x.statuses, [413], (path, x))
            self.assertEqual(x.body, b'{"error":"request body too large"}')
            self.assertIn("close", x.headers.get("connection", "").lower(), x.headers)
            self.assertTrue(x.closed, "the connection stays open after a 413 on %s" % path)
            self.assertEqual(self.files_requests(), before, "%s over its limit reached files"
                             % path)

    def test_a_route_limit_above_the_gateways_own_is_honoured(self):
        # 4 KiB: over the gateway's 2k, under /big's 8k.
        r = harness.http_get(self.limited.address, "/big/upload", method="POST",
                             body=b"b" * 4096)
        self.assertEqual(r.status, 200, r)
        r = harness.http_get(self.limited.address, "/plain/upload", method="POST",
                             body=b"b" * 4096)
        self.assertEqual(r.status, 413, r)

    def test_without_a_gateway_limit_only_routes_with_one_refuse(self):
        r = harness.http_get(self.open.address, "/plain", method="POST", body=b"b" * 1048576)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json()["body"]), 1048576)
        x = exchange(self.open.address, head_with_length("/small", 513))
        self.assertEqual(x.statuses, [413], x)
        x = exchange(self.open.address, head_with_length("/big", 8193))
        self.assertEqual(x.statuses, [413], x)

    # ------------------------------------------------------------------ chunked

    def test_chunked_under_at_and_over_each_limit(self):
        for path, limit in LIMITS.items():
            for size in (limit - 1, limit):
                x = exchange(self.limited.address, chunked_head(path, close=True),
                             chunks(size, 100))
                self.assertEqual(x.status, 200, (path, size, x))
                self.assertEqual(len(json.loads(x.body)["body"]), size, (path, size))
            before = self.files_requests()
            x = exchange(self.limited.address, chunked_head(path), chunks(limit + 1, 100))
            self.assertEqual(x.statuses, [413], (path, x))
            self.assertTrue(x.closed, "the connection stays open after a 413 on %s" % path)
            self.assertEqual(self.files_requests(), before)

    def test_a_chunked_body_is_refused_where_it_crosses_the_limit(self):
        # The body never ends (no last chunk): the 413 cannot be waiting for its end.
        x = exchange(self.limited.address, chunked_head("/small"), chunks(600, 200, last=False))
        self.assertEqual(x.statuses, [413], x)
        self.assertTrue(x.closed)
        # One chunk larger than the limit, announced: refused from its size line.
        x = exchange(self.limited.address, chunked_head("/small"), [b"201\r\n"])
        self.assertEqual(x.statuses, [413], x)

    # ------------------------------------------------------------------ 100-continue

    def test_100_continue_over_the_limit_gets_413_and_nothing_reaches_the_upstream(self):
        x = exchange(self.limited.address,
                     head_with_length("/guarded", 1025, b"Expect: 100-continue\r\n"),
                     [b"g" * 1025], wait_for_continue=True)
        self.assertEqual(x.statuses, [413], x)  # no 100 Continue first
        self.assertTrue(x.closed)
        with self.guarded._lock:
            self.assertEqual((self.guarded.connections, self.guarded.requests), (0, []))
        # Within the limit the same request is invited, then forwarded.
        x = exchange(self.limited.address,
                     head_with_length("/small", 512, b"Expect: 100-continue\r\n", close=True),
                     [b"s" * 512], wait_for_continue=True)
        self.assertEqual(x.statuses, [100, 200], x)

    # ------------------------------------------------------------------ live updates

    def post_status(self, gateway, path, size):
        return harness.http_get(gateway.address, path, method="POST", body=b"l" * size).status

    def update_and_wait(self, *args):
        self.ctl.ok("route", "update", "/live", *args)
        version = self.ctl.version()
        self.ctl.wait_acked(["limited", "open"], version)
        return version

    def live_route_on(self, gateway):
        return [r for r in gateway.config()["routes"] if r["path"] == "/live"][0]

    def test_a_limit_changed_live_applies_on_every_gateway(self):
        self.assertEqual(self.post_status(self.limited, "/live", 1024), 200)
        self.assertEqual(self.post_status(self.limited, "/live", 1500), 413)
        self.assertEqual(self.post_status(self.open, "/live", 1500), 413)

        self.update_and_wait("--max-body-size", "4k")
        for gateway in (self.limited, self.open):
            self.assertEqual(self.live_route_on(gateway)["max_body_size"], 4096)
            self.assertEqual(self.post_status(gateway, "/live", 4096), 200, gateway.node_id)
            self.assertEqual(self.post_status(gateway, "/live", 4097), 413, gateway.node_id)

        # A new target alone (the same upstream, named by address) keeps the limit.
        self.update_and_wait(self.files.address)
        self.assertEqual(self.ctl.json("route", "get", "/live")["target"], self.files.address)
        self.assertEqual(self.ctl.json("route", "get", "/live")["max_body_size"], 4096)
        self.assertEqual(self.post_status(self.limited, "/live", 4096), 200)

        # 0: back to each gateway's own limit (2k on one, none on the other).
        self.update_and_wait("--max-body-size", "0")
        self.assertNotIn("max_body_size", self.ctl.json("route", "get", "/live"))
        self.assertNotIn("max_body_size", self.live_route_on(self.limited))
        self.assertEqual(self.post_status(self.limited, "/live", 2048), 200)
        self.assertEqual(self.post_status(self.limited, "/live", 2049), 413)
        self.assertEqual(self.post_status(self.open, "/live", 65536), 200)

        self.update_and_wait("--max-body-size", "1k")
        self.assertEqual(self.post_status(self.limited, "/live", 1025), 413)

    # ------------------------------------------------------------------ gatewayctl

    def test_route_list_and_get_show_the_limits(self):
        table = self.ctl.ok("route", "list")
        header = table.splitlines()[0].split()
        self.assertEqual(header, ["PATH", "MATCH", "CONDITIONS", "TARGET", "MAX", "BODY",
                                  "POLICIES", "VERSION"])
        rows = {line.split()[0]: line.split() for line in table.splitlines()[1:]}
        self.assertEqual(rows["/big"][4], "8k")
        self.assertEqual(rows["/small"][4], "512")
        self.assertEqual(rows["/plain"][4], "default")
        routes = {r["path"]: r for r in self.ctl.json("route", "list")}
        self.assertEqual(routes["/big"]["max_body_size"], 8192)
        self.assertNotIn("max_body_size", routes["/plain"])
        self.assertEqual(self.ctl.json("route", "get", "/small")["max_body_size"], 512)
        config = {r["path"]: r for r in self.limited.config()["routes"]}
        self.assertEqual(config["/big"]["max_body_size"], 8192)
        self.assertNotIn("max_body_size", config["/plain"])

    def test_bad_sizes_are_refused_and_change_nothing(self):
        before = self.ctl.ok("-o", "json", "route", "list")
        version = self.ctl.version()
        for size in ("10x", "", "1.5m", "10mb", "-1", "99999999999999999999",
                     "2048g"):  # the last parses, and the control plane refuses it (> 1 TiB)
            for args in (["route", "add", "/new", "files", "--max-body-size=" + size],
                         ["route", "update", "/big", "--max-body-size=" + size],
                         ["route", "update", "/big", "--max-body-size", size]):
                code, out, err = self.ctl.run(*args)
                self.assertNotEqual(code, 0, (args, out, err))
                self.assertEqual(out, "", args)
                self.assertEqual(err.count("\n"), 1, (args, err))
                self.assertTrue(err.startswith("gatewayctl: "), (args, err))
                self.assertIn("size", err, (args, err))
        code, _, err = self.ctl.run("route", "add", "/new", "files", "--max-body-size", "2048g")
        self.assertEqual(code, 1)
        self.assertIn("larger than a route may allow, 1024g", err)
        code, _, err = self.ctl.run("route", "add", "/new", "files", "--max-body-size", "10x")
        self.assertEqual((code, err),
                         (1, "gatewayctl: bad --max-body-size: '10x' is not a size (write bytes, "
                             "or a whole number with k, m or g: 1048576, 512k, 10m, 1g)\n"))
        self.assertEqual(self.ctl.ok("-o", "json", "route", "list"), before)
        self.assertEqual(self.ctl.version(), version)


if __name__ == "__main__":
    harness.main()
