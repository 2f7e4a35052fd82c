"""Many changes in a row reach every gateway, which ends on exactly the control plane's config;
a gateway that stalls (SIGSTOP) holds no one else up and catches up with the newest version."""

import signal
import time

import harness


class ConvergenceTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        c = self.cluster
        self.order = c.upstream("order")
        self.payment = c.upstream("payment")
        c.start_control_plane()
        self.ctl = c.ctl
        self.gw_a = c.start_gateway("gw-a")
        self.gw_b = c.start_gateway("gw-b")
        self.ctl.ok("service", "add", "order-svc", "--endpoint", self.order.address)
        self.ctl.ok("service", "add", "payment-svc", "--endpoint", self.payment.address)
        self.ctl.wait_acked(["gw-a", "gw-b"])

    def assertRunsControlPlaneConfig(self, gw):
        expected = sorted((r["path"], r["match"], r["target"])
                          for r in self.ctl.json("route", "list"))
        config = gw.config()
        self.assertEqual(config["version"], self.ctl.version())
        self.assertEqual(sorted((r["path"], r["match"], r["target"]) for r in config["routes"]),
                         expected)

    def test_a_burst_of_changes_converges(self):
        for i in range(30):
            self.ctl.ok("route", "add", "/burst/%d" % i, "order-svc")
            if i % 3 == 0:
                self.ctl.ok("route", "update", "/burst/%d" % i, "payment-svc")
            if i % 5 == 4:
                self.ctl.ok("route", "delete", "/burst/%d" % (i - 1))
        version = self.ctl.version()
        self.ctl.wait_acked(["gw-a", "gw-b"], version)
        for gw in (self.gw_a, self.gw_b):
            self.assertRunsControlPlaneConfig(gw)
            self.assertEqual(gw.get("/burst/6/x").upstream_name(), "payment")
            self.assertEqual(gw.get("/burst/3/x").status, 404)
            self.assertEqual(gw.get("/burst/4/x").upstream_name(), "order")
            self.assertEqual(gw.get("/burst/28").status, 404)

    def test_a_stalled_gateway_holds_no_one_up_and_catches_up(self):
        stalled = self.gw_b.process.popen
        stalled.send_signal(signal.SIGSTOP)
        try:
            start = time.monotonic()
            for i in range(10):
                self.ctl.ok("route", "add", "/stall/%d" % i, "order-svc")
                # The healthy gateway gets each change while the other one is frozen.
                self.ctl.wait_acked(["gw-a"], timeout=5)
                r = self.gw_a.get("/stall/%d" % i)
                self.assertEqual((r.status, r.upstream_name()), (200, "order"), r)
            # Keep it frozen for a while, as a gateway stuck on a slow disk would be.
            while time.monotonic() - start < 3.0:
                time.sleep(0.1)
        finally:
            stalled.send_signal(signal.SIGCONT)
        version = self.ctl.version()
        self.ctl.wait_acked(["gw-a", "gw-b"], version, timeout=15)
        self.assertRunsControlPlaneConfig(self.gw_b)
        r = self.gw_b.get("/stall/9")
        self.assertEqual((r.status, r.upstream_name()), (200, "order"), r)


if __name__ == "__main__":
    harness.main()
