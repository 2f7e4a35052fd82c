"""Issue 4's traffic policies on the control-plane side, end to end through gatewayctl: every
route/service flag and the consumer commands round-trip (add, update, --reset, get, list),
every validation error is refused with one line and changes nothing, consumer keys are never
shown or stored in clear, and gateways receive (and ACK) the configs that carry them.

The gateway's enforcement of each policy is tested elsewhere; here it only has to accept the
config. One control plane, one gateway, one fake upstream.
"""

import glob
import hashlib
import json
import os
import subprocess
import tempfile

import harness


def generate_public_key(directory, name, algorithm_args):
    """Writes NAME.pub (PEM public key) with the openssl command line; returns its path."""
    private = os.path.join(directory, name + ".key")
    public = os.path.join(directory, name + ".pub")
    subprocess.run(["openssl", "genpkey"] + algorithm_args + ["-out", private], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", private, "-pubout", "-out", public], check=True,
                   capture_output=True)
    return public


class PolicyConfigTest(harness.SharedClusterTestCase):
    @classmethod
    def setUpCluster(cls):
        c = cls.cluster
        c.start_control_plane()
        cls.ctl = c.ctl
        cls.upstream = c.upstream("pay")
        cls.gateway = c.start_gateway("gw1")
        cls.ctl.ok("service", "add", "pay", "--endpoint", cls.upstream.address)
        cls.ctl.ok("service", "add", "pay-v2", "--endpoint", cls.upstream.address)

    # ------------------------------------------------------------------ helpers

    def state(self):
        """What must not change when a command is refused."""
        return (self.ctl.ok("-o", "json", "route", "list"),
                self.ctl.ok("-o", "json", "service", "list"),
                self.ctl.ok("-o", "json", "consumer", "list"),
                self.ctl.version())

    def assertRefused(self, args, message, exit_code=1):
        before = self.state()
        code, out, err = self.ctl.run(*args)
        self.assertEqual(code, exit_code, "%s: out=%r err=%r" % (args, out, err))
        self.assertEqual(out, "")
        self.assertEqual(err.count("\n"), 1, err)
        self.assertTrue(err.startswith("gatewayctl: "), err)
        self.assertIn(message, err)
        self.assertEqual(self.state(), before, "refused %s changed something" % (args,))

    def wait_gateway_has(self, version=None):
        version = self.ctl.version() if version is None else version
        self.ctl.wait_acked(["gw1"], version)
        self.assertEqual(self.gateway.config()["version"], version)

    # ------------------------------------------------------------------ routes

    def test_route_with_every_policy_round_trips(self):
        self.ctl.ok("route", "add", "/rt/all", "pay=90", "pay-v2=10", "--host", "API.example.com",
                    "--method", "get", "--method", "POST", "--header", "X-Version=2",
                    "--strip-prefix", "--set-request-header", "X-Env=prod",
                    "--remove-request-header", "Cookie", "--set-response-header",
                    "Cache-Control=no-store", "--remove-response-header", "Server",
                    "--timeout", "2s", "--retries", "2", "--rate-limit", "100/s", "--burst", "200",
                    "--rate-limit-by", "header:x-user", "--auth", "jwt", "--cors-origin",
                    "https://a.example", "--cors-origin", "http://b.example:8080",
                    "--cors-methods", "GET,POST", "--cors-headers", "X-Token",
                    "--cors-max-age", "10m", "--max-body-size", "1m")
        route = self.ctl.json("route", "get", "/rt/all", "--host", "api.example.com")
        expected = {
            "path": "/rt/all", "match": "prefix", "host": "api.example.com",
            "methods": ["GET", "POST"], "headers": [{"name": "x-version", "value": "2"}],
            "target": "", "split": [{"target": "pay", "weight": 90},
                                    {"target": "pay-v2", "weight": 10}],
            "max_body_size": 1048576, "strip_prefix": True,
            "set_request_headers": [{"name": "X-Env", "value": "prod"}],
            "remove_request_headers": ["Cookie"],
            "set_response_headers": [{"name": "Cache-Control", "value": "no-store"}],
            "remove_response_headers": ["Server"], "timeout_ms": 2000, "retries": 2,
            "rate_limit": {"requests": 100, "period_seconds": 1, "burst": 200,
                           "key": "header:x-user", "scope": "gateway"},
            "auth": "jwt",
            "cors": {"origins": ["https://a.example", "http://b.example:8080"],
                     "methods": ["GET", "POST"], "headers": ["X-Token"], "max_age_seconds": 600},
        }
        version = route.pop("version")
        self.assertEqual(route, expected)

        # The table shows every policy; list stays one line per route with a POLICIES column.
        table = self.ctl.ok("route", "get", "/rt/all", "--method", "GET")
        for line in ("split:", "pay weight 90", "rate limit:", "100/s burst 200 by header:x-user",
                     "auth:", "jwt", "cors origins:", "https://a.example", "timeout:", "2s",
                     "strip prefix:", "set request headers:", "X-Env: prod"):
            self.assertIn(line, table)
        listing = [l for l in self.ctl.ok("route", "list").splitlines() if "/rt/all" in l]
        self.assertEqual(len(listing), 1)
        self.assertIn("auth=jwt rl=100/s burst=200 rl-by=header:x-user retries=2", listing[0])
        self.assertIn("pay=90,pay2=10".replace("pay2", "pay-v2"), listing[0])
        self.assertIn("host=api.example.com method=GET,POST header:x-version=2", listing[0])
        self.assertIn("POLICIES", self.ctl.ok("route", "list").splitlines()[0])

        # The gateway receives it (and ignores what it does not enforce yet).
        self.wait_gateway_has()
        self.assertGreaterEqual(self.gateway.config()["version"], version)

    def test_update_replaces_named_fields_and_reset_restores_defaults(self):
        self.ctl.ok("route", "add", "/rt/upd", "pay", "--retries", "2", "--timeout", "2s",
                    "--rate-limit", "10/m", "--burst", "20", "--auth", "api-key",
                    "--cors-origin", "*")
        self.ctl.ok("route", "update", "/rt/upd", "--burst", "5")
        route = self.ctl.json("route", "get", "/rt/upd")
        self.assertEqual(route["rate_limit"], {"requests": 10, "period_seconds": 60, "burst": 5,
                                               "key": "ip", "scope": "gateway"})
        self.assertEqual(route["retries"], 2)
        self.assertEqual(route["timeout_ms"], 2000)

        self.ctl.ok("route", "update", "/rt/upd", "pay=50", "pay-v2=50")
        route = self.ctl.json("route", "get", "/rt/upd")
        self.assertEqual(route["target"], "")
        self.assertEqual(len(route["split"]), 2)
        self.ctl.ok("route", "update", "/rt/upd", "pay-v2")
        route = self.ctl.json("route", "get", "/rt/upd")
        self.assertEqual(route["target"], "pay-v2")
        self.assertNotIn("split", route)

        out = self.ctl.ok("route", "update", "/rt/upd", "--reset", "rate-limit", "--reset",
                          "timeout", "--reset", "cors", "--retries", "3")
        self.assertIn("updated at version", out)
        route = self.ctl.json("route", "get", "/rt/upd")
        for gone in ("rate_limit", "timeout_ms", "cors"):
            self.assertNotIn(gone, route)
        self.assertEqual(route["retries"], 3)
        self.assertEqual(route["auth"], "api-key")

        # The same value again is a no-op: no new version.
        version = self.ctl.version()
        self.ctl.ok("route", "update", "/rt/upd", "--retries", "3")
        self.assertEqual(self.ctl.version(), version)
        self.wait_gateway_has(version)

    def test_routes_are_named_by_their_conditions(self):
        self.ctl.ok("route", "add", "/rt/id", "pay")
        self.ctl.ok("route", "add", "/rt/id", "pay-v2", "--host", "a.example")
        self.ctl.ok("route", "add", "/rt/id", "pay-v2", "--host", "b.example", "--method", "GET")
        self.assertEqual(self.ctl.json("route", "get", "/rt/id").get("host"), None)
        self.assertEqual(self.ctl.json("route", "get", "/rt/id", "--method", "get")["host"],
                         "b.example")
        self.ctl.ok("route", "update", "/rt/id", "--host", "a.example", "--retries", "1")
        self.assertEqual(self.ctl.json("route", "get", "/rt/id", "--host", "a.example")["retries"],
                         1)
        self.assertNotIn("retries", self.ctl.json("route", "get", "/rt/id"))
        self.assertRefused(["route", "add", "/rt/id", "pay", "--host", "A.EXAMPLE"],
                           "already exists")
        self.ctl.ok("route", "delete", "/rt/id")  # the one without conditions
        self.assertRefused(["route", "get", "/rt/id"], "names 2 routes")
        self.assertRefused(["route", "delete", "/rt/id"], "--host")
        self.ctl.ok("route", "delete", "/rt/id", "--host", "a.example")
        # Named by one of its conditions, the route deleted is shown with all of them.
        out = self.ctl.ok("route", "delete", "/rt/id")  # now the only one
        self.assertIn("route /rt/id (prefix, host b.example, method GET) deleted", out)
        self.assertRefused(["route", "get", "/rt/id"], "no route has path /rt/id")

    def test_every_route_validation_error_changes_nothing(self):
        self.ctl.ok("route", "add", "/rt/valid", "pay")
        base = ["route", "add", "/rt/bad", "pay"]
        cases = [
            (["route", "add", "/rt/bad", "pay=0", "pay-v2=1"], "split weight 0 of 'pay' is outside 1..10000"),
            (["route", "add", "/rt/bad", "pay=0"], "a lone TARGET=WEIGHT ('pay=0') is no split"),
            (["route", "add", "/rt/bad", "pay=1", "foo=1"], "unknown service 'foo' in split"),
            (["route", "add", "/rt/bad", "pay=10001", "pay-v2=1"], "split weight 10001 of 'pay' is outside 1..10000"),
            (["route", "add", "/rt/bad"] + ["pay-v2=1"] + ["h%d.example:80=1" % i
                                                           for i in range(16)], "2 to 16"),
            (base + ["--timeout", "5x"], "invalid duration '5x'"),
            (base + ["--timeout", "2h"], "outside 1ms..1h"),
            (base + ["--retries", "11"], "retries 11 is more than 10"),
            (base + ["--rate-limit", "0/s"], "rate limit must be > 0"),
            (base + ["--rate-limit", "10/d"], "is not N/s, N/m or N/h"),
            (base + ["--rate-limit", "1/s", "--rate-limit-by", "cookie"],
             "must be ip, header:NAME or consumer"),
            (base + ["--rate-limit", "1/s", "--rate-limit-by", "consumer"],
             "needs authentication"),
            (base + ["--auth", "basic"], "bad --auth"),
            (base + ["--cors-origin", "foo"], "cors origin 'foo' is not an origin"),
            (base + ["--cors-origin", "*", "--cors-max-age", "25h"], "more than 24h"),
            (base + ["--host", "bad_host"], "host 'bad_host'"),
            (base + ["--method", "G(T"], "method 'G(T'"),
            (base + ["--header", "novalue"], "is not NAME=VALUE"),
            (base + ["--strip-prefix", "--rewrite-prefix", "/v2"], "cannot be used together"),
            (base + ["--rewrite-prefix", "v2"], "rewrite prefix"),
            (base + ["--set-request-header", "Host=x"], "hop-by-hop or framing"),
            (base + ["--remove-response-header", "Transfer-Encoding"], "hop-by-hop or framing"),
            (base + ["--set-request-header", "Content-Length=1"], "hop-by-hop or framing"),
            (base + ["--set-request-header", "X-Consumer=me"], "set by the gateway"),
            (["route", "update", "/rt/valid", "--rewrite-prefix", "/v2", "--strip-prefix"],
             "cannot be used together"),
            (["route", "update", "/rt/valid", "--burst", "5"], "rate limit must be > 0"),
            (["route", "update", "/rt/nope", "--retries", "1"], "no route has path /rt/nope"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                self.assertRefused(args, message)
        self.assertRefused(["route", "update", "/rt/valid", "--reset", "nope"],
                           "is not a route field", exit_code=2)
        self.assertRefused(["route", "update", "/rt/valid"], "nothing to update", exit_code=2)

    # ------------------------------------------------------------------ services

    def test_service_policies_round_trip(self):
        self.ctl.ok("service", "add", "hashed", "--endpoint", self.upstream.address, "--lb",
                    "ring_hash", "--hash-header", "x-user", "--health-path", "/healthz",
                    "--eject-after", "5", "--max-connections", "100", "--max-pending", "10",
                    "--connect-timeout", "250ms")
        service = self.ctl.json("service", "get", "hashed")
        service.pop("version")
        self.assertEqual(service, {
            "name": "hashed", "endpoints": [self.upstream.address], "lb": "ring_hash",
            "hash_header": "x-user",
            "health_check": {"path": "/healthz", "interval_ms": 10000, "unhealthy_threshold": 3,
                             "healthy_threshold": 2},
            "eject_after": 5, "eject_for_ms": 30000, "max_connections": 100, "max_pending": 10,
            "connect_timeout_ms": 250})
        self.ctl.ok("service", "update", "hashed", "--health-interval", "2s",
                    "--unhealthy-threshold", "4", "--reset", "max-pending")
        service = self.ctl.json("service", "get", "hashed")
        self.assertEqual(service["health_check"]["interval_ms"], 2000)
        self.assertEqual(service["health_check"]["unhealthy_threshold"], 4)
        self.assertEqual(service["health_check"]["path"], "/healthz")
        self.assertNotIn("max_pending", service)
        self.assertEqual(service["endpoints"], [self.upstream.address])
        self.ctl.ok("service", "update", "hashed", "--reset", "health", "--reset", "eject",
                    "--reset", "hash-header", "--lb", "least_request")
        service = self.ctl.json("service", "get", "hashed")
        for gone in ("health_check", "eject_after", "eject_for_ms", "hash_header"):
            self.assertNotIn(gone, service)
        self.assertEqual(service["lb"], "least_request")
        listing = [l for l in self.ctl.ok("service", "list").splitlines() if l.startswith("hashed")]
        self.assertIn("lb=least_request max-conn=100 connect-timeout=250ms", listing[0])
        self.wait_gateway_has()

    def test_every_service_validation_error_changes_nothing(self):
        add = ["service", "add", "bad-svc", "--endpoint", "127.0.0.1:9"]
        cases = [
            (add + ["--lb", "fastest"], "bad --lb"),
            (add + ["--hash-header", "x-user"], "needs --lb ring_hash"),
            (add + ["--lb", "ring_hash", "--hash-header", "x y"], "not a header name"),
            (add + ["--health-path", "healthz"], "must be an absolute path"),
            (add + ["--health-path", "/h", "--health-interval", "50ms"], "outside 100ms..1h"),
            (add + ["--health-path", "/h", "--healthy-threshold", "101"], "outside 1..100"),
            (add + ["--eject-after", "1001"], "eject after 1001"),
            (add + ["--eject-after", "1", "--eject-for", "500ms"], "outside 1s..1h"),
            (add + ["--max-connections", "1000001"], "max connections"),
            (add + ["--connect-timeout", "2m"], "outside 1ms..1m"),
            (add + ["--connect-timeout", "5x"], "invalid duration '5x'"),
            (["service", "update", "pay", "--health-interval", "1s"], "needs a path to check"),
            (add + ["--eject-for", "10s"], "eject for needs eject after"),
            (add + ["--unhealthy-threshold", "0"], "bad --unhealthy-threshold: must be at least 1"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                self.assertRefused(args, message)

    def test_service_in_a_split_cannot_be_deleted(self):
        self.ctl.ok("service", "add", "canary", "--endpoint", self.upstream.address)
        self.ctl.ok("route", "add", "/rt/canary", "pay=95", "canary=5")
        self.assertRefused(["service", "delete", "canary"], "used by route /rt/canary (split)")
        self.ctl.ok("route", "update", "/rt/canary", "pay")
        self.ctl.ok("service", "delete", "canary")

    # ------------------------------------------------------------------ consumers

    def test_consumers_never_show_or_store_keys(self):
        key = "alice-key-0123456789-secret"
        other = "alice-key-second-0123456789"
        out = self.ctl.ok("consumer", "add", "alice", "--api-key", key, "--api-key", other)
        self.assertIn("consumer alice (2 api keys) created at version", out)
        secret = "s3cret-0123456789abcdef0123456789"
        self.ctl.ok("consumer", "add", "carol", "--jwt-issuer", "https://idp.example",
                    "--jwt-secret", secret)
        with tempfile.TemporaryDirectory() as directory:
            rsa = generate_public_key(directory, "rsa", ["-algorithm", "RSA", "-pkeyopt",
                                                         "rsa_keygen_bits:2048"])
            ec = generate_public_key(directory, "ec", ["-algorithm", "EC", "-pkeyopt",
                                                       "ec_paramgen_curve:P-256"])
            weak = generate_public_key(directory, "weak", ["-algorithm", "RSA", "-pkeyopt",
                                                           "rsa_keygen_bits:1024"])
            p384 = generate_public_key(directory, "p384", ["-algorithm", "EC", "-pkeyopt",
                                                           "ec_paramgen_curve:P-384"])
            garbage = os.path.join(directory, "garbage.pem")
            with open(garbage, "w") as f:
                f.write("-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")
            self.ctl.ok("consumer", "add", "bob", "--jwt-issuer", "https://idp.example",
                        "--jwt-public-key", rsa)
            self.ctl.ok("consumer", "add", "erin", "--jwt-issuer", "erin", "--jwt-public-key", ec)
            for path in (weak, p384, garbage):
                self.assertRefused(["consumer", "add", "dave", "--jwt-issuer", "i",
                                    "--jwt-public-key", path], "bad --jwt-public-key")
            self.assertRefused(["consumer", "add", "dave", "--jwt-issuer", "i",
                                "--jwt-public-key", os.path.join(directory, "missing.pem")],
                               "cannot read")

        listing = self.ctl.ok("consumer", "list")
        as_json = self.ctl.ok("-o", "json", "consumer", "list")
        shown = listing + as_json + self.ctl.ok("consumer", "get", "alice") + \
            self.ctl.ok("-o", "json", "consumer", "get", "carol")
        for hidden in (key, other, secret):
            self.assertNotIn(hidden, shown)
        consumers = {c["name"]: c for c in json.loads(as_json)}
        # Keys and secrets only as their SHA-256 digests (what `export` writes and apply keeps).
        self.assertEqual(sorted(consumers["alice"]["api_key_sha256"]),
                         sorted(hashlib.sha256(k.encode()).hexdigest() for k in (key, other)))
        self.assertEqual(consumers["carol"]["jwt"],
                         {"issuer": "https://idp.example",
                          "secret_sha256": hashlib.sha256(secret.encode()).hexdigest()})
        self.assertTrue(consumers["bob"]["jwt"]["public_key_pem"].startswith("-----BEGIN"))
        self.assertNotIn("secret_sha256", consumers["bob"]["jwt"])

        # Neither key is anywhere in the control plane's files (database, WAL).
        for path in glob.glob(self.cluster.control_plane.db_path + "*"):
            with open(path, "rb") as f:
                data = f.read()
            self.assertNotIn(key.encode(), data, path)
            self.assertNotIn(other.encode(), data, path)

        self.assertRefused(["consumer", "add", "alice2", "--api-key", key],
                           "already a key of consumer alice")
        self.assertRefused(["consumer", "add", "alice", "--api-key", "another-0123456789abc"],
                           "already exists")
        self.assertRefused(["consumer", "add", "frank", "--api-key", "short"], "16 to 256")
        self.assertRefused(["consumer", "add", "frank", "--jwt-issuer", "i", "--jwt-secret",
                            "too-short"], "consumer 'frank'")
        self.assertRefused(["consumer", "add", "Frank", "--api-key", "frank-0123456789abcdef"],
                           "consumer name 'Frank'")
        self.assertRefused(["consumer", "add", "frank"], "credentials", exit_code=2)
        self.assertRefused(["consumer", "add", "frank", "--jwt-issuer", "i"], "needs --jwt-secret",
                           exit_code=2)

        # Routes may require auth; deleting a consumer they would accept is still allowed.
        self.ctl.ok("route", "add", "/rt/auth", "pay", "--auth", "api-key", "--rate-limit", "5/s",
                    "--rate-limit-by", "consumer")
        self.wait_gateway_has()
        out = self.ctl.ok("consumer", "delete", "alice")
        self.assertIn("consumer alice deleted at version", out)
        self.assertRefused(["consumer", "get", "alice"], "consumer alice does not exist")
        self.assertRefused(["consumer", "delete", "alice"], "does not exist")
        self.ctl.ok("consumer", "add", "alice", "--api-key", key)  # the key is free again
        self.wait_gateway_has()


if __name__ == "__main__":
    harness.main()
