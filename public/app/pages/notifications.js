// Notification channels: a webhook, a Telegram chat, an email address; a test send; which events
// go to which channel (the events the platform sends, listed; not free text); recent deliveries.
import { get, post, put } from '../api.js';
import { card, el, field, fill, flash, fmt, form, input, select, table, val } from '../ui.js';

const CHANNELS = ['webhook', 'telegram', 'email'];
/** The events the platform sends to traders: a copy of src/messaging/events.ts (no build step here; test/domain/notification-events.test.ts keeps them equal). */
export const EVENTS = [
  ['margin.warning', 'warning', 'A position crossed the warn level'],
  ['margin.critical', 'critical', 'A position crossed the act level'],
  ['margin.action', 'info', 'Margin Guard added margin or closed'],
  ['margin.insufficient', 'critical', 'Margin Guard could not add enough'],
  ['trade.liquidated', 'critical', 'A position was liquidated'],
  ['auto_entry.opened', 'info', 'Auto Entry opened a trade'],
  ['automation.failed', 'warning', 'An automation run failed after its retries'],
  ['automation.action_failed', 'warning', 'An order was refused'],
  ['credentials.rejected', 'critical', 'The exchange refused the account\'s keys'],
  ['exchange.breaker_open', 'critical', 'Orders paused: the exchange keeps failing'],
  ['plan.paused', 'warning', 'Automations paused by your plan'],
  ['payment.confirmed', 'info', 'A plan payment was confirmed'],
];

export async function render(main, ctx, seq) {
  const [ch, hist] = await Promise.all([get('/v1/notifications/channels'), get('/v1/notifications?limit=5')]);
  if (!ctx.alive(seq)) return;
  const prefs = ch.preferences || {};
  const rules = prefs.events || {};

  const routing = el('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': 'event routing' },
    el('table', { id: 'routing' },
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'event'), CHANNELS.map((c) => el('th', { scope: 'col' }, c)))),
      el('tbody', {}, EVENTS.map(([name, sev, what]) => {
        const rule = rules[name];
        return el('tr', { 'data-event': name },
          el('th', { scope: 'row' }, el('code', {}, name), el('span', { class: 'tag ' + (sev === 'critical' ? 'critical' : sev === 'warning' ? 'warn' : '') }, sev), el('br'), el('small', { class: 'muted' }, what)),
          CHANNELS.map((c) => el('td', {}, el('input', { type: 'checkbox', name: 'route:' + name + ':' + c, 'aria-label': name + ' to ' + c,
            checked: rule && rule.channels ? rule.channels.includes(c) : true }))));
      }))));

  const f = form({ id: 'channels', 'aria-label': 'Notification channels' }, [
    el('fieldset', {}, el('legend', {}, 'Webhook'),
      field('URL', input('webhook.url', { type: 'url', value: ch.webhook ? ch.webhook.url : '', placeholder: 'https://example.com/hooks/lnma' })),
      field('Signing secret', input('webhook.secret', { type: 'password', autocomplete: 'off', placeholder: ch.webhook && ch.webhook.hasSecret ? 'kept (leave empty)' : 'at least 16 characters' }), 'Deliveries carry x-lnma-signature (HMAC-SHA256).')),
    el('fieldset', {}, el('legend', {}, 'Telegram'),
      field('Chat id', input('telegram.chatId', { value: ch.telegram ? ch.telegram.chatId : '', placeholder: '123456789 or @channel' }))),
    el('fieldset', {}, el('legend', {}, 'Email'),
      field('Address', input('email.address', { type: 'email', value: ch.email ? ch.email.address : '' }))),
    el('fieldset', {}, el('legend', {}, 'Which events go where'),
      field('Minimum severity (all events)', select('preferences.default.minSeverity', [['info', 'info and above'], ['warning', 'warning and above'], ['critical', 'critical only']], (prefs.default && prefs.default.minSeverity) || 'info')),
      el('p', { class: 'muted small' }, 'Unticked channels do not receive that event.'), routing,
      el('span', { class: 'field-error', 'data-error-for': 'preferences' })),
    el('div', { class: 'buttons' }, el('button', { type: 'submit', class: 'primary' }, 'Save channels'),
      el('button', { type: 'button', id: 'send-test', onclick: async () => {
        try { const r = await post('/v1/notifications/test'); flash('Test sent to ' + r.channels.join(', ') + ': see its delivery below.'); setTimeout(loadHistory, 2500); } catch (e) { flash(e.message, 'bad'); }
      } }, 'Send a test')),
  ], async (form) => {
    const body = {};
    const url = val(form, 'webhook.url');
    if (url) body.webhook = { url, ...(val(form, 'webhook.secret') ? { secret: val(form, 'webhook.secret') } : {}) };
    if (val(form, 'telegram.chatId')) body.telegram = { chatId: val(form, 'telegram.chatId') };
    if (val(form, 'email.address')) body.email = { address: val(form, 'email.address') };
    const events = {};
    for (const [name] of EVENTS) {
      const on = CHANNELS.filter((c) => form.elements.namedItem('route:' + name + ':' + c).checked);
      if (on.length !== CHANNELS.length) events[name] = { channels: on };
    }
    body.preferences = { default: { minSeverity: val(form, 'preferences.default.minSeverity') }, ...(Object.keys(events).length ? { events } : {}) };
    await put('/v1/notifications/channels', body);
    form.elements.namedItem('webhook.secret').value = '';
    flash('Channels saved.');
  });

  const history = el('div', { id: 'recent' });
  async function loadHistory() {
    const h = await get('/v1/notifications?limit=5');
    if (ctx.alive(seq)) fill(history, recent(h.data));
  }
  fill(history, recent(hist.data));
  main.append(card('Channels', f), card('Recent notifications', history, el('p', {}, el('a', { href: '#/activity?type=notifications' }, 'All notifications →'))));
  ctx.every(5000, () => loadHistory().catch(() => {}));
}

function recent(rows) {
  return table(['time', 'event', 'title', 'deliveries'], rows.map((n) => [fmt.time(n.createdAt), n.event, n.title,
    el('span', {}, n.deliveries.map((d) => el('span', { class: 'tag ' + (d.status === 'sent' ? 'ok' : d.status === 'failed' ? 'critical' : ''), title: d.lastError || '' }, d.channel + ': ' + d.status)))]), { label: 'recent notifications', empty: 'Nothing sent yet.' });
}
