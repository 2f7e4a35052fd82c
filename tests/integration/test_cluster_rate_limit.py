"""Issue 10's cluster-wide rate limits, end to end on loopback: a route with
`--rate-limit-scope cluster` is counted once for two gateways in a real redis-server, where a
gateway-scope route lets each gateway admit its own burst; the scope on the command line; Redis
killed (the gateways keep serving from their own buckets, say so once in the log and in
/metrics) and started again (they count in it again by themselves); a gateway without --redis.

The bound checked is the documented one (README, "Cluster-wide rate limits"): in T seconds the
cluster admits at most burst + rate x T + N x lease requests of one key, N gateways, the lease a
tenth of the bucket (at least 1, at most --redis-lease, 20)."""

import math
import re
import signal
import time
import unittest

import harness

# The gateways of these tests wait up to 2 s for Redis (not the 250 ms default), so that a
# loaded machine does not make them fall back in the middle of a count.
REDIS_TIMEOUT = ["--redis-timeout", "2s"]


def lease(burst):
    return max(1, min(burst // 10, 20))


def metric(text, name, labels=""):
    """The value of one series in a Prometheus text page, or None."""
    found = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.MULTILINE)
    return float(found.group(1)) if found else None


def metrics(gateway):
    page = gateway.admin_get("/metrics")
    assert page.status == 200, page
    return page.body.decode()


def fallbacks(gateway, reason):
    return metric(metrics(gateway), "gateway_rate_limit_redis_fallback_total",
                  '{reason="%s"}' % reason)


def healthy(gateway):
    return metric(metrics(gateway), "gateway_rate_limit_redis_healthy") == 1


def hammer(test, gateways, path, want_allowed, headers=None, tail=20, deadline=30.0):
    """Sends requests to `gateways` in turn, each on its keep-alive connection, as fast as they
    are answered, until at least `want_allowed` were admitted and each gateway refused its last
    `tail` (the bucket is empty for everyone), or `deadline` seconds. Every answer must be 200
    or 429. Returns (statuses per gateway, seconds from the first request to the last)."""
    clients = [g.client() for g in gateways]
    statuses = [[] for _ in gateways]
    start = time.monotonic()
    try:
        i = 0
        while time.monotonic() - start < deadline:
            k = i % len(clients)
            i += 1
            response = clients[k].request(path, headers=headers)
            test.assertIn(response.status, (200, 429), response)
            statuses[k].append(response.status)
            allowed = sum(s.count(200) for s in statuses)
            if allowed >= want_allowed and all(
                    len(s) >= tail and set(s[-tail:]) == {429} for s in statuses):
                break
    finally:
        for client in clients:
            client.close()
    return statuses, time.monotonic() - start


def allowed_count(statuses):
    return sum(s.count(200) for s in statuses)


@unittest.skipUnless(harness.redis_available(), "redis-server is not installed "
                     "(scripts/install-deps.sh installs it)")
class ClusterRateLimitTest(harness.SharedClusterTestCase):
    @classmethod
    def setUpCluster(cls):
        c = cls.cluster
        cls.api = c.upstream("api")
        c.start_control_plane()
        cls.ctl = c.ctl
        cls.redis = c.start_redis()
        cls.gw1 = c.start_gateway("gw-1", ["--redis", cls.redis.address] + REDIS_TIMEOUT)
        cls.gw2 = c.start_gateway("gw-2", ["--redis", cls.redis.address] + REDIS_TIMEOUT)
        cls.solo = c.start_gateway("gw-solo", ["--workers", "1"])  # no --redis
        cls.ctl.ok("service", "add", "api-svc", "--endpoint", cls.api.address)
        for gateway in (cls.gw1, cls.gw2):
            harness.wait_until(lambda: healthy(gateway), 15,
                               message="%s connected to redis" % gateway.node_id)

    def route(self, *args):
        self.ctl.ok("route", "add", *args)
        self.ctl.wait_acked(["gw-1", "gw-2", "gw-solo"])

    def test_cluster_scope_holds_across_gateways(self):
        self.route("/shared", "api-svc", "--rate-limit", "20/m", "--rate-limit-scope", "cluster")
        before = [fallbacks(g, "redis_down") for g in (self.gw1, self.gw2)]
        statuses, elapsed = hammer(self, [self.gw1, self.gw2], "/shared", want_allowed=20)
        allowed = allowed_count(statuses)
        bound = 20 + 20 / 60 * elapsed + 2 * lease(20)
        self.assertGreaterEqual(allowed, 20, "the burst is served (%s)" % statuses)
        self.assertLessEqual(allowed, math.floor(bound),
                             "%d admitted in %.1f s by 2 gateways" % (allowed, elapsed))
        # Both gateways served some of it: one bucket, not one gateway's.
        self.assertTrue(all(200 in s for s in statuses), statuses)
        # Counted in Redis, not locally; one bucket for the key, with an expiry.
        self.assertEqual([fallbacks(g, "redis_down") for g in (self.gw1, self.gw2)], before)
        self.assertGreater(metric(metrics(self.gw1), "gateway_rate_limit_redis_syncs_total"), 0)
        keys = [k for k in self.redis.command("KEYS", "gwrl:*") if k.endswith(b":127.0.0.1")]
        self.assertTrue(keys)
        for key in keys:
            ttl = self.redis.command("PTTL", key)
            # Until it would be full again: at most (20 + 2 x lease) tokens x 3 s, plus 1 s.
            self.assertGreater(ttl, 0)
            self.assertLessEqual(ttl, (20 + 2 * lease(20)) * 3000 + 1000)

    def test_gateway_scope_stays_per_gateway(self):
        self.route("/per-gateway", "api-svc", "--rate-limit", "20/m")
        statuses, elapsed = hammer(self, [self.gw1, self.gw2], "/per-gateway", want_allowed=40)
        refill = 20 / 60 * elapsed + 1
        for node, answers in zip(("gw-1", "gw-2"), statuses):
            self.assertGreaterEqual(answers.count(200), 20, node)
            self.assertLessEqual(answers.count(200), 20 + refill, node)
        # Twice the limit: what a cluster-scope limit is for.
        self.assertGreater(allowed_count(statuses), 20 + 2 * lease(20) + 20 / 60 * elapsed)

    def test_refusals_carry_the_headers_and_each_key_has_its_bucket(self):
        self.route("/by-user", "api-svc", "--rate-limit", "5/m", "--rate-limit-scope", "cluster",
                   "--rate-limit-by", "header:X-User")
        statuses, _ = hammer(self, [self.gw1, self.gw2], "/by-user", want_allowed=5,
                             headers={"X-User": "u1"}, tail=5)
        self.assertLessEqual(allowed_count(statuses), 5 + 2 * lease(5) + 1)
        refused = self.gw2.get("/by-user", headers={"X-User": "u1"})
        self.assertEqual(refused.status, 429)
        self.assertGreaterEqual(int(refused.header("Retry-After")), 1)
        self.assertEqual(refused.header("RateLimit-Limit"), "5")
        self.assertEqual(refused.header("RateLimit-Remaining"), "0")
        # Another user has a bucket of its own, on either gateway.
        fresh = self.gw2.get("/by-user", headers={"X-User": "u2"})
        self.assertEqual(fresh.status, 200)
        self.assertEqual(fresh.header("RateLimit-Limit"), "5")
        # Its bucket is written by the sync that follows the answer.
        harness.wait_until(
            lambda: sorted(k.rsplit(b":", 1)[1] for k in self.redis.command("KEYS", "gwrl:*:u*"))
            == [b"u1", b"u2"], 10, message="a bucket per user in redis")

    def test_scope_on_the_command_line(self):
        self.route("/cfg", "api-svc", "--rate-limit", "100/s", "--burst", "150")
        self.assertEqual(self.ctl.json("route", "get", "/cfg")["rate_limit"]["scope"], "gateway")
        # The scope alone is one field of the update mask: rate and burst stay.
        self.ctl.ok("route", "update", "/cfg", "--rate-limit-scope", "cluster")
        self.assertEqual(self.ctl.json("route", "get", "/cfg")["rate_limit"],
                         {"requests": 100, "period_seconds": 1, "burst": 150, "key": "ip",
                          "scope": "cluster"})
        self.assertIn("100/s burst 150 by ip (cluster-wide)", self.ctl.ok("route", "get", "/cfg"))
        listing = [l for l in self.ctl.ok("route", "list").splitlines() if "/cfg" in l]
        self.assertIn("rl=100/s burst=150 rl-scope=cluster", listing[0])
        version = self.ctl.version()
        self.ctl.wait_acked(["gw-1", "gw-2", "gw-solo"], version)
        # Refusals change nothing.
        code, _, err = self.ctl.run("route", "update", "/cfg", "--rate-limit-scope", "global")
        self.assertEqual(code, 1)
        self.assertIn("bad --rate-limit-scope: 'global' is not gateway or cluster", err)
        code, _, err = self.ctl.run("route", "add", "/cfg2", "api-svc", "--rate-limit-scope",
                                    "cluster")
        self.assertEqual(code, 1)
        self.assertIn("rate limit must be > 0 requests", err)
        self.assertEqual(self.ctl.version(), version)
        self.ctl.ok("route", "update", "/cfg", "--reset", "rate-limit-scope")
        self.assertEqual(self.ctl.json("route", "get", "/cfg")["rate_limit"]["scope"], "gateway")

    def test_a_gateway_without_redis_counts_locally_and_says_so(self):
        self.route("/solo", "api-svc", "--rate-limit", "10/m", "--rate-limit-scope", "cluster")
        text = metrics(self.solo)
        self.assertEqual(metric(text, "gateway_rate_limit_redis_enabled"), 0)
        self.assertEqual(metric(text, "gateway_rate_limit_redis_healthy"), 0)
        before = fallbacks(self.solo, "no_redis")
        client = self.solo.client()
        self.addCleanup(client.close)
        answers = [client.request("/solo").status for _ in range(15)]
        self.assertEqual(answers.count(200), 10)  # its own bucket of 10
        self.assertEqual(answers[-1], 429)
        self.assertEqual(fallbacks(self.solo, "no_redis"), before + 15)
        # Said once, however many requests and pushes that keep the route.
        self.route("/solo-other", "api-svc")
        for _ in range(5):
            client.request("/solo")
        line = "route /solo (prefix): rate limit scope is cluster, but this gateway runs " \
               "without --redis"
        self.assertEqual(self.solo.process.log_text().count(line), 1)
        # The gateways with Redis say they have it, and never counted a request this way.
        text = metrics(self.gw1)
        self.assertEqual(metric(text, "gateway_rate_limit_redis_enabled"), 1)
        self.assertEqual(metric(text, "gateway_rate_limit_redis_healthy"), 1)
        self.assertEqual(fallbacks(self.gw1, "no_redis"), 0)


@unittest.skipUnless(harness.redis_available(), "redis-server is not installed "
                     "(scripts/install-deps.sh installs it)")
class RedisOutageTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        c = self.cluster
        self.api = c.upstream("api")
        c.start_control_plane()
        self.ctl = c.ctl
        self.redis = c.start_redis()
        self.gateways = [c.start_gateway(node, ["--redis", self.redis.address] + REDIS_TIMEOUT)
                         for node in ("gw-1", "gw-2")]
        self.ctl.ok("service", "add", "api-svc", "--endpoint", self.api.address)
        self.ctl.ok("route", "add", "/api", "api-svc", "--rate-limit", "20/m",
                    "--rate-limit-scope", "cluster", "--rate-limit-by", "header:X-User")
        self.ctl.wait_acked(["gw-1", "gw-2"])
        for gateway in self.gateways:
            harness.wait_until(lambda: healthy(gateway), 15,
                               message="%s connected to redis" % gateway.node_id)

    def test_redis_killed_then_started_again(self):
        gw1, gw2 = self.gateways
        unreachable = "redis %s is unreachable" % self.redis.address
        back = "redis %s is back" % self.redis.address
        self.assertEqual(gw1.get("/api", headers={"X-User": "a"}).status, 200)

        self.redis.stop(signal.SIGKILL)
        # Both notice without a request (an idle connection is checked every second).
        for gateway in self.gateways:
            harness.wait_until(lambda: not healthy(gateway), 10,
                               message="%s to see redis down" % gateway.node_id)
        # Requests are still served, by gw-1's own bucket of 20 for the key.
        before = fallbacks(gw1, "redis_down")
        client = gw1.client()
        self.addCleanup(client.close)
        answers = [client.request("/api", headers={"X-User": "b"}).status for _ in range(30)]
        self.assertEqual(set(answers), {200, 429}, answers)
        self.assertIn(answers.count(200), (20, 21))  # 21: a token refilled meanwhile (1/3 s)
        self.assertEqual(fallbacks(gw1, "redis_down"), before + 30)
        # It keeps trying to reconnect, and says it once.
        errors = metric(metrics(gw1), "gateway_rate_limit_redis_errors_total")
        harness.wait_until(
            lambda: metric(metrics(gw1), "gateway_rate_limit_redis_errors_total") >= errors + 2,
            10, message="gw-1 to try redis again")
        for gateway in self.gateways:
            self.assertEqual(gateway.process.log_text().count(unreachable), 1, gateway.node_id)

        self.redis.start()  # the same port, no data
        for gateway in self.gateways:
            harness.wait_until(lambda: healthy(gateway), 15,
                               message="%s to reconnect to redis" % gateway.node_id)
            self.assertEqual(gateway.process.log_text().count(back), 1, gateway.node_id)
        # Counted in Redis again: a new key gets one bucket for both, not 20 on each.
        before = [fallbacks(g, "redis_down") for g in self.gateways]
        statuses, elapsed = hammer(self, self.gateways, "/api", want_allowed=20,
                                   headers={"X-User": "c"})
        allowed = allowed_count(statuses)
        self.assertGreaterEqual(allowed, 20)
        self.assertLessEqual(allowed, math.floor(20 + 20 / 60 * elapsed + 2 * lease(20)),
                             "%d admitted in %.1f s" % (allowed, elapsed))
        self.assertEqual([fallbacks(g, "redis_down") for g in self.gateways], before)
        self.assertEqual(len(self.redis.command("KEYS", "gwrl:*:c")), 1)


if __name__ == "__main__":
    harness.main()
