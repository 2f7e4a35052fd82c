"""Bad input is refused with nothing lost (issue 2, "Bad input"): every refused command exits
non-zero with one line on stderr, and `route list`, `service list` and the config version are
exactly what they were before. An unreachable control plane is reported within seconds."""

import time

import harness

UNREACHABLE_REPORT_S = 8.0  # "within a few seconds, never a hang"


class BadInputTest(harness.SharedClusterTestCase):
    @classmethod
    def setUpCluster(cls):
        c = cls.cluster
        c.start_control_plane()
        cls.ctl = c.ctl
        cls.ctl.ok("service", "add", "order-svc", "--endpoint", "127.0.0.1:9101")
        cls.ctl.ok("service", "add", "payment-svc", "--endpoint", "127.0.0.1:9102",
                   "--endpoint", "127.0.0.1:9103")
        cls.ctl.ok("route", "add", "/api", "order-svc")
        cls.ctl.ok("route", "add", "/api/payment", "payment-svc")
        cls.ctl.ok("route", "add", "/exact", "order-svc", "--exact")

    def snapshot(self):
        return (self.ctl.ok("-o", "json", "route", "list"),
                self.ctl.ok("-o", "json", "service", "list"),
                self.ctl.version())

    def assertRefused(self, args, exit_code=None, stderr_has=None):
        before = self.snapshot()
        code, out, err = self.ctl.run(*args)
        where = "gatewayctl %s -> exit %d, stdout %r, stderr %r" % (" ".join(args), code, out, err)
        self.assertNotEqual(code, 0, where)
        if exit_code is not None:
            self.assertEqual(code, exit_code, where)
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, "one line on stderr: " + where)
        self.assertTrue(lines[0].strip(), where)
        if stderr_has:
            self.assertIn(stderr_has.lower(), err.lower(), where)
        self.assertEqual(self.snapshot(), before, "nothing changed after: " + where)
        return err

    # ------------------------------------------------------------------ routes

    def test_route_paths_that_are_not_normalized_absolute_paths(self):
        for path in ["api/x", "", "/a//b", "/a/../b", "/a/./b", "/a/", "//", "/a?x=1", "/a#f",
                     "/a b", "/%zz"]:
            with self.subTest(path=path):
                self.assertRefused(["route", "add", path, "order-svc"], exit_code=1)

    def test_duplicate_route(self):
        self.assertRefused(["route", "add", "/api", "payment-svc"], exit_code=1)
        self.assertRefused(["route", "add", "/exact", "payment-svc", "--exact"], exit_code=1)

    def test_bad_targets(self):
        for target in ["", "bad target", "host:0", "host:65536", "host:http", "Order_Svc:80"]:
            with self.subTest(target=target):
                self.assertRefused(["route", "add", "/new", target], exit_code=1)

    def test_update_or_delete_what_does_not_exist(self):
        self.assertRefused(["route", "update", "/nope", "order-svc"], exit_code=1)
        self.assertRefused(["route", "delete", "/nope"], exit_code=1)
        self.assertRefused(["route", "get", "/nope"], exit_code=1)
        # /exact exists only as an exact route, /api only as a prefix route.
        self.assertRefused(["route", "delete", "/exact", "--prefix"], exit_code=1)
        self.assertRefused(["route", "update", "/api", "order-svc", "--exact"], exit_code=1)
        self.assertRefused(["service", "update", "nope-svc", "--endpoint", "127.0.0.1:80"],
                           exit_code=1)
        self.assertRefused(["service", "delete", "nope-svc"], exit_code=1)
        self.assertRefused(["service", "get", "nope-svc"], exit_code=1)

    def test_route_update_with_a_bad_target(self):
        self.assertRefused(["route", "update", "/api", "bad target"], exit_code=1)

    # ------------------------------------------------------------------ services

    def test_endpoints_that_are_not_host_port(self):
        for endpoint in ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", ":80", "127.0.0.1:abc",
                         "127.0.0.1:-1", "host:80:90", "", "[::1", "bad host:80"]:
            with self.subTest(endpoint=endpoint):
                self.assertRefused(["service", "add", "new-svc", "--endpoint", endpoint])
                self.assertRefused(["service", "update", "order-svc", "--endpoint", endpoint])

    def test_service_names_that_are_not_dns_labels(self):
        for name in ["Order_Svc", "order_svc", "Order", "bad-", "a.b", "x" * 64, "sp ace"]:
            with self.subTest(name=name):
                self.assertRefused(["service", "add", name, "--endpoint", "127.0.0.1:80"],
                                   exit_code=1)

    def test_duplicate_service(self):
        self.assertRefused(["service", "add", "order-svc", "--endpoint", "127.0.0.1:9"],
                           exit_code=1)

    def test_service_without_endpoint(self):
        self.assertRefused(["service", "add", "lonely-svc"])

    def test_deleting_a_service_a_route_uses(self):
        err = self.assertRefused(["service", "delete", "payment-svc"], exit_code=1)
        self.assertIn("/api/payment", err, "the message names the route that uses it")

    def test_valid_endpoint_forms_are_accepted(self):
        """The refusals above are not a CLI that refuses everything: the edges are valid."""
        self.ctl.ok("service", "add", "edge-svc", "--endpoint", "127.0.0.1:1",
                    "--endpoint", "127.0.0.1:65535", "--endpoint", "[::1]:8080",
                    "--endpoint", "backend.internal:80")
        svc = self.ctl.json("service", "get", "edge-svc")
        self.assertEqual(len(svc["endpoints"]), 4)
        self.ctl.ok("service", "delete", "edge-svc")

    # ------------------------------------------------------------------ usage

    def test_unknown_flags_and_commands_are_usage_errors(self):
        for args in (["route", "add", "/x", "order-svc", "--bogus"],
                     ["--bogus", "status"],
                     ["frobnicate"],
                     ["route", "add", "/x"],
                     ["route", "frobnicate", "/x"],
                     ["service", "add", "x-svc", "--endpoint"],
                     ["-o", "yaml", "status"]):
            with self.subTest(args=args):
                self.assertRefused(args, exit_code=2)

    # ------------------------------------------------------------------ unreachable

    def assertUnreachableReported(self, address):
        ctl = harness.Ctl(address)
        for args in (["status"], ["route", "add", "/x", "order-svc"], ["gateways"]):
            start = time.monotonic()
            code, out, err = ctl.run(*args)
            elapsed = time.monotonic() - start
            where = "gatewayctl --server %s %s -> exit %d in %.1fs, stderr %r" % (
                address, " ".join(args), code, elapsed, err)
            self.assertEqual(code, 1, where)
            self.assertLess(elapsed, UNREACHABLE_REPORT_S, where)
            self.assertIn(address, err, where)
            self.assertEqual(len(err.strip().splitlines()), 1, where)

    def test_refusing_control_plane(self):
        self.assertUnreachableReported(harness.refused_address())

    def test_silent_control_plane(self):
        """A peer that accepts TCP but never speaks must not hang the CLI."""
        self.assertUnreachableReported(harness.blackhole_address())


if __name__ == "__main__":
    harness.main()
