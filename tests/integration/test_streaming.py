"""Bodies stream through the gateway in constant memory (issue 3, "Bodies of any size"): large
uploads and downloads arrive intact (byte count and SHA-256) while the gateway's peak RSS stays
under 64 MiB; chunked bodies both ways; Expect: 100-continue; an HTTP/1.0 client gets a
close-delimited body when the length is unknown; an upstream that resets mid-body makes the
gateway abort the client connection instead of ending the message as if it were complete; a
slow header or body gets 408.

The upstream here is a small raw-socket HTTP/1.1 server that produces and consumes bodies as
streams (it never holds one whole)."""

import hashlib
import json
import os
import socket
import socketserver
import struct
import threading
import time
import unittest
from urllib.parse import parse_qs, urlsplit

import harness

LARGE = 256 * 1024 * 1024           # bytes per direction in the memory test
RSS_LIMIT_KB = 64 * 1024            # issue 3: gateway RSS under 64 MiB
BLOCK = os.urandom(64 * 1024)       # the repeating pattern of generated bodies
IO_TIMEOUT = 60.0


def pattern(n):
    """Yields n bytes of the repeating pattern, in blocks."""
    left = n
    while left > 0:
        piece = BLOCK if left >= len(BLOCK) else BLOCK[:left]
        yield piece
        left -= len(piece)


def pattern_digest(n):
    h = hashlib.sha256()
    for piece in pattern(n):
        h.update(piece)
    return h.hexdigest()


# ------------------------------------------------------------------------------ HTTP helpers


def read_head(reader):
    """Reads a header section from a buffered binary reader: (start line, {lower name: value})."""
    start = reader.readline(65536)
    if not start:
        raise EOFError("connection closed before a message")
    headers = {}
    while True:
        line = reader.readline(65536)
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return start.decode("latin-1").rstrip("\r\n"), headers


def read_chunked(reader, sink):
    """Decodes a chunked body from `reader` into sink(bytes). Returns True when the last chunk
    (and the trailer section) arrived, False when the stream ended before."""
    while True:
        size_line = reader.readline(1024)
        if not size_line.endswith(b"\n"):
            return False
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            while True:
                line = reader.readline(65536)
                if not line.endswith(b"\n"):
                    return False
                if line in (b"\r\n", b"\n"):
                    return True
        left = size
        while left > 0:
            data = reader.read(min(left, 65536))
            if not data:
                return False
            sink(data)
            left -= len(data)
        if reader.readline(8) not in (b"\r\n", b"\n"):
            return False


def read_counted(reader, n, sink):
    """Reads exactly n body bytes into sink; returns how many arrived."""
    got = 0
    while got < n:
        data = reader.read(min(n - got, 1 << 20))
        if not data:
            break
        sink(data)
        got += len(data)
    return got


class Digest:
    def __init__(self):
        self.hash = hashlib.sha256()
        self.count = 0

    def __call__(self, data):
        self.hash.update(data)
        self.count += len(data)

    def hexdigest(self):
        return self.hash.hexdigest()


# ------------------------------------------------------------------------------ the upstream


class StreamingUpstream:
    """A raw HTTP/1.1 upstream on 127.0.0.1, one thread per connection, keep-alive.

    POST|PUT /upload           consumes the body (Content-Length or chunked); answers JSON
                               {"bytes", "sha256", "chunked"}
    GET /download?n=N          N pattern bytes with Content-Length
    GET /chunked?n=N           N pattern bytes, chunked
    GET /nolength?n=N          N pattern bytes, no length: the end is the connection's close
    GET /reset?n=N&frame=F     announces 2N bytes (F = length|chunked|close), sends N, resets
    POST /refuse               answers 413 at once without reading the body, then closes
    """

    def __init__(self):
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                outer.serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):  # quiet on resets
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.address = "127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def serve(self, sock):
        sock.settimeout(IO_TIMEOUT)
        reader = sock.makefile("rb", buffering=1 << 16)
        while True:
            try:
                start, headers = read_head(reader)
            except (EOFError, OSError):
                return
            method, target, _ = start.split(" ", 2)
            url = urlsplit(target)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            n = int(query.get("n", "0"))
            if url.path == "/upload":
                digest = Digest()
                chunked = "chunked" in headers.get("transfer-encoding", "").lower()
                if chunked:
                    read_chunked(reader, digest)
                else:
                    read_counted(reader, int(headers.get("content-length", "0")), digest)
                body = json.dumps({"bytes": digest.count, "sha256": digest.hexdigest(),
                                   "chunked": chunked}).encode()
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            elif url.path == "/download":
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
                if method != "HEAD":
                    for piece in pattern(n):
                        sock.sendall(piece)
            elif url.path == "/chunked":
                sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                for piece in pattern(n):
                    sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                sock.sendall(b"0\r\n\r\n")
            elif url.path == "/nolength":
                sock.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                for piece in pattern(n):
                    sock.sendall(piece)
                sock.shutdown(socket.SHUT_WR)
                return
            elif url.path == "/reset":
                frame = query.get("frame", "length")
                if frame == "length":
                    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (2 * n))
                elif frame == "chunked":
                    sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                else:
                    sock.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                for piece in pattern(n):
                    sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if frame == "chunked"
                                 else piece)
                time.sleep(0.5)  # let the gateway pass on what it got
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
                return
            elif url.path == "/refuse":
                body = b'{"error":"too large for me"}'
                sock.sendall(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: %d\r\n"
                             b"Connection: close\r\n\r\n%s" % (len(body), body))
                sock.close()  # with the body unread: the kernel resets the connection
                return
            else:
                sock.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")


# ------------------------------------------------------------------------------ client side


def connect(address):
    host, port = harness.split_host_port(address)
    sock = socket.create_connection((host, port), timeout=IO_TIMEOUT)
    return sock, sock.makefile("rb", buffering=1 << 16)


def read_all_until_end(reader):
    """Reads to the end of the connection: (bytes, reset) where reset is True when the
    connection was reset rather than closed cleanly."""
    data = bytearray()
    try:
        while True:
            piece = reader.read1(1 << 16)
            if not piece:
                return bytes(data), False
            data += piece
    except ConnectionResetError:
        return bytes(data), True


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM for pid %d" % pid)


class StreamingTest(harness.SharedClusterTestCase):
    @classmethod
    def setUpCluster(cls):
        c = cls.cluster
        cls.upstream = StreamingUpstream()
        c.start_control_plane()
        c.ctl.ok("route", "add", "/", cls.upstream.address)
        cls.gw = c.start_gateway("gw-stream", ["--workers", "2", "--header-timeout", "1s",
                                               "--body-timeout", "1s"])
        cls.gw.wait_version(c.ctl.version())

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.upstream.close()

    def test_large_upload_and_download_in_bounded_memory(self):
        started = time.monotonic()
        sock, reader = connect(self.gw.address)
        with sock, reader:
            sock.sendall(b"PUT /upload HTTP/1.1\r\nHost: big\r\nContent-Length: %d\r\n\r\n"
                         % LARGE)
            for piece in pattern(LARGE):
                sock.sendall(piece)
            start, headers = read_head(reader)
            self.assertIn(" 200 ", start)
            answer = json.loads(reader.read(int(headers["content-length"])))
            self.assertEqual(answer["bytes"], LARGE)
            self.assertEqual(answer["sha256"], pattern_digest(LARGE))

            sock.sendall(b"GET /download?n=%d HTTP/1.1\r\nHost: big\r\n\r\n" % LARGE)
            start, headers = read_head(reader)
            self.assertIn(" 200 ", start)
            self.assertEqual(int(headers["content-length"]), LARGE)
            digest = Digest()
            self.assertEqual(read_counted(reader, LARGE, digest), LARGE)
            self.assertEqual(digest.hexdigest(), pattern_digest(LARGE))
        peak = vm_hwm_kb(self.gw.process.pid)
        print("256 MiB up and down in %.1fs, gateway VmHWM %d KiB"
              % (time.monotonic() - started, peak))
        self.assertLess(peak, RSS_LIMIT_KB)

    def test_chunked_upload_is_forwarded_chunked(self):
        n = 3 * 1024 * 1024 + 17
        sock, reader = connect(self.gw.address)
        with sock, reader:
            sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in pattern(n):
                for part in (piece[:1000], piece[1000:]):  # uneven chunk sizes
                    if part:
                        sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
            sock.sendall(b"0\r\n\r\n")
            start, headers = read_head(reader)
            self.assertIn(" 200 ", start)
            answer = json.loads(reader.read(int(headers["content-length"])))
            self.assertEqual(answer, {"bytes": n, "sha256": pattern_digest(n), "chunked": True})

    def test_expect_100_continue(self):
        n = 100000
        sock, reader = connect(self.gw.address)
        with sock, reader:
            sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
                         b"Expect: 100-continue\r\n\r\n" % n)
            start, _ = read_head(reader)
            self.assertEqual(start, "HTTP/1.1 100 Continue")
            for piece in pattern(n):
                sock.sendall(piece)
            start, headers = read_head(reader)
            self.assertIn(" 200 ", start)
            self.assertEqual(json.loads(reader.read(int(headers["content-length"])))["bytes"], n)

    def test_chunked_download_and_unknown_length_for_http11(self):
        n = 5 * 1024 * 1024 + 3
        sock, reader = connect(self.gw.address)
        with sock, reader:
            for path in (b"/chunked", b"/nolength"):
                sock.sendall(b"GET %s?n=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (path, n))
                start, headers = read_head(reader)
                self.assertIn(" 200 ", start, path)
                self.assertEqual(headers.get("transfer-encoding"), "chunked", path)
                self.assertNotIn("content-length", headers)
                digest = Digest()
                self.assertTrue(read_chunked(reader, digest), path)
                self.assertEqual((digest.count, digest.hexdigest()), (n, pattern_digest(n)))
            # Still the same keep-alive connection after both.
            sock.sendall(b"GET /download?n=5 HTTP/1.1\r\nHost: x\r\n\r\n")
            start, headers = read_head(reader)
            self.assertEqual(reader.read(int(headers["content-length"])), BLOCK[:5])

    def test_http10_client_gets_a_close_delimited_body(self):
        n = 2 * 1024 * 1024 + 5
        for path in (b"/chunked", b"/nolength"):
            sock, reader = connect(self.gw.address)
            with sock, reader:
                sock.sendall(b"GET %s?n=%d HTTP/1.0\r\n\r\n" % (path, n))
                start, headers = read_head(reader)
                self.assertTrue(start.startswith("HTTP/1.0 200"), start)
                self.assertNotIn("transfer-encoding", headers)
                self.assertNotIn("content-length", headers)
                body, reset = read_all_until_end(reader)
                self.assertFalse(reset)
                self.assertEqual(len(body), n)
                self.assertEqual(hashlib.sha256(body).hexdigest(), pattern_digest(n))

    def test_head_gets_no_body(self):
        sock, reader = connect(self.gw.address)
        with sock, reader:
            sock.sendall(b"HEAD /download?n=1000 HTTP/1.1\r\nHost: x\r\n\r\n"
                         b"GET /download?n=3 HTTP/1.1\r\nHost: x\r\n\r\n")
            start, headers = read_head(reader)
            self.assertIn(" 200 ", start)
            self.assertEqual(headers["content-length"], "1000")
            start, headers = read_head(reader)  # the next response follows right away
            self.assertIn(" 200 ", start)
            self.assertEqual(reader.read(3), BLOCK[:3])

    def test_upstream_reset_mid_body_aborts_the_client_connection(self):
        n = 300000
        for frame, version in (("length", b"1.1"), ("chunked", b"1.1"), ("close", b"1.0")):
            with self.subTest(frame=frame):
                sock, reader = connect(self.gw.address)
                with sock, reader:
                    sock.sendall(b"GET /reset?n=%d&frame=%s HTTP/%s\r\nHost: x\r\n\r\n"
                                 % (n, frame.encode(), version))
                    start, headers = read_head(reader)
                    self.assertIn(" 200 ", start)
                    body, reset = read_all_until_end(reader)
                    # Never a message that looks complete.
                    self.assertTrue(reset, "the gateway must reset the connection (%s, %d bytes)"
                                    % (frame, len(body)))
                    if frame == "length":
                        self.assertLess(len(body), int(headers["content-length"]))
                    if frame == "chunked":
                        self.assertNotIn(b"\r\n0\r\n\r\n", body[-16:])
        # And the gateway keeps serving.
        self.assertEqual(self.gw.get("/download?n=4").status, 200)

    def test_upstream_answering_before_the_whole_body_reaches_the_client(self):
        n = 8 << 20  # far more than the socket buffers hold: the upstream never reads it
        for framing in ("length", "chunked"):
            with self.subTest(framing=framing):
                sock, reader = connect(self.gw.address)
                with sock, reader:
                    head = b"POST /refuse HTTP/1.1\r\nHost: x\r\n"
                    head += (b"Content-Length: %d\r\n\r\n" % n if framing == "length"
                             else b"Transfer-Encoding: chunked\r\n\r\n")
                    sock.sendall(head)

                    def send_body():
                        try:
                            for piece in pattern(n):
                                sock.sendall(piece if framing == "length"
                                             else b"%x\r\n%s\r\n" % (len(piece), piece))
                        except OSError:
                            pass  # the gateway closed once it answered

                    sender = threading.Thread(target=send_body, daemon=True)
                    sender.start()
                    start, headers = read_head(reader)
                    # The upstream's own answer, not a 502; and the connection closes after it.
                    self.assertIn(" 413 ", start)
                    self.assertEqual(headers.get("connection"), "close")
                    body = reader.read(int(headers["content-length"]))
                    self.assertEqual(body, b'{"error":"too large for me"}')
                    sender.join(IO_TIMEOUT)
        self.assertEqual(self.gw.get("/download?n=4").status, 200)

    def test_a_trailer_section_that_never_ends_is_431(self):
        sock, reader = connect(self.gw.address)
        with sock, reader:
            sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"5\r\nhello\r\n0\r\n")
            try:  # 4 MiB of trailer fields, far over any buffer the gateway keeps
                for i in range(40000):
                    sock.sendall(b"X-T%d: %s\r\n" % (i, b"v" * 100))
            except OSError:
                pass  # refused and closed before the end
            start, _ = read_head(reader)
            self.assertIn(" 431 ", start)
        self.assertLess(vm_hwm_kb(self.gw.process.pid), 64 * 1024)

    def test_slow_header_gets_408(self):
        sock, reader = connect(self.gw.address)
        with sock, reader:
            sock.sendall(b"GET /download?n=1 HTTP/1.1\r\nHost: x\r\n")  # never finished
            started = time.monotonic()
            start, _ = read_head(reader)
            self.assertTrue(start.startswith("HTTP/1.1 408"), start)
            self.assertLess(time.monotonic() - started, 5.0)
            body, _ = read_all_until_end(reader)  # then closed
            self.assertIn(b"request timeout", body)

    def test_slow_body_gets_408(self):
        sock, reader = connect(self.gw.address)
        with sock, reader:
            sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            start, _ = read_head(reader)
            self.assertTrue(start.startswith("HTTP/1.1 408"), start)
            read_all_until_end(reader)

    def test_a_silent_connection_is_closed_without_an_answer(self):
        sock, reader = connect(self.gw.address)
        with sock, reader:
            body, _ = read_all_until_end(reader)  # closed after --header-timeout
            self.assertEqual(body, b"")


if __name__ == "__main__":
    unittest.main()
