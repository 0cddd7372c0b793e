// Positions, live: every running trade of the account with its risk gauge (marked at the
// guard's warn and act levels), pushed by the account's Durable Object over a WebSocket
// (GET /v1/accounts/:id/positions/stream, opened with a single-use ticket) and polled every few
// seconds while the socket is down ("live" or "polling" in the toolbar); the guards' last runs and
// the last orders sent; close, add margin, close all and run now, each confirmed on its dry run
// (../manual.js). On the dev stack a paper trade can be opened and the simulator's price moved.
import { get, post, seg } from '../api.js';
import { closeAllButton, keepFocus, runButton, tradeActions } from '../manual.js';
import { card, el, field, fill, flash, fmt, form, input, select, table, val } from '../ui.js';

const POLL_MS = 3000;
/** While live: the guards' last runs and the orders are re-read this often (and when a trade changes). */
const SIDE_MS = 10_000;
/** The socket is pinged this often (the runtime answers "pong" without waking the account). */
const PING_MS = 20_000;

/**
 * The positions stream: `onSnapshot(p)` for every pushed snapshot, `onMode('live'|'polling')`
 * when it changes. Reconnects with backoff (a new ticket each time); tells the account when the
 * tab is hidden so it stops re-reading for it. `close()` when the page is left.
 */
export function positionsStream(accountId, { onSnapshot, onMode, onError }) {
  let ws = null;
  let live = false;
  let closed = false;
  let failures = 0;
  let retry = null;
  let pinger = null;
  let pongAt = 0;
  const setLive = (v) => { if (v !== live) { live = v; onMode(v ? 'live' : 'polling'); } };
  const visibility = () => { if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: 'visibility', visible: !document.hidden })); };
  function later() {
    if (closed) return;
    failures++;
    retry = setTimeout(open, Math.min(60_000, 1000 * 2 ** Math.min(failures, 6)));
  }
  async function open() {
    if (closed) return;
    let ticket;
    try { ticket = (await post('/v1/auth/ws-ticket')).ticket; } catch { return later(); }
    if (closed) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const s = new WebSocket(scheme + '//' + location.host + '/v1/accounts/' + seg(accountId) + '/positions/stream?ticket=' + encodeURIComponent(ticket));
    ws = s;
    s.onopen = () => {
      visibility();
      pongAt = Date.now();
      pinger = setInterval(() => {
        // No pong to the last ping: the socket is gone without a close; poll and reconnect.
        if (Date.now() - pongAt > PING_MS * 1.5) { s.close(4000, 'no pong'); return; }
        s.send('ping');
      }, PING_MS);
    };
    s.onmessage = (e) => {
      if (e.data === 'pong') { pongAt = Date.now(); return; }
      let m;
      try { m = JSON.parse(e.data); } catch { return; }
      if (m.type === 'positions') { failures = 0; setLive(true); onSnapshot(m); } else if (m.type === 'error' && onError) onError(m.message);
    };
    s.onclose = () => {
      if (ws !== s) return;
      ws = null;
      clearInterval(pinger);
      setLive(false);
      later();
    };
  }
  document.addEventListener('visibilitychange', visibility);
  open();
  return {
    get live() { return live; },
    close() {
      closed = true;
      clearTimeout(retry);
      clearInterval(pinger);
      document.removeEventListener('visibilitychange', visibility);
      const s = ws;
      ws = null;
      if (s) s.close(1000, 'page left');
    },
  };
}

/** What of the positions the side panels depend on (an add-margin or a close changes it). */
const tradesKey = (p) => p.trades.map((t) => t.id + ':' + t.margin).join(',');

/** Profit and loss in sats of an inverse future at `price` (DESIGN.md: quantity in USD). */
export function pnlSats(t, price) {
  const entry = t.entryPrice ?? t.price;
  if (!entry || !price) return null;
  const long = t.quantity * 1e8 * (1 / entry - 1 / price);
  return Math.round(t.side === 'buy' ? long : -long);
}

/** The levels the gauge marks: the enabled Margin Guard's, else the built-in monitor's alert. */
function levels(statusAcc) {
  const g = statusAcc && statusAcc.automations.find((a) => a.type === 'margin_guard' && a.enabled);
  if (g) return { warn: g.config.warnAt ?? 0.8, act: g.config.actAt ?? 0.9, by: 'Margin Guard' };
  return { warn: 0.8, act: 0.9, by: 'monitor (no guard: alerts only)' };
}

export function gauge(risk, lv) {
  const r = Math.max(0, Math.min(1, risk || 0));
  const cls = r >= lv.act ? 'critical' : r >= lv.warn ? 'warn' : 'ok';
  return el('div', { class: 'gauge-wrap' },
    el('div', { class: 'gauge ' + cls, role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '1', 'aria-valuenow': r.toFixed(3),
      'aria-label': 'Risk ' + fmt.pct(r) + ' (warn at ' + fmt.pct(lv.warn) + ', act at ' + fmt.pct(lv.act) + ')' },
    el('div', { class: 'gauge-fill', 'data-w': Math.round(r * 1000) / 10 }),
    el('span', { class: 'mark warn', 'data-at': lv.warn * 100, title: 'warn ' + fmt.pct(lv.warn) }),
    el('span', { class: 'mark act', 'data-at': lv.act * 100, title: 'act ' + fmt.pct(lv.act) })),
    el('div', { class: 'gauge-legend' }, el('span', {}, 'risk ', el('strong', { class: 'risk-value' }, fmt.pct(r))), el('span', { class: 'muted' }, 'warn ' + fmt.pct(lv.warn) + ' · act ' + fmt.pct(lv.act))));
}

/** Widths and mark positions go through CSSOM (the CSP refuses style attributes). */
export function sizeGauges(root) {
  root.querySelectorAll('.gauge-fill[data-w]').forEach((e) => { e.style.width = e.dataset.w + '%'; });
  root.querySelectorAll('.mark[data-at]').forEach((e) => { e.style.left = e.dataset.at + '%'; });
}

function tradeCard(t, price, p, lv, actions) {
  const long = t.side === 'buy';
  const pnl = pnlSats(t, price);
  return el('article', { class: 'trade', 'data-trade-id': t.id, 'data-risk': t.risk, 'data-margin': t.margin },
    el('header', {}, el('strong', { class: long ? 'long' : 'short' }, long ? 'Long' : 'Short'), ' ', fmt.usd(t.quantity), ' · ', fmt.num(t.leverage) + '×',
      el('span', { class: 'tag ' + (t.riskLevel || '') }, t.riskLevel || '')),
    gauge(t.risk, lv),
    el('dl', { class: 'facts' },
      el('dt', {}, 'Entry'), el('dd', {}, fmt.usd(t.entryPrice ?? t.price)),
      el('dt', {}, 'Liquidation'), el('dd', { class: 'liq' }, fmt.usd(t.liquidation)),
      el('dt', {}, 'Margin'), el('dd', { class: 'margin' }, fmt.sats(t.margin)),
      el('dt', {}, 'PnL'), el('dd', { class: pnl > 0 ? 'ok' : pnl < 0 ? 'bad' : '' }, fmt.signedSats(pnl)),
      el('dt', {}, long ? 'Closes at bid' : 'Closes at offer'), el('dd', {}, fmt.usd(long ? p.bid : p.offer)),
      t.takeprofit ? [el('dt', {}, 'Take profit'), el('dd', {}, fmt.usd(t.takeprofit))] : null,
      t.stoploss ? [el('dt', {}, 'Stop loss'), el('dd', {}, fmt.usd(t.stoploss))] : null,
      t.sumFundingFees ? [el('dt', {}, 'Funding paid'), el('dd', {}, fmt.sats(t.sumFundingFees))] : null),
    el('p', { class: 'muted small' }, 'Trade ', el('code', {}, t.id)),
    actions || null);
}

/** One line per automation: what it did last; `run(a)` adds a "run now" control per automation. */
export function lastRuns(statusAcc, run) {
  if (!statusAcc) return el('p', { class: 'muted' }, 'Not scheduled yet.');
  const rows = [statusAcc.monitor, ...statusAcc.automations].filter(Boolean).map((a) => ({
    attrs: { 'data-automation': a.type },
    cells: [a.name || a.type, a.enabled ? 'on' : 'off', el('span', { class: 'last-result' }, a.status.lastError ? '⚠ ' + a.status.lastError : a.status.lastResult || '—'), fmt.ago(a.status.lastRunAt), a.status.lastDurationMs === null ? '—' : a.status.lastDurationMs + ' ms',
      ...(run ? [a.type === 'margin_monitor' ? '' : run(a)] : [])],
  }));
  return table(['automation', '', 'last result', 'ran', 'took', ...(run ? [''] : [])], rows, { label: 'automations', empty: 'No automation yet.' });
}

function ordersTable(rows) {
  return table(['time', 'action', 'outcome', 'detail', 'latency'], rows.map((o) => ({
    attrs: { 'data-action': o.action, 'data-outcome': o.outcome },
    cells: [fmt.time(o.createdAt), o.action + (o.automationId === 'manual' ? ' (by hand)' : ''), el('span', { class: o.outcome === 'ok' || o.outcome === 'reconciled' ? 'ok' : 'bad' }, o.outcome),
      o.error || orderDetail(o.request), o.latencyMs === null ? '—' : o.latencyMs + ' ms'],
  })), { label: 'orders', empty: 'No order sent yet (by an automation or by hand).' });
}

export function orderDetail(req) {
  if (!req || typeof req !== 'object') return '—';
  if (req.amount !== undefined) return fmt.sats(req.amount);
  if (req.quantity !== undefined) return (req.side || '') + ' ' + fmt.usd(req.quantity) + (req.leverage ? ' ' + req.leverage + '×' : '');
  if (req.value !== undefined) return String(req.value);
  return '—';
}

export async function render(main, ctx, seq) {
  const acc = ctx.account();
  const ticker = el('p', { id: 'ticker', class: 'ticker', 'aria-live': 'off' }, 'Loading…');
  const trades = el('div', { id: 'trades', class: 'trades' });
  const runs = el('div', { id: 'last-runs' });
  const orders = el('div', { id: 'orders' });
  main.append(
    el('div', { class: 'toolbar' }, ctx.accountPicker(), el('span', { id: 'updated', class: 'muted small' }), closeAllButton(acc, () => refresh())),
    ticker, trades,
    ctx.dev && acc.network === 'simulator' ? devControls(ctx, acc, () => refresh()) : null,
    card('What the automations did last', runs, el('p', {}, el('a', { href: '#/guards' }, 'Set up guards →'))),
    card('Last orders', orders),
  );

  const mode = el('span', { id: 'feed-mode', class: 'tag', 'data-mode': 'polling', title: 'live: pushed by the account as it changes; polling: read every ' + POLL_MS / 1000 + ' s' }, 'polling');
  main.querySelector('.toolbar').append(mode);
  const last = { p: null, st: null, tl: null, sideAt: 0 };

  function draw() {
    const { p, st, tl } = last;
    if (!p || !st || !tl || !ctx.alive(seq)) return;
    const sa = st.accounts.find((a) => a.accountId === acc.id);
    const lv = levels(sa);
    fill(ticker, el('span', {}, 'Last ', el('strong', { id: 'last-price' }, fmt.usd(p.price))), ' · bid ', fmt.usd(p.bid), ' · offer ', fmt.usd(p.offer),
      ' · feed ', el('span', { class: 'tag' }, p.feed), st.schedulingEnabled ? null : el('span', { class: 'tag critical' }, 'kill switch on'));
    // Redrawn on every snapshot: a focused button gets focus back (keyboard use), an open confirmation stays.
    keepFocus(trades, () => fill(trades, p.trades.length ? p.trades.map((t) => tradeCard(t, p.price, p, lv, tradeActions(acc, t, () => refresh())))
      : el('p', { class: 'muted' }, 'No running trade on ' + acc.name + '.' + (ctx.dev && acc.network === 'simulator' ? ' Open a paper trade below.' : ''))));
    sizeGauges(trades);
    keepFocus(runs, () => fill(runs, lastRuns(sa, (a) => runButton(acc, a, () => refresh())), el('p', { class: 'muted small' }, 'Gauge marks: ' + lv.by + '.')));
    fill(orders, ordersTable(tl.data));
  }

  // Live: positions come pushed and only the side panels are read here; polling: all three.
  let busy = false;
  let again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const live = stream.live;
      const [p, st, tl] = await Promise.all([
        live ? null : get('/v1/accounts/' + seg(acc.id) + '/positions'),
        get('/v1/automations/status'),
        get('/v1/accounts/' + seg(acc.id) + '/trades?limit=5'),
      ]);
      if (!ctx.alive(seq)) return;
      if (p && !stream.live) last.p = p;
      Object.assign(last, { st, tl, sideAt: Date.now() });
      draw();
      if (!live) main.querySelector('#updated').textContent = 'Updated ' + fmt.time(Date.now());
    } catch (e) {
      if (ctx.alive(seq)) main.querySelector('#updated').textContent = 'Refresh failed: ' + e.message;
    } finally {
      busy = false;
      if (again && ctx.alive(seq)) { again = false; refresh(); }
    }
  }

  const stream = positionsStream(acc.id, {
    onSnapshot(p) {
      if (!ctx.alive(seq)) return;
      const changed = !last.p || tradesKey(last.p) !== tradesKey(p);
      last.p = p;
      draw();
      main.querySelector('#updated').textContent = 'Updated ' + fmt.time(p.at);
      // A trade opened, closed or given margin: its order and the guard's run are worth showing now.
      if (changed && last.sideAt) refresh();
    },
    onMode(m) {
      mode.dataset.mode = m;
      mode.textContent = m;
      mode.className = 'tag' + (m === 'live' ? ' ok' : '');
    },
    onError(message) {
      if (ctx.alive(seq)) main.querySelector('#updated').textContent = 'Live, but ' + message;
    },
  });
  ctx.onLeave(() => stream.close());
  await refresh();
  ctx.every(POLL_MS, () => { if (!stream.live || Date.now() - last.sideAt >= SIDE_MS) refresh(); });
}

/** Dev stack only: open a paper trade with the account's keys, move the simulator's price. */
function devControls(ctx, acc, refresh) {
  const trade = form({ id: 'paper-trade', class: 'inline', 'aria-label': 'Open a paper trade' }, [
    field('Side', select('side', [['buy', 'Long (buy)'], ['sell', 'Short (sell)']], 'buy')),
    field('Quantity (USD)', input('quantity', { type: 'number', value: 1000, min: 1, step: 1 })),
    field('Leverage', input('leverage', { type: 'number', value: 10, min: 1, max: 100, step: 1 })),
    el('button', { type: 'submit' }, 'Open trade'),
  ], async (f) => {
    const t = await post('/__dev/sim/accounts/' + seg(acc.id) + '/trade', { side: val(f, 'side'), quantity: val(f, 'quantity'), leverage: val(f, 'leverage') });
    flash('Paper trade opened at ' + fmt.usd(t.entryPrice) + '.');
    await refresh();
  });
  const price = form({ id: 'move-price', class: 'inline', 'aria-label': 'Move the simulator price' }, [
    field('Simulator price (USD)', input('price', { type: 'number', min: 1, step: 0.5 })),
    el('button', { type: 'submit' }, 'Move price'),
  ], async (f) => {
    const r = await post('/__dev/sim/price', { price: val(f, 'price') });
    flash('Simulator price now ' + fmt.usd(r.lastPrice) + ': guards react on the next tick.');
    await refresh();
  });
  return card('Paper trading (dev stack)', el('p', { class: 'muted small' }, 'Orders go to the simulator with this account\'s keys. The price moves for every paper account on this stack.'), trade, price);
}
