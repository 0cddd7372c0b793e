/**
 * `GET /admin`: the operator dashboard. One page, no framework and no CDN (dev runs offline):
 * time series are drawn by uPlot, bundled from npm and served from /vendor by Workers static
 * assets; the small bar charts are plain SVG. It logs in through POST /v1/auth/login, keeps the
 * JWT in sessionStorage (gone with the tab) and reads the admin API with it.
 *
 * The page carries its own strict Content-Security-Policy with a per-request nonce: only its
 * own nonce'd scripts (inline and /vendor) and styles run, and only same-origin requests are
 * allowed. The global
 * secureHeaders() stays as it is for every other route.
 */
import type { Context } from "hono";
import { toBase64 } from "../lib/encoding";

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f5f6f8}
header{background:#1b1f24;color:#fff;padding:10px 20px;display:flex;gap:16px;align-items:center}
header h1{font-size:16px;margin:0;flex:1}main{padding:16px 20px;display:grid;gap:16px;grid-template-columns:repeat(auto-fit,minmax(min(420px,100%),1fr))}
section{min-width:0}
section{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:12px 14px}h2{font-size:14px;margin:0 0 8px}
table{border-collapse:collapse;width:100%;font-size:12px}td,th{border-bottom:1px solid #eee;padding:4px 6px;text-align:left}
.bad{color:#c5221f}.ok{color:#188038}.muted{color:#6a737d}button{cursor:pointer}
#login{max-width:320px;margin:60px auto;background:#fff;padding:20px;border:1px solid #e1e4e8;border-radius:6px;display:grid;gap:8px}
#kpis{margin:12px 20px 0}.legend span{margin-right:12px;font-size:12px}.sw1{color:#1967d2}.sw2{color:#c5221f}.hidden{display:none!important}
`;

const SCRIPT = `
(() => {
const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'lnma.operatorToken';
const SVG = 'http://www.w3.org/2000/svg';
let timer = null;
const charts = new Map();
// Charts follow their section's width (a narrow window shrinks them).
const resizer = new ResizeObserver((entries) => {
  for (const e of entries) { const u = charts.get(e.target); if (u) u.setSize({ width: Math.max(200, e.target.clientWidth), height: 170 }); }
});

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = String(text);
  return e;
}
function svgEl(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}
function fmtTime(ms) { return ms ? new Date(ms).toLocaleTimeString() : '—'; }

async function call(method, path) {
  const res = await fetch(path, { method, headers: { authorization: 'Bearer ' + sessionStorage.getItem(TOKEN_KEY) } });
  if (res.status === 401) { logout('Session expired: log in again.'); throw new Error('unauthenticated'); }
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error((body && body.error && body.error.message) || ('HTTP ' + res.status));
  return body;
}

/**
 * A time-series line chart drawn by uPlot (served from /vendor, bundled from npm by
 * scripts/vendor-assets.mjs); xs are ms timestamps.
 */
function lineChart(target, xs, series, yFmt, yMin) {
  const old = charts.get(target); if (old) { old.destroy(); charts.delete(target); }
  target.textContent = '';
  if (!xs.length) { target.appendChild(el('p', { class: 'muted' }, 'no data in the window')); return; }
  const opts = {
    width: Math.max(200, target.clientWidth || 560), height: 170, legend: { show: false },
    // An all-zero series still gets a readable axis (0 to yMin), not 0 / 0 / 0.
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max, yMin)] } },
    axes: [{ stroke: '#6a737d' }, { stroke: '#6a737d', size: 56, values: (u, vals) => vals.map(yFmt) }],
    series: [{}].concat(series.map((s) => ({ label: s.name, stroke: s.color, width: 2 }))),
  };
  charts.set(target, new uPlot(opts, [xs.map((x) => x / 1000)].concat(series.map((s) => s.values)), target));
  resizer.observe(target);
  target.setAttribute('data-series', series.map((s) => s.name).join(','));
}

/** Horizontal bars, one per label. */
function barChart(target, rows, color) {
  target.textContent = '';
  if (!rows.length) { target.appendChild(el('p', { class: 'muted' }, 'No data')); return; }
  const W = 560, R = 22, H = rows.length * R + 4, L = 130;
  const svg = svgEl('svg', { viewBox: '0 0 ' + W + ' ' + H, width: '100%', role: 'img' });
  const max = Math.max(1, ...rows.map((r) => r.value));
  rows.forEach((r, i) => {
    const t = svgEl('text', { x: 2, y: i * R + 15, 'font-size': 11 }); t.textContent = r.label; svg.appendChild(t);
    svg.appendChild(svgEl('rect', { x: L, y: i * R + 4, height: 14, width: Math.max(1, ((W - L - 50) * r.value) / max), fill: color, 'data-label': r.label }));
    const v = svgEl('text', { x: L + ((W - L - 50) * r.value) / max + 4, y: i * R + 15, 'font-size': 11 }); v.textContent = String(r.value); svg.appendChild(v);
  });
  target.appendChild(svg);
}

function table(target, headers, rows) {
  target.textContent = '';
  if (!rows.length) { target.appendChild(el('p', { class: 'muted' }, 'None')); return; }
  const t = el('table'); const hr = el('tr');
  headers.forEach((h) => hr.appendChild(el('th', {}, h))); t.appendChild(hr);
  for (const r of rows) {
    const tr = el('tr');
    for (const c of r) { const td = el('td'); if (c instanceof Node) td.appendChild(c); else td.textContent = c === null || c === undefined ? '—' : String(c); tr.appendChild(td); }
    t.appendChild(tr);
  }
  target.appendChild(t);
}

async function retry(id, btn) {
  btn.disabled = true;
  try { await call('POST', '/v1/admin/dead-letters/' + encodeURIComponent(id) + '/retry'); btn.textContent = 'Re-sent'; setTimeout(refresh, 500); }
  catch (e) { btn.disabled = false; btn.textContent = 'Retry failed'; $('status').textContent = String(e.message || e); }
}

async function refresh() {
  try {
    const [m, open, dlqSum, dlq, fallback, health] = await Promise.all([
      call('GET', '/v1/admin/metrics?minutes=30'), call('GET', '/v1/admin/alerts?status=open&limit=50'),
      call('GET', '/v1/admin/dead-letters/summary'), call('GET', '/v1/admin/dead-letters?status=open&limit=20'),
      call('GET', '/v1/admin/accounts/fallback'), call('GET', '/v1/admin/health'),
    ]);
    const ts = [...new Set(m.series.map((p) => p.ts))].sort((a, b) => a - b);
    const sum = (t, k) => m.series.filter((p) => p.ts === t).reduce((s, p) => s + p[k], 0);
    const done = ts.map((t) => sum(t, 'complete')), failed = ts.map((t) => sum(t, 'fail'));
    lineChart($('jobs'), ts, [{ name: 'complete', values: done, color: '#1967d2' }, { name: 'fail', values: failed, color: '#c5221f' }], (v) => (Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1)), 1);
    lineChart($('failrate'), ts, [{ name: 'failure', values: ts.map((_, i) => (done[i] + failed[i] ? failed[i] / (done[i] + failed[i]) : 0) * 100), color: '#c5221f' }], (v) => (v >= 10 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1)) + '%', 1);
    table($('workers'), ['worker', 'jobs/min', 'failure', 'avg ms', 'p95 ms'], m.workers.map((w) => [w.worker, w.perMinute.toFixed(2),
      w.failureRate === null ? null : (w.failureRate * 100).toFixed(1) + '%', w.avgDurationMs === null ? null : Math.round(w.avgDurationMs), w.p95DurationMs]));
    barChart($('backlog'), m.queues.map((q) => ({ label: q.queue, value: q.backlog })), '#b06000');
    $('kpis').textContent = 'Active accounts ' + m.accounts.active + ' · sockets open ' + m.accounts.openSockets + ' · in fallback ' + m.accounts.inFallback +
      ' · open dead letters ' + m.deadLetters.open + ' · open alerts ' + m.alerts.open;
    barChart($('dlqclass'), dlqSum.groups.map((g) => ({ label: g.queue + '/' + g.errorClass, value: g.open })), '#c5221f');
    table($('dlq'), ['received', 'queue', 'class', 'attempts', 'last error', ''], dlq.data.map((d) => {
      const b = el('button', { 'data-retry': d.id }, 'Retry'); b.addEventListener('click', () => retry(d.id, b));
      return [fmtTime(d.receivedAt), d.queue, d.errorClass, d.attempts, (d.lastError || '').slice(0, 80), b];
    }));
    table($('alerts'), ['opened', 'severity', 'rule', 'subject', 'message'], open.data.map((a) => [fmtTime(a.openedAt), a.severity, a.rule, a.subject, a.message]));
    table($('fallback'), ['account', 'network', 'feed', 'last heartbeat'], fallback.data.map((a) => [a.name + ' (' + a.id + ')', a.network, a.feed || 'none', fmtTime(a.lastHeartbeatAt)]));
    table($('health'), ['check', 'ok', 'latency', 'detail'], Object.entries(health.checks).map(([k, c]) => {
      const s = el('span', { class: c.ok ? 'ok' : 'bad' }, c.ok ? 'ok' : 'FAIL');
      return [k, s, c.latencyMs === undefined ? null : c.latencyMs + ' ms', c.error || ''];
    }));
    $('status').textContent = 'Updated ' + new Date().toLocaleTimeString();
  } catch (e) {
    $('status').textContent = 'Error: ' + (e.message || e);
  }
}

function show(loggedIn) {
  $('login').classList.toggle('hidden', loggedIn);
  $('app').classList.toggle('hidden', !loggedIn);
  $('logout').classList.toggle('hidden', !loggedIn);
  if (timer) { clearInterval(timer); timer = null; }
  if (loggedIn) { refresh(); timer = setInterval(refresh, 15000); }
}
function logout(msg) { sessionStorage.removeItem(TOKEN_KEY); $('loginError').textContent = msg || ''; show(false); }

$('login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('loginError').textContent = '';
  const res = await fetch('/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: $('email').value, password: $('password').value }) });
  const body = await res.json().catch(() => null);
  if (!res.ok || !body || !body.token) { $('loginError').textContent = (body && body.error && body.error.message) || 'Login failed'; return; }
  // Only operators get in: a trader's login is refused here with a clear message, not shown empty panels.
  const me = await fetch('/v1/me', { headers: { authorization: 'Bearer ' + body.token } }).then((r) => r.json()).catch(() => null);
  if (!me || me.role !== 'admin') {
    $('loginError').textContent = 'This account is not an operator: the operations dashboard needs the admin role. Traders use the API (/docs).';
    $('password').value = '';
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, body.token);
  $('password').value = '';
  show(true);
});
$('logout').addEventListener('click', () => logout());
$('refresh').addEventListener('click', () => refresh());
show(!!sessionStorage.getItem(TOKEN_KEY));
})();
`;

/** The page for one request, its inline script and style tagged with `nonce`. */
export function dashboardHtml(nonce: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>LNMA operations</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/vendor/uPlot.min.css"><style nonce="${nonce}">${STYLE}</style>
<script src="/vendor/uPlot.iife.min.js" nonce="${nonce}"></script></head><body>
<header><h1>LN Markets automation: operations</h1><span id="status" class="muted"></span>
<button id="refresh" type="button">Refresh</button><button id="logout" type="button" class="hidden">Log out</button></header>
<form id="login" class="hidden"><h2>Operator login</h2>
<input id="email" type="email" autocomplete="username" placeholder="email" required>
<input id="password" type="password" autocomplete="current-password" placeholder="password" required>
<button type="submit">Log in</button><p id="loginError" class="bad"></p></form>
<div id="app" class="hidden">
<p id="kpis"></p>
<main>
<section><h2>Jobs finished per minute</h2><div class="legend"><span class="sw1">■ complete</span><span class="sw2">■ fail</span></div><div id="jobs"></div></section>
<section><h2>Failure rate</h2><div id="failrate"></div></section>
<section><h2>Workers (last 30 min)</h2><div id="workers"></div></section>
<section><h2>Queue backlog (sent − settled)</h2><div id="backlog"></div></section>
<section><h2>Open dead letters by error class</h2><div id="dlqclass"></div></section>
<section><h2>Open dead letters</h2><div id="dlq"></div></section>
<section><h2>Open alerts</h2><div id="alerts"></div></section>
<section><h2>Accounts in fallback</h2><div id="fallback"></div></section>
<section><h2>Health</h2><div id="health"></div></section>
</main></div>
<script nonce="${nonce}">${SCRIPT}</script>
</body></html>`;
}

/** `GET /admin`: the page with a route-specific CSP (nonce'd inline code, same-origin fetches only). */
export function dashboardResponse(c: Context): Response {
  const nonce = toBase64(crypto.getRandomValues(new Uint8Array(16)));
  c.header("content-security-policy", [
    "default-src 'none'", `script-src 'nonce-${nonce}'`, `style-src 'self' 'nonce-${nonce}'`, "connect-src 'self'", "img-src 'self' data:",
    "form-action 'none'", "frame-ancestors 'none'", "base-uri 'none'",
  ].join("; "));
  c.header("cache-control", "no-store");
  return c.html(dashboardHtml(nonce));
}
