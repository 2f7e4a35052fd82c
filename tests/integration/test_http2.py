"""HTTP/2 with prior knowledge (h2c) on the gateway's --listen, end to end (issue 13, EDGE_PLAN.md
section 3 step H3): curl and h2load speak HTTP/2 to the gateway, which forwards each stream as
an HTTP/1.1 request. GET and POST, the route policies over HTTP/2 (API key 401, rate limit 429
with RateLimit-*, a split close to its weights on one connection), h2load's thousands of
streams all answered, a rapid-reset attacker (HEADERS + RST_STREAM, written as raw frames) sent
away with GOAWAY while another client keeps getting answers, a stream reset while its upstream
is silent closing that upstream connection at once, and 100 MiB both ways through the gateway
in constant memory."""

import os
import re
import socket
import socketserver
import struct
import subprocess
import threading
import time
import unittest

import harness

BIG = 100 << 20  # bytes each way in the memory test


def curl(address, path, *args, timeout=60):
    """curl with prior knowledge; returns (stdout bytes, return code)."""
    done = subprocess.run(["curl", "--http2-prior-knowledge", "-sS", "--max-time", str(timeout)] +
                          list(args) + ["http://%s%s" % (address, path)],
                          capture_output=True, timeout=timeout + 10)
    return done.stdout, done.returncode


def h2load(address, path, *args):
    """Runs h2load over h2c; returns (requests succeeded, failed+errored, 2xx count, output)."""
    done = subprocess.run(["h2load"] + list(args) + ["http://%s%s" % (address, path)],
                          capture_output=True, text=True, timeout=120)
    out = done.stdout
    requests = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, "
                         r"(\d+) failed, (\d+) errored", out)
    codes = re.search(r"status codes: (\d+) 2xx", out)
    if not requests or not codes:
        raise AssertionError("h2load output not understood:\n" + out + done.stderr)
    return (int(requests.group(2)), int(requests.group(3)) + int(requests.group(4)),
            int(codes.group(1)), out)


# Raw HTTP/2 frames for the attacker (RFC 9113 section 4.1), HPACK literals without indexing.
def frame(kind, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + \
        struct.pack(">I", stream_id) + payload


def hpack_get(path, authority):
    def literal(index, value):
        value = value.encode()
        return bytes([index, len(value)]) + value
    # :method GET (static 2), :scheme http (static 6), :path and :authority by name index.
    return b"\x82\x86" + literal(4, path) + literal(1, authority)


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class BigUpstream:
    """An HTTP/1.1 upstream streaming BIG bytes to GET and counting the bytes of a request body
    as they arrive (never holding either)."""

    def __init__(self):
        outer = self
        self.received = 0

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    method = line.split(b" ")[0]
                    length, chunked = 0, False
                    while True:
                        header = self.rfile.readline()
                        if header in (b"\r\n", b"\n", b""):
                            break
                        name, _, value = header.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                        if name.strip().lower() == b"transfer-encoding":
                            chunked = b"chunked" in value.lower()
                    total = 0
                    if chunked:
                        while True:
                            size = int(self.rfile.readline().split(b";")[0], 16)
                            if size == 0:
                                while self.rfile.readline() not in (b"\r\n", b""):
                                    pass
                                break
                            while size:
                                got = len(self.rfile.read(min(size, 1 << 16)))
                                size -= got
                                total += got
                            self.rfile.readline()
                    else:
                        while total < length:
                            got = len(self.rfile.read(min(length - total, 1 << 16)))
                            if not got:
                                return
                            total += got
                    outer.received = total
                    if method == b"GET":
                        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % BIG)
                        block = b"x" * (1 << 16)
                        for _ in range(BIG // len(block)):
                            self.wfile.write(block)
                    else:
                        body = str(total).encode()
                        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" %
                                         (len(body), body))
                    self.wfile.flush()

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.address = "127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class SilentUpstream:
    """Accepts, reads a request head and never answers; `got_request` is set when a head came,
    `closed` when the gateway closed that connection."""

    def __init__(self):
        self.got_request = threading.Event()
        self.closed = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = "127.0.0.1:%d" % self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            self.got_request.set()
            conn.settimeout(60)
            try:
                while conn.recv(4096):
                    pass
            except OSError:
                return
            self.closed.set()

    def close(self):
        self.listener.close()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


class Http2Test(harness.SharedClusterTestCase):
    @classmethod
    def setUpCluster(cls):
        c = cls.cluster
        cls.v1 = c.upstream("v1")
        cls.v2 = c.upstream("v2")
        cls.big = BigUpstream()
        cls.silent = SilentUpstream()
        c.start_control_plane()
        cls.ctl = c.ctl
        for name, address in (("v1-svc", cls.v1.address), ("v2-svc", cls.v2.address),
                              ("big-svc", cls.big.address),
                              ("silent-svc", cls.silent.address)):
            cls.ctl.ok("service", "add", name, "--endpoint", address)
        cls.ctl.ok("consumer", "add", "alice", "--api-key", "h2-key-0123456789")
        cls.ctl.ok("route", "add", "/h2", "v1-svc")
        cls.ctl.ok("route", "add", "/big", "big-svc")
        cls.ctl.ok("route", "add", "/silent", "silent-svc")
        cls.ctl.ok("route", "add", "/keyed", "v1-svc", "--auth", "api-key")
        cls.ctl.ok("route", "add", "/limited", "v1-svc", "--rate-limit", "5/m", "--burst", "5",
                   "--rate-limit-by", "header:X-User")
        cls.ctl.ok("route", "add", "/split", "v1-svc=80", "v2-svc=20")
        cls.gw = c.start_gateway("gw-h2", ["--workers", "2"])
        cls.gw.wait_version(cls.ctl.version())

    @classmethod
    def tearDownClass(cls):
        cls.big.close()
        cls.silent.close()
        super().tearDownClass()

    def test_curl_get_and_post(self):
        out, rc = curl(self.gw.address, "/h2/x?q=1", "-i")
        self.assertEqual(rc, 0)
        head, _, body = out.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/2 200"), head)
        self.assertIn(b"x-request-id:", head.lower())
        self.assertIn(b'"path": "/h2/x?q=1"', body)
        payload = "a" * 100000
        out, rc = curl(self.gw.address, "/h2/post", "--data-binary", payload,
                       "-H", "Content-Type: text/plain")
        self.assertEqual(rc, 0)
        record = __import__("json").loads(out)
        self.assertEqual(record["method"], "POST")
        self.assertEqual(record["body"], payload)
        # HTTP/1.1 on the same listener is unchanged.
        self.assertEqual(self.gw.get("/h2/x").status, 200)

    def test_h2load_all_answered(self):
        succeeded, failed, ok, out = h2load(self.gw.address, "/h2/load", "-n", "5000", "-c", "4",
                                            "-m", "10")
        self.assertEqual((succeeded, failed, ok), (5000, 0, 5000), out)

    def test_api_key_and_rate_limit_over_h2(self):
        out, _ = curl(self.gw.address, "/keyed", "-o", "/dev/null", "-w", "%{http_code}")
        self.assertEqual(out, b"401")
        out, _ = curl(self.gw.address, "/keyed", "-o", "/dev/null", "-w", "%{http_code}",
                      "-H", "X-API-Key: h2-key-0123456789")
        self.assertEqual(out, b"200")
        # Seven requests on one connection: five allowed, then 429 with RateLimit-*.
        args = ["-H", "X-User: h2-user", "-w", "%{http_code} %header{ratelimit-remaining}\\n",
                "-o", "/dev/null"]
        urls = ["http://%s/limited" % self.gw.address] * 6
        done = subprocess.run(["curl", "--http2-prior-knowledge", "-sS", "--max-time", "30",
                               "http://%s/limited" % self.gw.address] + args +
                              sum([["--next"] + args + [u] for u in urls], []),
                              capture_output=True, text=True, timeout=40)
        lines = done.stdout.split("\n")[:7]
        self.assertEqual(lines, ["200 4", "200 3", "200 2", "200 1", "200 0", "429 0", "429 0"],
                         done.stdout + done.stderr)

    def test_split_close_to_its_weights_on_one_connection(self):
        n = 500
        args = ["-o", "/dev/null", "-w", "%header{x-upstream}\\n"]
        url = "http://%s/split/x" % self.gw.address
        command = ["curl", "--http2-prior-knowledge", "-sS", "--max-time", "60", url] + args
        for _ in range(n - 1):
            command += ["--next"] + args + [url]
        done = subprocess.run(command, capture_output=True, text=True, timeout=90)
        names = done.stdout.split()
        self.assertEqual(len(names), n, done.stderr)
        # Binomial(500, 0.2): sd ~8.9; 5 sd either side.
        self.assertLess(abs(names.count("v2") - 100), 45, names.count("v2"))
        self.assertEqual(names.count("v1") + names.count("v2"), n)

    def test_rapid_reset_gets_goaway_while_others_are_served(self):
        host, port = harness.split_host_port(self.gw.address)
        attacker = socket.create_connection((host, int(port)))
        self.addCleanup(attacker.close)
        goaway = threading.Event()

        def read_frames():
            data = b""
            while not goaway.is_set():
                try:
                    chunk = attacker.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                data += chunk
                while len(data) >= 9:
                    length = int.from_bytes(data[:3], "big")
                    if len(data) < 9 + length:
                        break
                    if data[3] == 7:  # GOAWAY
                        goaway.set()
                    data = data[9 + length:]

        reader = threading.Thread(target=read_frames, daemon=True)
        reader.start()
        result = {}

        def load():
            result["h2load"] = h2load(self.gw.address, "/h2/calm", "-n", "2000", "-c", "2",
                                      "-m", "10")

        legit = threading.Thread(target=load)
        legit.start()
        attacker.sendall(PREFACE + frame(4, 0, 0))
        block = hpack_get("/h2/attack", "gw.test")
        try:
            for batch in range(50):
                out = b""
                for i in range(100):
                    stream = 1 + 2 * (batch * 100 + i)
                    out += frame(1, 0x5, stream, block) + frame(3, 0, stream, b"\0\0\0\x08")
                attacker.sendall(out)
        except OSError:
            pass  # the gateway closed the connection: what it should do
        legit.join(timeout=120)
        self.assertTrue(goaway.wait(10), "no GOAWAY for the attacker")
        succeeded, failed, ok, out = result["h2load"]
        self.assertEqual((succeeded, failed, ok), (2000, 0, 2000), out)

    def test_a_reset_stream_lets_go_of_its_upstream_at_once(self):
        # The upstream has the request and is silent; the client resets the stream. The
        # gateway closes the upstream connection now, not after --upstream-timeout (15 s).
        host, port = harness.split_host_port(self.gw.address)
        client = socket.create_connection((host, int(port)))
        self.addCleanup(client.close)
        client.sendall(PREFACE + frame(4, 0, 0) + frame(1, 0x5, 1, hpack_get("/silent", "gw.test")))
        self.assertTrue(self.silent.got_request.wait(10), "the upstream got no request")
        reset_at = time.monotonic()
        client.sendall(frame(3, 0, 1, b"\0\0\0\x08"))  # RST_STREAM(CANCEL)
        self.assertTrue(self.silent.closed.wait(10), "the upstream connection stayed open")
        self.assertLess(time.monotonic() - reset_at, 5)

    def test_100_mib_both_ways_in_constant_memory(self):
        pid = self.gw.process.pid
        big_file = self.cluster.path("h2-upload.bin")
        with open(big_file, "wb") as f:
            f.truncate(BIG)
        self.addCleanup(os.remove, big_file)
        # Warm up: the workers' buffers and pools exist before the baseline is taken.
        curl(self.gw.address, "/h2/warm", "-o", "/dev/null")
        baseline = rss_kib(pid)
        peak = [baseline]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kib(pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            out, rc = curl(self.gw.address, "/big/down", "-o", "/dev/null", "-w",
                           "%{http_code} %{size_download}", timeout=120)
            self.assertEqual((rc, out), (0, b"200 %d" % BIG))
            out, rc = curl(self.gw.address, "/big/up", "-T", big_file, "-X", "POST",
                           timeout=120)
            self.assertEqual((rc, out), (0, str(BIG).encode()))
        finally:
            stop.set()
            sampler.join()
        self.assertLess(peak[0] - baseline, 16 * 1024,
                        "RSS grew from %d KiB to %d KiB" % (baseline, peak[0]))


if __name__ == "__main__":
    unittest.main()
