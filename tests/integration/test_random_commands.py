"""A bounded, seeded property test of issue 9's invariant: after any sequence of accepted admin
commands, every gateway ACKs the newest version.

A control plane, two gateways and a few services; then COMMANDS random valid-looking gatewayctl
commands: route add/update/delete (short and long paths, --exact, --host, --method, --header
rules with commas, spaces, quotes and '=' in their values, weighted splits, policies) and
service add/update/delete. Some are refused (a duplicate route, a service still in use, an
ambiguous route name, ...), which is fine, but a refusal must exit non-zero with exactly one
stderr line and leave `status`'s version alone. After every accepted command (exit 0) and at the
end, both gateways must ACK the newest version: no NACK, no stuck stream.

The seed is printed; set GATEWAY_RANDOM_SEED to replay a run, GATEWAY_RANDOM_COMMANDS to change
how many commands it runs."""

import os
import random
import string
import sys
import time

import harness

COMMANDS = int(os.environ.get("GATEWAY_RANDOM_COMMANDS", "150"))
ACK_TIMEOUT_S = 20.0
NODES = ["gw-rand-1", "gw-rand-2"]

PATH_CHARS = string.ascii_lowercase + string.digits + "-._~"
HEADER_NAMES = ["x", "y", "x-tenant", "X-Env", "x-api-version", "Accept-Language"]
HEADER_VALUES = ["1", "2", "x=1, header y=2", "1, header y=2", "a b", '"quoted"', "it's",
                 "v=1;w=2", "en-US,en;q=0.9", "header x=1", "a,b,c", "=", "x==y", "prod",
                 '{"k": "v"}', "tab-free  double  spaces"]
HOSTS = ["api.example.com", "*.example.com", "shop.test", "10.0.0.1", "*.internal.example"]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]
DNS_TARGETS = ["backend.internal", "backend.internal:8080", "10.1.2.3:9000", "legacy:81", "legacy"]
SERVICE_POOL = ["svc-d", "svc-e", "svc-f", "svc-g"]


class RandomCommandsTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        seed_text = os.environ.get("GATEWAY_RANDOM_SEED")
        self.seed = int(seed_text) if seed_text else random.SystemRandom().randrange(1 << 32)
        sys.stderr.write("\n%s: seed %d (replay with GATEWAY_RANDOM_SEED=%d)\n"
                         % (self.id(), self.seed, self.seed))
        sys.stderr.flush()
        self.rng = random.Random(self.seed)
        c = self.cluster
        self.ups = [c.upstream("up-a"), c.upstream("up-b"), c.upstream("up-c")]
        c.start_control_plane()
        self.ctl = c.ctl
        for node in NODES:
            c.start_gateway(node)
        for name, up in zip(["svc-a", "svc-b", "svc-c"], self.ups):
            self.ctl.ok("service", "add", name, "--endpoint", up.address)
        self.history = []
        self.routes = []     # `route list` JSON rows
        self.services = []   # service names
        self.resync()

    # ------------------------------------------------------------------ the model

    def resync(self):
        self.routes = self.ctl.json("route", "list")
        self.services = [s["name"] for s in self.ctl.json("service", "list")]

    def where(self):
        tail = "\n".join("  %s" % h for h in self.history[-8:])
        return "seed %d (GATEWAY_RANDOM_SEED=%d), command %d; last commands:\n%s" % (
            self.seed, self.seed, len(self.history), tail)

    # ------------------------------------------------------------------ generators

    def segment(self, length):
        return "".join(self.rng.choice(PATH_CHARS) for _ in range(length)).strip(".") or "s"

    def new_path(self):
        roll = self.rng.random()
        if roll < 0.15:  # long: up to the 1,024-character limit
            target = self.rng.randint(200, 1024)
            path = ""
            while len(path) < target:
                path += "/" + self.segment(self.rng.randint(20, 120))
            return path[:target].rstrip("/.") or "/long"
        if roll < 0.45 and self.routes:  # share a path: conditions must tell them apart
            return self.rng.choice(self.routes)["path"]
        return "".join("/" + self.segment(self.rng.randint(1, 10))
                       for _ in range(self.rng.randint(1, 4)))

    def header_value(self):
        if self.rng.random() < 0.15:
            value = "".join(self.rng.choice(string.ascii_letters + string.digits + " ,=;\"'")
                            for _ in range(self.rng.randint(50, 400)))
            return value.strip() or "v"
        return self.rng.choice(HEADER_VALUES)

    def conditions(self):
        args = []
        if self.rng.random() < 0.2:
            args.append("--exact")
        if self.rng.random() < 0.25:
            args += ["--host", self.rng.choice(HOSTS)]
        if self.rng.random() < 0.25:
            methods = self.rng.sample(METHODS, self.rng.randint(1, 3))
            if self.rng.random() < 0.5:
                args += ["--method", ",".join(methods)]
            else:
                for m in methods:
                    args += ["--method", m]
        for name in self.rng.sample(HEADER_NAMES, self.rng.choice([0, 0, 1, 1, 2, 3])):
            args += ["--header", "%s=%s" % (name, self.header_value())]
        return args

    def targets(self):
        services = self.services or ["svc-a"]
        roll = self.rng.random()
        if roll < 0.6:
            return [self.rng.choice(services)]
        if roll < 0.7:
            return [self.rng.choice(DNS_TARGETS)]
        pool = list(dict.fromkeys(services + DNS_TARGETS[1:3]))
        chosen = self.rng.sample(pool, self.rng.randint(2, min(4, len(pool))))
        return ["%s=%d" % (t, self.rng.randint(1, 100)) for t in chosen]

    def policies(self):
        args = []
        r = self.rng.random
        if r() < 0.2:
            timeout = self.rng.choice(["100ms", "2s", "30s", "1m"])
            args += ["--timeout", timeout]
            if r() < 0.5:
                args += ["--retries", str(self.rng.randint(0, 3))]
                if r() < 0.5:
                    args += ["--per-try-timeout", self.rng.choice(["50ms", "100ms"])]
        if r() < 0.15:
            args += ["--rate-limit", "%d/%s" % (self.rng.randint(1, 1000),
                                                self.rng.choice("smh"))]
            if r() < 0.5:
                args += ["--burst", str(self.rng.randint(1, 2000))]
            if r() < 0.3:
                args += ["--rate-limit-by", self.rng.choice(["ip", "header:x-tenant"])]
        if r() < 0.1:
            args += ["--strip-prefix"] if r() < 0.5 else ["--rewrite-prefix", "/v2"]
        if r() < 0.15:
            args += ["--set-request-header", "x-added=%s" % self.header_value()]
        if r() < 0.1:
            args += ["--set-response-header", "x-served-by=gateway, %s" % self.header_value()]
        if r() < 0.1:
            args += ["--remove-response-header", "server"]
        if r() < 0.1:
            args += ["--max-body-size", self.rng.choice(["1k", "512k", "10m"])]
        if r() < 0.05:
            args += ["--cors-origin", "https://app.example.com"]
        return args

    def identify(self, route):
        """Flags naming `route` exactly (from its `route list` row)."""
        args = [route["path"]]
        if route.get("match") == "exact":
            args.append("--exact")
        if route.get("host"):
            args += ["--host", route["host"]]
        for m in route.get("methods", []):
            args += ["--method", m]
        for h in route.get("headers", []):
            args += ["--header", "%s=%s" % (h["name"], h["value"])]
        return args

    def next_command(self):
        roll = self.rng.random()
        if roll < 0.45 or not self.routes:
            return ["route", "add", self.new_path()] + self.targets() + self.conditions() + \
                self.policies()
        if roll < 0.65:
            route = self.rng.choice(self.routes)
            ident = self.identify(route) if self.rng.random() < 0.85 else [route["path"]]
            extra = self.policies()
            if not extra or self.rng.random() < 0.5:
                extra = self.targets() + extra
            return ["route", "update"] + ident[:1] + extra + ident[1:]
        if roll < 0.78:
            route = self.rng.choice(self.routes)
            ident = self.identify(route) if self.rng.random() < 0.85 else [route["path"]]
            return ["route", "delete"] + ident
        if roll < 0.88:
            name = self.rng.choice(SERVICE_POOL + ["svc-a"])
            endpoints = self.rng.sample([u.address for u in self.ups] +
                                        ["127.0.0.1:9", "backend.internal:8080"],
                                        self.rng.randint(1, 3))
            args = ["service", "add", name]
            for e in endpoints:
                args += ["--endpoint", e]
            if self.rng.random() < 0.3:
                args += ["--lb", self.rng.choice(["round_robin", "least_request", "random"])]
            return args
        if roll < 0.95:
            name = self.rng.choice(self.services or ["svc-a"])
            args = ["service", "update", name]
            if self.rng.random() < 0.5:
                args += ["--endpoint", self.rng.choice(self.ups).address]
            else:
                args += ["--lb", self.rng.choice(["round_robin", "least_request", "random"])]
            return args
        return ["service", "delete", self.rng.choice(self.services or ["svc-a"])]

    # ------------------------------------------------------------------ checks

    def wait_acked_no_nack(self, version):
        """Every gateway connected with `version` ACKed; fails at once on a NACK."""
        def acked():
            gateways = self.ctl.gateways()
            for node in NODES:
                g = gateways.get(node)
                if g and (g["error"] or g["nacked_version"] >= version):
                    raise AssertionError("%s NACKed version %d: %r\n%s"
                                         % (node, version, g, self.where()))
                if not g or not g["connected"] or g["version"] != version:
                    return None
            return gateways
        try:
            return harness.wait_until(acked, ACK_TIMEOUT_S,
                                      message="both gateways ACK version %d" % version)
        except harness.Timeout as e:
            raise AssertionError("%s\n%s" % (e, self.where()))

    def test_random_valid_commands_never_stop_the_config(self):
        start = time.monotonic()
        version = self.ctl.version()
        self.wait_acked_no_nack(version)
        accepted = refused = warned = 0
        for _ in range(COMMANDS):
            args = self.next_command()
            code, out, err = self.ctl.run(*args)
            shown = " ".join(a if len(a) <= 60 else a[:57] + "..." for a in args)
            self.history.append("exit %d: gatewayctl %s" % (code, shown))
            if code == 0:
                accepted += 1
                warned += bool(err.strip())
                for line in err.strip().splitlines():
                    self.assertTrue(line.startswith("gatewayctl: warning:"),
                                    "stderr of an accepted command: %r\n%s" % (err, self.where()))
                new = self.ctl.version()
                self.assertIn(new, (version, version + 1),
                              "an accepted command moves the version by at most one\n" +
                              self.where())
                version = new
                self.wait_acked_no_nack(version)
                self.resync()
            else:
                refused += 1
                lines = err.strip().splitlines()
                self.assertEqual(len(lines), 1, "a refusal is one stderr line, got %r\n%s"
                                 % (err[:2000], self.where()))
                self.assertEqual(self.ctl.version(), version,
                                 "a refused command left the version alone\n" + self.where())

        gateways = self.wait_acked_no_nack(version)
        status = self.ctl.json("status")
        self.assertEqual(status["version"], version)
        for node in NODES:
            gw = self.cluster.gateways[node]
            config = gw.config()
            self.assertEqual(config["version"], version, node)
            self.assertEqual(len(config["routes"]), status["routes"], node)
            self.assertEqual(gateways[node]["error"], "")
        sys.stderr.write("seed %d: %d commands, %d accepted (%d with a warning), %d refused, "
                         "final version %d, %d routes, %d services, %.1fs\n"
                         % (self.seed, COMMANDS, accepted, warned, refused, version,
                            status["routes"], status["services"], time.monotonic() - start))
        # A generator that only produced refusals would prove nothing.
        self.assertGreater(accepted, COMMANDS // 3, "too few commands accepted\n" + self.where())


if __name__ == "__main__":
    harness.main()
