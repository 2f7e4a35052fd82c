"""A config a gateway refuses (here: more routes than its --max-routes) is NACKed: the old
config stays live on that gateway, operators see the error in `gatewayctl gateways`, and the
other gateways carry on with the new version."""

import harness


class NackTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        c = self.cluster
        self.order = c.upstream("order")
        self.payment = c.upstream("payment")
        c.start_control_plane()
        self.ctl = c.ctl
        self.small = c.start_gateway("gw-small", ["--max-routes", "2"])
        self.big = c.start_gateway("gw-big")
        self.ctl.ok("service", "add", "order-svc", "--endpoint", self.order.address)
        self.ctl.ok("service", "add", "payment-svc", "--endpoint", self.payment.address)
        self.ctl.ok("route", "add", "/r1", "order-svc")
        self.ctl.ok("route", "add", "/r2", "payment-svc")
        self.v2 = self.ctl.version()
        self.ctl.wait_acked(["gw-small", "gw-big"], self.v2)

    def assertServes(self, gw, path, name):
        r = gw.get(path)
        self.assertEqual((r.status, r.upstream_name()), (200, name),
                         "GET %s via %s: %r" % (path, gw.node_id, r))

    def test_nacked_config_leaves_the_old_one_live(self):
        self.ctl.ok("route", "add", "/r3", "order-svc")
        v3 = self.ctl.version()
        self.assertEqual(v3, self.v2 + 1)

        self.ctl.wait_acked(["gw-big"], v3)

        def small_nacked():
            g = self.ctl.gateways()["gw-small"]
            return g if g["error"] else None
        small = harness.wait_until(small_nacked, 10, message="gw-small's NACK is visible")
        self.assertEqual(small["version"], self.v2, "its ACKed version is unchanged")
        self.assertEqual(small["nacked_version"], v3)
        self.assertTrue(small["connected"])
        self.assertNotIn("\n", small["error"].strip())
        table = self.ctl.ok("gateways")
        self.assertIn(small["error"][:30], table, "the table shows the NACK error too")

        # The small gateway still runs the old config; the big one the new.
        self.assertEqual(self.small.config()["version"], self.v2)
        self.assertEqual(self.small.ready().json(), {"ready": True, "version": self.v2})
        self.assertServes(self.small, "/r1/x", "order")
        self.assertServes(self.small, "/r2/x", "payment")
        self.assertEqual(self.small.get("/r3/x").status, 404)
        self.assertServes(self.big, "/r3/x", "order")
        self.assertServes(self.big, "/r2/x", "payment")

        # A later config it accepts clears the error.
        self.ctl.ok("route", "delete", "/r1")
        v4 = self.ctl.version()
        gateways = self.ctl.wait_acked(["gw-small", "gw-big"], v4)
        self.assertEqual(gateways["gw-small"]["error"], "")
        self.assertServes(self.small, "/r3/x", "order")
        self.assertEqual(self.small.get("/r1/x").status, 404)

    def test_nack_survives_a_gateway_restart_with_the_old_config(self):
        self.ctl.ok("route", "add", "/r3", "order-svc")
        v3 = self.ctl.version()
        harness.wait_until(lambda: self.ctl.gateways()["gw-small"]["error"], 10,
                           message="gw-small NACKs version %d" % v3)
        # Restarted, it loads its cache (the last config it accepted), is offered v3 again and
        # refuses it again, serving v2 all along.
        self.small.restart()
        self.assertEqual(self.small.ready().json(), {"ready": True, "version": self.v2})
        self.assertServes(self.small, "/r2/x", "payment")
        g = harness.wait_until(
            lambda: (lambda g: g if g["connected"] and g["error"] else None)(
                self.ctl.gateways()["gw-small"]), 10, message="gw-small NACKs after restart")
        self.assertEqual((g["version"], g["nacked_version"]), (self.v2, v3))
        self.assertEqual(self.small.config()["version"], self.v2)


if __name__ == "__main__":
    harness.main()
