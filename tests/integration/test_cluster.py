"""Issue 10: the control plane as a cluster service. Three control-plane replicas share one real
PostgreSQL 15 server (started here, on loopback, as an unprivileged user) and three gateways
are given the list of replicas:

- a route added on one replica is served by every gateway, whichever replica it is on;
- replica 1, then replica 2, killed with SIGKILL while clients send requests: no request fails,
  every gateway ends on the newest version, and a change made on replica 3 reaches all;
- 60 writes at once spread over the replicas: all stored, versions unique and increasing,
  every gateway ends at the last one;
- the database stopped: writes are refused at once with a message naming the database, the
  gateways keep serving; started again: writes work and every replica and gateway converges;
- `gatewayctl gateways` on any replica lists every gateway with its replica, and a gateway whose
  replica died (with it) is shown disconnected within seconds; `status` lists the replicas.

Issue 12 on the cluster: `apply --wait` on one replica returns when every gateway, whichever
replica it is on, serves the change; another replica's history shows who made it and how; a
rollback through a third replica restores the earlier config exactly on every gateway."""

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import harness


class ClusterTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        c = self.cluster
        self.pg = c.start_postgres()
        self.order = c.upstream("order")
        self.payment = c.upstream("payment")
        self.cps = [c.start_control_plane("cp%d" % i, db=self.pg.url,
                                          extra_args=["--replica-id", "cp%d" % i])
                    for i in (1, 2, 3)]
        self.ctls = [harness.Ctl(cp.address) for cp in self.cps]
        self.ctls[0].ok("service", "add", "order-svc", "--endpoint", self.order.address)
        self.ctls[1].ok("route", "add", "/api", "order-svc")
        addresses = [cp.address for cp in self.cps]
        # Each gateway lists the replicas in its own order, so each starts on another one.
        self.gws = [c.start_gateway("gw-%d" % i,
                                    control_plane=",".join(addresses[i:] + addresses[:i]))
                    for i in range(3)]
        self.all = harness.Ctl(",".join(addresses))

    def replicas_of(self, ctl):
        return {n: g["replica"] for n, g in ctl.gateways().items() if g["connected"]}

    def test_a_write_on_any_replica_reaches_every_gateway(self):
        version = self.ctls[2].version()
        self.ctls[2].wait_acked(["gw-0", "gw-1", "gw-2"], version)
        # Every replica shows every gateway, each on its own replica (the others' rows come with
        # their next heartbeat, within a second).
        for ctl in self.ctls:
            harness.wait_until(lambda: self.replicas_of(ctl) == {"gw-0": "cp1", "gw-1": "cp2",
                                                                 "gw-2": "cp3"}, 5,
                               message="every gateway listed with its replica")
        self.ctls[0].ok("service", "add", "payment-svc", "--endpoint", self.payment.address)
        out = self.ctls[0].ok("route", "add", "/api/payment", "payment-svc")
        self.assertIn("created at version %d" % (version + 2), out)
        for ctl in self.ctls:
            ctl.wait_acked(["gw-0", "gw-1", "gw-2"], version + 2)
        for gw in self.gws:
            self.assertEqual(gw.get("/api/payment/1").upstream_name(), "payment")
            self.assertEqual(gw.get("/api/x").upstream_name(), "order")

        # status on any replica lists all three, each with the version it serves.
        status = self.ctls[1].json("status")
        self.assertEqual([r["id"] for r in status["replicas"]], ["cp1", "cp2", "cp3"])
        self.assertTrue(all(r["alive"] for r in status["replicas"]))
        self.assertEqual([r["self"] for r in status["replicas"]], [False, True, False])
        self.assertTrue(status["store"].startswith("database postgresql://"), status["store"])
        harness.wait_until(
            lambda: all(r["loaded_version"] == version + 2
                        for r in self.ctls[1].json("status")["replicas"]),
            5, message="every replica's heartbeat says it serves the new version")

        # A second replica with a live replica's id is refused: they would share one row.
        twin = self.cluster.spawn("twin", [harness.binary("controlplane"), "--listen",
                                           "127.0.0.1:0", "--db", self.pg.url,
                                           "--replica-id", "cp2"])
        harness.wait_until(lambda: not twin.running(), 15, message="the twin exits")
        self.assertIn("replica id cp2 is in use by the running replica at %s"
                      % self.cps[1].address, twin.log_text())

        # A gateway that goes down with its replica is shown disconnected within seconds.
        lone = self.cluster.start_gateway("gw-lone", control_plane=self.cps[0].address)
        self.ctls[1].wait_acked(["gw-lone"], version + 2)
        lone.stop(signal.SIGKILL)
        self.cps[0].stop(signal.SIGKILL)
        start = time.monotonic()
        harness.wait_until(lambda: not self.ctls[1].gateways()["gw-lone"]["connected"], 15,
                           message="gw-lone shown disconnected after its replica died")
        self.assertLess(time.monotonic() - start, 10)
        table = self.ctls[2].ok("status")
        self.assertIn("DOWN since", table)

    def test_apply_wait_history_and_rollback_across_replicas(self):
        self.ctls[0].wait_acked(["gw-0", "gw-1", "gw-2"])
        before = self.ctls[0].ok("export", "-o", "json")
        start = self.ctls[0].version()
        change = os.path.join(self.cluster.dir, "payment.json")
        with open(change, "w") as f:
            json.dump({"services": [{"name": "payment-svc",
                                     "endpoints": [self.payment.address]}],
                       "routes": [{"path": "/api/payment", "match": "prefix",
                                   "target": "payment-svc", "timeout_ms": 5000}]}, f)
        out = self.ctls[0].ok("apply", "-f", change, "--wait", "--wait-timeout", "20s")
        self.assertIn("service payment-svc created", out)
        self.assertIn("version %d" % (start + 1), out)
        # --wait returned: every gateway serves it now, on whichever replica it is.
        for gw in self.gws:
            self.assertEqual(gw.get("/api/payment/1").upstream_name(), "payment")

        # Another replica's history has the version, who made it and the command.
        newest = self.ctls[1].json("history", "--limit", "3")[0]
        self.assertEqual(newest["version"], start + 1)
        self.assertEqual(newest["actor"], "anonymous")
        self.assertIn("apply -f %s" % change, newest["command"])
        self.assertIn("payment-svc", self.ctls[1].ok("history", "show", str(start + 1)))

        # A rollback through a third replica: the config is exactly the earlier one, as a new
        # version, live on every gateway when the command returns.
        out = self.ctls[2].ok("rollback", str(start), "--wait")
        self.assertIn("version %d" % (start + 2), out)
        for gw in self.gws:
            self.assertEqual(gw.get("/api/payment/1").upstream_name(), "order")
            self.assertEqual(gw.config()["version"], start + 2)
        self.assertEqual(self.ctls[0].ok("export", "-o", "json"), before)
        self.assertEqual(self.ctls[1].json("history", "--limit", "1")[0]["action"], "rollback")

    def test_replicas_killed_under_load_fail_no_request(self):
        self.ctls[0].wait_acked(["gw-0", "gw-1", "gw-2"])
        with harness.Load(self.gws, "/api/x", "order") as load:
            load.wait_more(100, message="traffic before the crash")
            dead = set()
            for victim in (0, 1):
                self.cps[victim].stop(signal.SIGKILL)
                dead.add("cp%d" % (victim + 1))

                def moved():
                    replicas = self.replicas_of(self.ctls[2])
                    return len(replicas) == 3 and not dead & set(replicas.values())
                harness.wait_until(moved, 20, message="every gateway off %s" % sorted(dead))
                load.wait_more(100, message="traffic after %s died" % sorted(dead))
        self.assertEqual(load.failures, [], "no failed request while replicas died")

        # A change made on the last replica reaches every gateway.
        self.ctls[2].ok("service", "add", "payment-svc", "--endpoint", self.payment.address)
        self.ctls[2].ok("route", "add", "/api/payment", "payment-svc")
        self.ctls[2].wait_acked(["gw-0", "gw-1", "gw-2"], self.ctls[2].version())
        for gw in self.gws:
            self.assertEqual(gw.get("/api/payment/1").upstream_name(), "payment")
        # gatewayctl with the whole list passes over the dead replicas.
        self.assertEqual(self.all.json("status")["version"], self.ctls[2].version())

    def test_concurrent_writes_across_replicas_get_unique_increasing_versions(self):
        start = self.ctls[0].version()

        def write(i):
            ctl = self.ctls[i % 3]
            return ctl.json("route", "add", "/w/%d" % i, "order-svc")

        with ThreadPoolExecutor(max_workers=12) as pool:
            created = list(pool.map(write, range(60)))
        versions = sorted(r["version"] for r in created)
        self.assertEqual(versions, list(range(start + 1, start + 61)))
        last = start + 60
        for ctl in self.ctls:
            self.assertEqual(ctl.version(), last)
            self.assertEqual(len(ctl.json("route", "list")), 61)
        self.ctls[0].wait_acked(["gw-0", "gw-1", "gw-2"], last, timeout=30)
        for gw in self.gws:
            self.assertEqual(gw.config()["version"], last)
            self.assertEqual(gw.get("/w/59/x").upstream_name(), "order")

    def test_the_database_down_refuses_writes_and_gateways_keep_serving(self):
        version = self.ctls[0].version()
        self.ctls[0].wait_acked(["gw-0", "gw-1", "gw-2"], version)
        self.pg.stop(signal.SIGKILL)
        for ctl in self.ctls:
            began = time.monotonic()
            code, out, err = ctl.run("route", "add", "/down", "order-svc")
            self.assertEqual(code, 1, (out, err))
            self.assertLess(time.monotonic() - began, 10, "refused within seconds, not a hang")
            self.assertIn("database postgresql://gateway@127.0.0.1:%d/gateway" % self.pg.port,
                          err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
        for gw in self.gws:
            for _ in range(20):
                self.assertEqual(gw.get("/api/x").status, 200)
            self.assertEqual(gw.config()["version"], version)
        # gateways on a replica still answers, from what that replica knows, and says so.
        code, out, err = self.ctls[0].run("gateways")
        self.assertEqual(code, 0, err)
        self.assertIn("gw-0", out)
        self.assertIn("only this replica's part is shown", err)

        self.pg.start()
        # The replicas reconnect by themselves; a write then works on any of them.
        harness.wait_until(lambda: self.ctls[1].run("route", "add", "/up", "order-svc")[0] == 0,
                           30, interval=0.5, message="writes accepted once the database is back")
        self.ctls[2].ok("route", "add", "/up/more", "order-svc")
        last = self.ctls[2].version()
        self.assertEqual(last, version + 2)
        for ctl in self.ctls:
            ctl.wait_acked(["gw-0", "gw-1", "gw-2"], last, timeout=20)
        for gw in self.gws:
            self.assertEqual(gw.get("/up/more/1").upstream_name(), "order")
            self.assertEqual(gw.get("/down/1").status, 404)  # the refused write left nothing
        for ctl in self.ctls:
            paths = [r["path"] for r in ctl.json("route", "list")]
            self.assertNotIn("/down", paths)


if __name__ == "__main__":
    harness.main()
