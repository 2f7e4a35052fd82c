"""Issue 11: a secure control channel. Certificates are made by openssl at test time (a CA, the
control plane's server certificate for the loopback names, a client certificate per gateway);
the control plane runs with --tls-cert/--tls-key, --client-ca and --auth-token-file:

- a gateway with its own client certificate is accepted and serves the config; one without a
  certificate or token is refused and never shown connected; one presenting another node's
  certificate is refused with a message naming both; a gateway token works too;
- tokens: viewer reads and cannot write, a gateway token cannot use the admin API, no token and
  an unknown token are refused, every refusal in one line naming the token, role and call;
  each write is logged with who made it;
- a CLI without TLS against the TLS server (and with TLS against a plaintext one, with an
  untrusted CA, with a wrong name) fails fast with one line saying what to fix;
- --listen 0.0.0.0 without TLS and tokens is refused unless --insecure;
- the server certificate replaced on disk is served without a restart (a bad one is refused and
  the old one kept); token file edits and removals apply within seconds, and on SIGHUP."""

import os
import signal
import subprocess
import time

import harness

ADMIN = "admin-token-0123456789abcdef"
VIEWER = "viewer-token-0123456789abcdef"
GATEWAY = "gateway-token-0123456789abcdef"


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    # Written then renamed, as an editor or a Secret update does: a reader never sees half.
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


class SecurityTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        c = self.cluster
        self.pki = harness.Pki(c.path("pki"))
        self.server_cert, self.server_key = self.pki.server()
        self.tokens = c.path("tokens.csv")
        write(self.tokens, "# token,name,role\n%s,alice,admin\n%s,victor,viewer\n"
                           "%s,fleet,gateway\n" % (ADMIN, VIEWER, GATEWAY))
        self.cp = c.start_control_plane(extra_args=[
            "--tls-cert", self.server_cert, "--tls-key", self.server_key,
            "--client-ca", self.pki.ca_cert, "--auth-token-file", self.tokens])
        self.tls = ["--tls-ca", self.pki.ca_cert]
        self.admin = harness.Ctl(self.cp.address, self.tls + ["--token", ADMIN])
        self.upstream = c.upstream("orders")
        self.admin.ok("service", "add", "orders", "--endpoint", self.upstream.address)
        self.admin.ok("route", "add", "/api", "orders")

    def ctl(self, *args):
        return harness.Ctl(self.cp.address, list(args))

    def gateway(self, node_id, *args):
        return self.cluster.start_gateway(
            node_id, extra_args=["--control-plane-ca", self.pki.ca_cert] + list(args))

    def assert_refused(self, code_out_err, *needles):
        code, out, err = code_out_err
        self.assertEqual(code, 1, (out, err))
        self.assertEqual(err.count("\n"), 1, err)  # one line
        self.assertTrue(err.startswith("gatewayctl: "), err)
        for needle in needles:
            self.assertIn(needle, err)
        return err

    def test_gateways_authenticate_with_their_certificate_or_a_gateway_token(self):
        cert, key = self.pki.issue("gw-1", "gw-1", dns=["gw-1.example"])
        gw1 = self.gateway("gw-1", "--tls-cert", cert, "--tls-key", key)
        token_file = self.cluster.path("gateway.token")
        write(token_file, GATEWAY + "\n")
        gw2 = self.gateway("gw-2", "--token-file", token_file)
        self.admin.wait_acked(["gw-1", "gw-2"])
        for gw in (gw1, gw2):
            self.assertEqual(gw.get("/api/x").upstream_name(), "orders")
        log = self.cp.process.log_text()
        self.assertIn("gateway gw-1 subscribed", log)
        self.assertIn("as CN=gw-1", log)
        self.assertIn("as fleet", log)

        # Neither certificate nor token: refused, never connected.
        anonymous = self.gateway("gw-3")
        # gw-1's certificate presented by another node id.
        impostor = self.gateway("gw-4", "--tls-cert", cert, "--tls-key", key)
        harness.wait_until(
            lambda: "refused this gateway: UNAUTHENTICATED" in anonymous.process.log_text() and
            "refused this gateway: PERMISSION_DENIED" in impostor.process.log_text(), 10,
            message="both gateways told why they were refused")
        impostor_log = impostor.process.log_text()
        self.assertIn("node id gw-4", impostor_log)
        self.assertIn("CN=gw-1", impostor_log)
        self.assertIn("needs a token", anonymous.process.log_text())
        gateways = self.admin.gateways()
        self.assertNotIn("gw-3", gateways)
        self.assertNotIn("gw-4", gateways)
        self.assertTrue(gateways["gw-1"]["connected"])

    def test_roles(self):
        viewer = self.ctl(*self.tls, "--token", VIEWER)
        self.assertIn("/api", viewer.ok("route", "list"))
        viewer.ok("status")
        viewer.ok("gateways")
        version = self.admin.version()
        self.assert_refused(viewer.run("route", "add", "/b", "orders"), "permission denied",
                            "victor", "viewer", "create routes")
        self.assert_refused(viewer.run("gateways", "prune"), "victor", "viewer")
        # Declarative config: a viewer may see what a file would change, export and read the
        # history, but not apply nor roll back.
        change = self.cluster.path("change.yaml")
        write(change, "routes:\n  - path: /b\n    target: orders\n")
        code, out, err = viewer.run("diff", "-f", change)
        self.assertEqual(code, 1, err)  # 1: there is something to change
        self.assertIn("/b", out)
        self.assertIn("/api", viewer.ok("export"))
        viewer.ok("history")
        self.assert_refused(viewer.run("apply", "-f", change), "permission denied", "victor",
                            "viewer", "apply config")
        self.assert_refused(viewer.run("rollback", "1"), "victor", "viewer", "roll back")

        fleet = self.ctl(*self.tls, "--token", GATEWAY)
        self.assert_refused(fleet.run("route", "list"), "permission denied", "fleet", "gateway",
                            "list routes")
        self.assert_refused(fleet.run("service", "delete", "orders"), "fleet", "gateway")
        code, _, err = fleet.run("diff", "-f", change)
        self.assertEqual(code, 2, err)  # diff: 2 on any error, as kubectl diff
        self.assertIn("permission denied", err)
        self.assert_refused(fleet.run("history"), "fleet", "gateway", "history")

        self.assert_refused(self.ctl(*self.tls).run("route", "list"), "needs a token",
                            "--token", "GATEWAYCTL_TOKEN")
        self.assert_refused(self.ctl(*self.tls, "--token", "not-a-token").run("route", "list"),
                            "refused the token")
        # The environment works as the flags do.
        code, out, _ = self.ctl().run("route", "list", env={
            "GATEWAYCTL_TOKEN": VIEWER, "GATEWAYCTL_TLS_CA": self.pki.ca_cert})
        self.assertEqual(code, 0)
        self.assertEqual(self.admin.version(), version)  # nothing refused was written

        self.admin.ok("route", "add", "/b", "orders")
        log = self.cp.process.log_text()
        self.assertRegex(log, r"config version %d by alice: route /b" % (version + 1))
        for token in (ADMIN, VIEWER, GATEWAY, "not-a-token"):
            self.assertNotIn(token, log)  # tokens are never logged

    def test_tls_mistakes_fail_fast_with_one_line(self):
        started = time.monotonic()
        self.assert_refused(self.ctl("--token", ADMIN).run("status"), "speaks TLS", "--tls-ca")
        other = harness.Pki(self.cluster.path("other-pki"), "other-ca")
        self.assert_refused(self.ctl("--tls-ca", other.ca_cert, "--token", ADMIN).run("status"),
                            "does not verify")
        self.assert_refused(self.ctl(*self.tls, "--tls-server-name", "cp.example", "--token",
                                     ADMIN).run("status"),
                            "not for cp.example", "localhost")
        plain = self.cluster.start_control_plane("plain")
        self.assert_refused(harness.Ctl(plain.address, self.tls).run("status"),
                            "does not speak TLS")
        self.assertLess(time.monotonic() - started, 15)
        # The name the certificate carries works, as another host name than the dialled one.
        port = harness.split_host_port(self.cp.address)[1]
        out = harness.Ctl("localhost:%d" % port, self.tls + ["--token", ADMIN]).ok("status")
        self.assertIn("version", out)

    def test_certificate_rotation_without_restart(self):
        token_file = self.cluster.path("gateway.token")
        write(token_file, GATEWAY + "\n")
        gw = self.gateway("gw-1", "--token-file", token_file)
        self.admin.wait_acked(["gw-1"])
        first = harness.served_certificate(self.cp.address, self.pki.ca_cert)
        self.assertEqual(first, harness.pem_to_der(self.server_cert))

        # A bad file is refused and the old certificate stays in use.
        write(self.server_cert, "not a certificate\n")
        harness.wait_until(lambda: "refused the changed files" in self.cp.process.log_text(), 10,
                           message="the bad certificate refused")
        self.assertEqual(harness.served_certificate(self.cp.address, self.pki.ca_cert), first)

        new_cert, new_key = self.pki.server("controlplane-2")
        write(self.server_key, read(new_key))
        write(self.server_cert, read(new_cert))
        expected = harness.pem_to_der(new_cert)
        harness.wait_until(
            lambda: harness.served_certificate(self.cp.address, self.pki.ca_cert) == expected,
            10, message="the new certificate served")
        # Open streams stay; new calls and changes go through.
        self.admin.ok("route", "add", "/c", "orders")
        self.admin.wait_acked(["gw-1"])
        self.assertEqual(gw.get("/c/1").upstream_name(), "orders")
        self.assertTrue(self.cp.process.running())

    def test_token_file_edits(self):
        newcomer = "newcomer-token-0123456789abcdef"
        ctl = self.ctl(*self.tls, "--token", newcomer)
        self.assert_refused(ctl.run("route", "list"), "refused the token")
        write(self.tokens, read(self.tokens) + "%s,nina,admin\n" % newcomer)
        harness.wait_until(lambda: ctl.run("route", "list")[0] == 0, 10,
                           message="the added token accepted")
        # Removed: refused for new calls at once after the reload.
        write(self.tokens, "%s,alice,admin\n" % ADMIN)
        harness.wait_until(lambda: ctl.run("route", "list")[0] == 1, 10,
                           message="the removed token refused")
        # A bad file keeps the previous tokens.
        write(self.tokens, "%s,alice,superuser\n" % ADMIN)
        harness.wait_until(lambda: "is not admin, viewer or gateway" in
                           self.cp.process.log_text(), 10, message="the bad file refused")
        self.admin.ok("route", "list")
        # SIGHUP re-reads it at once.
        write(self.tokens, "%s,alice,admin\n%s,nina,viewer\n" % (ADMIN, newcomer))
        os.kill(self.cp.process.pid, signal.SIGHUP)
        harness.wait_until(lambda: ctl.run("route", "list")[0] == 0, 10,
                           message="the token back after SIGHUP")
        self.assert_refused(ctl.run("route", "delete", "/api"), "nina", "viewer")

    def test_a_gateway_token_file_replaced_is_used_on_the_next_stream(self):
        token_file = self.cluster.path("gateway.token")
        write(token_file, GATEWAY + "\n")
        gw = self.gateway("gw-1", "--token-file", token_file)
        self.admin.wait_acked(["gw-1"])
        rotated = "rotated-gateway-token-0123456789"
        write(self.tokens, "%s,alice,admin\n%s,fleet-2,gateway\n" % (ADMIN, rotated))
        write(token_file, rotated + "\n")
        # The open stream stays; the next one (the control plane restarted) uses the new token.
        self.cp.restart()
        self.admin.wait_acked(["gw-1"])
        self.admin.ok("route", "add", "/d", "orders")
        self.admin.wait_acked(["gw-1"])
        self.assertEqual(gw.get("/d/1").upstream_name(), "orders")
        self.assertIn("as fleet-2", self.cp.process.log_text(this_run_only=True))


class SecureByDefaultTest(harness.ClusterTestCase):
    def run_controlplane(self, *args, timeout=10):
        argv = [harness.binary("controlplane"), "--db", self.cluster.path("cp.db")] + list(args)
        return subprocess.run(argv, capture_output=True, timeout=timeout, text=True)

    def test_a_public_listen_address_needs_tls_and_tokens(self):
        result = self.run_controlplane("--listen", "0.0.0.0:0")
        self.assertEqual(result.returncode, 1)
        self.assertIn("not a loopback address", result.stderr)
        self.assertIn("--tls-cert", result.stderr)
        self.assertIn("--auth-token-file", result.stderr)
        self.assertIn("--insecure", result.stderr)
        self.assertFalse(os.path.exists(self.cluster.path("cp.db")))  # refused before anything

        pki = harness.Pki(self.cluster.path("pki"))
        cert, key = pki.server()
        result = self.run_controlplane("--listen", "0.0.0.0:0", "--tls-cert", cert,
                                       "--tls-key", key)
        self.assertEqual(result.returncode, 1)
        self.assertIn("--auth-token-file", result.stderr)
        self.assertNotIn("--tls-cert", result.stderr.split("add ")[1].split(" so ")[0])

        # --insecure starts, with a warning.
        cp = self.cluster.start_control_plane(listen="0.0.0.0:0", extra_args=["--insecure"])
        self.assertIn("WARN --insecure", cp.process.log_text())
        port = harness.split_host_port(cp.address)[1]
        self.assertIn("version", harness.Ctl("127.0.0.1:%d" % port).ok("status"))

    def test_bad_security_files_are_refused_at_start(self):
        pki = harness.Pki(self.cluster.path("pki"))
        cert, key = pki.server()
        _, other_key = pki.issue("other", "other")
        result = self.run_controlplane("--listen", "127.0.0.1:0", "--tls-cert", cert,
                                       "--tls-key", other_key)
        self.assertEqual(result.returncode, 1)
        self.assertIn("is not the key of the certificate", result.stderr)
        tokens = self.cluster.path("tokens.csv")
        write(tokens, "a,b\n")
        result = self.run_controlplane("--listen", "127.0.0.1:0", "--auth-token-file", tokens)
        self.assertEqual(result.returncode, 1)
        self.assertIn("line 1: want TOKEN,NAME,ROLE", result.stderr)
        self.assertEqual(result.stderr.count("\n"), 1, result.stderr)


if __name__ == "__main__":
    harness.main()
