"""Trailers of chunked messages, end to end (issue 3: "Chunked transfer coding in both
directions, trailers"; RFC 9110 section 6.5, RFC 9112 section 7.1.2).

Requests: a chunked body longer than the gateway's 64 KiB relay buffer streams upstream chunked
with the trailers after the last chunk; a short one with trailers also stays chunked; a short
one without trailers arrives with a Content-Length. Responses: a chunked response with trailers
reaches an HTTP/1.1 client chunked with them, an HTTP/1.0 client close-delimited without them.
Both ways, trailers that must not be (framing, routing, authentication, cookies, hop-by-hop)
are dropped, a trailer never shows up among the header fields, and a Content-Length in a
trailer section is refused rather than passed on.

The upstream is a raw-socket HTTP/1.1 server that records each request exactly as framed on
the wire (header fields in order, framing, body, trailer lines) and answers chunked responses
with trailers."""

import hashlib
import io
import os
import socket
import socketserver
import threading
import time
import unittest
import uuid
from urllib.parse import parse_qs, urlsplit

import harness

IO_TIMEOUT = 20.0
RELAY_BUFFER = 64 * 1024  # the gateway's kRelayBufferSize
LONG = 3 * RELAY_BUFFER + 1234

# Trailers a sender may put there, and the ones the gateway must drop (RFC 9110 6.5.1).
FORBIDDEN = [("Host", "evil.example"), ("Set-Cookie", "stolen=1"), ("Cookie", "c=d"),
             ("Authorization", "Bearer nope"), ("Cache-Control", "no-store"),
             ("Content-Type", "text/evil"), ("Connection", "x-gone"), ("TE", "trailers"),
             ("Trailer", "X-More"), ("Keep-Alive", "timeout=1"), ("Max-Forwards", "0")]
FORBIDDEN_NAMES = {name.lower() for name, _ in FORBIDDEN}


# ------------------------------------------------------------------------------ HTTP/1.1 wire


class Closed(Exception):
    pass


def read_line(reader):
    line = reader.readline(65537)
    if not line.endswith(b"\n"):
        raise Closed("stream ended inside a line: %r" % line)
    return line


def read_fields(reader):
    """Field lines up to the empty line: [(name, value)] in order, as received."""
    fields = []
    while True:
        line = read_line(reader)
        if line in (b"\r\n", b"\n"):
            return fields
        name, _, value = line.decode("latin-1").partition(":")
        fields.append((name.strip(), value.strip()))


def read_head(reader):
    start = reader.readline(65537)
    if not start:
        raise EOFError("connection closed before a message")
    if not start.endswith(b"\n"):
        raise Closed("stream ended inside a start line")
    return start.decode("latin-1").rstrip("\r\n"), read_fields(reader)


def read_exactly(reader, n):
    data = reader.read(n)
    if len(data) != n:
        raise Closed("stream ended after %d of %d bytes" % (len(data), n))
    return data


def read_chunked(reader):
    """A chunked body: (body, [chunk sizes], [(trailer name, value)]). Raises Closed when the
    stream ends before the last chunk and its trailer section."""
    body = bytearray()
    sizes = []
    while True:
        size = int(read_line(reader).split(b";")[0].strip(), 16)
        sizes.append(size)
        if size == 0:
            return bytes(body), sizes, read_fields(reader)
        body += read_exactly(reader, size)
        if read_line(reader) not in (b"\r\n", b"\n"):
            raise AssertionError("chunk data not followed by CRLF")


def field(fields, name):
    """Every value of `name` (case-insensitive), in order."""
    return [v for n, v in fields if n.lower() == name.lower()]


def names(fields):
    return {n.lower() for n, _ in fields}


def chunked_body(data, chunk=4000, trailers=()):
    """`data` as chunks of `chunk` bytes, the last chunk, `trailers`, the final CRLF."""
    out = bytearray()
    for i in range(0, len(data), chunk):
        piece = data[i:i + chunk]
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    out += b"0\r\n"
    for name, value in trailers:
        out += ("%s: %s\r\n" % (name, value)).encode("latin-1")
    out += b"\r\n"
    return bytes(out)


def by_name(fields):
    """{lower name: [values in order]}: what must be kept (RFC 9110 5.3: the order of fields
    with different names is not significant)."""
    grouped = {}
    for name, value in fields:
        grouped.setdefault(name.lower(), []).append(value)
    return grouped


# ------------------------------------------------------------------------------ the upstream


class TrailerUpstream:
    """A raw HTTP/1.1 upstream on 127.0.0.1, keep-alive, one thread per connection.

    Any request: recorded as {"path", "method", "headers", "framing", "body", "sizes",
    "trailers", "complete"} (framing: "chunked", "length" or "none"; complete is False when the
    connection ended inside the body), answered 200 "ok" with a Content-Length.
    GET /respond-trailers?n=N   N bytes, chunked in 16000-byte chunks, with trailers
                                (RESPONSE_TRAILERS) and a header X-Sum; &pause=S: the head,
                                the body and the end of the trailers S seconds apart
    GET /respond-bad-trailer    a chunked body with a Content-Length in its trailer section;
                                &pause=S: the body S seconds after the head
    """

    RESPONSE_TRAILERS = [("X-Checksum", None), ("Set-Cookie", "up=1"), ("X-Sum", "from-trailer"),
                         ("Host", "evil.example"), ("Server-Timing", "db;dur=7"),
                         ("Authorization", "Basic eA=="), ("X-Sum", "again")]

    def __init__(self):
        outer = self
        self.records = []
        self.lock = threading.Lock()

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

    def find(self, path):
        with self.lock:
            return [r for r in self.records if r["path"] == path]

    def serve(self, sock):
        sock.settimeout(IO_TIMEOUT)
        reader = sock.makefile("rb", buffering=1 << 16)
        while True:
            try:
                start, headers = read_head(reader)
            except (EOFError, Closed, OSError):
                return
            method, target, _ = start.split(" ", 2)
            url = urlsplit(target)
            record = {"path": url.path, "method": method, "headers": headers,
                      "framing": "none", "body": b"", "sizes": [], "trailers": [],
                      "complete": False}
            try:
                if "chunked" in ",".join(field(headers, "Transfer-Encoding")).lower():
                    record["framing"] = "chunked"
                    record["body"], record["sizes"], record["trailers"] = read_chunked(reader)
                elif field(headers, "Content-Length"):
                    record["framing"] = "length"
                    record["body"] = read_exactly(reader, int(field(headers,
                                                                    "Content-Length")[0]))
                record["complete"] = True
            except (Closed, OSError):
                pass
            with self.lock:
                self.records.append(record)
            if not record["complete"]:
                return
            try:
                self.answer(sock, url, method)
            except OSError:
                return

    def answer(self, sock, url, method):
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/respond-trailers":
            body = payload(int(query.get("n", "0")))
            trailers = [(name, value if value is not None else hashlib.sha256(body).hexdigest())
                        for name, value in self.RESPONSE_TRAILERS]
            head = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                    b"X-Sum: from-header\r\nTrailer: X-Checksum, X-Sum\r\n\r\n")
            rest = chunked_body(body, 16000, trailers)
            pause = float(query.get("pause", "0"))
            if pause:
                # The head alone first, then the body, then the trailer section in two
                # pieces: the gateway sends the head on before any body arrives.
                sock.sendall(head)
                time.sleep(pause)
                cut = rest.rindex(b"\r\n0\r\n") + 10
                sock.sendall(rest[:cut])
                time.sleep(pause)
                sock.sendall(rest[cut:])
            else:
                sock.sendall(head + rest)
        elif url.path == "/respond-bad-trailer":
            head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            rest = chunked_body(b"abcdef", 3, [("Content-Length", "6")])
            pause = float(query.get("pause", "0"))
            if pause:
                sock.sendall(head)
                time.sleep(pause)
                sock.sendall(rest)
            else:
                sock.sendall(head + rest)
        else:
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


BLOCK = os.urandom(1 << 16)


def payload(n):
    return (BLOCK * (n // len(BLOCK) + 1))[:n]


# ------------------------------------------------------------------------------ the client


class Connection:
    def __init__(self, address):
        host, port = harness.split_host_port(address)
        self.sock = socket.create_connection((host, port), timeout=IO_TIMEOUT)
        self.reader = self.sock.makefile("rb", buffering=1 << 16)

    def close(self):
        self.reader.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def response(self):
        """One response with a Content-Length or chunked body:
        (status, headers, body, trailers)."""
        start, headers = read_head(self.reader)
        status = int(start.split(" ")[1])
        if "chunked" in ",".join(field(headers, "Transfer-Encoding")).lower():
            body, _, trailers = read_chunked(self.reader)
            return status, headers, body, trailers
        length = field(headers, "Content-Length")
        return status, headers, read_exactly(self.reader, int(length[0])) if length else b"", []

    def rest(self):
        """Everything until the gateway closes: (bytes, reset)."""
        data = bytearray()
        try:
            while True:
                piece = self.reader.read1(1 << 16)
                if not piece:
                    return bytes(data), False
                data += piece
        except ConnectionResetError:
            return bytes(data), True


def chunked_request(path, body, trailers=(), extra_headers=b""):
    return (b"POST %s HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n"
            b"X-Sum: from-header\r\nTrailer: X-Checksum, X-Sum\r\n%s\r\n"
            % (path.encode(), extra_headers)) + chunked_body(body, 4000, trailers)


def unique_path(label):
    return "/t/%s-%s" % (label, uuid.uuid4().hex[:12])


class TrailersTest(harness.SharedClusterTestCase):
    @classmethod
    def setUpCluster(cls):
        c = cls.cluster
        cls.upstream = TrailerUpstream()
        c.start_control_plane()
        c.ctl.ok("route", "add", "/", cls.upstream.address)
        cls.gw = c.start_gateway("gw-trailers", ["--body-timeout", "10s"])
        cls.gw.wait_version(c.ctl.version())

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.upstream.close()

    def one_record(self, path):
        records = harness.wait_until(lambda: self.upstream.find(path), 10,
                                     message="the upstream to receive %s" % path)
        self.assertEqual(len(records), 1, records)
        return records[0]

    def assert_header_as_sent(self, record):
        """The upstream's header fields hold the client's header, never a trailer."""
        headers = record["headers"]
        self.assertEqual(field(headers, "X-Sum"), ["from-header"], headers)
        self.assertEqual(field(headers, "Host"), ["gw.test"], headers)
        self.assertNotIn("x-checksum", names(headers))
        self.assertNotIn("x-late", names(headers))
        for name in FORBIDDEN_NAMES - {"host", "connection", "te", "trailer", "keep-alive"}:
            self.assertNotIn(name, names(headers), headers)

    # ------------------------------------------------------------------ requests

    def test_long_chunked_request_streams_chunked_with_its_trailers(self):
        path = unique_path("long")
        body = payload(LONG)
        checksum = hashlib.sha256(body).hexdigest()
        trailers = [("X-Checksum", checksum), ("X-Sum", "from-trailer"), ("X-Late", "1"),
                    ("X-Late", "2")] + FORBIDDEN
        with Connection(self.gw.address) as conn:
            conn.send(chunked_request(path, body, trailers))
            status, _, answer, _ = conn.response()
            self.assertEqual((status, answer), (200, b"ok"))
        record = self.one_record(path)
        self.assertTrue(record["complete"])
        self.assertEqual(record["framing"], "chunked")
        self.assertNotIn("content-length", names(record["headers"]))
        self.assertEqual(field(record["headers"], "Transfer-Encoding"), ["chunked"])
        self.assertEqual(len(record["body"]), LONG)
        self.assertEqual(record["body"], body)
        self.assertGreater(len(record["sizes"]), 2)  # streamed: a chunk per relay window
        self.assertLessEqual(max(record["sizes"]), RELAY_BUFFER)
        # After the last chunk: exactly the forwardable trailers, each name's values in order.
        self.assertEqual(by_name(record["trailers"]),
                         {"x-checksum": [checksum], "x-sum": ["from-trailer"],
                          "x-late": ["1", "2"]})
        # Trailer announces them (RFC 9110 6.6.2): end-to-end, kept with the chunked framing.
        self.assertEqual(field(record["headers"], "Trailer"), ["X-Checksum, X-Sum"])
        self.assert_header_as_sent(record)

    def test_short_chunked_request_with_trailers_stays_chunked(self):
        for size in (100, 0, RELAY_BUFFER):
            with self.subTest(size=size):
                path = unique_path("short%d" % size)
                body = payload(size)
                with Connection(self.gw.address) as conn:
                    conn.send(chunked_request(path, body, [("X-Checksum", "c%d" % size),
                                                           ("Set-Cookie", "no=1")]))
                    status, _, _, _ = conn.response()
                    self.assertEqual(status, 200)
                record = self.one_record(path)
                self.assertTrue(record["complete"])
                self.assertEqual(record["framing"], "chunked")
                self.assertNotIn("content-length", names(record["headers"]))
                self.assertEqual(record["body"], body)
                self.assertEqual(record["trailers"], [("X-Checksum", "c%d" % size)])
                self.assert_header_as_sent(record)

    def assert_arrives_with_content_length(self, size, trailers=()):
        path = unique_path("cl%d" % size)
        body = payload(size)
        with Connection(self.gw.address) as conn:
            conn.send(chunked_request(path, body, trailers))
            status, _, _, _ = conn.response()
            self.assertEqual(status, 200)
        record = self.one_record(path)
        self.assertEqual(record["framing"], "length")
        self.assertEqual(field(record["headers"], "Content-Length"), [str(size)])
        self.assertNotIn("transfer-encoding", names(record["headers"]))
        self.assertNotIn("trailer", names(record["headers"]))  # no trailer section follows
        self.assertEqual(record["body"], body)
        self.assert_header_as_sent(record)  # dropped trailers did not become fields

    def test_short_chunked_request_without_trailers_gets_a_content_length(self):
        for size, trailers in ((1000, []), (0, []), (RELAY_BUFFER - 1, []), (5, FORBIDDEN)):
            with self.subTest(size=size, trailers=bool(trailers)):
                self.assert_arrives_with_content_length(size, trailers)

    # The window is full before the parser has seen the last chunk behind it: the session
    # reads once more to tell "exactly full" from "longer".
    def test_chunked_request_of_exactly_one_relay_buffer_gets_a_content_length(self):
        self.assert_arrives_with_content_length(RELAY_BUFFER)

    def test_long_chunked_request_with_only_forbidden_trailers_ends_with_none(self):
        path = unique_path("forbidden")
        body = payload(2 * RELAY_BUFFER + 1)
        with Connection(self.gw.address) as conn:
            conn.send(chunked_request(path, body, FORBIDDEN))
            status, _, _, _ = conn.response()
            self.assertEqual(status, 200)
        record = self.one_record(path)
        self.assertEqual(record["framing"], "chunked")
        self.assertEqual(record["body"], body)
        self.assertEqual(record["trailers"], [])
        self.assert_header_as_sent(record)

    def test_trailers_after_100_continue_and_split_across_reads(self):
        for size in (300, LONG):
            with self.subTest(size=size):
                path = unique_path("continue%d" % size)
                body = payload(size)
                wire = chunked_request(path, body, [("X-Checksum", "split-%d" % size)],
                                       b"Expect: 100-continue\r\n")
                head, _, chunks = wire.partition(b"\r\n\r\n")
                cut = chunks.rindex(b"X-Checksum: ") + 14  # inside the trailer's value
                with Connection(self.gw.address) as conn:
                    conn.send(head + b"\r\n\r\n")
                    start, _ = read_head(conn.reader)
                    self.assertEqual(start, "HTTP/1.1 100 Continue")
                    conn.send(chunks[:cut])
                    time.sleep(0.1)  # the trailer section arrives in two reads
                    conn.send(chunks[cut:])
                    self.assertEqual(conn.response()[0], 200)
                record = self.one_record(path)
                self.assertEqual(record["framing"], "chunked")
                self.assertEqual(record["body"], body)
                self.assertEqual(record["trailers"], [("X-Checksum", "split-%d" % size)])
                self.assertNotIn("expect", names(record["headers"]))
                self.assert_header_as_sent(record)

    def test_a_trailer_section_over_the_read_buffer_limit_is_refused(self):
        # The parser needs a trailer section whole: one larger than the connection's read
        # buffer bound (2 relay buffers plus --max-header-size) gets 431, never forwarded whole.
        trailers = [("X-T%d" % i, "v" * 60) for i in range(3000)]  # about 200 KB
        for size in (10, 2 * RELAY_BUFFER):
            with self.subTest(size=size):
                path = unique_path("hugetrailers%d" % size)
                with Connection(self.gw.address) as conn:
                    try:
                        conn.send(chunked_request(path, payload(size), trailers))
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # refused while still sending: the answer is there to read
                    status, headers, _, _ = conn.response()
                    self.assertEqual(status, 431)
                    self.assertIn("close", ",".join(field(headers, "Connection")).lower())
                self.assertEqual([r for r in self.upstream.find(path) if r["complete"]], [])

    def test_pipelined_request_after_trailers_is_read_as_its_own(self):
        first = unique_path("pipe1")
        second = unique_path("pipe2")
        with Connection(self.gw.address) as conn:
            conn.send(chunked_request(first, b"abc", [("X-Checksum", "p")]) +
                      b"GET %s HTTP/1.1\r\nHost: gw.test\r\n\r\n" % second.encode())
            self.assertEqual(conn.response()[0], 200)
            self.assertEqual(conn.response()[0], 200)
        self.assertEqual(self.one_record(first)["trailers"], [("X-Checksum", "p")])
        record = self.one_record(second)
        self.assertEqual((record["method"], record["framing"]), ("GET", "none"))
        self.assertNotIn("x-checksum", names(record["headers"]))

    def test_a_framing_field_in_the_trailer_section_is_refused(self):
        # Beast refuses a Content-Length after a chunked body: 400, and the upstream never gets
        # a complete request (a long one was already on its way: it is cut off).
        for size in (10, 2 * RELAY_BUFFER):
            with self.subTest(size=size):
                path = unique_path("badtrailer%d" % size)
                with Connection(self.gw.address) as conn:
                    conn.send(chunked_request(path, payload(size), [("Content-Length", "10")]))
                    status, headers, _, _ = conn.response()
                    self.assertEqual(status, 400)
                    self.assertIn("close", ",".join(field(headers, "Connection")).lower())
                    conn.rest()  # and closed
                complete = [r for r in self.upstream.find(path) if r["complete"]]
                self.assertEqual(complete, [])
        self.assertEqual(self.gw.get("/after-refusal").status, 200)

    # ------------------------------------------------------------------ responses

    def expected_response_trailers(self, body):
        return {"x-checksum": [hashlib.sha256(body).hexdigest()],
                "x-sum": ["from-trailer", "again"], "server-timing": ["db;dur=7"]}

    def test_chunked_response_reaches_an_http11_client_with_its_trailers(self):
        with Connection(self.gw.address) as conn:
            for n in (10, LONG, 0):
                with self.subTest(n=n):
                    conn.send(b"GET /respond-trailers?n=%d HTTP/1.1\r\nHost: gw.test\r\n\r\n"
                              % n)
                    status, headers, body, trailers = conn.response()
                    self.assertEqual(status, 200)
                    self.assertEqual(field(headers, "Transfer-Encoding"), ["chunked"])
                    self.assertEqual(field(headers, "Trailer"), ["X-Checksum, X-Sum"])
                    self.assertEqual(body, payload(n))
                    self.assertEqual(by_name(trailers), self.expected_response_trailers(body))
                    # No trailer among the header fields.
                    self.assertEqual(field(headers, "X-Sum"), ["from-header"])
                    self.assertNotIn("x-checksum", names(headers))
                    self.assertNotIn("server-timing", names(headers))
                    self.assertNotIn("set-cookie", names(headers))
                    self.assertNotIn("authorization", names(headers))
            # The connection is still in step: framing and trailers were exact.
            conn.send(b"GET /plain HTTP/1.1\r\nHost: gw.test\r\n\r\n")
            status, _, body, _ = conn.response()
            self.assertEqual((status, body), (200, b"ok"))

    def test_slow_chunked_response_reaches_an_http11_client_with_its_trailers(self):
        with Connection(self.gw.address) as conn:
            for n in (10, LONG):
                with self.subTest(n=n):
                    conn.send(b"GET /respond-trailers?n=%d&pause=0.1 HTTP/1.1\r\n"
                              b"Host: gw.test\r\n\r\n" % n)
                    status, headers, body, trailers = conn.response()
                    self.assertEqual(status, 200)
                    self.assertEqual(body, payload(n))
                    self.assertEqual(by_name(trailers), self.expected_response_trailers(body))
                    self.assertEqual(field(headers, "X-Sum"), ["from-header"])
                    self.assertNotIn("x-checksum", names(headers))

    def test_chunked_response_reaches_an_http10_client_close_delimited_without_trailers(self):
        for n in (10, LONG):
            with self.subTest(n=n):
                with Connection(self.gw.address) as conn:
                    conn.send(b"GET /respond-trailers?n=%d HTTP/1.0\r\n\r\n" % n)
                    start, headers = read_head(conn.reader)
                    self.assertTrue(start.startswith("HTTP/1.0 200"), start)
                    self.assertNotIn("transfer-encoding", names(headers))
                    self.assertNotIn("content-length", names(headers))
                    self.assertNotIn("trailer", names(headers))  # none will follow
                    self.assertEqual(field(headers, "X-Sum"), ["from-header"])
                    self.assertNotIn("x-checksum", names(headers))
                    self.assertNotIn("server-timing", names(headers))
                    body, reset = conn.rest()
                    self.assertFalse(reset)
                    # The body, byte for byte: no chunk framing, no trailer after it.
                    self.assertEqual(len(body), n)
                    self.assertEqual(body, payload(n))

    def test_a_framing_field_in_a_response_trailer_section_never_completes_a_message(self):
        # All of it in one segment: the gateway finds the fault before it sent anything, 502.
        with Connection(self.gw.address) as conn:
            conn.send(b"GET /respond-bad-trailer HTTP/1.1\r\nHost: gw.test\r\n\r\n")
            status, headers, body, _ = conn.response()
            self.assertEqual(status, 502, headers)
            self.assertEqual(body, b'{"error":"bad upstream response"}')
            self.assertNotIn("transfer-encoding", names(headers))
        # The head first: the client has it when the fault comes, so the message must be cut
        # off (a reset), never completed by a last chunk.
        with Connection(self.gw.address) as conn:
            conn.send(b"GET /respond-bad-trailer?pause=0.2 HTTP/1.1\r\nHost: gw.test\r\n\r\n")
            start, headers = read_head(conn.reader)
            self.assertTrue(start.startswith("HTTP/1.1 200"), start)
            self.assertEqual(field(headers, "Transfer-Encoding"), ["chunked"])
            rest, reset = conn.rest()
            self.assertTrue(reset, rest)
            with self.assertRaises(Closed):
                read_chunked(io.BytesIO(rest))
            self.assertNotIn(b"Content-Length", rest)
        self.assertEqual(self.gw.get("/after-bad-response").status, 200)

if __name__ == "__main__":
    harness.main()
