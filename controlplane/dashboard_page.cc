// The dashboard's page, script, style sheet and icon (controlplane/dashboard_page.h). Edit them
// here; they are sent as they are written. The script must keep to textContent and createElement:
// the data it shows is attacker-influenced (route paths, gateways' errors, history commands).
#include "controlplane/dashboard_page.h"

namespace gw {

const std::string_view kDashboardHtml = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Control plane dashboard</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header class="top">
  <h1>Control plane <span id="replica" class="muted"></span></h1>
  <button id="forget" type="button" hidden>Forget token</button>
</header>
<dl class="overview">
  <div><dt>Config version</dt><dd id="version">&ndash;</dd></div>
  <div><dt>Gateways</dt><dd id="gateway-count">&ndash;</dd></div>
  <div><dt>Routes</dt><dd id="route-count">&ndash;</dd></div>
  <div><dt>Services</dt><dd id="service-count">&ndash;</dd></div>
  <div><dt>Store</dt><dd id="store">&ndash;</dd></div>
  <div><dt>Updated</dt><dd id="updated">&ndash;</dd></div>
</dl>
<p id="status" class="status" role="status">Loading&hellip;</p>
<ul id="errors" class="errors"></ul>

<section id="login" class="login" hidden>
  <h2>Token needed</h2>
  <p id="login-message">This control plane has a token file: enter a viewer or admin token.</p>
  <p id="login-refused" class="refused" hidden></p>
  <form id="login-form" autocomplete="off">
    <label for="token">Token</label>
    <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required>
    <button id="login-submit" type="submit">Show</button>
  </form>
  <p class="muted">Kept in this tab only (sessionStorage) and sent as an Authorization header.</p>
</section>

<main id="content" hidden>
  <section>
    <h2>Gateways <span id="gateways-note" class="muted"></span></h2>
    <table id="gateways">
      <thead><tr><th>Node id</th><th>State</th><th>Version</th><th>Lag</th><th>Address</th><th>Replica</th><th>Seen</th><th>Problems</th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="gateways-empty" class="empty" hidden>No gateway has subscribed yet.</p>
  </section>
  <section id="replicas-section">
    <h2>Control-plane replicas</h2>
    <table id="replicas">
      <thead><tr><th>Replica</th><th>State</th><th>Loaded version</th><th>Gateways</th><th>Address</th><th>Heartbeat</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Routes <span id="routes-note" class="muted"></span></h2>
    <table id="routes">
      <thead><tr><th>Match</th><th>Targets</th><th>Policies</th><th>Version</th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="routes-empty" class="empty" hidden>No routes.</p>
  </section>
  <section>
    <h2>Services <span id="services-note" class="muted"></span></h2>
    <table id="services">
      <thead><tr><th>Name</th><th>Endpoints</th><th>Policies</th><th>Version</th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="services-empty" class="empty" hidden>No services.</p>
  </section>
  <section>
    <h2>Recent history <span id="history-note" class="muted"></span></h2>
    <table id="history">
      <thead><tr><th>Version</th><th>Time</th><th>Actor</th><th>Action</th><th>Summary</th><th>Command</th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="history-empty" class="empty" hidden>No versions written yet.</p>
  </section>
</main>
<footer class="muted">Read-only. Refreshed every second; changes with <code>gatewayctl</code>.</footer>
</body>
</html>
)html";

const std::string_view kDashboardCss =
    R"css(/* The control plane's dashboard. System fonts only: nothing is fetched from elsewhere. */
:root {
  --bg: #f7f8fa;
  --fg: #1d2330;
  --muted: #667085;
  --line: #dde1e8;
  --card: #ffffff;
  --ok: #127a3a;
  --ok-bg: #e3f5e9;
  --warn: #8a5a00;
  --warn-bg: #fff3d6;
  --bad: #b42318;
  --bad-bg: #fde8e6;
  --off: #5b6270;
  --off-bg: #eceef2;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #14171c;
    --fg: #e6e8ec;
    --muted: #9aa3b2;
    --line: #2c323c;
    --card: #1b1f26;
    --ok: #6fdc97;
    --ok-bg: #173824;
    --warn: #f3c15b;
    --warn-bg: #3b2e12;
    --bad: #ff8a80;
    --bad-bg: #42201d;
    --off: #b0b6c1;
    --off-bg: #2a2f37;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0 auto;
  max-width: 1400px;
  padding: 1rem 1.5rem 2rem;
  background: var(--bg);
  color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
code, td.match, td.targets, td.command, td.node, .flag {
  font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace;
  font-size: 12.5px;
}
h1 { font-size: 1.35rem; margin: 0; }
h2 { font-size: 1.05rem; margin: 1.6rem 0 0.5rem; }
.muted { color: var(--muted); font-weight: normal; }
.top { display: flex; align-items: center; justify-content: space-between; gap: 1rem; }
button {
  font: inherit;
  padding: 0.3rem 0.8rem;
  border: 1px solid var(--line);
  border-radius: 6px;
  background: var(--card);
  color: var(--fg);
  cursor: pointer;
}
.overview {
  display: grid;
  grid-template-columns: repeat(auto-fit, minmax(150px, 1fr));
  gap: 0.6rem;
  margin: 1rem 0 0.5rem;
}
.overview div {
  background: var(--card);
  border: 1px solid var(--line);
  border-radius: 8px;
  padding: 0.5rem 0.8rem;
}
.overview dt { color: var(--muted); font-size: 0.8rem; }
.overview dd { margin: 0; font-size: 1.1rem; font-weight: 600; overflow-wrap: anywhere; }
#version { font-size: 1.5rem; }
#store, #updated { font-size: 0.9rem; font-weight: 500; }
.status { margin: 0.4rem 0; color: var(--muted); }
.status.bad { color: var(--bad); }
.errors { margin: 0.4rem 0; padding: 0; list-style: none; }
.errors li {
  background: var(--bad-bg);
  color: var(--bad);
  border-radius: 6px;
  padding: 0.45rem 0.8rem;
  margin-bottom: 0.3rem;
}
.login {
  max-width: 32rem;
  background: var(--card);
  border: 1px solid var(--line);
  border-radius: 8px;
  padding: 0.5rem 1.2rem 1rem;
}
.login form { display: flex; gap: 0.5rem; align-items: center; }
.login input {
  flex: 1;
  font: inherit;
  padding: 0.3rem 0.5rem;
  border: 1px solid var(--line);
  border-radius: 6px;
  background: var(--bg);
  color: var(--fg);
}
.refused { color: var(--bad); font-weight: 600; }
table {
  width: 100%;
  border-collapse: collapse;
  background: var(--card);
  border: 1px solid var(--line);
  border-radius: 8px;
}
th, td {
  text-align: left;
  vertical-align: top;
  padding: 0.35rem 0.6rem;
  border-bottom: 1px solid var(--line);
  overflow-wrap: anywhere;
}
th { color: var(--muted); font-weight: 600; font-size: 0.8rem; white-space: nowrap; }
tbody tr:last-child td { border-bottom: none; }
tbody tr:hover { background: var(--bg); }
td.lagging { color: var(--warn); font-weight: 600; }
td.problems div { color: var(--bad); }
td.summary { max-width: 40rem; }
td.command { color: var(--muted); max-width: 24rem; }
td.word { white-space: nowrap; }
tr.state-disconnected td { color: var(--off); }
.pill {
  display: inline-block;
  border-radius: 999px;
  padding: 0 0.55rem;
  font-size: 0.8rem;
  font-weight: 600;
  white-space: nowrap;
}
.pill-in-sync { color: var(--ok); background: var(--ok-bg); }
.pill-syncing, .pill-behind { color: var(--warn); background: var(--warn-bg); }
.pill-nacked { color: var(--bad); background: var(--bad-bg); }
.pill-disconnected { color: var(--off); background: var(--off-bg); }
.flag {
  display: inline-block;
  margin: 0 0.25rem 0.15rem 0;
  padding: 0 0.35rem;
  border: 1px solid var(--line);
  border-radius: 4px;
}
.empty { color: var(--muted); margin: 0.3rem 0; }
footer { margin-top: 2rem; font-size: 0.8rem; }
)css";

const std::string_view kDashboardIcon =
    R"svg(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1d2330"/><circle cx="5" cy="8" r="2" fill="#6fdc97"/><circle cx="11" cy="4.5" r="1.6" fill="#6fdc97"/><circle cx="11" cy="11.5" r="1.6" fill="#f3c15b"/><path d="M6.8 7.2 9.6 5.2M6.8 8.8l2.8 2" stroke="#e6e8ec" stroke-width="1"/></svg>
)svg";

const std::string_view kDashboardJs =
    R"js(// The control plane's dashboard: polls /api/dashboard and redraws the page without a reload.
// Every value from the API is attacker-influenced (route paths, gateways' errors, history
// commands): the DOM is built with createElement and textContent only, never from HTML text.
'use strict';

(() => {
  const API = '/api/dashboard';
  const POLL_MS = 1000;           // while the page is visible
  const HIDDEN_POLL_MS = 5000;    // while the tab is in the background
  const MAX_RETRY_MS = 10000;     // the longest wait after failures
  const REQUEST_TIMEOUT_MS = 10000;  // a request not answered by then counts as failed
  const TOKEN_KEY = 'controlplane-dashboard-token';
  const STATES = {
    'in-sync': 'in sync',
    'syncing': 'syncing',
    'behind': 'behind',
    'nacked': 'NACKed',
    'disconnected': 'disconnected',
  };

  // What the page last showed, for scripts and tests: version, polls, and whether it waits
  // for a token ('needed', 'refused') or shows data ('ok').
  const view = { version: null, polls: 0, auth: null, error: '' };
  window.dashboard = view;

  let timer = null;
  let failures = 0;
  let failingSince = 0;
  let inFlight = false;

  const byId = (id) => document.getElementById(id);

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function cell(text, className) {
    return element('td', text === '' ? '\u2013' : text, className);
  }

  function plural(n, word) {
    return n + ' ' + word + (n === 1 ? '' : 's');
  }

  function pad(n) {
    return String(n).padStart(2, '0');
  }

  function formatTime(ms) {
    if (!ms) return '';
    const t = new Date(ms);
    return t.getFullYear() + '-' + pad(t.getMonth() + 1) + '-' + pad(t.getDate()) + ' ' +
        pad(t.getHours()) + ':' + pad(t.getMinutes()) + ':' + pad(t.getSeconds());
  }

  function formatAge(ms, now) {
    if (!ms) return '';
    const seconds = Math.max(0, Math.round((now - ms) / 1000));
    if (seconds < 60) return seconds + ' s ago';
    if (seconds < 3600) return Math.floor(seconds / 60) + ' min ago';
    if (seconds < 86400) return Math.floor(seconds / 3600) + ' h ago';
    return Math.floor(seconds / 86400) + ' d ago';
  }

  function setText(id, text) {
    byId(id).textContent = text;
  }

  // Replaces the rows of table `id` with one per item (at most what the API sent), and says
  // when the API cut the list.
  function fillTable(id, items, makeRow, total) {
    const body = byId(id).tBodies[0];
    body.replaceChildren(...items.map(makeRow));
    const empty = byId(id + '-empty');
    if (empty) empty.hidden = items.length > 0;
    const note = byId(id + '-note');
    if (note) note.textContent = total > items.length ? '(first ' + items.length + ' of ' + total + ')' : '';
  }

  function gatewayRow(g, now) {
    const row = element('tr');
    const state = Object.prototype.hasOwnProperty.call(STATES, g.state) ? g.state : 'disconnected';
    row.className = 'state-' + state;
    row.dataset.nodeId = g.node_id;
    row.appendChild(cell(g.node_id, 'node'));
    const stateCell = cell('', 'state');
    stateCell.replaceChildren(element('span', STATES[state], 'pill pill-' + state));
    row.appendChild(stateCell);
    row.appendChild(cell(g.acked_version ? 'v' + g.acked_version : 'none', 'acked'));
    row.appendChild(cell(g.connected ? String(g.lag) : '', 'lag' + (g.lag > 0 ? ' lagging' : '')));
    row.appendChild(cell(g.address));
    row.appendChild(cell(g.replica));
    const seen = g.connected ? 'last message ' + formatAge(g.last_seen_unix_ms, now)
                             : 'left ' + formatAge(g.disconnected_unix_ms, now);
    const seenCell = cell(seen);
    seenCell.title = formatTime(g.connected ? g.last_seen_unix_ms : g.disconnected_unix_ms);
    row.appendChild(seenCell);
    const problems = [];
    if (g.error) problems.push('NACK of v' + g.nacked_version + ': ' + g.error);
    if (g.behind) problems.push('behind: ' + g.behind);
    if (g.stream_error) problems.push('stream: ' + g.stream_error);
    if (g.cache_error) problems.push('cache: ' + g.cache_error);
    if (g.conflict) problems.push('node id claimed by ' + g.conflict);
    const problemCell = cell('', 'problems');
    if (problems.length) problemCell.replaceChildren(...problems.map((p) => element('div', p)));
    row.appendChild(problemCell);
    return row;
  }

  function replicaRow(r, now) {
    const row = element('tr', null, r.alive ? '' : 'state-disconnected');
    row.appendChild(cell(r.id + (r.self ? ' (this one)' : '')));
    const stateCell = cell('');
    stateCell.replaceChildren(element('span', r.alive ? 'alive' : 'down',
                                      'pill pill-' + (r.alive ? 'in-sync' : 'disconnected')));
    row.appendChild(stateCell);
    row.appendChild(cell('v' + r.loaded_version));
    row.appendChild(cell(String(r.gateways_connected)));
    row.appendChild(cell(r.address));
    row.appendChild(cell(formatAge(r.heartbeat_unix_ms, now)));
    return row;
  }

  function routeRow(r) {
    const row = element('tr');
    row.appendChild(cell(r.match, 'match'));
    row.appendChild(cell(r.targets, 'targets'));
    const policies = cell('', 'policies');
    const flags = r.policies ? r.policies.split(' ').filter((f) => f) : [];
    if (flags.length) policies.replaceChildren(...flags.map((f) => element('span', f, 'flag')));
    row.appendChild(policies);
    row.appendChild(cell('v' + r.version));
    return row;
  }

  function serviceRow(s) {
    const row = element('tr');
    row.appendChild(cell(s.name, 'name'));
    row.appendChild(cell(s.endpoints.join(', ')));
    const policies = cell('', 'policies');
    const flags = s.policies ? s.policies.split(' ').filter((f) => f) : [];
    if (flags.length) policies.replaceChildren(...flags.map((f) => element('span', f, 'flag')));
    row.appendChild(policies);
    row.appendChild(cell('v' + s.version));
    return row;
  }

  function historyRow(h) {
    const row = element('tr');
    row.dataset.version = String(h.version);
    row.appendChild(cell('v' + h.version));
    row.appendChild(cell(formatTime(h.at_unix_ms), 'word'));
    row.appendChild(cell(h.actor, 'word'));
    row.appendChild(cell(h.action, 'word'));
    row.appendChild(cell(h.summary, 'summary'));
    row.appendChild(cell(h.command, 'command'));
    return row;
  }

  function render(data) {
    const now = data.now_unix_ms || Date.now();
    setText('replica', data.replica ? '\u00b7 ' + data.replica : '');
    setText('version', 'v' + data.config_version);
    const current = data.gateways.filter((g) => g.connected && g.lag === 0).length;
    setText('gateway-count', data.gateways_connected + ' connected' +
            (data.gateways_connected ? ', ' + current + ' on v' + data.config_version : '') +
            (data.gateways_total > data.gateways_connected
                 ? ' (' + (data.gateways_total - data.gateways_connected) + ' gone)' : ''));
    setText('route-count', String(data.routes_total));
    setText('service-count', String(data.services_total) +
            (data.consumers_total ? ' (' + plural(data.consumers_total, 'consumer') + ')' : ''));
    setText('store', data.store);
    setText('updated', formatTime(now));
    byId('updated').title = data.build_version ? 'control plane ' + data.build_version : '';

    const errors = byId('errors');
    errors.replaceChildren(...data.errors.map((e) => element('li', e)));

    fillTable('gateways', data.gateways, (g) => gatewayRow(g, now), data.gateways_total);
    byId('replicas-section').hidden = data.replicas.length <= 1;
    fillTable('replicas', data.replicas, (r) => replicaRow(r, now), data.replicas.length);
    fillTable('routes', data.routes, routeRow, data.routes_total);
    fillTable('services', data.services, serviceRow, data.services_total);
    fillTable('history', data.history, historyRow, data.history.length);
    setText('history-note', data.oldest_history_version
                                ? '(kept from v' + data.oldest_history_version + ')' : '');
    byId('content').hidden = false;
    byId('login').hidden = true;
    view.version = data.config_version;
    view.auth = 'ok';
  }

  // One line on the state of the fleet.
  function summarize(data) {
    const count = (state) => data.gateways.filter((g) => g.state === state).length;
    const parts = [];
    if (count('nacked')) parts.push(plural(count('nacked'), 'gateway') + ' refused a version');
    if (count('behind')) parts.push(plural(count('behind'), 'gateway') + ' cannot apply it');
    if (count('syncing')) parts.push(plural(count('syncing'), 'gateway') + ' catching up');
    if (parts.length) return 'Live. v' + data.config_version + ': ' + parts.join(', ') + '.';
    if (data.gateways_connected)
      return 'Live. Every connected gateway runs v' + data.config_version + '.';
    return 'Live.';
  }

  function setStatus(text, bad) {
    const status = byId('status');
    status.textContent = text;
    status.classList.toggle('bad', !!bad);
  }

  function showLogin(status, message, hadToken) {
    sessionStorage.removeItem(TOKEN_KEY);
    byId('forget').hidden = true;
    byId('content').hidden = true;
    byId('login').hidden = false;
    const refused = byId('login-refused');
    if (status === 403) {
      refused.textContent = 'Token refused: ' + (message || 'its role may not read the dashboard') +
          '. Enter a viewer or admin token.';
      refused.hidden = false;
      view.auth = 'refused';
    } else if (hadToken) {
      refused.textContent = 'Token not accepted: ' + (message || 'unknown token') + '.';
      refused.hidden = false;
      view.auth = 'refused';
    } else {
      refused.hidden = true;
      view.auth = 'needed';
    }
    setStatus(status === 403 ? 'Token refused.' : 'A token is needed to read this control plane.',
              true);
    byId('token').value = '';
    byId('token').focus();
  }

  function schedule(delay) {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(poll, delay);
  }

  function failed(message) {
    failures += 1;
    if (!failingSince) failingSince = Date.now();
    const retry = Math.min(MAX_RETRY_MS, POLL_MS * 2 ** Math.min(failures - 1, 4));
    view.error = message;
    setStatus(message + ' (since ' + formatTime(failingSince) + '; retrying every ' +
              Math.round(retry / 1000) + ' s). The tables show the last answer.', true);
    schedule(retry);
  }

  async function poll() {
    timer = null;
    if (inFlight) return;
    inFlight = true;
    try {
      await pollOnce();
    } catch (e) {
      failed('The page could not show the answer (' + e.message + ')');
    } finally {
      inFlight = false;
    }
  }

  async function pollOnce() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const headers = { 'Accept': 'application/json' };
    if (token) headers['Authorization'] = 'Bearer ' + token;
    let response;
    let body;
    const abort = new AbortController();
    const deadline = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
    try {
      response = await fetch(API, { headers, cache: 'no-store', credentials: 'omit',
                                    redirect: 'error', signal: abort.signal });
      body = await response.json().catch(() => null);
    } catch (e) {
      failed(abort.signal.aborted
                 ? 'The control plane did not answer within ' + REQUEST_TIMEOUT_MS / 1000 + ' s'
                 : 'The control plane does not answer: ' + e.message);
      return;
    } finally {
      clearTimeout(deadline);
    }
    body = body || {};
    view.polls += 1;
    if (response.status === 401 || response.status === 403) {
      showLogin(response.status, body.error, !!token);
      return;  // until a token is entered
    }
    if (!response.ok) {
      failed('The control plane answered ' + response.status + ': ' + (body.error || ''));
      return;
    }
    try {
      render(body);
    } catch (e) {
      failed('The control plane sent an answer this page cannot read (' + e.message + ')');
      return;
    }
    failures = 0;
    failingSince = 0;
    view.error = '';
    byId('forget').hidden = !token;
    setStatus(summarize(body), false);
    schedule(document.hidden ? HIDDEN_POLL_MS : POLL_MS);
  }

  function start() {
    byId('login-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const token = byId('token').value.trim();
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      byId('login-refused').hidden = true;
      setStatus('Checking the token\u2026', false);
      schedule(0);
    });
    byId('forget').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      schedule(0);
    });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && byId('login').hidden) schedule(0);
    });
    poll();
  }

  start();
})();
)js";

}  // namespace gw
