"""Issue 9: nothing a user can store may stop the config from flowing, and the integrity and
hygiene fixes around it, checked with the real binaries.

- route identity is structural: `--header x=1 --header y=2` and `--header "x=1, header y=2"` are
  two routes that both reach every gateway (and route their own requests);
- a config over gRPC's old 4 MiB default flows to the gateways, `route list` works, `status`
  shows its size; `controlplane --max-config-size` refuses the write that would pass it;
- messages that list items name a few and count the rest ("... and N more");
- the gateway's cache: a cut, empty or damaged file is refused with its reason (/ready stays
  503), the cache and the database are 0600 whatever the umask, an unwritable cache is visible
  in `gatewayctl gateways` and /metrics while the new version is still served;
- a second gateway with a node id in use is refused (the first keeps its stream), `gateways
  prune` forgets disconnected ones;
- one control plane per database; a busy port, a read-only database or one of another
  application refuse the start with one line (and a busy port creates no file);
- header names with '_' dropped, rejected or allowed; 431 for a long header line, 414 for a long
  request target;
- weight 0 and a lone weighted target refused, a misspelt service warned about;
- --version everywhere and `gatewayctl version`; `route list` cuts long cells in its table."""

import json
import os
import re
import shutil
import socket
import sqlite3
import stat
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import harness

MIB = 1 << 20


def metric(text, name, labels=""):
    """The value of one series in a Prometheus text page, or None."""
    pattern = r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels))
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else None


def metrics(gw):
    page = gw.admin_get("/metrics")
    if page.status != 200:
        raise AssertionError("GET /metrics on %s: %r" % (gw.node_id, page))
    return page.body.decode()


def file_mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def big_route_args(tag):
    """Flags that make one route about 330 KB, every value within the validated limits: 16
    header conditions and 32 set-request and 32 set-response headers of 4,096 characters."""
    value = (tag * 4096)[:4096]
    args = []
    for i in range(16):
        args += ["--header", "x-c%02d=%s" % (i, value)]
    for i in range(32):
        args += ["--set-request-header", "x-s%02d=%s" % (i, value)]
    for i in range(32):
        args += ["--set-response-header", "x-r%02d=%s" % (i, value)]
    return args


class RefusalAsserts:
    """Mixed into test cases that have self.ctl."""

    def state(self):
        return (self.ctl.ok("-o", "json", "route", "list"),
                self.ctl.ok("-o", "json", "service", "list"),
                self.ctl.version())

    def assertRefused(self, args, stderr_has=()):
        """The command exits non-zero with exactly one stderr line and changes nothing."""
        before = self.state()
        code, out, err = self.ctl.run(*args)
        where = "gatewayctl %s -> exit %d, stdout %r, stderr %r" % (
            " ".join(a if len(a) < 100 else a[:100] + "..." for a in map(str, args)), code,
            out[:300], err[:600])
        self.assertNotEqual(code, 0, where)
        self.assertEqual(len(err.strip().splitlines()), 1, "one stderr line: " + where)
        for text in stderr_has:
            self.assertIn(text.lower(), err.lower(), where)
        self.assertEqual(self.state(), before, "nothing changed: " + where)
        return err.strip()


def run_to_exit(cluster, name, args, timeout=15.0):
    """Starts a program that is expected to exit by itself; returns (exit status, its output).
    If it is still running after `timeout` the test fails (and the cluster kills it)."""
    proc = cluster.spawn(name, args)
    harness.wait_until(lambda: not proc.running(), timeout,
                       message="%s to exit by itself" % name)
    return proc.popen.returncode, proc.log_text(this_run_only=True).strip()


# ---------------------------------------------------------------------------- propagation


class PropagationTest(RefusalAsserts, harness.SharedClusterTestCase):
    """Two gateways on one control plane; every test uses its own paths."""

    @classmethod
    def setUpCluster(cls):
        c = cls.cluster
        cls.one = c.upstream("one")
        cls.two = c.upstream("two")
        c.start_control_plane()
        cls.ctl = c.ctl
        cls.gws = [c.start_gateway("gw-a"), c.start_gateway("gw-b")]
        cls.ctl.ok("service", "add", "one-svc", "--endpoint", cls.one.address)
        cls.ctl.ok("service", "add", "two-svc", "--endpoint", cls.two.address)
        cls.ctl.ok("service", "add", "payment-svc", "--endpoint", cls.two.address)

    def wait_all_acked(self, version=None):
        return self.ctl.wait_acked([g.node_id for g in self.gws], version)

    def assertRoutedTo(self, path, headers, name):
        for gw in self.gws:
            r = gw.get(path, headers=headers)
            self.assertEqual((r.status, r.upstream_name()), (200, name),
                             "GET %s %r via %s: %r" % (path, headers, gw.node_id, r))

    # 1 ------------------------------------------------------------------------------------

    def test_header_conditions_that_read_alike_are_two_routes_and_both_flow(self):
        self.ctl.ok("route", "add", "/hc", "one-svc", "--header", "x=1", "--header", "y=2")
        v1 = self.ctl.version()
        self.ctl.ok("route", "add", "/hc", "two-svc", "--header", "x=1, header y=2")
        v2 = self.ctl.version()
        self.assertEqual(v2, v1 + 1)
        gateways = self.wait_all_acked(v2)
        for gw in self.gws:
            g = gateways[gw.node_id]
            self.assertEqual((g["error"], g["nacked_version"]), ("", 0), g)
            self.assertEqual(gw.config()["version"], v2)

        self.assertRoutedTo("/hc/a", {"x": "1, header y=2"}, "two")
        self.assertRoutedTo("/hc/a", {"x": "1", "y": "2"}, "one")
        for gw in self.gws:
            self.assertEqual(gw.get("/hc/a", headers={"x": "1"}).status, 404)

        rows = [r for r in self.ctl.json("route", "list") if r["path"] == "/hc"]
        self.assertEqual(len(rows), 2, rows)
        self.assertEqual(self.ctl.json("route", "get", "/hc", "--header",
                                       "x=1, header y=2")["target"], "two-svc")
        self.assertEqual(self.ctl.json("route", "get", "/hc", "--header", "x=1", "--header",
                                       "y=2")["target"], "one-svc")

        # The same conditions in another order or case are the same route: refused at the CLI,
        # nothing stored, and the gateways stay current.
        self.assertRefused(["route", "add", "/hc", "two-svc", "--header", "y=2", "--header",
                            "x=1"])
        self.assertRefused(["route", "add", "/hc", "one-svc", "--header", "X=1, header y=2"])

        # Later writes keep flowing: nothing is stuck behind /hc.
        self.ctl.ok("route", "add", "/hc-after", "one-svc")
        self.wait_all_acked(v2 + 1)
        self.assertRoutedTo("/hc-after", None, "one")
        # Each route is named by its own conditions.
        self.ctl.ok("route", "delete", "/hc", "--header", "x=1, header y=2")
        self.wait_all_acked(v2 + 2)
        self.assertRoutedTo("/hc/a", {"x": "1", "y": "2"}, "one")
        for gw in self.gws:
            self.assertEqual(gw.get("/hc/a", headers={"x": "1, header y=2"}).status, 404)

    # 11 -----------------------------------------------------------------------------------

    def test_weight_zero_and_a_lone_weighted_target_are_refused(self):
        self.assertRefused(["route", "add", "/w0", "one-svc=0", "two-svc=1"],
                           stderr_has=["weight 0"])
        self.assertRefused(["route", "add", "/w0", "one-svc=5"])
        self.ctl.ok("route", "add", "/w0", "one-svc=5", "two-svc=1")
        self.assertRefused(["route", "update", "/w0", "one-svc=0", "two-svc=1"],
                           stderr_has=["weight 0"])
        self.assertRefused(["route", "update", "/w0", "two-svc=7"])
        route = self.ctl.json("route", "get", "/w0")
        self.assertEqual(sorted((s["target"], s["weight"]) for s in route["split"]),
                         [("one-svc", 5), ("two-svc", 1)], route)

    def test_a_misspelt_service_is_stored_with_a_dns_warning(self):
        version = self.ctl.version()
        code, out, err = self.ctl.run("route", "add", "/misspelt", "PaymentSvc")
        where = "exit %d, stdout %r, stderr %r" % (code, out, err)
        self.assertEqual(code, 0, where)
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, where)
        self.assertTrue(lines[0].startswith("gatewayctl: warning:"), where)
        self.assertIn("DNS", lines[0], where)
        self.assertIn("did you mean", lines[0], where)
        self.assertIn("payment-svc", lines[0], where)
        self.assertEqual(self.ctl.version(), version + 1)
        self.assertEqual(self.ctl.json("route", "get", "/misspelt")["target"], "PaymentSvc")
        # A registered service, or a host with a dot or a port, gets no warning.
        for path, target in (("/svc-ok", "payment-svc"), ("/dot-ok", "backend.internal"),
                             ("/port-ok", "backend:8080")):
            code, out, err = self.ctl.run("route", "add", path, target)
            self.assertEqual((code, err), (0, ""), "route add %s %s: %r" % (path, target, out))
        self.wait_all_acked()

    # 12 -----------------------------------------------------------------------------------

    def test_version_everywhere(self):
        versions = {}
        for program in ("controlplane", "gateway", "gatewayctl"):
            result = subprocess.run([harness.binary(program), "--version"],
                                    stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
            out = result.stdout.decode()
            where = "%s --version -> exit %d, stdout %r, stderr %r" % (
                program, result.returncode, out, result.stderr)
            self.assertEqual(result.returncode, 0, where)
            self.assertEqual(len(out.strip().splitlines()), 1, where)
            found = re.match(r"^%s (\d+\.\d+\.\d+\S*)$" % program, out.strip())
            self.assertTrue(found, where)
            versions[program] = found.group(1)
        self.assertEqual(len(set(versions.values())), 1, versions)

        out = self.ctl.ok("version")
        self.assertIn("gatewayctl %s" % versions["gatewayctl"], out)
        self.assertRegex(out, r"controlplane %s\b" % re.escape(versions["controlplane"]))
        self.assertEqual(self.ctl.json("status")["build_version"], versions["controlplane"])
        self.assertEqual(self.ctl.json("version"),
                         {"gatewayctl": versions["gatewayctl"],
                          "controlplane": versions["controlplane"],
                          "server": self.ctl.server_address})
        # Without a control plane, `version` still says its own and reports the failure.
        code, out, err = harness.Ctl(harness.refused_address()).run("version")
        self.assertIn("gatewayctl %s" % versions["gatewayctl"], out + err)

    # 13 -----------------------------------------------------------------------------------

    def test_route_list_table_cuts_a_long_path_and_json_keeps_it(self):
        long_path = "/" + "p" * 1023
        self.assertEqual(len(long_path), 1024)
        self.ctl.ok("route", "add", long_path, "one-svc")
        table = self.ctl.ok("route", "list")
        lines = table.rstrip("\n").splitlines()
        self.assertGreater(len(lines), 1, table)
        longest = max(len(line) for line in lines)
        self.assertLess(longest, 250, "table lines stay short; longest %d:\n%s"
                        % (longest, table[:2000]))
        self.assertNotIn(long_path, table)
        row = [line for line in lines if line.startswith("/ppp")]
        self.assertEqual(len(row), 1, table[:2000])
        self.assertTrue("..." in row[0] or "\u2026" in row[0], row[0])

        listed = [r["path"] for r in self.ctl.json("route", "list")]
        self.assertIn(long_path, listed)
        self.assertEqual(self.ctl.json("route", "get", long_path)["path"], long_path)
        self.wait_all_acked()
        self.assertRoutedTo(long_path + "/x", None, "one")


# ---------------------------------------------------------------------------- size


class ConfigSizeTest(RefusalAsserts, harness.ClusterTestCase):
    def test_a_config_over_4_mib_flows_and_lists(self):
        c = self.cluster
        up = c.upstream("up")
        c.start_control_plane()
        self.ctl = c.ctl
        gws = [c.start_gateway("gw-big-1"), c.start_gateway("gw-big-2")]
        self.ctl.ok("service", "add", "up-svc", "--endpoint", up.address)
        count = 15
        for i in range(count):
            self.ctl.ok("route", "add", "/big%02d" % i, "up-svc", *big_route_args("%x" % i))
        self.ctl.ok("route", "add", "/small", "up-svc")
        status = self.ctl.json("status")
        self.assertGreater(status["config_bytes"], 4 * MIB, status)
        self.assertLessEqual(status["config_bytes"], status["max_config_bytes"], status)
        version = status["version"]

        gateways = self.ctl.wait_acked([g.node_id for g in gws], version, timeout=30)
        for gw in gws:
            g = gateways[gw.node_id]
            self.assertEqual((g["error"], g["stream_error"]), ("", ""), g)
            self.assertEqual(gw.config()["version"], version)
            r = gw.get("/small/x")
            self.assertEqual((r.status, r.upstream_name()), (200, "up"), r)
            # Its cache holds the whole version too.
            harness.wait_until(
                lambda: metric(metrics(gw), "gateway_config_cache_version") == version, 15,
                message="%s's cache holds version %d" % (gw.node_id, version))

        routes = self.ctl.json("route", "list")
        self.assertEqual(len(routes), count + 1)
        big = [r for r in routes if r["path"] == "/big07"][0]
        self.assertEqual(len(big["headers"]), 16)
        self.assertEqual(len(big["headers"][0]["value"]), 4096)
        table = self.ctl.ok("route", "list")
        for i in range(count):
            self.assertIn("/big%02d " % i, table)
        self.assertIn("config size", self.ctl.ok("status"))

        # And it keeps flowing.
        self.ctl.ok("route", "delete", "/big00")
        self.ctl.wait_acked([g.node_id for g in gws], version + 1, timeout=30)

    def test_max_config_size_refuses_the_write_that_would_pass_it(self):
        c = self.cluster
        up = c.upstream("up")
        c.start_control_plane(extra_args=["--max-config-size", "1m"])
        self.ctl = c.ctl
        gw = c.start_gateway("gw-1m")
        self.ctl.ok("service", "add", "up-svc", "--endpoint", up.address)
        self.assertEqual(self.ctl.json("status")["max_config_bytes"], MIB)
        refused = None
        for i in range(8):
            args = ["route", "add", "/big%d" % i, "up-svc"] + big_route_args("%x" % i)
            before = self.state()
            code, out, err = self.ctl.run(*args)
            if code == 0:
                continue
            refused = (i, code, out, err)
            self.assertEqual(self.state(), before, "nothing stored by the refused write")
            break
        self.assertIsNotNone(refused, "a config past 1 MiB was refused")
        i, code, out, err = refused
        where = "write %d: exit %d, stdout %r, stderr %r" % (i, code, out, err[:600])
        self.assertGreaterEqual(i, 1, "the first routes fit: " + where)
        self.assertEqual(len(err.strip().splitlines()), 1, where)
        self.assertLess(len(err), 1024, where)
        self.assertRegex(err, r"1(\.0)? ?Mi?B|1m|1048576", "names the limit: " + where)
        status = self.ctl.json("status")
        self.assertLessEqual(status["config_bytes"], MIB, status)
        self.assertEqual(status["routes"], i, status)
        # Not frozen: a small write still goes through and reaches the gateway.
        self.ctl.ok("route", "add", "/small", "up-svc")
        self.ctl.wait_acked(["gw-1m"])
        self.assertEqual(gw.get("/small").upstream_name(), "up")


# ---------------------------------------------------------------------------- messages


class ListMessagesTest(harness.SharedClusterTestCase):
    """Messages that list routes name at most a few and count the rest. The paths and header
    values here are long enough that the old messages (every item named) passed gRPC's 8 KiB
    metadata limit with a few hundred routes."""

    MANY = 300
    LONG = 12

    @classmethod
    def setUpCluster(cls):
        c = cls.cluster
        c.start_control_plane()
        cls.ctl = c.ctl
        cls.ctl.ok("service", "add", "many-svc", "--endpoint", "127.0.0.1:9")
        cls.ctl.ok("service", "add", "amb-svc", "--endpoint", "127.0.0.1:9")
        cls.ctl.ok("service", "add", "long-svc", "--endpoint", "127.0.0.1:9")
        commands = []
        for i in range(cls.MANY):
            commands.append(["route", "add", "/orders/v2/customers/items/%04d/details" % i,
                             "many-svc"])
            commands.append(["route", "add", "/amb", "amb-svc", "--header",
                             "x-tenant=tenant-%04d-with-a-fairly-long-identifier" % i])
        for i in range(cls.LONG):
            commands.append(["route", "add", "/%02d%s" % (i, "l" * 1000), "long-svc"])
            commands.append(["route", "add", "/amb-long", "amb-svc", "--header",
                             "x-long=%s%02d" % ("v" * 4000, i)])

        def run(args):
            return args, cls.ctl.run(*args)
        with ThreadPoolExecutor(4) as pool:
            failed = [(args, r) for args, r in pool.map(run, commands) if r[0] != 0]
        if failed:
            raise AssertionError("%d route adds failed, e.g. %r" % (len(failed), failed[0]))

    def assertShortListing(self, args, total, shown_max=5):
        version = self.ctl.version()
        code, out, err = self.ctl.run(*args)
        where = "gatewayctl %s -> exit %d, stdout %r, stderr (%d bytes) %r" % (
            " ".join(args), code, out, len(err), err[:3000])
        self.assertEqual(code, 1, where)
        self.assertEqual(len(err.strip().splitlines()), 1, where)
        self.assertNotIn("metadata", err, where)
        self.assertLess(len(err.encode()), 1024, where)
        more = re.search(r"\.\.\. and ([\d,]+) more", err)
        self.assertTrue(more, "says how many more: " + where)
        hidden = int(more.group(1).replace(",", ""))
        self.assertGreaterEqual(hidden, total - shown_max, where)
        self.assertLess(hidden, total, where)
        self.assertEqual(self.ctl.version(), version)
        return err

    def test_service_delete_names_a_few_routes_and_counts_the_rest(self):
        err = self.assertShortListing(["service", "delete", "many-svc"], self.MANY)
        self.assertIn("/orders/v2/customers/items/", err)
        self.assertEqual(len(self.ctl.json("service", "get", "many-svc")["endpoints"]), 1)

    def test_an_ambiguous_route_get_names_a_few_and_counts_the_rest(self):
        err = self.assertShortListing(["route", "get", "/amb"], self.MANY)
        self.assertIn("/amb", err)
        self.assertIn("x-tenant", err)
        self.assertIn("%d routes" % self.MANY, err)
        self.assertShortListing(["route", "delete", "/amb"], self.MANY)

    def test_long_route_names_are_cut_and_the_count_stays(self):
        """Routes with 1,000-character paths or 4,000-character header values: a message
        naming five of them whole would be over 5 KiB (the count cut off by the 2 KiB status
        message limit); each name is cut instead, and the count is still there."""
        err = self.assertShortListing(["service", "delete", "long-svc"], self.LONG)
        self.assertTrue(re.search(r"/\d\dl{40}", err), err)
        err = self.assertShortListing(["route", "get", "/amb-long"], self.LONG)
        self.assertIn("x-long=vvv", err)


# ---------------------------------------------------------------------------- cache


class CacheFileTest(harness.ClusterTestCase):
    """Everything is started with umask 000: files must still come out 0600."""

    def setUp(self):
        super().setUp()
        c = self.cluster
        self.up = c.upstream("up")
        old = os.umask(0)
        try:
            self.cp = c.start_control_plane()
            self.gw = c.start_gateway("gw-src")
        finally:
            os.umask(old)
        self.ctl = c.ctl
        self.ctl.ok("service", "add", "up-svc", "--endpoint", self.up.address)
        for i in range(20):
            self.ctl.ok("route", "add", "/r%02d" % i, "up-svc")
        self.version = self.ctl.version()
        self.ctl.wait_acked(["gw-src"], self.version)
        harness.wait_until(
            lambda: metric(metrics(self.gw), "gateway_config_cache_version") == self.version,
            10, message="the cache holds version %d" % self.version)

    def test_cache_and_database_are_0600_whatever_the_umask(self):
        self.assertEqual(oct(file_mode(self.gw.cache_path)), oct(0o600), self.gw.cache_path)
        db = self.cp.db_path
        self.assertEqual(oct(file_mode(db)), oct(0o600), db)
        for extra in (db + "-wal", db + "-shm", db + "-journal"):
            if os.path.exists(extra):
                self.assertEqual(oct(file_mode(extra)), oct(0o600), extra)
        # A later write replaces the cache file; it stays 0600.
        self.ctl.ok("route", "add", "/later", "up-svc")
        harness.wait_until(
            lambda: metric(metrics(self.gw), "gateway_config_cache_version") == self.version + 1,
            10, message="the cache holds version %d" % (self.version + 1))
        self.assertEqual(oct(file_mode(self.gw.cache_path)), oct(0o600))
        leftovers = [f for f in os.listdir(self.cluster.dir)
                     if f.startswith("gw-src.cache") and f != "gw-src.cache"]
        self.assertEqual(leftovers, [])

    def test_a_cut_empty_or_damaged_cache_is_not_served(self):
        with open(self.gw.cache_path, "rb") as f:
            good = f.read()
        self.assertGreater(len(good), 100)
        flipped = bytearray(good)
        flipped[len(good) * 2 // 3] ^= 0x01
        variants = {
            "half": (good[:len(good) // 2], "cut short"),
            "empty": (b"", "empty"),
            "damaged": (bytes(flipped), "checksum"),
            "tail": (good[:-1], "cut short"),
        }
        self.cp.stop()
        gateways = {}
        for name, (data, reason) in variants.items():
            path = self.cluster.path("%s.cache" % name)
            with open(path, "wb") as f:
                f.write(data)
            gw = self.cluster.start_gateway("gw-" + name, cache=path)
            gateways[name] = gw
            where = "cache %s (%d bytes)" % (name, len(data))
            self.assertEqual(gw.admin_get("/healthz").status, 200, where)
            ready = gw.ready()
            self.assertEqual((ready.status, ready.json()), (503, {"ready": False}), where)
            config = gw.config()
            self.assertEqual((config["version"], config["source"]), (0, "none"), where)
            log = gw.process.log_text()
            line = [l for l in log.splitlines() if path in l and not l.startswith("$ ")]
            self.assertTrue(line, "a log line names the file: %s\n%s" % (where, log))
            self.assertIn(reason, line[0], where)
            self.assertIn("(running version 0)", log, "the control plane is told nothing")
            page = metrics(gw)
            self.assertEqual(metric(page, "gateway_ready"), 0, where)
            self.assertEqual(metric(page, "gateway_config_cache_version"), 0, where)
            self.assertEqual(metric(page, "gateway_config_cache_healthy"), 0, where)
            self.assertIn(reason, gw.config()["cache"]["error"], where)
            self.assertNotEqual(gw.get("/r01").status, 200, where)

        # Back online, each takes the whole config from the stream and rewrites its cache.
        self.cp.start()
        self.ctl.wait_acked(["gw-" + n for n in variants], self.version)
        for name, gw in gateways.items():
            self.assertEqual(gw.ready().json(), {"ready": True, "version": self.version})
            self.assertEqual(gw.get("/r19/x").upstream_name(), "up")
            harness.wait_until(
                lambda: metric(metrics(gw), "gateway_config_cache_version") == self.version,
                10, message="gw-%s rewrote its cache" % name)
            self.assertEqual(metric(metrics(gw), "gateway_config_cache_healthy"), 1)
            self.assertEqual(oct(file_mode(gw.cache_path)), oct(0o600))


class UnwritableCacheTest(harness.ClusterTestCase):
    def test_an_unwritable_cache_is_visible_and_the_version_still_served(self):
        c = self.cluster
        up = c.upstream("up")
        c.start_control_plane()
        ctl = c.ctl
        gone_dir = c.path("gone")
        os.mkdir(gone_dir)
        plain_file = c.path("plain-file")
        with open(plain_file, "w") as f:
            f.write("not a directory\n")
        gone = c.start_gateway("gw-gone", cache=os.path.join(gone_dir, "gw.cache"))
        under_file = c.start_gateway("gw-file", cache=os.path.join(plain_file, "gw.cache"))
        nodes = ["gw-gone", "gw-file"]
        ctl.ok("service", "add", "up-svc", "--endpoint", up.address)
        ctl.ok("route", "add", "/first", "up-svc")
        ctl.wait_acked(nodes)
        harness.wait_until(lambda: os.path.exists(gone.cache_path), 10,
                           message="gw-gone wrote its cache")
        self.assertEqual(metric(metrics(gone), "gateway_config_cache_healthy"), 1)

        shutil.rmtree(gone_dir)
        ctl.ok("route", "add", "/after", "up-svc")
        version = ctl.version()
        ctl.wait_acked(nodes, version)
        for gw in (gone, under_file):
            self.assertEqual(gw.config()["version"], version)
            r = gw.get("/after/x")
            self.assertEqual((r.status, r.upstream_name()), (200, "up"), r)

        def cache_errors():
            rows = ctl.gateways()
            return rows if all(rows[n]["cache_error"] for n in nodes) else None
        rows = harness.wait_until(cache_errors, 10, message="cache errors in `gateways`")
        self.assertIn("No such file or directory", rows["gw-gone"]["cache_error"])
        self.assertIn("Not a directory", rows["gw-file"]["cache_error"])
        table = ctl.ok("gateways")
        for node in nodes:
            line = [l for l in table.splitlines() if l.startswith(node + " ")]
            self.assertEqual(len(line), 1, table)
            self.assertIn("cache", line[0].split("yes", 1)[-1], "ERROR column: " + table)
        for gw in (gone, under_file):
            page = metrics(gw)
            self.assertEqual(metric(page, "gateway_config_cache_healthy"), 0, gw.node_id)
            self.assertGreater(metric(page, "gateway_config_cache_write_failures_total"), 0)
            self.assertFalse(gw.config()["cache"]["healthy"])

        # The directory comes back: the next version is cached again and the error clears.
        os.mkdir(gone_dir)
        ctl.ok("route", "add", "/later", "up-svc")
        ctl.wait_acked(nodes, version + 1)
        harness.wait_until(
            lambda: metric(metrics(gone), "gateway_config_cache_healthy") == 1 and
            ctl.gateways()["gw-gone"]["cache_error"] == "", 10,
            message="gw-gone's cache healthy again")
        self.assertEqual(oct(file_mode(gone.cache_path)), oct(0o600))


# ---------------------------------------------------------------------------- node ids


class NodeIdConflictTest(harness.ClusterTestCase):
    def test_a_second_gateway_with_the_same_node_id_is_refused(self):
        c = self.cluster
        up = c.upstream("up")
        c.start_control_plane()
        ctl = c.ctl
        first = c.start_gateway("gw-same")
        other = c.start_gateway("gw-other")
        ctl.ok("service", "add", "up-svc", "--endpoint", up.address)
        ctl.ok("route", "add", "/one", "up-svc")
        ctl.wait_acked(["gw-same", "gw-other"])

        second = c.spawn("gateway-gw-same-second", [
            harness.binary("gateway"), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
            "--control-plane", c.control_plane.address, "--node-id", "gw-same",
            "--cache", c.path("second.cache")])
        second_addresses = second.wait_listening(["http", "admin"])
        second_admin = second_addresses["admin"]

        def refused_times():
            page = harness.http_get(second_admin, "/metrics", timeout=5).body.decode()
            return metric(page, "gateway_control_plane_stream_failures_total",
                          '{code="ALREADY_EXISTS"}') or 0
        # While the second is refused again and again, the row never flips to it.
        addresses = set()

        def refused_three_times():
            addresses.add(ctl.gateways()["gw-same"]["address"])
            return refused_times() >= 3
        harness.wait_until(refused_three_times, 30,
                           message="the second gw-same refused three times")
        self.assertEqual(addresses, {first.address})

        log = second.log_text()
        refusal = [l for l in log.splitlines() if "gw-same" in l and first.address in l]
        self.assertTrue(refusal, "the second's log names the id and the holder:\n" + log)
        second_config = harness.http_get(second_admin, "/config").json()
        self.assertEqual(second_config["version"], 0)
        self.assertIn(first.address, second_config.get("control_plane_error", ""))
        self.assertEqual(harness.http_get(second_admin, "/ready").status, 503)

        row = ctl.gateways()["gw-same"]
        self.assertTrue(row["connected"], row)
        self.assertEqual(row["address"], first.address)
        self.assertIn(second_addresses["http"], row["conflict"], row)
        table_line = [l for l in ctl.ok("gateways").splitlines() if l.startswith("gw-same ")]
        self.assertEqual(len(table_line), 1)
        self.assertIn(second_addresses["http"], table_line[0])

        # The first keeps its stream: it takes new versions, and nobody was replaced.
        ctl.ok("route", "add", "/two", "up-svc")
        version = ctl.version()
        ctl.wait_acked(["gw-same", "gw-other"], version)
        self.assertEqual(first.config()["version"], version)
        self.assertEqual(first.get("/two").upstream_name(), "up")
        self.assertNotIn("replaced", first.process.log_text())
        self.assertNotIn("replaced", c.control_plane.process.log_text())
        self.assertNotIn("control plane stream lost", first.process.log_text())

        # Gone gateways: "no, since ...", and prune forgets them (never a connected one).
        second.stop()
        first.stop()
        row = harness.wait_until(
            lambda: (lambda g: g if not g["connected"] else None)(ctl.gateways()["gw-same"]),
            10, message="gw-same shown disconnected")
        self.assertGreater(row.get("disconnected_unix_ms", 0), 0, row)
        line = [l for l in ctl.ok("gateways").splitlines() if l.startswith("gw-same ")][0]
        self.assertIn("no, since", line)
        out = ctl.ok("gateways", "prune", "--older-than", "1h")
        self.assertIn("gw-same", ctl.gateways(), "gone for less than 1h: kept (%r)" % out)
        pruned = ctl.json("gateways", "prune")
        self.assertEqual(pruned, {"pruned": ["gw-same"]})
        rows = ctl.gateways()
        self.assertNotIn("gw-same", rows)
        self.assertTrue(rows["gw-other"]["connected"], rows)


# ---------------------------------------------------------------------------- control planes


class ControlPlaneStartTest(harness.ClusterTestCase):
    def assertOneLineRefusal(self, code, output, *texts):
        where = "exit %s, output %r" % (code, output)
        self.assertNotEqual(code, 0, where)
        self.assertEqual(len(output.splitlines()), 1, "one line: " + where)
        for text in texts:
            self.assertIn(text, output, where)

    def cp_args(self, db, listen="127.0.0.1:0", admin="127.0.0.1:0"):
        return [harness.binary("controlplane"), "--listen", listen, "--admin", admin,
                "--db", db]

    def test_a_second_control_plane_on_the_same_database_is_refused(self):
        c = self.cluster
        cp = c.start_control_plane()
        c.ctl.ok("service", "add", "up-svc", "--endpoint", "127.0.0.1:9")
        version = c.ctl.version()
        code, output = run_to_exit(c, "cp-second", self.cp_args(cp.db_path))
        self.assertOneLineRefusal(code, output, cp.db_path)
        # The first keeps working.
        self.assertTrue(cp.process.running())
        c.ctl.ok("route", "add", "/still", "up-svc")
        self.assertEqual(c.ctl.version(), version + 1)
        self.assertEqual(harness.http_get(cp.admin_address, "/ready").status, 200)

    def test_a_port_in_use_is_one_line_and_creates_no_database(self):
        c = self.cluster
        cp = c.start_control_plane()
        for what, args in (("grpc", dict(listen=cp.address)),
                           ("admin", dict(admin=cp.admin_address))):
            db = c.path("never-%s.db" % what)
            code, output = run_to_exit(c, "cp-busy-" + what, self.cp_args(db, **args))
            busy = args.get("listen") or args.get("admin")
            self.assertOneLineRefusal(code, output, busy)
            self.assertIn("in use", output)
            self.assertEqual([f for f in os.listdir(c.dir) if f.startswith("never-")], [],
                             "no database file created")
        self.assertTrue(cp.process.running())

    def test_a_database_of_another_application_is_refused(self):
        c = self.cluster
        db = c.path("invoices.db")
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
            conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
        conn.close()
        code, output = run_to_exit(c, "cp-foreign", self.cp_args(db))
        self.assertOneLineRefusal(code, output, db)
        self.assertIn("invoices", output)
        with sqlite3.connect(db) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
        conn.close()
        self.assertEqual(tables, ["invoices"], "nothing added to the file")

    def test_a_read_only_database_is_refused(self):
        if os.geteuid() != 0 or not shutil.which("setpriv"):
            self.skipTest("needs root and setpriv to run the control plane as nobody")
        c = self.cluster
        ro_dir = c.path("ro")
        os.mkdir(ro_dir)
        db = os.path.join(ro_dir, "cp.db")
        cp = c.start_control_plane(name="cp-maker", db=db)
        c.ctl.ok("service", "add", "up-svc", "--endpoint", "127.0.0.1:9")
        cp.stop()
        os.chmod(c.dir, 0o711)  # nobody may reach ro/, not list the cluster's files
        os.chmod(ro_dir, 0o755)
        for name in os.listdir(ro_dir):
            os.chmod(os.path.join(ro_dir, name), 0o644)  # readable, not writable, by nobody
        as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        with open(db, "rb") as f:
            before = f.read()

        code, output = run_to_exit(c, "cp-nobody", as_nobody + self.cp_args(db))
        self.assertOneLineRefusal(code, output, db)
        self.assertIn("write", output)
        # Even when it could create files beside it (a journal), the file itself is read-only.
        os.chown(ro_dir, 65534, 65534)
        code, output = run_to_exit(c, "cp-nobody-2", as_nobody + self.cp_args(db))
        self.assertOneLineRefusal(code, output, db)
        with open(db, "rb") as f:
            self.assertEqual(f.read(), before, "the database is unchanged")


# ---------------------------------------------------------------------------- data path


class RequestHeaderTest(harness.SharedClusterTestCase):
    MAX_HEADER = 8192

    @classmethod
    def setUpCluster(cls):
        c = cls.cluster
        cls.up = c.upstream("up")
        c.start_control_plane()
        cls.ctl = c.ctl
        cls.drop = c.start_gateway("gw-drop", ["--max-header-size", str(cls.MAX_HEADER)])
        cls.reject = c.start_gateway("gw-reject", ["--underscore-headers", "reject"])
        cls.allow = c.start_gateway("gw-allow", ["--underscore-headers", "allow"])
        cls.ctl.ok("service", "add", "up-svc", "--endpoint", cls.up.address)
        cls.ctl.ok("route", "add", "/api", "up-svc")
        cls.ctl.wait_acked(["gw-drop", "gw-reject", "gw-allow"])

    SMUGGLED = {"X_Consumer": "evil", "X_Forwarded_For": "6.6.6.6", "X-Fine": "ok"}

    def test_underscore_headers_are_dropped_by_default_and_counted(self):
        before = metric(metrics(self.drop), "gateway_underscore_headers_total",
                        '{action="dropped"}')
        r = self.drop.get("/api/who", headers=self.SMUGGLED)
        self.assertEqual((r.status, r.upstream_name()), (200, "up"), r)
        echoed = r.json()["headers"]
        self.assertNotIn("x_consumer", echoed)
        self.assertNotIn("x_forwarded_for", echoed)
        self.assertNotIn("evil", json.dumps(echoed))
        self.assertEqual(echoed.get("x-fine"), "ok")
        after = metric(metrics(self.drop), "gateway_underscore_headers_total",
                       '{action="dropped"}')
        self.assertEqual(after - (before or 0), 2)

    def test_underscore_headers_rejected(self):
        seen = len(self.up.requests)
        r = self.reject.get("/api/who", headers=self.SMUGGLED)
        self.assertEqual(r.status, 400, r)
        self.assertIsNone(r.upstream_name())
        self.assertEqual(len(self.up.requests), seen, "the upstream saw nothing")
        self.assertGreaterEqual(metric(metrics(self.reject), "gateway_underscore_headers_total",
                                       '{action="rejected"}'), 1)
        self.assertEqual(self.reject.get("/api/who", headers={"X-Fine": "ok"}).status, 200)

    def test_underscore_headers_allowed(self):
        r = self.allow.get("/api/who", headers=self.SMUGGLED)
        self.assertEqual((r.status, r.upstream_name()), (200, "up"), r)
        echoed = r.json()["headers"]
        self.assertEqual(echoed.get("x_consumer"), "evil")
        self.assertEqual(echoed.get("x_forwarded_for"), "6.6.6.6")

    def send_in_pieces(self, gw, head, stop_after, piece=1024):
        """Sends `head` in pieces (pausing briefly between them) until more than `stop_after`
        bytes went out or the gateway answered; returns the status line it answered with."""
        host, port = harness.split_host_port(gw.address)
        with socket.create_connection((host, port), timeout=10) as sock:
            sent = 0
            sock.setblocking(True)
            while sent < len(head) and sent <= stop_after:
                try:
                    sock.sendall(head[sent:sent + piece])
                except OSError:
                    break  # it answered and closed
                sent += piece
                time.sleep(0.002)  # a client trickling its header, not a fixed wait for state
            data = b""
            deadline = time.monotonic() + 10
            while b"\r\n" not in data and time.monotonic() < deadline:
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
        return data.split(b"\r\n", 1)[0].decode("latin-1")

    def test_one_long_header_line_is_431_and_a_long_target_414(self):
        limit = self.MAX_HEADER
        long_header = (b"GET /api/x HTTP/1.1\r\nHost: gw\r\nX-Long: " + b"a" * (limit * 2) +
                       b"\r\n\r\n")
        status = self.send_in_pieces(self.drop, long_header, stop_after=limit + 2048)
        self.assertTrue(status.startswith("HTTP/1.1 431"), status)
        # Sent whole, too.
        reply = harness.raw_http(self.drop.address, long_header)
        self.assertTrue(reply.startswith(b"HTTP/1.1 431"), reply[:200])
        # Many short lines over the limit: 431 as well.
        many = b"GET /api/x HTTP/1.1\r\nHost: gw\r\n" + b"".join(
            b"X-H%04d: %s\r\n" % (i, b"v" * 100) for i in range(limit // 100 + 10)) + b"\r\n"
        reply = harness.raw_http(self.drop.address, many)
        self.assertTrue(reply.startswith(b"HTTP/1.1 431"), reply[:200])

        long_target = (b"GET /api/" + b"t" * (limit * 2) + b" HTTP/1.1\r\nHost: gw\r\n\r\n")
        status = self.send_in_pieces(self.drop, long_target, stop_after=limit + 2048)
        self.assertTrue(status.startswith("HTTP/1.1 414"), status)
        reply = harness.raw_http(self.drop.address, long_target)
        self.assertTrue(reply.startswith(b"HTTP/1.1 414"), reply[:200])
        # Just under the limit is fine.
        ok = self.drop.get("/api/x", headers={"X-Long": "a" * (limit // 2)})
        self.assertEqual(ok.status, 200, ok)


if __name__ == "__main__":
    harness.main()
