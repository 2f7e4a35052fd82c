"""gRPC behind the gateway, end to end (issue 13, EDGE_PLAN.md section 4): a Python gRPC server
registered as an h2c service (`gatewayctl service add ... --protocol h2c`), a Python gRPC client
on an insecure channel to the gateway's --listen. Unary and interleaved bidirectional calls, the
server's own error status with its message, and the gateway's own errors in gRPC's terms: no
route UNIMPLEMENTED, the upstream down UNAVAILABLE, no API key UNAUTHENTICATED, the rate limit
RESOURCE_EXHAUSTED, the route's timeout DEADLINE_EXCEEDED. And the project's control plane behind the gateway:
gatewayctl and a second gateway's config stream through it. Needs Debian's python3-grpcio
(scripts/install-deps.sh); generic handlers with bytes in and out, no generated code."""

import socket
import threading
import time
import unittest
from concurrent import futures

import harness

grpc = harness.import_debian("grpc")


def identity(data):
    return data


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EchoService:
    """/test.Echo/Unary answers its request back, /test.Echo/Bidi each message as it comes,
    /test.Echo/Missing fails NOT_FOUND, /test.Echo/Slow answers after a second."""

    def __init__(self):
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
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.address = "127.0.0.1:%d" % self.port

    def close(self):
        self.server.stop(0)


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
