// Activity: orders sent (trade logs), automation decisions (automation logs) and notifications
// with their delivery status per channel; paged with the API's cursors, filtered by account
// and type.
import { get, seg } from '../api.js';
import { el, fill, fmt, select, table } from '../ui.js';
import { orderDetail } from './positions.js';

const KINDS = [['trades', 'Orders'], ['logs', 'Decisions'], ['notifications', 'Notifications']];
const PAGE = 25;

function decisionDetail(d) {
  if (!d || typeof d !== 'object') return '';
  const parts = [];
  if (d.decision) parts.push(String(d.decision));
  if (d.price !== undefined) parts.push('price ' + fmt.usd(d.price));
  if (d.risk !== undefined) parts.push('risk ' + fmt.pct(d.risk));
  if (d.amount !== undefined) parts.push(fmt.sats(d.amount));
  if (d.tradeId) parts.push('trade ' + String(d.tradeId).slice(0, 8));
  return parts.join(' · ');
}

const VIEWS = {
  trades: {
    url: (acc) => '/v1/accounts/' + seg(acc) + '/trades',
    headers: ['time', 'action', 'outcome', 'detail', 'latency', 'client id'],
    row: (o) => ({ attrs: { 'data-action': o.action }, cells: [fmt.when(o.createdAt), o.action, el('span', { class: o.outcome === 'ok' || o.outcome === 'reconciled' ? 'ok' : 'bad' }, o.outcome + (o.errorKind ? ' (' + o.errorKind + ')' : '')), o.error || orderDetail(o.request), o.latencyMs === null ? '—' : o.latencyMs + ' ms', el('code', {}, o.clientId || '—')] }),
  },
  logs: {
    url: (acc) => '/v1/accounts/' + seg(acc) + '/logs',
    headers: ['time', 'level', 'event', 'message', 'detail'],
    row: (l) => ({ attrs: { 'data-event': l.event }, cells: [fmt.when(l.createdAt), el('span', { class: l.level === 'error' ? 'bad' : l.level === 'warn' ? 'warn' : '' }, l.level), l.event, l.message || '', decisionDetail(l.data)] }),
  },
  notifications: {
    url: () => '/v1/notifications',
    headers: ['time', 'severity', 'event', 'title', 'deliveries'],
    row: (n) => ({ attrs: { 'data-event': n.event }, cells: [fmt.when(n.createdAt), el('span', { class: n.severity === 'critical' ? 'bad' : n.severity === 'warning' ? 'warn' : '' }, n.severity), n.event, el('span', {}, el('strong', {}, n.title), el('br'), n.body),
      n.deliveries.length ? el('span', {}, n.deliveries.map((d) => el('span', { class: 'tag ' + (d.status === 'sent' ? 'ok' : d.status === 'failed' ? 'critical' : '') , title: d.lastError || '' }, d.channel + ': ' + d.status + (d.attempts > 1 ? ' ×' + d.attempts : '')))) : el('span', { class: 'muted' }, 'no channel')] }),
  },
};

export async function render(main, ctx, seq) {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  let kind = VIEWS[params.get('type')] ? params.get('type') : 'trades';
  let account = params.get('account') || ctx.accountId();
  const out = el('div', { id: 'activity' });
  const more = el('button', { type: 'button', id: 'more', hidden: true }, 'Older');
  const kindSel = select('type', KINDS, kind, { id: 'kind', 'aria-label': 'Type' });
  const accSel = ctx.accountPicker({ value: account, onChange: (v) => { account = v; update(); } });
  main.append(el('div', { class: 'toolbar' }, el('label', { class: 'picker' }, 'Show ', kindSel), accSel), out, more);

  let cursor = null;
  let rows = [];
  async function load(reset) {
    const view = VIEWS[kind];
    if (kind !== 'notifications' && !account) { fill(out, el('p', { class: 'muted' }, 'Connect an account first.')); return; }
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (!reset && cursor) q.set('cursor', cursor);
    const page = await get(view.url(account) + '?' + q);
    if (!ctx.alive(seq)) return;
    rows = reset ? page.data : rows.concat(page.data);
    cursor = page.nextCursor;
    fill(out, table(view.headers, rows.map(view.row), { label: kind, empty: 'Nothing here yet.' }));
    more.hidden = !cursor;
  }
  function update() {
    if (accSel) accSel.hidden = kind === 'notifications';
    history.replaceState(null, '', '#/activity?' + new URLSearchParams({ type: kind, account: account || '' }));
    return load(true);
  }
  kindSel.addEventListener('change', () => { kind = kindSel.value; update(); });
  more.addEventListener('click', () => load(false));
  await update();
  // New rows arrive at the top; refresh the first page only while no older page is open.
  ctx.every(10000, () => { if (rows.length <= PAGE) load(true).catch(() => {}); });
}
