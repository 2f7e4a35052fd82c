"""The split under load: client threads with keep-alive connections hammer /api/payment through
both gateways while `route add /api/payment payment-svc` (and later `route delete`) happens.
Not one request may fail: every response is a 200 from order before and from payment after."""

import http.client
import threading
import time

import harness

THREADS_PER_GATEWAY = 3
MIN_REQUESTS_PER_PHASE = 50  # per thread, before the change and after every gateway ACKed
PHASE_DEADLINE = 30.0        # seconds; bounds each phase even on a very slow machine


class LoadThread(threading.Thread):
    """Sends GET requests on one keep-alive connection until stopped; records each one as
    (start, end, status, upstream name, error). A failure is never retried."""

    def __init__(self, gateway, label):
        super().__init__(name="load-%s" % label, daemon=True)
        self.gateway = gateway
        self.label = label
        self.records = []
        self.stop_event = threading.Event()
        self._lock = threading.Lock()

    def run(self):
        host, port = harness.split_host_port(self.gateway.address)
        conn = http.client.HTTPConnection(host, port, timeout=10)
        n = 0
        while not self.stop_event.is_set():
            n += 1
            start = time.monotonic()
            status, name, error = None, None, None
            try:
                conn.request("GET", "/api/payment/%s/%d" % (self.label, n),
                             headers={"X-Request-Id": "%s-%d" % (self.label, n)})
                raw = conn.getresponse()
                body = raw.read()
                status = raw.status
                name = raw.getheader("X-Upstream")
                if raw.will_close:
                    error = "gateway closed the keep-alive connection (%r)" % body[:200]
            except Exception as e:  # noqa: BLE001 - every failure is recorded, none hidden
                error = "%s: %s" % (type(e).__name__, e)
            with self._lock:
                self.records.append((start, time.monotonic(), status, name, error))
            if error:
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.close()

    def snapshot(self):
        with self._lock:
            return list(self.records)

    def count_started_after(self, t):
        return sum(1 for r in self.snapshot() if r[0] > t)


class SplitUnderLoadTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        c = self.cluster
        self.order = c.upstream("order")
        self.payment = c.upstream("payment")
        c.start_control_plane()
        self.ctl = c.ctl
        self.gateways = [c.start_gateway("gw-a"), c.start_gateway("gw-b")]
        self.ctl.ok("service", "add", "order-svc", "--endpoint", self.order.address)
        self.ctl.ok("service", "add", "payment-svc", "--endpoint", self.payment.address)
        self.ctl.ok("route", "add", "/api", "order-svc")
        self.ctl.wait_acked(["gw-a", "gw-b"])

    def change_under_load(self, change_args, before, after):
        threads = [LoadThread(gw, "%s-%d" % (gw.node_id, i))
                   for gw in self.gateways for i in range(THREADS_PER_GATEWAY)]
        for t in threads:
            t.start()
        try:
            harness.wait_until(
                lambda: all(len(t.snapshot()) >= MIN_REQUESTS_PER_PHASE for t in threads),
                PHASE_DEADLINE, message="load threads warmed up")

            t_call = time.monotonic()
            self.ctl.ok(*change_args)
            version = self.ctl.version()
            self.ctl.wait_acked(["gw-a", "gw-b"], version, timeout=PHASE_DEADLINE)
            t_acked = time.monotonic()

            harness.wait_until(
                lambda: all(t.count_started_after(t_acked) >= MIN_REQUESTS_PER_PHASE
                            for t in threads),
                PHASE_DEADLINE, message="load after the change")
        finally:
            for t in threads:
                t.stop_event.set()
            for t in threads:
                t.join(timeout=15)

        total = 0
        for t in threads:
            records = t.records
            total += len(records)
            failures = [r for r in records if r[4] or r[2] != 200 or r[3] not in (before, after)]
            self.assertEqual(failures[:10], [],
                             "%s: %d of %d requests failed during `gatewayctl %s`"
                             % (t.label, len(failures), len(records), " ".join(change_args)))
            names = [r[3] for r in records]
            first_after = names.index(after) if after in names else len(names)
            self.assertEqual([n for n in names[first_after:] if n != after], [],
                             "%s: once %s answered, %s never answers again on that connection"
                             % (t.label, after, before))
            self.assertEqual([r for r in records if r[1] < t_call and r[3] != before], [],
                             "%s: before the change only %s answers" % (t.label, before))
            late = [r for r in records if r[0] > t_acked and r[3] != after]
            self.assertEqual(late, [], "%s: every request sent after both gateways ACKed goes "
                             "to %s" % (t.label, after))
            self.assertGreaterEqual(names.count(before), MIN_REQUESTS_PER_PHASE)
            self.assertGreaterEqual(names.count(after), MIN_REQUESTS_PER_PHASE)
        return total

    def test_split_and_merge_back_without_a_failed_request(self):
        total = self.change_under_load(["route", "add", "/api/payment", "payment-svc"],
                                       before="order", after="payment")
        total += self.change_under_load(["route", "delete", "/api/payment"],
                                        before="payment", after="order")
        total += self.change_under_load(["route", "add", "/api/payment", "payment-svc",
                                         "--exact"], before="order", after="order")
        print("%d requests through 2 gateways, none failed" % total)

    def test_service_endpoint_change_under_load(self):
        """Re-pointing a service (not a route) also moves traffic without a failed request."""
        self.ctl.ok("route", "add", "/api/payment", "payment-svc")
        self.ctl.wait_acked(["gw-a", "gw-b"])
        self.change_under_load(["service", "update", "payment-svc", "--endpoint",
                                self.order.address], before="payment", after="order")


if __name__ == "__main__":
    harness.main()
