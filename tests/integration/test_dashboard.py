"""Issue 12's dashboard in a real browser: headless Chromium (Debian's chromium and
chromium-driver, scripts/install-deps.sh) driven over W3C WebDriver, spoken here with urllib to a
chromedriver of the test's own on a loopback port chosen at run time.

- Without a token file: the page shows the current version; a gateway that connects appears
  with the version it ACKed; after `gatewayctl route add` the page shows the next version, the
  route, the history line and the gateway catching up, all without a reload (a marker set on
  the window before survives); a gateway that refuses a version is shown NACKed with its error,
  one that stops is shown disconnected; a header value written as HTML stays text; the browser
  reports no Content-Security-Policy violation.
- With a token file: the page asks for a token, shows "Token refused" for a gateway token and
  an unknown one, and the data for a viewer token, which it keeps for the tab (a reload shows
  the data again without asking).

Skipped, saying so, only when /usr/bin/chromium is not installed."""

import json
import os
import re
import shutil
import signal
import unittest
import urllib.error
import urllib.request

import harness

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

ADMIN = "admin-token-0123456789abcdef"
VIEWER = "viewer-token-0123456789abcdef"
GATEWAY = "gateway-token-0123456789abcdef"

# A header value that would run script if the page ever wrote data as HTML.
HOSTILE = "<img src=x onerror=window.__pwned=1>"


class WebDriverError(AssertionError):
    pass


class Browser:
    """Headless Chromium through a chromedriver of its own. Every call has a deadline."""

    def __init__(self, cluster):
        self.session = None
        self.process = cluster.spawn("chromedriver", [CHROMEDRIVER, "--port=0"])
        port = harness.wait_until(
            lambda: re.search(r"started successfully on port (\d+)", self.process.log_text()),
            20, message="chromedriver to listen").group(1)
        self.base = "http://127.0.0.1:%s" % port
        options = {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-first-run", "--disable-extensions", "--disable-background-networking",
                     "--user-data-dir=" + cluster.path("chromium-profile"),
                     "--window-size=1400,1000"],
        }
        capabilities = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
            "goog:loggingPrefs": {"browser": "ALL"},
            "timeouts": {"pageLoad": 30000, "script": 10000, "implicit": 0},
        }}}
        self.session = self._call("POST", "/session", capabilities, timeout=60)["sessionId"]

    def _call(self, method, path, body=None, timeout=30):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read().decode() or "{}").get("value")
        except urllib.error.HTTPError as e:
            try:
                value = json.loads(e.read().decode()).get("value", {})
            except ValueError:
                value = {}
            raise WebDriverError("%s %s: %s: %s" % (method, path, value.get("error", e.code),
                                                    value.get("message", "")))

    def _session(self, method, path, body=None, timeout=30):
        return self._call(method, "/session/%s%s" % (self.session, path), body, timeout)

    def open(self, url):
        self._session("POST", "/url", {"url": url}, timeout=40)

    def script(self, source, *args):
        return self._session("POST", "/execute/sync", {"script": source, "args": list(args)})

    def _element(self, css):
        value = self._session("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(value.values()))

    def type_into(self, css, text):
        element = self._element(css)
        self._session("POST", "/element/%s/clear" % element, {})
        self._session("POST", "/element/%s/value" % element, {"text": text})

    def click(self, css):
        self._session("POST", "/element/%s/click" % self._element(css), {})

    def console(self):
        """The browser's console entries since the last call (CSP violations are among them)."""
        return self._session("POST", "/se/log", {"type": "browser"}) or []

    def quit(self):
        try:
            if self.session:
                self._session("DELETE", "", timeout=20)
        finally:
            self.session = None
            self.process.stop(signal.SIGTERM, timeout=10)


# What the page shows, read in one round trip: only what a user sees (text of visible parts)
# plus the marker the test set on the window and the page's own state.
READ_PAGE = r"""
const shown = (id) => { const e = document.getElementById(id); return !!e && !e.hidden &&
                        getComputedStyle(e).display !== 'none'; };
const text = (id) => document.getElementById(id).textContent;
const rows = (id) => Array.from(document.querySelectorAll('#' + id + ' tbody tr'),
                                (tr) => Array.from(tr.cells, (td) => td.textContent));
const gateways = {};
for (const tr of document.querySelectorAll('#gateways tbody tr'))
  gateways[tr.cells[0].textContent] = {
    state: tr.cells[1].textContent, version: tr.cells[2].textContent,
    lag: tr.cells[3].textContent, problems: tr.cells[7].textContent,
    color: getComputedStyle(tr.cells[1].firstChild).backgroundColor};
return {
  version: text('version'), status: text('status'), content: shown('content'),
  login: shown('login'), refused: shown('login-refused') ? text('login-refused') : '',
  gateways: gateways, routes: rows('routes'), services: rows('services'),
  history: rows('history'),
  errors: Array.from(document.querySelectorAll('#errors li'), (li) => li.textContent),
  marker: window.__marker || null, pwned: window.__pwned || null,
  images: document.querySelectorAll('main img, main script').length,
  auth: window.dashboard ? window.dashboard.auth : null,
};
"""


def chromium_missing():
    return not os.path.exists(CHROMIUM)


@unittest.skipIf(chromium_missing(), "Chromium is not installed at %s (scripts/install-deps.sh "
                 "installs chromium and chromium-driver); the dashboard's browser test needs it"
                 % CHROMIUM)
class DashboardBrowserTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.browser = None

    def start_browser(self):
        self.browser = Browser(self.cluster)
        self.addCleanup(self.browser.quit)  # before the cluster's processes stop
        return self.browser

    def page(self):
        return self.browser.script(READ_PAGE)

    def wait_page(self, predicate, message, timeout=15):
        """Waits until predicate(page) holds; returns the page. Fails naming `message` and
        the last page read."""
        last = {}

        def check():
            last["page"] = self.page()
            return predicate(last["page"])
        try:
            harness.wait_until(check, timeout, interval=0.1, message=message)
        except harness.Timeout as e:
            raise AssertionError("%s\nthe page showed: %s" % (e, json.dumps(last.get("page"),
                                                                            indent=1)))
        return last["page"]

    def assert_no_policy_violation(self):
        violations = [entry.get("message", "") for entry in self.browser.console()
                      if entry.get("source") == "security"
                      or "Content Security Policy" in entry.get("message", "")]
        self.assertEqual(violations, [], "the browser reported blocked content")

    def test_the_page_follows_gateways_and_versions_live(self):
        c = self.cluster
        up = c.upstream("order")
        cp = c.start_control_plane()
        ctl = c.ctl
        ctl.ok("service", "add", "order-svc", "--endpoint", up.address)
        first = ctl.version()
        browser = self.start_browser()
        browser.open("http://%s/" % cp.admin_address)
        page = self.wait_page(lambda p: p["version"] == "v%d" % first,
                              "the page to show version %d" % first)
        self.assertTrue(page["content"])
        self.assertFalse(page["login"], "no token file: no token asked for")
        self.assertEqual(page["services"][0][0], "order-svc")
        self.assertEqual(page["services"][0][1], up.address)
        self.assertEqual(page["gateways"], {})
        browser.script("window.__marker = 'not reloaded';")

        # A gateway connects: it appears with the version it ACKed, in sync.
        c.start_gateway("gw-1")
        page = self.wait_page(
            lambda p: p["gateways"].get("gw-1", {}).get("version") == "v%d" % first
            and p["gateways"]["gw-1"]["state"] == "in sync",
            "gw-1 connected with v%d" % first)
        self.assertEqual(page["gateways"]["gw-1"]["lag"], "0")
        # One that takes at most one route, to refuse the second.
        c.start_gateway("gw-small", ["--max-routes", "1"])
        self.wait_page(lambda p: p["gateways"].get("gw-small", {}).get("state") == "in sync",
                       "gw-small connected")

        # A change: the next version, its route and history line, and the gateways catching
        # up, without a reload.
        ctl.ok("route", "add", "/api/orders", "order-svc")
        second = ctl.version()
        self.assertEqual(second, first + 1)
        page = self.wait_page(
            lambda p: p["version"] == "v%d" % second
            and p["gateways"].get("gw-1", {}).get("version") == "v%d" % second
            and p["gateways"]["gw-1"]["state"] == "in sync"
            and p["history"] and p["history"][0][0] == "v%d" % second,
            "version %d on the page and on gw-1" % second)
        self.assertEqual(page["marker"], "not reloaded", "the page was reloaded")
        self.assertIn("/api/orders", page["routes"][0][0])
        self.assertEqual(page["routes"][0][1], "order-svc")
        newest = page["history"][0]  # version, time, actor, action, summary, command
        self.assertEqual(newest[2], "anonymous")
        self.assertEqual(newest[3], "create_route")
        self.assertIn("/api/orders", newest[4])

        # gw-small refuses the version with a second route: shown NACKed, with its error, in
        # another color than an in-sync gateway.
        ctl.ok("route", "add", "/h", "order-svc", "--header", "x-h=" + HOSTILE)
        third = ctl.version()
        page = self.wait_page(
            lambda p: p["version"] == "v%d" % third
            and p["gateways"].get("gw-small", {}).get("state") == "NACKed"
            and p["gateways"].get("gw-1", {}).get("version") == "v%d" % third,
            "gw-small NACKed version %d" % third)
        small = page["gateways"]["gw-small"]
        self.assertEqual(small["version"], "v%d" % second)
        self.assertEqual(small["lag"], "1")
        self.assertIn("NACK of v%d" % third, small["problems"])
        self.assertIn("routes", small["problems"])
        self.assertNotEqual(small["color"], page["gateways"]["gw-1"]["color"])
        # The header value written as HTML is shown as the text it is, and runs nothing.
        self.assertTrue(any(HOSTILE in row[0] for row in page["routes"]), page["routes"])
        self.assertEqual(page["images"], 0)
        self.assertIsNone(page["pwned"])
        self.assertEqual(page["marker"], "not reloaded", "the page was reloaded")

        # A gateway that stops is shown disconnected.
        c.gateways["gw-1"].stop()
        page = self.wait_page(lambda p: p["gateways"].get("gw-1", {}).get("state")
                              == "disconnected", "gw-1 disconnected")
        self.assertEqual(page["marker"], "not reloaded", "the page was reloaded")
        self.assert_no_policy_violation()

    def test_with_a_token_file_the_page_asks_for_a_viewer_token(self):
        c = self.cluster
        tokens = c.path("tokens.csv")
        with open(tokens, "w") as f:
            f.write("%s,alice,admin\n%s,victor,viewer\n%s,fleet,gateway\n"
                    % (ADMIN, VIEWER, GATEWAY))
        cp = c.start_control_plane(extra_args=["--auth-token-file", tokens])
        admin = harness.Ctl(cp.address, ["--token", ADMIN])
        admin.ok("route", "add", "/api", "order.internal:80")
        version = admin.version()
        browser = self.start_browser()
        browser.open("http://%s/" % cp.admin_address)
        page = self.wait_page(lambda p: p["login"] and p["auth"] == "needed",
                              "the token prompt")
        self.assertFalse(page["content"], "no data without a token")
        self.assertEqual(page["routes"], [])
        self.assertEqual(page["refused"], "")

        # A gateway's token may not read: refused, the prompt stays.
        browser.type_into("#token", GATEWAY)
        browser.click("#login-submit")
        page = self.wait_page(lambda p: p["auth"] == "refused" and p["refused"],
                              "the gateway token refused")
        self.assertIn("Token refused", page["refused"])
        self.assertIn("role gateway", page["refused"])
        self.assertTrue(page["login"])
        self.assertFalse(page["content"])

        # An unknown token is not accepted either.
        browser.type_into("#token", "not-a-token-at-all")
        browser.click("#login-submit")
        page = self.wait_page(lambda p: "not accepted" in p["refused"],
                              "the unknown token refused")
        self.assertFalse(page["content"])

        # A viewer's token shows the data.
        browser.type_into("#token", VIEWER)
        browser.click("#login-submit")
        page = self.wait_page(lambda p: p["content"] and p["version"] == "v%d" % version,
                              "the data with the viewer token")
        self.assertFalse(page["login"])
        self.assertIn("/api", page["routes"][0][0])
        self.assertEqual(page["history"][0][2], "alice")

        # Kept for the tab: a reload shows the data again without asking.
        browser.open("http://%s/" % cp.admin_address)
        page = self.wait_page(lambda p: p["content"] and p["version"] == "v%d" % version,
                              "the data after a reload")
        self.assertFalse(page["login"])
        # And it stays live: a write shows up.
        admin.ok("route", "add", "/more", "order.internal:80")
        self.wait_page(lambda p: p["version"] == "v%d" % (version + 1), "the next version")
        self.assert_no_policy_violation()


if __name__ == "__main__":
    harness.main()
