"""gRPC behind the gateway, end to end (issue 13, EDGE_PLAN.md section 4): a Python gRPC server
registered as an h2c service (`gatewayctl service add ... --protocol h2c`), a Python gRPC client
on an insecure channel to the gateway's --listen. Unary and interleaved bidirectional calls, the
server's own error status with its message, and the gateway's own errors in gRPC's terms: no
route UNIMPLEMENTED, the upstream down UNAVAILABLE, no API key UNAUTHENTICATED, the rate limit
RESOURCE_EXHAUSTED, the route's timeout DEADLINE_EXCEEDED. And the project's control plane behind the gateway:
gatewayctl and a second gateway's config stream through it. HTTP/1.1 clients (curl --http1.1,
http.client) to an h2c service (a small python3-h2 server): bodies of 0 B and 5 MiB, chunked
uploads, trailers for TE: trailers. h2c health checks, passive ejection of a killed h2c
endpoint, h2c connections in gateway_active_upstream_connections. Needs Debian's python3-grpcio
and python3-h2 (scripts/install-deps.sh); generic handlers with bytes in and out, no generated
code."""

import http.client
import re
import socket
import subprocess
import threading
import time
import unittest
from concurrent import futures

import harness

grpc = harness.import_debian("grpc")
h2_config = harness.import_debian("h2.config")
h2_connection = harness.import_debian("h2.connection")
h2_events = harness.import_debian("h2.events")


def identity(data):
    return data


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EchoService:
    """/test.Echo/Unary answers its request back, /test.Echo/Bidi each message as it comes,
    /test.Echo/Missing fails NOT_FOUND, /test.Echo/Slow answers after a second."""

    def __init__(self, port=0):
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))

        def unary(request, context):
            return b"echo:" + request

        def bidi(requests, context):
            for message in requests:
                yield b"echo:" + message

        def missing(request, context):
            context.abort(grpc.StatusCode.NOT_FOUND, "no such record: " + request.decode())

        def slow(request, context):
            time.sleep(1.0)
            return request

        handlers = {
            "Unary": grpc.unary_unary_rpc_method_handler(unary, identity, identity),
            "Bidi": grpc.stream_stream_rpc_method_handler(bidi, identity, identity),
            "Missing": grpc.unary_unary_rpc_method_handler(missing, identity, identity),
            "Slow": grpc.unary_unary_rpc_method_handler(slow, identity, identity),
        }
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("test.Echo", handlers),))
        self.port = self.server.add_insecure_port("127.0.0.1:%d" % port)
        self.server.start()
        self.address = "127.0.0.1:%d" % self.port

    def close(self):
        self.server.stop(0)


class H2cEchoServer:
    """A plain h2c server (HTTP/2 with prior knowledge only) on its own threads: /h2c/echo answers
    the request body back with `x-trailer: done` and `x-request-trailers` (the request's trailer
    names) as trailers; /h2c/sized answers "sized" with a Content-Length. Flow control as h2
    does it, so bodies of any size pass."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.requests = []  # (method, path, authority) of each request, in order
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.closed = True
        self.sock.close()

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        h2 = h2_connection.H2Connection(h2_config.H2Configuration(client_side=False))
        h2.initiate_connection()
        streams = {}  # id -> dict(headers, body, trailers, out, end)
        try:
            conn.sendall(h2.data_to_send())
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                for event in h2.receive_data(data):
                    if isinstance(event, h2_events.RequestReceived):
                        headers = {k.decode() if isinstance(k, bytes) else k:
                                   v.decode() if isinstance(v, bytes) else v
                                   for k, v in event.headers}
                        self.requests.append((headers[":method"], headers[":path"],
                                              headers.get(":authority")))
                        streams[event.stream_id] = {"headers": headers, "body": bytearray(),
                                                    "trailers": [], "out": None}
                    elif isinstance(event, h2_events.DataReceived):
                        streams[event.stream_id]["body"] += event.data
                        h2.acknowledge_received_data(event.flow_controlled_length,
                                                     event.stream_id)
                    elif isinstance(event, h2_events.TrailersReceived):
                        streams[event.stream_id]["trailers"] = [
                            k.decode() if isinstance(k, bytes) else k for k, _ in event.headers]
                    elif isinstance(event, h2_events.StreamEnded):
                        self._respond(h2, event.stream_id, streams[event.stream_id])
                    elif isinstance(event, h2_events.StreamReset):
                        streams.pop(event.stream_id, None)
                self._pump(h2, streams)
                conn.sendall(h2.data_to_send())
        except Exception:  # the gateway closed or reset the connection
            return
        finally:
            conn.close()

    @staticmethod
    def _respond(h2, stream_id, stream):
        path = stream["headers"][":path"]
        if path.startswith("/h2c/sized"):
            h2.send_headers(stream_id, [(":status", "200"), ("content-length", "5"),
                                        ("content-type", "text/plain")])
            stream["out"] = bytearray(b"sized")
            stream["trailers_out"] = None
        else:
            h2.send_headers(stream_id, [(":status", "200"),
                                        ("content-type", "application/octet-stream")])
            stream["out"] = stream["body"]
            stream["trailers_out"] = [("x-trailer", "done"),
                                      ("x-request-trailers", ",".join(stream["trailers"]))]

    @staticmethod
    def _pump(h2, streams):
        for stream_id, stream in list(streams.items()):
            out = stream["out"]
            if out is None:
                continue
            while out:
                window = min(h2.local_flow_control_window(stream_id), h2.max_outbound_frame_size)
                if window <= 0:
                    break
                h2.send_data(stream_id, bytes(out[:window]))
                del out[:window]
            if not out:
                if stream["trailers_out"] is None:
                    h2.end_stream(stream_id)
                else:
                    h2.send_headers(stream_id, stream["trailers_out"], end_stream=True)
                del streams[stream_id]


def upstream_connections(gw):
    metrics = gw.admin_get("/metrics").body.decode()
    found = re.search(r"^gateway_active_upstream_connections (\d+)", metrics, re.M)
    return int(found.group(1)) if found else None


class Http1ToH2cTest(harness.SharedClusterTestCase):
    """HTTP/1.1 clients to an h2c service: the gateway turns each request into an HTTP/2 stream
    and the answer back into HTTP/1.1."""

    @classmethod
    def setUpCluster(cls):
        c = cls.cluster
        cls.server = H2cEchoServer()
        c.start_control_plane()
        cls.ctl = c.ctl
        cls.ctl.ok("service", "add", "plain-h2c", "--endpoint", cls.server.address, "--protocol",
                   "h2c")
        cls.ctl.ok("route", "add", "/h2c", "plain-h2c")
        cls.gw = c.start_gateway("gw-h1-h2c")
        cls.gw.wait_version(cls.ctl.version())
        cls.host, cls.port = harness.split_host_port(cls.gw.address)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        super().tearDownClass()

    def connection(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=30)

    def test_curl_http11_get(self):
        result = subprocess.run(
            ["curl", "--http1.1", "-s", "-i", "http://%s/h2c/sized" % self.gw.address],
            capture_output=True, timeout=30)
        head, _, body = result.stdout.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        self.assertIn(b"content-length: 5", head.lower())
        self.assertEqual(body, b"sized")

    def test_posts_of_0_bytes_and_5_mib(self):
        conn = self.connection()
        for body in (b"", bytes(range(256)) * (5 * 4096)):
            conn.request("POST", "/h2c/echo", body=body)
            response = conn.getresponse()
            self.assertEqual(response.status, 200)
            self.assertEqual(response.read(), body)
        conn.close()  # both on one keep-alive connection

    def test_chunked_upload(self):
        pieces = [bytes([i]) * 100000 for i in range(50)]  # 5 MB in 50 chunks
        conn = self.connection()
        conn.request("POST", "/h2c/echo", body=iter(pieces), encode_chunked=True,
                     headers={"Transfer-Encoding": "chunked"})
        response = conn.getresponse()
        self.assertEqual(response.status, 200)
        self.assertEqual(response.read(), b"".join(pieces))
        conn.close()

    def test_trailers_only_for_te_trailers(self):
        request = (b"POST /h2c/echo HTTP/1.1\r\nHost: h2c.test\r\nTransfer-Encoding: chunked\r\n"
                   b"Connection: close\r\n%s\r\n5\r\nhello\r\n0\r\nx-digest: 1\r\n\r\n")
        with_te = harness.raw_http(self.gw.address, request % b"TE: trailers\r\n")
        self.assertTrue(with_te.startswith(b"HTTP/1.1 200"), with_te)
        self.assertIn(b"Transfer-Encoding: chunked", with_te)
        # The request's trailer reached the upstream, the response's came back after the body.
        self.assertTrue(with_te.endswith(
            b"5\r\nhello\r\n0\r\nx-trailer: done\r\nx-request-trailers: x-digest\r\n\r\n"),
            with_te)
        without = harness.raw_http(self.gw.address, request % b"")
        self.assertTrue(without.startswith(b"HTTP/1.1 200"), without)
        self.assertNotIn(b"x-trailer", without)
        self.assertIn(b"hello", without)

    def test_h2c_connections_are_counted(self):
        conn = self.connection()
        conn.request("GET", "/h2c/sized")
        self.assertEqual(conn.getresponse().read(), b"sized")
        conn.close()
        self.assertGreaterEqual(upstream_connections(self.gw), 1)


class H2cHealthCheckTest(harness.SharedClusterTestCase):
    """Active health checks of gRPC services, over HTTP/2 with prior knowledge."""

    @classmethod
    def setUpCluster(cls):
        c = cls.cluster
        cls.echo = EchoService()
        cls.flaky = EchoService()
        c.start_control_plane()
        cls.ctl = c.ctl
        for name, server in (("steady-grpc", cls.echo), ("flaky-grpc", cls.flaky)):
            cls.ctl.ok("service", "add", name, "--endpoint", server.address, "--protocol", "h2c",
                       "--health-path", "/healthz", "--health-interval", "100ms")
        cls.ctl.ok("route", "add", "/steady/test.Echo", "steady-grpc", "--rewrite-prefix",
                   "/test.Echo")
        cls.ctl.ok("route", "add", "/flaky/test.Echo", "flaky-grpc", "--rewrite-prefix",
                   "/test.Echo")
        cls.gw = c.start_gateway("gw-h2c-health", ["--workers", "1"])
        cls.gw.wait_version(cls.ctl.version())
        cls.channel = grpc.insecure_channel(cls.gw.address)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.echo.close()
        cls.flaky.close()
        super().tearDownClass()

    def unary(self, method, request=b"x"):
        call = self.channel.unary_unary(method, request_serializer=identity,
                                        response_deserializer=identity)
        return call(request, timeout=10)

    def healthy(self, service):
        metrics = self.gw.admin_get("/metrics").body.decode()
        found = re.search(r'^gateway_upstream_endpoint_healthy\{[^}]*service="%s"[^}]*\} (\d)'
                          % service, metrics, re.M)
        return found and found.group(1) == "1"

    def test_checked_grpc_services_stay_up_and_a_stopped_one_comes_back(self):
        time.sleep(0.5)  # several checks of both
        self.assertTrue(self.healthy("steady-grpc"))
        self.assertEqual(self.unary("/steady/test.Echo/Unary", b"a"), b"echo:a")
        port = self.flaky.port
        self.flaky.close()
        harness.wait_until(lambda: not self.healthy("flaky-grpc"), timeout=10)
        response = harness.http_get(self.gw.address, "/flaky/test.Echo/Unary", method="POST")
        self.assertEqual(response.status, 503)
        # The same port serves again: checks find it, calls pass.
        self.flaky = EchoService(port)
        harness.wait_until(lambda: self.healthy("flaky-grpc"), timeout=10)
        self.assertEqual(self.unary("/flaky/test.Echo/Unary", b"b"), b"echo:b")
        self.assertTrue(self.healthy("steady-grpc"))


class H2cPassiveEjectionTest(harness.SharedClusterTestCase):
    """A killed endpoint of an h2c service is ejected as an HTTP/1.1 one would be."""

    @classmethod
    def setUpCluster(cls):
        c = cls.cluster
        cls.live = EchoService()
        cls.doomed = EchoService()
        c.start_control_plane()
        cls.ctl = c.ctl
        cls.ctl.ok("service", "add", "pair-grpc", "--endpoint", cls.live.address, "--endpoint",
                   cls.doomed.address, "--protocol", "h2c", "--eject-after", "1",
                   "--eject-for", "60s")
        cls.ctl.ok("route", "add", "/test.Echo", "pair-grpc")
        cls.gw = c.start_gateway("gw-h2c-eject", ["--workers", "1"])
        cls.gw.wait_version(cls.ctl.version())
        cls.channel = grpc.insecure_channel(cls.gw.address)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.live.close()
        super().tearDownClass()

    def test_a_killed_endpoint_is_ejected(self):
        call = self.channel.unary_unary("/test.Echo/Unary", request_serializer=identity,
                                        response_deserializer=identity)
        for i in range(4):  # both endpoints in use, each on its h2c connection
            self.assertEqual(call(b"%d" % i, timeout=10), b"echo:%d" % i)
        self.assertGreaterEqual(upstream_connections(self.gw), 2)
        self.doomed.close()
        # Calls keep passing (a refused connect fails over), and the dead endpoint is ejected.
        for i in range(6):
            self.assertEqual(call(b"%d" % i, timeout=10), b"echo:%d" % i)
        metrics = self.gw.admin_get("/metrics").body.decode()
        ejected = re.findall(r'^gateway_upstream_endpoint_ejected\{[^}]*\} (\d)', metrics, re.M)
        self.assertIn("1", ejected, metrics)


class GrpcTest(harness.SharedClusterTestCase):
    @classmethod
    def setUpCluster(cls):
        c = cls.cluster
        cls.echo = EchoService()
        c.start_control_plane()
        cls.ctl = c.ctl
        ctl = cls.ctl
        ctl.ok("service", "add", "echo-grpc", "--endpoint", cls.echo.address, "--protocol", "h2c")
        ctl.ok("service", "add", "down-grpc", "--endpoint", "127.0.0.1:%d" % free_port(),
               "--protocol", "h2c")
        ctl.ok("consumer", "add", "alice", "--api-key", "grpc-key-0123456789")
        ctl.ok("route", "add", "/test.Echo", "echo-grpc")
        ctl.ok("route", "add", "/down.Echo", "down-grpc")
        ctl.ok("route", "add", "/keyed.Echo", "echo-grpc", "--auth", "api-key",
               "--rewrite-prefix", "/test.Echo")
        ctl.ok("route", "add", "/limited.Echo", "echo-grpc", "--rate-limit", "2/m", "--burst",
               "2", "--rewrite-prefix", "/test.Echo")
        ctl.ok("route", "add", "/timed.Echo", "echo-grpc", "--timeout", "300ms",
               "--rewrite-prefix", "/test.Echo")
        cls.gw = c.start_gateway("gw-grpc", ["--workers", "2"])
        cls.gw.wait_version(ctl.version())
        cls.channel = grpc.insecure_channel(cls.gw.address)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.echo.close()
        super().tearDownClass()

    def unary(self, method, request=b"x", metadata=None, timeout=10):
        call = self.channel.unary_unary(method, request_serializer=identity,
                                        response_deserializer=identity)
        return call(request, metadata=metadata, timeout=timeout)

    def status_of(self, method, **kwargs):
        with self.assertRaises(grpc.RpcError) as raised:
            self.unary(method, **kwargs)
        return raised.exception.code(), raised.exception.details()

    def test_unary(self):
        self.assertEqual(self.unary("/test.Echo/Unary", b"hello"), b"echo:hello")
        big = bytes(range(256)) * 4096  # 1 MiB each way
        self.assertEqual(self.unary("/test.Echo/Unary", big), b"echo:" + big)

    def test_bidi_streaming_interleaves(self):
        call = self.channel.stream_stream("/test.Echo/Bidi", request_serializer=identity,
                                          response_deserializer=identity)
        outgoing = []
        ready = threading.Condition()

        def requests():
            # Each message goes only once the previous answer came back.
            for i in range(20):
                with ready:
                    ready.wait_for(lambda: len(outgoing) > i, timeout=10)
                    if len(outgoing) <= i:
                        return
                    message = outgoing[i]
                yield message

        with ready:
            outgoing.append(b"m0")
        answers = []
        for answer in call(requests(), timeout=30):
            answers.append(answer)
            with ready:
                outgoing.append(b"m%d" % len(answers))
                ready.notify_all()
        self.assertEqual(answers, [b"echo:m%d" % i for i in range(20)])

    def test_server_error_status_passes_through(self):
        code, details = self.status_of("/test.Echo/Missing", request=b"42")
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND)
        self.assertEqual(details, "no such record: 42")

    def test_no_route_is_unimplemented(self):
        code, _ = self.status_of("/nowhere.Echo/Unary")
        self.assertEqual(code, grpc.StatusCode.UNIMPLEMENTED)

    def test_upstream_down_is_unavailable(self):
        code, _ = self.status_of("/down.Echo/Unary")
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE)

    def test_missing_api_key_is_unauthenticated(self):
        code, _ = self.status_of("/keyed.Echo/Unary")
        self.assertEqual(code, grpc.StatusCode.UNAUTHENTICATED)
        answer = self.unary("/keyed.Echo/Unary", b"k",
                            metadata=(("x-api-key", "grpc-key-0123456789"),))
        self.assertEqual(answer, b"echo:k")

    def test_rate_limit_is_resource_exhausted(self):
        for _ in range(2):
            self.assertEqual(self.unary("/limited.Echo/Unary", b"r"), b"echo:r")
        code, _ = self.status_of("/limited.Echo/Unary")
        self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED)

    def test_route_timeout_is_deadline_exceeded(self):
        code, _ = self.status_of("/timed.Echo/Slow")
        self.assertEqual(code, grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertEqual(self.unary("/timed.Echo/Unary", b"t"), b"echo:t")



class ControlPlaneBehindTheGatewayTest(harness.SharedClusterTestCase):
    """The project's own control plane as an h2c service of a gateway (EDGE_PLAN G4): gatewayctl
    changes the config through the gateway, and a second gateway subscribes to its config
    stream through the first one."""

    @classmethod
    def setUpCluster(cls):
        c = cls.cluster
        cls.web = c.upstream("web")
        cp = c.start_control_plane()
        cls.ctl = c.ctl
        cls.ctl.ok("service", "add", "cp", "--endpoint", cp.address, "--protocol", "h2c")
        cls.ctl.ok("route", "add", "/gateway.v1.AdminService", "cp")
        cls.ctl.ok("route", "add", "/gateway.v1.DiscoveryService", "cp")
        cls.ctl.ok("service", "add", "web-svc", "--endpoint", cls.web.address)
        # A config stream is quiet between changes: it must outlive --upstream-timeout.
        cls.front = c.start_gateway("front", ["--upstream-timeout", "1s"])
        cls.front.wait_version(cls.ctl.version())

    def test_gatewayctl_and_a_gateway_through_the_gateway(self):
        via = harness.Ctl(self.front.address)
        via.ok("route", "add", "/through", "web-svc")
        version = via.version()
        self.assertEqual(version, self.ctl.version())
        second = self.cluster.start_gateway("second", control_plane=self.front.address)
        second.wait_version(version)
        self.assertEqual(second.get("/through/x").status, 200)
        # The subscription stays open through the gateway, quiet past --upstream-timeout: a
        # later change reaches it on the same stream.
        time.sleep(2.5)
        via.ok("route", "add", "/later", "web-svc")
        second.wait_version(via.version())
        self.assertEqual(second.get("/later/y").status, 200)
        self.assertEqual(second.process.log_text().count("control plane connected"), 1)


if __name__ == "__main__":
    harness.main()
