"""What operators see of a gateway: /metrics in the Prometheus text format (requests by route and
status class, upstream latency, connections, config version and NACKs) and --access-log, one
JSON line per request."""

import json
import os
import re
import subprocess

import harness


def metric(text, name, labels=""):
    """The value of one series in a Prometheus text page, or None."""
    pattern = r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels))
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else None


class ObservabilityTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        c = self.cluster
        self.order = c.upstream("order")
        c.start_control_plane()
        self.ctl = c.ctl
        self.log_path = c.path("access.log")
        self.gw = c.start_gateway("gw-obs", ["--access-log", self.log_path, "--max-routes", "1"])
        self.ctl.ok("service", "add", "order-svc", "--endpoint", self.order.address)
        self.ctl.ok("route", "add", "/api", "order-svc")
        self.version = self.ctl.version()
        self.ctl.wait_acked(["gw-obs"], self.version)

    def metrics(self):
        page = self.gw.admin_get("/metrics")
        self.assertEqual(page.status, 200)
        self.assertTrue(page.header("Content-Type").startswith("text/plain; version=0.0.4"))
        return page.body.decode()

    def test_metrics_count_requests_by_route_and_status_class(self):
        for i in range(5):
            self.assertEqual(self.gw.get("/api/orders/%d" % i).status, 200)
        self.assertEqual(self.gw.get("/nowhere").status, 404)
        text = self.metrics()
        self.assertEqual(metric(text, "gateway_requests_total",
                                '{route="/api",match="prefix",code="2xx"}'), 5, text)
        self.assertEqual(metric(text, "gateway_requests_total",
                                '{route="",match="none",code="4xx"}'), 1, text)
        self.assertEqual(metric(text, "gateway_upstream_latency_seconds_count"), 5, text)
        self.assertEqual(metric(text, "gateway_upstream_latency_seconds_bucket", '{le="+Inf"}'), 5)
        self.assertEqual(metric(text, "gateway_config_version"), self.version)
        self.assertEqual(metric(text, "gateway_control_plane_connected"), 1)
        self.assertEqual(metric(text, "gateway_ready"), 1)
        self.assertGreaterEqual(metric(text, "gateway_active_upstream_connections"), 1)

    def test_metrics_show_open_client_connections_and_nacks(self):
        client = self.gw.client()
        self.assertEqual(client.request("/api/keep").status, 200)  # stays open (keep-alive)
        try:
            self.assertGreaterEqual(metric(self.metrics(), "gateway_active_client_connections"), 1)
        finally:
            client.close()
        self.ctl.ok("route", "add", "/second", "order-svc")  # over --max-routes 1: NACKed
        harness.wait_until(lambda: metric(self.metrics(), "gateway_config_nacks_total") == 1, 10,
                           message="the NACK counted on /metrics")
        self.assertEqual(metric(self.metrics(), "gateway_config_version"), self.version)

    def log_lines(self):
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def test_access_log_has_one_json_line_per_request(self):
        self.assertEqual(self.gw.get("/api/x?y=1", headers={"X-Request-Id": "obs-1"}).status, 200)
        self.assertEqual(self.gw.get("/missing").status, 404)
        h2 = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w",
                             "%{http_code}", "http://%s/api/h2" % self.gw.address],
                            capture_output=True, text=True, timeout=30)
        self.assertEqual(h2.stdout, "200", h2.stderr)
        harness.wait_until(lambda: len(self.log_lines()) >= 3, 10,
                           message="three access log lines")
        # Workers flush their own buffers: lines of different workers need not be in order.
        by_path = {line["path"]: line for line in self.log_lines()}
        first, second = by_path["/api/x?y=1"], by_path["/missing"]
        self.assertEqual(first["request_id"], "obs-1")
        self.assertEqual((first["method"], first["path"], first["route"], first["status"]),
                         ("GET", "/api/x?y=1", "/api", 200))
        self.assertEqual(first["upstream"], self.order.address)
        self.assertGreater(first["bytes_out"], 0)
        self.assertIsNotNone(first["upstream_ms"])
        for field in ("time", "duration_ms", "bytes_in"):
            self.assertIn(field, first)
        self.assertEqual((second["path"], second["route"], second["status"], second["upstream"]),
                         ("/missing", None, 404, None))
        self.assertEqual((first["consumer"], first["reason"], first["retries"]), (None, None, 0))
        self.assertEqual(second["reason"], "no_route")
        self.assertEqual((first["protocol"], first["tls"]), ("HTTP/1.1", False))
        self.assertEqual((by_path["/api/h2"]["protocol"], by_path["/api/h2"]["status"]),
                         ("HTTP/2", 200))

    def test_policy_outcomes_in_the_access_log_and_metrics(self):
        key = "obs-key-0123456789abcdef"
        self.ctl.ok("consumer", "add", "obs-app", "--api-key", key)
        self.ctl.ok("route", "update", "/api", "--auth", "api-key", "--rate-limit", "1/m")
        self.ctl.wait_acked(["gw-obs"], self.ctl.version())
        client = self.gw.client()  # one connection: one worker, one token bucket
        self.addCleanup(client.close)
        self.assertEqual(client.request("/api/anon").status, 401)
        self.assertEqual(client.request("/api/first", headers={"X-API-Key": key}).status, 200)
        self.assertEqual(client.request("/api/second", headers={"X-API-Key": key}).status, 429)
        harness.wait_until(lambda: len(self.log_lines()) >= 3, 10,
                           message="three access log lines")
        by_path = {line["path"]: line for line in self.log_lines()}
        outcome = {path: (by_path[path]["status"], by_path[path]["consumer"],
                          by_path[path]["reason"])
                   for path in ("/api/anon", "/api/first", "/api/second")}
        self.assertEqual(outcome, {"/api/anon": (401, None, "unauthorized"),
                                   "/api/first": (200, "obs-app", None),
                                   "/api/second": (429, "obs-app", "rate_limited")})
        text = self.metrics()
        self.assertEqual(metric(text, "gateway_replies_total",
                                '{reason="unauthorized",code="401"}'), 1, text)
        self.assertEqual(metric(text, "gateway_replies_total",
                                '{reason="rate_limited",code="429"}'), 1, text)
        self.assertEqual(metric(text, "gateway_upstream_retries_total"), 0, text)


if __name__ == "__main__":
    harness.main()
