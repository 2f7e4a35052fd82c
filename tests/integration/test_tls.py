"""HTTPS at the gateway (issue 13): certificates managed with `gatewayctl cert`, chosen by SNI
(exact, one-label wildcard, the default, or refused), swapped live without dropping a
connection, TLS 1.2/1.3 only, session resumption, X-Forwarded-Proto, --https-redirect and
--hsts, HTTP/2 chosen by ALPN (curl, Python's h2, h2load), and keys that never show."""

import datetime
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import time
import warnings

import harness


def make_certificate(directory, name, dns, not_before=None, not_after=None, key=None):
    """A self-signed EC P-256 certificate for `dns` (python3-cryptography, so its dates can be
    in the past): (cert path, key path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = key or ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0])])
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - datetime.timedelta(hours=1))
            .not_valid_after(not_after or now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), False)
            .sign(key, hashes.SHA256()))
    cert_path = os.path.join(directory, name + ".crt")
    key_path = os.path.join(directory, name + ".key")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


def der(path):
    return harness.pem_to_der(path)


def client_context():
    """Trusts whatever the gateway serves: the tests compare certificates themselves."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def served(address, server_name, context=None):
    """The DER certificate the gateway serves a handshake with SNI `server_name` (None: no
    SNI)."""
    host, port = harness.split_host_port(address)
    with socket.create_connection((host, port), timeout=5) as sock:
        with (context or client_context()).wrap_socket(sock, server_hostname=server_name) as tls:
            return tls.getpeercert(binary_form=True)


class TlsTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        c = self.cluster
        self.dir = c.path("certs")
        os.makedirs(self.dir, exist_ok=True)
        self.api = make_certificate(self.dir, "api", ["api.example.com"])
        self.shop = make_certificate(self.dir, "shop", ["*.shop.example"])
        self.fallback = make_certificate(self.dir, "fallback", ["fallback.example"])
        self.up = c.upstream("order")
        c.start_control_plane()
        self.ctl = c.ctl
        self.ctl.ok("service", "add", "order-svc", "--endpoint", self.up.address)
        self.ctl.ok("route", "add", "/api", "order-svc")
        self.gw = c.start_gateway("gw-1", ["--listen-tls", "127.0.0.1:0",
                                           "--handshake-timeout", "1s"])

    def add(self, name, pair, *flags):
        self.ctl.ok("cert", "add", name, "--cert", pair[0], "--key", pair[1], *flags)

    def live(self):
        self.ctl.wait_acked(["gw-1"], self.ctl.version())

    def https(self, path, server_name="api.example.com", headers=None, method="GET"):
        host, port = harness.split_host_port(self.gw.tls_address)
        context = client_context()
        sock = socket.create_connection((host, port), timeout=5)
        tls = context.wrap_socket(sock, server_hostname=server_name)
        conn = http.client.HTTPConnection(host, port, timeout=5)
        conn.sock = tls
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        body = r.read()
        conn.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), body

    def test_sni_chooses_exact_then_one_label_wildcard_then_the_default(self):
        self.add("api", self.api)
        self.add("shop", self.shop)
        self.add("fallback", self.fallback, "--default")
        self.live()
        address = self.gw.tls_address
        self.assertEqual(served(address, "api.example.com"), der(self.api[0]))
        self.assertEqual(served(address, "API.Example.COM"), der(self.api[0]))
        # /metrics says when each certificate served expires.
        from cryptography import x509
        metrics = self.gw.admin_get("/metrics").body.decode()
        for name, pair in (("api", self.api), ("shop", self.shop), ("fallback", self.fallback)):
            with open(pair[0], "rb") as f:
                not_after = x509.load_pem_x509_certificate(f.read()).not_valid_after
            seconds = int(not_after.replace(tzinfo=datetime.timezone.utc).timestamp())
            self.assertIn('gateway_tls_certificate_not_after_timestamp_seconds{certificate="%s"} %d'
                          % (name, seconds), metrics)
        self.assertEqual(served(address, "cart.shop.example"), der(self.shop[0]))
        # A TLS wildcard covers one label only (RFC 6125).
        self.assertEqual(served(address, "a.cart.shop.example"), der(self.fallback[0]))
        self.assertEqual(served(address, "unknown.example"), der(self.fallback[0]))
        self.assertEqual(served(address, None), der(self.fallback[0]))

        # Without a default an unknown name is refused in the handshake.
        self.ctl.ok("cert", "delete", "fallback")
        self.live()
        with self.assertRaises(ssl.SSLError) as refused:
            served(address, "unknown.example")
        self.assertIn("UNRECOGNIZED_NAME", str(refused.exception).upper())
        self.assertEqual(served(address, "api.example.com"), der(self.api[0]))

    def test_https_through_python_and_curl_with_x_forwarded_proto(self):
        self.add("api", self.api, "--default")
        self.live()
        status, _, body = self.https("/api/orders?x=1")
        self.assertEqual(status, 200)
        seen = json.loads(body)
        self.assertEqual(seen["path"], "/api/orders?x=1")
        self.assertEqual(seen["headers"]["x-forwarded-proto"], "https")
        self.assertEqual(self.gw.get("/api/plain").json()["headers"]["x-forwarded-proto"], "http")

        host, port = harness.split_host_port(self.gw.tls_address)
        result = subprocess.run(
            ["curl", "-sS", "--cacert", self.api[0], "--resolve",
             "api.example.com:%d:%s" % (port, host), "-w", "\n%{http_version}",
             "https://api.example.com:%d/api/curl" % port],
            capture_output=True, text=True, timeout=20)
        self.assertEqual(result.returncode, 0, result.stderr)
        body, version = result.stdout.rsplit("\n", 1)
        self.assertEqual(json.loads(body)["path"], "/api/curl")
        self.assertEqual(version, "2")  # ALPN offers h2 first; curl takes it

    def curl_https(self, path, *args):
        """curl to api.example.com on the TLS listener: (body text, HTTP version, headers)."""
        host, port = harness.split_host_port(self.gw.tls_address)
        result = subprocess.run(
            ["curl", "-sS", "--cacert", self.api[0], "--resolve",
             "api.example.com:%d:%s" % (port, host), "-D", "-", "-w", "\n%{http_version}"] +
            list(args) + ["https://api.example.com:%d%s" % (port, path)],
            capture_output=True, text=True, timeout=20)
        self.assertEqual(result.returncode, 0, result.stderr)
        head, rest = result.stdout.split("\n\n", 1)  # text=True: \r\n read as \n
        body, version = rest.rsplit("\n", 1)
        headers = dict((k.strip().lower(), v.strip()) for k, v in
                       (line.split(":", 1) for line in head.splitlines()[1:]))
        return body, version, headers

    def test_http2_over_tls_by_alpn_with_curl_python_and_h2load(self):
        self.add("api", self.api, "--default")
        self.ctl.ok("route", "add", "/secure", "order-svc", "--https-redirect", "--hsts", "2h")
        self.live()
        # curl --http2 takes h2, --http1.1 keeps HTTP/1.1: the same route, the same answer.
        body, version, headers = self.curl_https("/api/h2?x=1", "--http2")
        self.assertEqual(version, "2")
        seen = json.loads(body)
        self.assertEqual(seen["path"], "/api/h2?x=1")
        self.assertEqual(seen["headers"]["x-forwarded-proto"], "https")
        body, version, _ = self.curl_https("/api/h1", "--http1.1")
        self.assertEqual(version, "1.1")
        self.assertEqual(json.loads(body)["path"], "/api/h1")
        # The route policies see a TLS request over h2: no redirect, HSTS sent.
        body, version, headers = self.curl_https("/secure/pay", "--http2")
        self.assertEqual(version, "2")
        self.assertEqual(headers.get("strict-transport-security"), "max-age=7200")
        self.assertEqual(json.loads(body)["path"], "/secure/pay")

        # Python's ssl and the h2 library, ALPN h2 only: several streams on one connection,
        # and the connection outlives a certificate update.
        harness.import_debian("h2")
        import h2.config
        import h2.connection
        import h2.events
        host, port = harness.split_host_port(self.gw.tls_address)
        context = client_context()
        context.set_alpn_protocols(["h2"])
        sock = context.wrap_socket(socket.create_connection((host, port), timeout=10),
                                   server_hostname="api.example.com")
        self.assertEqual(sock.selected_alpn_protocol(), "h2")
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()

        def exchange(paths):
            ids = {}
            for path in paths:
                stream_id = conn.get_next_available_stream_id()
                ids[stream_id] = path
                conn.send_headers(stream_id, [(":method", "GET"), (":scheme", "https"),
                                              (":authority", "api.example.com"),
                                              (":path", path)], end_stream=True)
            sock.sendall(conn.data_to_send())
            bodies, statuses = {i: b"" for i in ids}, {}
            open_streams = set(ids)
            deadline = time.monotonic() + 10
            while open_streams and time.monotonic() < deadline:
                data = sock.recv(65536)
                self.assertTrue(data, "the gateway closed the h2 connection")
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.ResponseReceived):
                        statuses[event.stream_id] = dict(event.headers)[b":status"]
                    elif isinstance(event, h2.events.DataReceived):
                        bodies[event.stream_id] += event.data
                        conn.acknowledge_received_data(event.flow_controlled_length,
                                                       event.stream_id)
                    elif isinstance(event, h2.events.StreamEnded):
                        open_streams.discard(event.stream_id)
                sock.sendall(conn.data_to_send())
            self.assertFalse(open_streams, "streams not answered in time")
            for stream_id, path in ids.items():
                self.assertEqual(statuses[stream_id], b"200")
                seen = json.loads(bodies[stream_id])
                self.assertEqual(seen["path"], path)
                self.assertEqual(seen["headers"]["x-forwarded-proto"], "https")

        exchange(["/api/py/%d" % i for i in range(5)])
        old = sock.getpeercert(binary_form=True)
        renewed = make_certificate(self.dir, "api-renewed", ["api.example.com"])
        self.ctl.ok("cert", "update", "api", "--cert", renewed[0], "--key", renewed[1])
        self.live()
        self.assertEqual(served(self.gw.tls_address, "api.example.com"), der(renewed[0]))
        exchange(["/api/after/%d" % i for i in range(5)])
        self.assertEqual(sock.getpeercert(binary_form=True), old)
        # The h2 connection counts as an open client connection until it closes.
        def open_connections():
            text = self.gw.admin_get("/metrics").body.decode()
            return int(re.search(r"^gateway_active_client_connections (\d+)$", text, re.M)
                       .group(1))
        harness.wait_until(lambda: open_connections() == 1, timeout=10,
                           message="the h2 connection alone counted")
        sock.close()
        harness.wait_until(lambda: open_connections() == 0, timeout=10,
                           message="no client connection counted once it closed")

        # h2load over TLS: 2 connections, 10 streams each at a time, every request answered.
        result = subprocess.run(["h2load", "-n", "400", "-c", "2", "-m", "10",
                                 "https://%s:%d/api/load" % (host, port)],
                                capture_output=True, text=True, timeout=120)
        self.assertIn("Application protocol: h2", result.stdout)
        self.assertRegex(result.stdout, r"requests: 400 total, 400 started, 400 done, "
                                        r"400 succeeded, 0 failed, 0 errored")

    def test_tls_versions_and_session_resumption(self):
        self.add("api", self.api, "--default")
        self.live()
        host, port = harness.split_host_port(self.gw.tls_address)
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            context = client_context()
            context.minimum_version = context.maximum_version = version
            with socket.create_connection((host, port), timeout=5) as sock:
                with context.wrap_socket(sock, server_hostname="api.example.com") as tls:
                    self.assertEqual(tls.version(), version.name.replace("_", "."))
        # TLS 1.1 is refused (the client may not even offer it on this OpenSSL: either way it
        # does not get a session).
        old = client_context()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
        except ValueError:
            old = None
        if old is not None:
            with self.assertRaises((ssl.SSLError, ConnectionError)):
                served(self.gw.tls_address, "api.example.com", old)

        # TLS 1.2 resumption with a ticket (1.3's tickets arrive after the handshake).
        context = client_context()
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection((host, port), timeout=5) as sock:
            with context.wrap_socket(sock, server_hostname="api.example.com") as tls:
                session = tls.session
                self.assertFalse(tls.session_reused)
        with socket.create_connection((host, port), timeout=5) as sock:
            with context.wrap_socket(sock, server_hostname="api.example.com",
                                     session=session) as tls:
                self.assertTrue(tls.session_reused)
        # The client's Finished may still be on its way when the client is done: wait for it.
        harness.wait_until(
            lambda: 'gateway_tls_handshakes_total{result="ok",resumed="true"} 1' in
            self.gw.admin_get("/metrics").body.decode(), timeout=10,
            message="the resumed handshake counted")

    def test_a_certificate_swapped_live_keeps_open_connections(self):
        self.add("api", self.api, "--default")
        self.live()
        host, port = harness.split_host_port(self.gw.tls_address)
        sock = socket.create_connection((host, port), timeout=5)
        tls = client_context().wrap_socket(sock, server_hostname="api.example.com")
        conn = http.client.HTTPConnection(host, port, timeout=5)
        conn.sock = tls
        conn.request("GET", "/api/before")
        self.assertEqual(conn.getresponse().read() and 200, 200)
        old = tls.getpeercert(binary_form=True)
        self.assertEqual(old, der(self.api[0]))

        renewed = make_certificate(self.dir, "api-renewed", ["api.example.com"])
        self.ctl.ok("cert", "update", "api", "--cert", renewed[0], "--key", renewed[1])
        self.live()
        # New handshakes get the new certificate at once...
        self.assertEqual(served(self.gw.tls_address, "api.example.com"), der(renewed[0]))
        # ...while the open connection keeps serving on the old one.
        for i in range(3):
            conn.request("GET", "/api/after/%d" % i)
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            self.assertEqual(json.loads(r.read())["path"], "/api/after/%d" % i)
        self.assertEqual(tls.getpeercert(binary_form=True), old)
        conn.close()

    def test_bad_certificates_are_refused_in_one_line_and_nothing_is_stored(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        expired = make_certificate(self.dir, "expired", ["old.example"],
                                   not_before=now - datetime.timedelta(days=30),
                                   not_after=now - datetime.timedelta(days=1))
        other = make_certificate(self.dir, "other", ["other.example"])
        garbage = os.path.join(self.dir, "garbage.pem")
        with open(garbage, "w") as f:
            f.write("not a certificate\n")
        version = self.ctl.version()
        for cert, key in ((expired[0], expired[1]), (self.api[0], other[1]),
                          (garbage, self.api[1])):
            code, out, err = self.ctl.run("cert", "add", "bad", "--cert", cert, "--key", key)
            self.assertNotEqual(code, 0, out)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertNotIn("PRIVATE KEY", err)
        self.assertEqual(self.ctl.version(), version)
        self.assertEqual(self.ctl.json("cert", "list"), [])

    def test_https_redirect_and_hsts(self):
        self.add("api", self.api, "--default")
        self.ctl.ok("route", "add", "/secure", "order-svc", "--https-redirect", "--hsts", "1h")
        self.live()
        host, port = harness.split_host_port(self.gw.tls_address)
        r = self.gw.get("/secure/pay?x=1", headers={"Host": "shop.example:8080"},
                        method="POST", body=b"{}")
        self.assertEqual(r.status, 308)
        self.assertEqual(r.header("Location"), "https://shop.example:%d/secure/pay?x=1" % port)
        self.assertIsNone(r.header("Strict-Transport-Security"))  # never over cleartext

        status, headers, body = self.https("/secure/pay?x=1")
        self.assertEqual(status, 200)
        self.assertEqual(headers["strict-transport-security"], "max-age=3600")
        self.assertEqual(json.loads(body)["path"], "/secure/pay?x=1")
        # A route without the flags: no redirect, no HSTS.
        status, headers, _ = self.https("/api/x")
        self.assertEqual(status, 200)
        self.assertNotIn("strict-transport-security", headers)

    def test_a_silent_client_is_closed_after_the_handshake_timeout(self):
        self.add("api", self.api, "--default")
        self.live()
        host, port = harness.split_host_port(self.gw.tls_address)
        began = time.monotonic()
        with socket.create_connection((host, port), timeout=10) as sock:
            self.assertEqual(sock.recv(1), b"")  # closed by the gateway, nothing sent
        self.assertLess(time.monotonic() - began, 5)
        # and a real client is still served
        self.assertEqual(self.https("/api/after")[0], 200)

    def test_private_keys_never_show(self):
        self.add("api", self.api, "--default")
        self.live()
        with open(self.api[1]) as f:
            key_pem = f.read()
        key_body = key_pem.splitlines()[1]
        outputs = [
            self.ctl.ok("cert", "list"),
            self.ctl.ok("cert", "list", "-o", "json"),
            self.ctl.ok("cert", "get", "api", "-o", "json"),
            self.ctl.ok("export"),
            self.ctl.ok("history", "show", str(self.ctl.version())),
            self.gw.admin_get("/config").body.decode(),
            harness.http_get(self.cluster.control_plane.admin_address, "/config").body.decode(),
            self.gw.process.log_text(),
        ]
        for text in outputs:
            self.assertNotIn("PRIVATE KEY", text)
            self.assertNotIn(key_body, text)
        listed = self.ctl.json("cert", "list")
        self.assertEqual([c["name"] for c in listed], ["api"])
        self.assertEqual(listed[0]["dns_names"], ["api.example.com"])


if __name__ == "__main__":
    harness.main()
