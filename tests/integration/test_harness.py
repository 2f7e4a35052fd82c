"""The harness's own pieces, checked without the gateway's binaries: fake upstreams, the
keep-alive client, wait_until, process start-up parsing and clean-up."""

import json
import os
import signal
import sys
import time
import unittest

import harness


class FakeUpstreamTest(unittest.TestCase):
    def setUp(self):
        self.up = harness.FakeUpstream("order", response_headers=[("X-Extra", "1")])
        self.addCleanup(self.up.close)

    def test_answers_with_its_name_and_echoes_headers(self):
        r = harness.http_get(self.up.address, "/api/x?y=1", headers={"X-Request-Id": "abc"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.upstream_name(), "order")
        body = r.json()
        self.assertEqual(body["path"], "/api/x?y=1")
        self.assertEqual(body["headers"]["x-request-id"], "abc")
        self.assertEqual(r.header("x-extra"), "1")

    def test_keep_alive_reuses_one_connection(self):
        client = harness.HttpClient(self.up.address)
        self.addCleanup(client.close)
        for i in range(5):
            r = client.request("/n/%d" % i, method="POST", body=b"hello %d" % i)
            self.assertEqual(r.json()["body"], "hello %d" % i)
        self.assertEqual(self.up.connections, 1)
        self.assertEqual(len(self.up.requests), 5)

    def test_slow_upstream_delays_its_answer(self):
        slow = harness.FakeUpstream("slow", delay=0.3)
        self.addCleanup(slow.close)
        r = harness.http_get(slow.address, "/")
        self.assertGreaterEqual(r.elapsed, 0.3)
        self.assertEqual(r.upstream_name(), "slow")

    def test_refused_address_refuses(self):
        host, port = harness.split_host_port(harness.refused_address())
        with self.assertRaises(ConnectionRefusedError):
            harness.http_get("%s:%d" % (host, port), "/", timeout=2)


class WaitUntilTest(unittest.TestCase):
    def test_returns_the_value_once_true(self):
        values = iter([None, 0, "", "done"])
        self.assertEqual(harness.wait_until(lambda: next(values), timeout=2, interval=0), "done")

    def test_times_out_as_a_failure_naming_the_last_value(self):
        start = time.monotonic()
        with self.assertRaisesRegex(AssertionError, "timed out .* 'not yet'"):
            harness.wait_until(lambda: "not yet" == "", timeout=0.2, message="'not yet'")
        self.assertLess(time.monotonic() - start, 2)

    def test_exceptions_count_as_not_yet(self):
        calls = []

        def flaky():
            calls.append(1)
            if len(calls) < 3:
                raise ConnectionRefusedError()
            return True
        self.assertTrue(harness.wait_until(flaky, timeout=2, interval=0))


class ProcessTest(unittest.TestCase):
    def setUp(self):
        self.cluster = harness.Cluster("harness-self-test")
        self.addCleanup(self.cluster.remove_dir)
        self.addCleanup(self.cluster.close)

    def test_parses_listening_lines_and_stops(self):
        script = ("import sys,time\n"
                  "sys.stderr.write('2024 INFO grpc listening on 127.0.0.1:4321\\n')\n"
                  "sys.stderr.write('2024 INFO admin listening on [::1]:99\\n')\n"
                  "sys.stderr.flush()\n"
                  "time.sleep(60)\n")
        proc = self.cluster.spawn("fake", [sys.executable, "-c", script])
        found = proc.wait_listening(["grpc", "admin"], timeout=10)
        self.assertEqual(found, {"grpc": "127.0.0.1:4321", "admin": "[::1]:99"})
        self.assertEqual(harness.split_host_port(found["admin"]), ("::1", 99))
        self.assertEqual(proc.stop(signal.SIGTERM), -signal.SIGTERM)
        self.assertFalse(proc.running())

    def test_a_process_that_exits_early_is_reported_with_its_log(self):
        proc = self.cluster.spawn("dies", [sys.executable, "-c",
                                           "import sys; sys.stderr.write('bad flag\\n'); "
                                           "sys.exit(2)"])
        with self.assertRaisesRegex(AssertionError, "(?s)exited with status 2.*bad flag"):
            proc.wait_listening(["http"], timeout=10)

    def test_a_restart_only_reads_its_own_lines(self):
        script = "import sys; sys.stderr.write('http listening on 127.0.0.1:%s\\n')"
        first = self.cluster.spawn("same", [sys.executable, "-c", script % 1])
        self.assertEqual(first.wait_listening(["http"])["http"], "127.0.0.1:1")
        first.stop()
        second = self.cluster.spawn("same", [sys.executable, "-c", script % 2])
        self.assertEqual(second.wait_listening(["http"])["http"], "127.0.0.1:2")

    def test_close_kills_a_process_that_ignores_sigterm(self):
        script = ("import signal,time\n"
                  "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                  "print('http listening on 127.0.0.1:7', flush=True)\n"
                  "time.sleep(120)\n")
        proc = self.cluster.spawn("stubborn", [sys.executable, "-c", script])
        proc.wait_listening(["http"])
        start = time.monotonic()
        self.assertEqual(proc.stop(signal.SIGTERM, timeout=0.5), -signal.SIGKILL)
        self.assertLess(time.monotonic() - start, 5)


class StandaloneUpstreamTest(unittest.TestCase):
    def test_harness_serves_an_upstream_from_the_command_line(self):
        cluster = harness.Cluster("standalone-upstream")
        self.addCleanup(cluster.remove_dir)
        self.addCleanup(cluster.close)
        here = os.path.dirname(os.path.abspath(__file__))
        proc = cluster.spawn("up", [sys.executable, os.path.join(here, "harness.py"),
                                    "upstream", "demo"])
        line = harness.wait_until(
            lambda: [ln for ln in proc.log_text().splitlines() if "listening on" in ln],
            timeout=10)
        address = line[0].rsplit(" ", 1)[1]
        self.assertEqual(json.loads(harness.http_get(address, "/x").body)["name"], "demo")


@unittest.skipUnless(harness.postgres_available(), "PostgreSQL 15 is not installed "
                     "(scripts/install-deps.sh installs it)")
class PostgresServerTest(unittest.TestCase):
    """The throwaway PostgreSQL server the cluster tests start: loopback only, its own temp
    dir, run as an unprivileged user, data kept across a restart and a crash."""

    def setUp(self):
        self.cluster = harness.Cluster("postgres")
        self.addCleanup(self.cluster.remove_dir)
        self.addCleanup(self.cluster.close)

    def test_starts_serves_restarts_and_survives_a_crash(self):
        pg = self.cluster.start_postgres()
        self.assertTrue(pg.url.startswith("postgresql://gateway@127.0.0.1:"), pg.url)
        pg.psql("CREATE TABLE t (v integer); INSERT INTO t VALUES (7)")
        self.assertEqual(pg.psql("SELECT v FROM t").strip(), "7")
        if os.geteuid() == 0:
            owner = pg.psql("SELECT pg_catalog.current_setting('data_directory')").strip()
            self.assertEqual(os.stat(owner).st_uid, pwd_uid("nobody"))
        port = pg.port
        pg.stop()
        pg.start()
        self.assertEqual(pg.port, port)
        self.assertEqual(pg.psql("SELECT v FROM t").strip(), "7")
        pg.stop(signal.SIGKILL)
        pg.start()
        self.assertEqual(pg.psql("SELECT count(*) FROM t").strip(), "1")


@unittest.skipUnless(harness.redis_available(), "redis-server is not installed "
                     "(scripts/install-deps.sh installs it)")
class RedisServerTest(unittest.TestCase):
    """The throwaway redis-server of the cluster-wide rate limit tests: loopback, its own temp
    dir, nothing saved, the same port after a restart or a crash."""

    def setUp(self):
        self.cluster = harness.Cluster("redis")
        self.addCleanup(self.cluster.remove_dir)
        self.addCleanup(self.cluster.close)

    def test_starts_answers_and_restarts_on_its_port(self):
        redis = self.cluster.start_redis()
        self.assertTrue(redis.address.startswith("127.0.0.1:"), redis.address)
        self.assertEqual(redis.command("SET", "k", "v"), b"OK")
        self.assertEqual(redis.command("GET", "k"), b"v")
        self.assertEqual(redis.command("INCRBY", "n", 5), 5)
        self.assertEqual(sorted(redis.command("KEYS", "*")), [b"k", b"n"])
        self.assertEqual(redis.command("CONFIG", "GET", "save"), [b"save", b""])
        with self.assertRaises(harness.RedisError):
            redis.command("NOSUCHCOMMAND")
        self.assertTrue(redis.dir.startswith(self.cluster.dir))
        port = redis.port
        redis.stop(signal.SIGKILL)
        with self.assertRaises(OSError):
            redis.command("PING")
        redis.start()
        self.assertEqual(redis.port, port)
        self.assertIsNone(redis.command("GET", "k"))  # nothing was saved


def pwd_uid(name):
    import pwd
    return pwd.getpwnam(name).pw_uid


if __name__ == "__main__":
    harness.main()
