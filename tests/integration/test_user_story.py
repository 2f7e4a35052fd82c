"""Issue 2's user story, as a new user would try it, with two gateways: register services,
add the three routes, see both gateways ACK the newest version and serve the longest prefix."""

import json

import harness


class UserStoryTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        c = self.cluster
        self.order = c.upstream("order")
        self.payment = c.upstream("payment")
        self.auth = c.upstream("auth")
        c.start_control_plane()
        self.ctl = c.ctl
        self.gw_a = c.start_gateway("gw-a")
        self.gw_b = c.start_gateway("gw-b")

    def serves(self, path, name, gateways=None):
        """Asserts every gateway answers `path` from upstream `name`."""
        for gw in gateways or (self.gw_a, self.gw_b):
            r = gw.get(path)
            self.assertEqual((r.status, r.upstream_name()), (200, name),
                             "GET %s via %s: %r" % (path, gw.node_id, r))

    def test_the_payment_split(self):
        ctl = self.ctl
        self.assertEqual(ctl.version(), 0, "an empty database starts at version 0")

        ctl.ok("service", "add", "order-svc", "--endpoint", self.order.address)
        ctl.ok("service", "add", "payment-svc", "--endpoint", self.payment.address)
        # In the story auth-svc is a Kubernetes Service name resolved by DNS; here nothing
        # resolves it, so it is registered as a service (DNS targets: test_dns_target below).
        ctl.ok("service", "add", "auth-svc", "--endpoint", self.auth.address)
        ctl.ok("route", "add", "/api", "order-svc")
        ctl.ok("route", "add", "/api/auth", "auth-svc")
        v_before_split = ctl.version()
        self.assertEqual(v_before_split, 5, "each committed write bumps the version by 1")

        ctl.wait_acked(["gw-a", "gw-b"], v_before_split)
        self.serves("/api/payment", "order")
        self.serves("/api/payment/42", "order")

        ctl.ok("route", "add", "/api/payment", "payment-svc")
        version = ctl.version()
        self.assertEqual(version, 6)

        # `gatewayctl gateways`: both gateways ACKed the new version.
        gateways = ctl.wait_acked(["gw-a", "gw-b"], version)
        for node_id, gw in (("gw-a", self.gw_a), ("gw-b", self.gw_b)):
            g = gateways[node_id]
            self.assertTrue(g["connected"])
            self.assertEqual(g["version"], version)
            self.assertEqual(g["error"], "")
            self.assertEqual(g["address"], gw.address, "the data-plane address it announced")
            self.assertTrue(g["build_version"], g)
            self.assertGreater(g["last_seen_unix_ms"], 0)
        self.assertEqual(len(gateways), 2)
        table = ctl.ok("gateways")
        self.assertIn("gw-a", table)
        self.assertIn("gw-b", table)

        # Longest prefix wins, on segment boundaries, on both gateways.
        self.serves("/api/payment", "payment")
        self.serves("/api/payment/42?x=1", "payment")
        self.serves("/api/payments", "order")
        self.serves("/api/x", "order")
        self.serves("/api", "order")
        self.serves("/api/auth", "auth")
        self.serves("/api/auth/login", "auth")
        self.serves("/api/authz", "order")
        for gw in (self.gw_a, self.gw_b):
            r = gw.get("/other")
            self.assertEqual(r.status, 404, r)
            self.assertEqual(r.json()["error"], "no route")

        # status, route list, route get, service list/get in JSON.
        status = ctl.json("status")
        self.assertEqual({k: status[k] for k in ("version", "services", "routes",
                                                  "gateways_connected", "gateways_total")},
                         {"version": 6, "services": 3, "routes": 3, "gateways_connected": 2,
                          "gateways_total": 2})
        self.assertLess(0, status["config_bytes"])
        self.assertLess(status["config_bytes"], status["max_config_bytes"])
        routes = ctl.json("route", "list")
        self.assertEqual([(r["path"], r["match"], r["target"]) for r in routes],
                         [("/api", "prefix", "order-svc"), ("/api/auth", "prefix", "auth-svc"),
                          ("/api/payment", "prefix", "payment-svc")])
        self.assertEqual([r["version"] for r in routes], [4, 5, 6])
        self.assertEqual(ctl.json("route", "get", "/api/payment"),
                         {"path": "/api/payment", "match": "prefix", "target": "payment-svc",
                          "version": 6})
        services = ctl.json("service", "list")
        self.assertEqual([(s["name"], s["endpoints"], s["version"]) for s in services],
                         [("auth-svc", [self.auth.address], 3),
                          ("order-svc", [self.order.address], 1),
                          ("payment-svc", [self.payment.address], 2)])
        self.assertEqual(ctl.json("service", "get", "order-svc")["endpoints"],
                         [self.order.address])
        for listing in (["route", "list"], ["service", "list"], ["status"]):
            self.assertTrue(ctl.ok(*listing).strip(), "table output of %s" % listing)

        # Each gateway's admin port tells the same story.
        for gw in (self.gw_a, self.gw_b):
            self.assertEqual(gw.admin_get("/healthz").status, 200)
            ready = gw.ready()
            self.assertEqual(ready.status, 200)
            self.assertEqual(ready.json(), {"ready": True, "version": 6})
            config = gw.config()
            self.assertEqual(config["version"], 6)
            self.assertEqual(config["source"], "stream")
            self.assertTrue(config["control_plane_connected"])
            self.assertEqual(sorted((r["path"], r["match"], r["target"])
                                    for r in config["routes"]),
                             [("/api", "prefix", "order-svc"),
                              ("/api/auth", "prefix", "auth-svc"),
                              ("/api/payment", "prefix", "payment-svc")])

    def test_server_from_environment(self):
        code, out, err = self.ctl.run("-o", "json", "status", server=False,
                                      env={"GATEWAYCTL_SERVER": self.cluster.control_plane.address})
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["version"], 0)

    def test_dns_target(self):
        """A target that is not a service name is host[:port] resolved by DNS on the gateway."""
        dns_up = self.cluster.upstream("dns-upstream")
        ctl = self.ctl
        ctl.ok("route", "add", "/dns", "localhost:%d" % dns_up.port)
        ctl.ok("route", "add", "/nowhere", "no-such-host.invalid:8080")
        ctl.wait_acked(["gw-a", "gw-b"])
        self.serves("/dns/hello", "dns-upstream")
        for gw in (self.gw_a, self.gw_b):
            r = gw.get("/nowhere/x")
            self.assertEqual(r.status, 503, "a DNS target that does not resolve: %r" % r)

        # A target named like a service that does not exist yet is a DNS name (that does not
        # resolve here: 503); once a service takes that name, the route goes to the service.
        ctl.ok("route", "add", "/later", "later-svc")
        ctl.wait_acked(["gw-a", "gw-b"])
        for gw in (self.gw_a, self.gw_b):
            r = gw.get("/later")
            self.assertEqual(r.status, 503, "DNS target later-svc does not resolve: %r" % r)
        ctl.ok("service", "add", "later-svc", "--endpoint", self.auth.address)
        ctl.wait_acked(["gw-a", "gw-b"])
        self.serves("/later/x", "auth")

if __name__ == "__main__":
    harness.main()
