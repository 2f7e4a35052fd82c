"""Gateways and gatewayctl given a list of control-plane replicas (`--control-plane A,B`,
`--server A,B`): a replica that dies is replaced by the next one within the reconnect backoff,
with no failed client request, and gatewayctl passes over a replica it cannot reach.

Each control plane here has its own SQLite file and is given the same commands, so that both
serve the same config; test_cluster.py runs replicas on one PostgreSQL database."""

import signal

import harness


class FailoverTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        c = self.cluster
        self.order = c.upstream("order")
        self.payment = c.upstream("payment")
        self.cp1 = c.start_control_plane("cp1")
        self.cp2 = c.start_control_plane("cp2")
        self.ctl1 = harness.Ctl(self.cp1.address)
        self.ctl2 = harness.Ctl(self.cp2.address)
        for ctl in (self.ctl1, self.ctl2):
            ctl.ok("service", "add", "order-svc", "--endpoint", self.order.address)
            ctl.ok("route", "add", "/api", "order-svc")
        replicas = "%s,%s" % (self.cp1.address, self.cp2.address)
        self.gws = [c.start_gateway(n, control_plane=replicas) for n in ("gw-a", "gw-b")]
        self.ctl1.wait_acked(["gw-a", "gw-b"])
        self.both = harness.Ctl(replicas)

    def connected_to(self, ctl):
        return sorted(n for n, g in ctl.gateways().items() if g["connected"])

    def test_a_replica_killed_under_load_fails_no_request(self):
        with harness.Load(self.gws, "/api/x", "order") as load:
            load.wait_more(50, 10, message="traffic before the crash")
            self.cp1.stop(signal.SIGKILL)
            harness.wait_until(lambda: self.connected_to(self.ctl2) == ["gw-a", "gw-b"], 10,
                               message="both gateways move to cp2")
            load.wait_more(50, 10, message="traffic after the move")
        self.assertEqual(load.failures, [], "no failed request during the crash")

        # A change made on the replica left reaches every gateway.
        self.ctl2.ok("service", "add", "payment-svc", "--endpoint", self.payment.address)
        self.ctl2.ok("route", "add", "/api/payment", "payment-svc")
        self.ctl2.wait_acked(["gw-a", "gw-b"], self.ctl2.version())
        for gw in self.gws:
            self.assertEqual(gw.get("/api/payment/1").upstream_name(), "payment")
            self.assertTrue(gw.config()["control_plane_connected"])

        # gatewayctl with both addresses passes over the dead one, in one line of output.
        self.assertEqual(self.both.json("status")["version"], self.ctl2.version())
        out = self.both.ok("version")
        self.assertIn("controlplane ", out)
        self.assertIn("at %s" % self.cp2.address, out)

    def test_gatewayctl_refuses_a_malformed_list(self):
        for bad in ("%s," % self.cp1.address, "%s,%s" % (self.cp1.address, self.cp1.address),
                    "%s,nope" % self.cp1.address):
            code, out, err = self.ctl1.run("--server", bad, "status", server=False)
            self.assertEqual(code, 2, (bad, out, err))
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn("--server", err)
        code, out, err = self.ctl1.run("status", server=False,
                                       env={"GATEWAYCTL_SERVER": "%s," % self.cp1.address})
        self.assertEqual(code, 2, err)
        self.assertIn("$GATEWAYCTL_SERVER", err)


if __name__ == "__main__":
    harness.main()
