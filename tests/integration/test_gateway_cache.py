"""A gateway restarted while the control plane is down serves from its cache file, reports
ready, and reconnects once the control plane is back. Without a usable cache it is alive but
not ready."""

import os

import harness


class GatewayCacheTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        c = self.cluster
        self.order = c.upstream("order")
        self.payment = c.upstream("payment")
        self.cp = c.start_control_plane()
        self.ctl = c.ctl
        self.gw = c.start_gateway("gw-cached")
        self.ctl.ok("service", "add", "order-svc", "--endpoint", self.order.address)
        self.ctl.ok("service", "add", "payment-svc", "--endpoint", self.payment.address)
        self.ctl.ok("route", "add", "/api", "order-svc")
        self.ctl.ok("route", "add", "/api/payment", "payment-svc")
        self.version = self.ctl.version()
        self.ctl.wait_acked(["gw-cached"], self.version)

    def assertServes(self, gw, path, name):
        r = gw.get(path)
        self.assertEqual((r.status, r.upstream_name()), (200, name), "GET %s: %r" % (path, r))

    def test_restart_while_the_control_plane_is_down(self):
        gw = self.gw
        # The cache is written in the background, right after the config is applied, by
        # rename: once written, no temp file remains.
        def leftovers():
            return [f for f in os.listdir(self.cluster.dir)
                    if f.startswith("gw-cached.cache") and f != "gw-cached.cache"]
        harness.wait_until(lambda: os.path.exists(gw.cache_path) and
                           os.path.getsize(gw.cache_path) > 0 and not leftovers(), 10,
                           message="the cache file was written, with no temp file left")

        self.cp.stop()
        gw.stop()
        gw.start()  # same cache file; the control plane is still down

        ready = gw.ready()
        self.assertEqual(ready.status, 200, ready)
        self.assertEqual(ready.json(), {"ready": True, "version": self.version})
        config = gw.config()
        self.assertEqual(config["source"], "cache")
        self.assertEqual(config["version"], self.version)
        self.assertFalse(config["control_plane_connected"])
        self.assertEqual(gw.admin_get("/healthz").status, 200)
        self.assertServes(gw, "/api/payment/3", "payment")
        self.assertServes(gw, "/api/orders", "order")

        # The control plane comes back: the gateway reconnects by itself ...
        self.cp.start()
        harness.wait_until(lambda: gw.config()["control_plane_connected"], 10,
                           message="gateway reconnected")
        gateways = self.ctl.wait_acked(["gw-cached"], self.version, timeout=10)
        self.assertTrue(gateways["gw-cached"]["connected"])
        # ... and takes the next change.
        self.ctl.ok("route", "delete", "/api/payment")
        self.ctl.wait_acked(["gw-cached"], self.version + 1)
        self.assertServes(gw, "/api/payment/3", "order")
        config = gw.config()
        self.assertEqual((config["version"], config["source"]), (self.version + 1, "stream"))

    def test_a_change_made_while_it_was_down_arrives_on_reconnect(self):
        gw = self.gw
        gw.stop()
        self.ctl.ok("route", "update", "/api/payment", "order-svc")
        gw.start()
        self.ctl.wait_acked(["gw-cached"], self.version + 1)
        self.assertServes(gw, "/api/payment/3", "order")

    def test_no_cache_means_alive_but_not_ready(self):
        self.cp.stop()
        fresh = self.cluster.start_gateway("gw-fresh")  # its cache file does not exist
        self.assertEqual(fresh.admin_get("/healthz").status, 200)
        self.assertEqual(fresh.ready().status, 503)
        config = fresh.config()
        self.assertEqual((config["source"], config["control_plane_connected"]), ("none", False))

        self.cp.start()
        harness.wait_until(lambda: fresh.ready().status == 200, 10,
                           message="fresh gateway ready once the control plane is back")
        self.assertEqual(fresh.ready().json(), {"ready": True, "version": self.version})
        self.assertServes(fresh, "/api/payment", "payment")

    def test_a_corrupt_cache_is_not_served(self):
        self.cp.stop()
        corrupt = self.cluster.path("corrupt.cache")
        with open(corrupt, "wb") as f:
            f.write(b"\x00\xffthis is not a config\x13\x37" * 10)
        gw = self.cluster.start_gateway("gw-corrupt", cache=corrupt)
        self.assertEqual(gw.admin_get("/healthz").status, 200)
        self.assertEqual(gw.ready().status, 503)
        r = gw.get("/api/payment")
        self.assertNotEqual(r.status, 200, r)

        self.cp.start()
        harness.wait_until(lambda: gw.ready().status == 200, 10,
                           message="gateway with a corrupt cache ready after reconnecting")
        self.assertServes(gw, "/api/payment", "payment")


if __name__ == "__main__":
    harness.main()
