"""Control plane restart (clean stop and crash): routes and versions intact, gateways keep
serving while it is down, reconnect by themselves, and a change made afterwards reaches them."""

import signal
import time

import harness

UNREACHABLE_REPORT_S = 8.0  # "reported within a few seconds"


class ControlPlaneRestartTest(harness.ClusterTestCase):
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
        self.ctl.ok("route", "add", "/api", "order-svc")
        self.ctl.ok("route", "add", "/api/payment", "payment-svc")
        self.ctl.ok("route", "add", "/health", "order-svc", "--exact")
        self.ctl.wait_acked(["gw-a", "gw-b"])

    def serves(self, path, name):
        for gw in (self.gw_a, self.gw_b):
            r = gw.get(path)
            self.assertEqual((r.status, r.upstream_name()), (200, name),
                             "GET %s via %s: %r" % (path, gw.node_id, r))

    def restart_with(self, stop_signal):
        cp = self.cluster.control_plane
        routes_before = self.ctl.ok("-o", "json", "route", "list")
        services_before = self.ctl.ok("-o", "json", "service", "list")
        version_before = self.ctl.version()

        cp.stop(stop_signal)

        # While it is down: gateways keep serving their config, and say they lost it.
        for gw in (self.gw_a, self.gw_b):
            harness.wait_until(lambda: gw.config()["control_plane_connected"] is False, 10,
                               message="%s notices the control plane is gone" % gw.node_id)
        self.serves("/api/payment/1", "payment")
        self.serves("/api/x", "order")
        for gw in (self.gw_a, self.gw_b):
            self.assertEqual(gw.ready().status, 200)
        start = time.monotonic()
        code, out, err = self.ctl.run("status")
        self.assertNotEqual(code, 0)
        self.assertLess(time.monotonic() - start, UNREACHABLE_REPORT_S)
        self.assertIn(cp.address, err, "the error names the address")
        # Wait long enough that the gateways are into their reconnect backoff.
        time.sleep(1.0)

        cp.start()  # same --listen port and database
        self.assertEqual(self.ctl.ok("-o", "json", "route", "list"), routes_before,
                         "routes intact, same versions")
        self.assertEqual(self.ctl.ok("-o", "json", "service", "list"), services_before)
        self.assertEqual(self.ctl.version(), version_before, "the version never goes back")

        # The gateways reconnect by themselves (backoff is capped at about 2 s).
        gateways = self.ctl.wait_acked(["gw-a", "gw-b"], version_before, timeout=10)
        self.assertEqual(sorted(gateways), ["gw-a", "gw-b"])
        for gw in (self.gw_a, self.gw_b):
            harness.wait_until(lambda: gw.config()["control_plane_connected"], 10,
                               message="%s reconnected" % gw.node_id)
        status = self.ctl.json("status")
        self.assertEqual((status["gateways_connected"], status["gateways_total"]), (2, 2))

        # A change made after the restart reaches both.
        new_path = "/api/payment/after-v%d" % version_before
        self.ctl.ok("route", "add", new_path, "order-svc")
        self.assertEqual(self.ctl.version(), version_before + 1)
        self.ctl.wait_acked(["gw-a", "gw-b"], version_before + 1)
        self.serves(new_path + "/9", "order")
        self.serves("/api/payment/9", "payment")

    def test_clean_restart(self):
        self.restart_with(signal.SIGTERM)

    def test_crash_restart(self):
        self.restart_with(signal.SIGKILL)

    def test_two_restarts_in_a_row(self):
        self.restart_with(signal.SIGTERM)
        self.restart_with(signal.SIGKILL)


if __name__ == "__main__":
    harness.main()
