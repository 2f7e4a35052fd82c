"""Upgrades are tunnelled (issue 3, "WebSocket and upgrades"): a WebSocket handshake passes
through the gateway with Connection: Upgrade and Upgrade kept, the upstream's 101 (with its
Sec-WebSocket-Accept) reaches the client, and frames then flow both ways until either side
closes. An upgrade request the upstream answers with anything but 101 stays plain HTTP, and
an idle tunnel is closed after --tunnel-idle-timeout.

The upstream is a tiny WebSocket echo server written with stdlib sockets."""

import base64
import hashlib
import os
import socket
import socketserver
import struct
import threading
import time
import unittest

import harness

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
IO_TIMEOUT = 10.0


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def read_exactly(sock, n):
    data = bytearray()
    while len(data) < n:
        piece = sock.recv(n - len(data))
        if not piece:
            raise EOFError("closed after %d of %d bytes" % (len(data), n))
        data += piece
    return bytes(data)


def read_head(sock):
    """Reads up to the end of a header section, byte by byte (nothing past it is consumed)."""
    data = bytearray()
    while not data.endswith(b"\r\n\r\n"):
        piece = sock.recv(1)
        if not piece:
            raise EOFError("closed inside a header: %r" % bytes(data))
        data += piece
    lines = data.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


def read_frame(sock):
    """One WebSocket frame: (opcode, payload), unmasking if masked."""
    first, second = read_exactly(sock, 2)
    opcode = first & 0x0F
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", read_exactly(sock, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", read_exactly(sock, 8))[0]
    mask = read_exactly(sock, 4) if second & 0x80 else None
    payload = read_exactly(sock, length)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return opcode, payload


def frame(opcode, payload, masked):
    header = bytes([0x80 | opcode])
    mask_bit = 0x80 if masked else 0
    if len(payload) < 126:
        header += bytes([mask_bit | len(payload)])
    elif len(payload) < 65536:
        header += bytes([mask_bit | 126]) + struct.pack("!H", len(payload))
    else:
        header += bytes([mask_bit | 127]) + struct.pack("!Q", len(payload))
    if not masked:
        return header + payload
    mask = os.urandom(4)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class EchoUpstream:
    """GET /ws with a WebSocket handshake: 101 and echo of every data frame (unmasked, as a
    server sends them) until a close frame, answered with a close. GET /plain with the same
    handshake: a plain 200 (no upgrade)."""

    def __init__(self):
        outer = self
        self.upgrade_headers = []  # (connection, upgrade) as the upstream saw them

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                sock = self.request
                sock.settimeout(IO_TIMEOUT)
                try:
                    start, headers = read_head(sock)
                except (EOFError, OSError):
                    return
                outer.upgrade_headers.append((headers.get("connection"), headers.get("upgrade")))
                if not start.startswith("GET /ws"):
                    body = b"no upgrade here"
                    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                                 % (len(body), body))
                    return
                sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n"
                              % accept_key(headers["sec-websocket-key"])).encode())
                try:
                    while True:
                        opcode, payload = read_frame(sock)
                        if opcode == 0x8:
                            sock.sendall(frame(0x8, payload, masked=False))
                            return
                        sock.sendall(frame(opcode, payload, masked=False))
                except (EOFError, OSError):
                    return

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.address = "127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def handshake(address, path, extra=b""):
    host, port = harness.split_host_port(address)
    sock = socket.create_connection((host, port), timeout=IO_TIMEOUT)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(("GET %s HTTP/1.1\r\nHost: ws.test\r\nConnection: keep-alive, Upgrade\r\n"
                  "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Key: %s\r\n\r\n" % (path, key)).encode() + extra)
    return sock, key


class WebSocketTest(harness.SharedClusterTestCase):
    @classmethod
    def setUpCluster(cls):
        c = cls.cluster
        cls.upstream = EchoUpstream()
        c.start_control_plane()
        c.ctl.ok("route", "add", "/", cls.upstream.address)
        cls.gw = c.start_gateway("gw-ws", ["--workers", "2", "--tunnel-idle-timeout", "1s"])
        cls.gw.wait_version(c.ctl.version())

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.upstream.close()

    def test_echo_through_the_gateway(self):
        sock, key = handshake(self.gw.address, "/ws")
        with sock:
            start, headers = read_head(sock)
            self.assertEqual(start, "HTTP/1.1 101 Switching Protocols")
            self.assertEqual(headers.get("upgrade", "").lower(), "websocket")
            self.assertIn("upgrade", headers.get("connection", "").lower())
            self.assertEqual(headers.get("sec-websocket-accept"), accept_key(key))
            self.assertTrue(headers.get("x-request-id"))
            self.assertEqual(self.upstream.upgrade_headers[-1], ("Upgrade", "websocket"))

            sock.sendall(frame(0x1, b"hello through the gateway", masked=True))
            self.assertEqual(read_frame(sock), (0x1, b"hello through the gateway"))
            big = os.urandom(200000)  # larger than one tunnel buffer
            sock.sendall(frame(0x2, big, masked=True))
            self.assertEqual(read_frame(sock), (0x2, big))

            sock.sendall(frame(0x8, b"\x03\xe8", masked=True))  # close, 1000
            self.assertEqual(read_frame(sock), (0x8, b"\x03\xe8"))
            self.assertEqual(sock.recv(1), b"")  # the upstream closed: so does the gateway

    def test_frame_sent_with_the_handshake_is_not_lost(self):
        sock, _ = handshake(self.gw.address, "/ws", extra=frame(0x1, b"early", masked=True))
        with sock:
            start, _ = read_head(sock)
            self.assertEqual(start, "HTTP/1.1 101 Switching Protocols")
            self.assertEqual(read_frame(sock), (0x1, b"early"))

    def test_a_non_101_answer_stays_http(self):
        sock, _ = handshake(self.gw.address, "/plain")
        with sock:
            start, headers = read_head(sock)
            self.assertEqual(start, "HTTP/1.1 200 OK")
            self.assertNotIn("upgrade", headers)
            self.assertEqual(read_exactly(sock, int(headers["content-length"])),
                             b"no upgrade here")
            # Still HTTP on the same connection.
            sock.sendall(b"GET /plain HTTP/1.1\r\nHost: ws.test\r\n\r\n")
            start, headers = read_head(sock)
            self.assertEqual(start, "HTTP/1.1 200 OK")

    def test_an_idle_tunnel_is_closed(self):
        sock, _ = handshake(self.gw.address, "/ws")
        with sock:
            start, _ = read_head(sock)
            self.assertEqual(start, "HTTP/1.1 101 Switching Protocols")
            started = time.monotonic()
            self.assertEqual(sock.recv(1), b"")  # nothing moves: closed after about 1s
            self.assertLess(time.monotonic() - started, 5.0)


if __name__ == "__main__":
    unittest.main()
