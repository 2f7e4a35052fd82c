"""Declarative config on the real binaries: `gatewayctl apply` is one version, all or nothing;
diff's exit codes; --prune; `export | apply -f -` changes nothing, API keys and JWT secrets
included; a stale --if-version writes nothing; after `apply --wait` every gateway already serves
the change; --wait names a stopped gateway; rollback restores an earlier config exactly; history
says who did what."""

import json
import signal
import subprocess
import time
import unittest

import harness

SHOP = """\
services:
  - name: order-svc
    endpoints: [{order}]
routes:
  - path: /orders
    target: order-svc
    timeout_ms: 5000
"""

# A change set: a new service, a route to it, and /orders moved to it.
CHANGE_SET = """\
services:
  - name: order-svc
    endpoints: [{order}]
  - name: payment-svc
    endpoints: [{payment}]
routes:
  - path: /orders
    target: payment-svc
    timeout_ms: 5000
  - path: /pay
    match: exact
    target: payment-svc
    set_response_headers: [{{name: x-pay, value: "1"}}]
"""


class DeclarativeTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        c = self.cluster
        self.order = c.upstream("order")
        self.payment = c.upstream("payment")
        c.start_control_plane()
        self.ctl = c.ctl
        self.gw_a = c.start_gateway("gw-a")
        self.gw_b = c.start_gateway("gw-b")
        self.ctl.wait_acked(["gw-a", "gw-b"])

    def write(self, name, text):
        path = self.cluster.path(name)
        with open(path, "w") as f:
            f.write(text.format(order=self.order.address, payment=self.payment.address))
        return path

    def gatewayctl(self, *args, stdin=None):
        argv = [harness.binary("gatewayctl"), "--server", self.cluster.control_plane.address]
        result = subprocess.run(argv + [str(a) for a in args], input=stdin or b"",
                                capture_output=True, timeout=60)
        return result.returncode, result.stdout.decode(), result.stderr.decode()

    def export(self):
        return self.ctl.ok("export")

    # ------------------------------------------------------------------ apply

    def test_a_change_set_is_one_version_all_or_nothing(self):
        shop = self.write("shop.yaml", SHOP)
        out = self.ctl.ok("apply", "-f", shop)
        version = self.ctl.version()
        self.assertEqual(out, "service order-svc created\nroute /orders (prefix) created\n"
                              "config version %d\n" % version)
        self.assertEqual(self.ctl.ok("apply", "-f", shop), "no changes\n")
        self.assertEqual(self.ctl.version(), version)

        # One bad object (a split to a service that does not exist): nothing changes.
        before = self.export()
        bad = self.write("bad.yaml", CHANGE_SET + """\
  - path: /split
    split: [{{target: payment-svc, weight: 1}}, {{target: nowhere, weight: 1}}]
""")
        code, out, err = self.ctl.run("apply", "-f", bad)
        self.assertEqual((code, out), (1, ""), err)
        self.assertTrue(err.startswith("gatewayctl: %s: " % bad), err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("nowhere", err)
        self.assertEqual(self.ctl.version(), version)
        self.assertEqual(self.export(), before)
        # A document error is refused before anything is sent, naming the place.
        typo = self.write("typo.yaml", "routes:\n  - path: /orders\n    timeot: 5\n")
        self.assertEqual(self.ctl.run("apply", "-f", typo),
                         (1, "", "gatewayctl: %s: routes[0].timeot: unknown field (line 3)\n"
                          % typo))

        # The good change set: one version, every object of it at once.
        change = self.write("change.yaml", CHANGE_SET)
        out = self.ctl.ok("apply", "-f", change, "--wait")
        self.assertEqual(self.ctl.version(), version + 1)
        self.assertIn("service payment-svc created\nroute /orders (prefix) changed\n"
                      "route /pay (exact) created\nconfig version %d\n" % (version + 1), out)
        routes = {r["path"]: r for r in self.ctl.json("route", "list")}
        self.assertEqual((routes["/orders"]["version"], routes["/orders"]["target"]),
                         (version + 1, "payment-svc"))
        self.assertEqual(routes["/pay"]["version"], version + 1)
        self.assertEqual(self.ctl.json("service", "get", "payment-svc")["version"], version + 1)

    def test_apply_wait_means_every_gateway_serves_it(self):
        change = self.write("change.yaml", CHANGE_SET)
        out = self.ctl.ok("apply", "-f", change, "--wait")
        self.assertIn("live on 2 gateways", out)
        # No polling: it is live everywhere the moment the command returned.
        for gw in (self.gw_a, self.gw_b):
            r = gw.get("/pay")
            self.assertEqual((r.status, r.upstream_name(), r.header("x-pay")),
                             (200, "payment", "1"), r)
            self.assertEqual(gw.get("/orders/1").upstream_name(), "payment")

    def test_wait_names_a_stopped_gateway_within_the_timeout(self):
        stopped = self.gw_b.process.popen
        stopped.send_signal(signal.SIGSTOP)
        try:
            start = time.monotonic()
            code, out, err = self.ctl.run("apply", "-f", self.write("shop.yaml", SHOP), "--wait",
                                          "--wait-timeout", "2s")
            elapsed = time.monotonic() - start
        finally:
            stopped.send_signal(signal.SIGCONT)
        self.assertEqual(code, 1, (out, err))
        self.assertLess(elapsed, 2 + 5)
        self.assertGreaterEqual(elapsed, 2)
        self.assertIn("gatewayctl: gateway gw-b (%s) has not applied version %d within 2s"
                      % (self.gw_b.address, self.ctl.version()), err)
        self.assertNotIn("gw-a", err)
        # It catches up once it runs again.
        self.ctl.wait_acked(["gw-a", "gw-b"])

    # ------------------------------------------------------------------ diff

    def test_diff_exit_codes_and_prune(self):
        shop = self.write("shop.yaml", SHOP)
        code, out, err = self.ctl.run("diff", "-f", shop)
        self.assertEqual(code, 1, err)
        self.assertTrue(out.startswith("+ service order-svc\n"), out)
        self.ctl.ok("apply", "-f", shop)
        self.assertEqual(self.ctl.run("diff", "-f", shop), (0, "", ""))
        longer = self.write("longer.yaml", SHOP.replace("5000", "10000"))
        self.assertEqual(self.ctl.run("diff", "-f", longer),
                         (1, "~ route /orders (prefix)\n    timeout_ms: 5000 (5s) -> 10000 (10s)\n",
                          ""))
        code, out, err = self.ctl.run("diff", "-f", self.write("typo.yaml", "rutes: []\n"))
        self.assertEqual(code, 2, (out, err))
        self.assertIn("rutes: unknown field", err)
        code, out, err = self.ctl.run("diff", "-f", self.cluster.path("missing.yaml"))
        self.assertEqual(code, 2, (out, err))

        # --prune deletes what the file does not name, and only with --prune.
        self.ctl.ok("route", "add", "/extra", "order-svc")
        self.assertEqual(self.ctl.run("diff", "-f", shop), (0, "", ""))
        self.assertEqual(self.ctl.run("diff", "-f", shop, "--prune"),
                         (1, "- route /extra (prefix)\n", ""))
        version = self.ctl.version()
        self.assertEqual(self.ctl.ok("apply", "-f", shop, "--prune"),
                         "route /extra (prefix) deleted\nconfig version %d\n" % (version + 1))
        self.assertEqual([r["path"] for r in self.ctl.json("route", "list")], ["/orders"])

    # ------------------------------------------------------------------ export

    def test_export_applies_back_with_no_changes(self):
        self.ctl.ok("apply", "-f", self.write("change.yaml", CHANGE_SET))
        self.ctl.ok("consumer", "add", "alice", "--api-key", "alice-key-0123456789",
                    "--api-key", "alice-key-second-0123")
        self.ctl.ok("consumer", "add", "carol", "--jwt-issuer", "https://idp.example",
                    "--jwt-secret", "s3cret-0123456789abcdef0123456789")
        self.ctl.ok("route", "update", "/pay", "--auth", "api-key", "--rate-limit", "10/s",
                    "--cors-origin", "https://a.example")
        version = self.ctl.version()
        for fmt in ("yaml", "json"):
            code, exported, err = self.gatewayctl("export", "-o", fmt)
            self.assertEqual(code, 0, err)
            for secret in ("alice-key-0123456789", "s3cret"):
                self.assertNotIn(secret, exported)
            if fmt == "json":
                self.assertEqual(len(json.loads(exported)["consumers"]), 2)
            code, out, err = self.gatewayctl("apply", "-f", "-", "--prune",
                                             stdin=exported.encode())
            self.assertEqual((code, out, err), (0, "no changes\n", ""), exported)
        self.assertEqual(self.ctl.version(), version)
        # The keys still work: nothing was replaced.
        self.ctl.wait_acked(["gw-a"])
        r = self.gw_a.get("/pay", headers={"X-API-Key": "alice-key-second-0123"})
        self.assertEqual((r.status, r.upstream_name()), (200, "payment"), r)

    # ------------------------------------------------------------------ --if-version

    def test_stale_if_version_writes_nothing(self):
        version = self.ctl.version()
        self.ctl.ok("route", "add", "/a", "example.com", "--if-version", version)
        before = self.export()
        for args in (["route", "add", "/b", "example.com"],
                     ["apply", "-f", self.write("shop.yaml", SHOP)],
                     ["rollback", version]):
            code, out, err = self.ctl.run(*args, "--if-version", version)
            self.assertEqual((code, out), (1, ""), err)
            self.assertIn("at version %d" % (version + 1), err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertEqual(self.ctl.version(), version + 1)
        self.assertEqual(self.export(), before)

    # ------------------------------------------------------------------ history, rollback

    def test_rollback_restores_an_earlier_config_and_history_tells(self):
        shop = self.write("shop.yaml", SHOP)
        self.ctl.ok("apply", "-f", shop)
        good = self.ctl.version()
        exported = self.export()
        self.ctl.ok("apply", "-f", self.write("change.yaml", CHANGE_SET))
        self.ctl.ok("consumer", "add", "bob", "--api-key", "bob-key-0123456789abc")
        self.ctl.ok("route", "update", "/orders", "--timeout", "9s")
        self.assertNotEqual(self.export(), exported)

        out = self.ctl.ok("rollback", good, "--wait")
        self.assertEqual(self.ctl.version(), good + 4)
        self.assertIn("consumer bob deleted", out)
        self.assertIn("config version %d\n" % (good + 4), out)
        self.assertEqual(self.export(), exported)
        self.assertEqual(self.ctl.ok("rollback", good), "no changes\n")
        for gw in (self.gw_a, self.gw_b):
            self.assertEqual(gw.get("/orders/1").upstream_name(), "order")
            self.assertEqual(gw.get("/pay").status, 404)

        history = self.ctl.json("history", "--limit", "10")
        by_version = {h["version"]: h for h in history}
        self.assertEqual(by_version[good + 4]["action"], "rollback")
        self.assertEqual(by_version[good + 2]["command"].split(" --server ")[0], "gatewayctl")
        self.assertIn("consumer add bob --api-key ***", by_version[good + 2]["command"])
        self.assertIn("apply -f %s" % shop, by_version[good]["command"])
        for record in history:
            self.assertEqual(record["actor"], "anonymous")
            self.assertRegex(record["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertIn("summary", record)
        table = self.ctl.ok("history")
        self.assertTrue(table.startswith("VERSION  TIME (UTC)"), table)
        self.assertNotIn("bob-key-0123456789abc", table)

        shown = self.ctl.ok("history", "show", good + 3)
        self.assertIn("~ route /orders (prefix)\n    timeout_ms: 5000 (5s) -> 9000 (9s)\n", shown)
        self.assertIn("route update /orders --timeout 9s", shown)


@unittest.skipUnless(harness.postgres_available(), "PostgreSQL 15 server binaries not installed")
class DeclarativeClusterTest(harness.ClusterTestCase):
    """Two control-plane replicas on one PostgreSQL database, a gateway on each: --wait on one
    replica waits for the gateway on the other too (it lists every gateway of the cluster)."""

    def test_wait_on_one_replica_covers_the_gateways_of_the_other(self):
        c = self.cluster
        pg = c.start_postgres()
        order = c.upstream("order")
        payment = c.upstream("payment")
        cps = [c.start_control_plane("cp%d" % i, db=pg.url, extra_args=["--replica-id", "cp%d" % i])
               for i in (1, 2)]
        ctls = [harness.Ctl(cp.address) for cp in cps]
        gws = [c.start_gateway("gw-%d" % i, control_plane=cps[i].address) for i in (0, 1)]
        ctls[0].wait_acked(["gw-0", "gw-1"])
        path = c.path("change.yaml")
        with open(path, "w") as f:
            f.write(CHANGE_SET.format(order=order.address, payment=payment.address))
        out = ctls[0].ok("apply", "-f", path, "--wait")
        self.assertIn("live on 2 gateways", out)
        for gw in gws:
            r = gw.get("/pay")
            self.assertEqual((r.status, r.upstream_name()), (200, "payment"), r)
        # And back, from the other replica.
        out = ctls[1].ok("rollback", ctls[1].version() - 1, "--wait")
        self.assertIn("live on 2 gateways", out)
        for gw in gws:
            self.assertEqual(gw.get("/pay").status, 404)


if __name__ == "__main__":
    harness.main()
