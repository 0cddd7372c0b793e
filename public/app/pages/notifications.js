// Notification channels: a webhook, a Telegram chat, an email address; each one's verification
// (a code sent to it, typed back here); a test send; which events go to which channel (the
// events the platform sends, listed; not free text); recent deliveries. Every API refusal is
// shown by what it names: a field, an event's row (a critical event routed nowhere is refused),
// a channel's code, or the button that was refused (429: how long to wait).
import { get, post, put, seg } from '../api.js';
import { card, el, field, fill, flash, fmt, form, input, select, table, val } from '../ui.js';

const CHANNELS = ['webhook', 'telegram', 'email'];
const LABEL = { webhook: 'Webhook', telegram: 'Telegram', email: 'Email' };
const WHERE = { webhook: 'the webhook’s body, data.code', telegram: 'the Telegram chat', email: 'that inbox' };
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

/** An API error as one sentence: its field messages (else its message), and when to retry. */
function say(e) {
  const text = e.fields && e.fields.length ? e.fields.map((d) => d.message).join('; ') : e.message;
  return text + (e.status === 429 && e.retryAfter ? '. Try again in ' + e.retryAfter + ' s.' : '');
}

export async function render(main, ctx, seq) {
  const [ch, hist] = await Promise.all([get('/v1/notifications/channels'), get('/v1/notifications?limit=5')]);
  if (!ctx.alive(seq)) return;
  let view = ch;
  const prefs = ch.preferences || {};
  const rules = prefs.events || {};

  /** Disables `btn` for `seconds`, counting down on its label (a 429's retry-after). */
  function cooldown(btn, seconds, label) {
    let left = Math.max(1, Math.ceil(Number(seconds) || 1));
    btn.disabled = true;
    btn.dataset.cooling = 'true';
    btn.textContent = label + ' (' + left + ' s)';
    const t = setInterval(() => {
      if (--left > 0) { btn.textContent = label + ' (' + left + ' s)'; return; }
      clearInterval(t);
      btn.disabled = false;
      delete btn.dataset.cooling;
      btn.textContent = label;
    }, 1000);
    ctx.onLeave(() => clearInterval(t));
  }

  // One verification block per channel, repainted from the saved view (never from the form's
  // unsaved edits: a code goes to the target the platform has).
  const areas = Object.fromEntries(CHANNELS.map((c) => [c, el('div', { class: 'verify', id: 'verify-' + c, 'data-channel': c, tabindex: '-1' })]));
  function paint(c) {
    const cfg = view[c];
    const area = areas[c];
    area.dataset.verified = cfg ? String(!!cfg.verified) : 'none';
    if (!cfg) return fill(area, el('p', { class: 'muted small' }, 'Not set up: fill it in and save.'));
    if (cfg.verified) return fill(area, el('p', { class: 'small' }, el('span', { class: 'tag ok state' }, '✓ verified'), ' Gets every event its rules send it.'));
    const sendBtn = el('button', { type: 'button', id: 'send-code-' + c }, 'Send code');
    const code = el('input', { id: 'code-' + c, name: 'code:' + c, inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6', size: '8', placeholder: '6 digits', 'aria-describedby': 'code-' + c + '-err code-' + c + '-note' });
    const verifyBtn = el('button', { type: 'button', id: 'verify-code-' + c, class: 'primary' }, 'Verify');
    const note = el('span', { class: 'muted small', id: 'code-' + c + '-note', 'aria-live': 'polite' });
    const err = el('span', { class: 'field-error', id: 'code-' + c + '-err', role: 'alert' });
    const fail = (e, target) => { err.textContent = say(e); if (target) { target.setAttribute('aria-invalid', 'true'); target.focus(); } };

    sendBtn.addEventListener('click', async () => {
      err.textContent = ''; note.textContent = '';
      sendBtn.disabled = true;
      try {
        const r = await post('/v1/notifications/channels/' + seg(c) + '/verification');
        note.textContent = 'Code sent to ' + WHERE[c] + ', valid until ' + fmt.time(r.expiresAt) + '. Type it here.';
        code.focus();
      } catch (e) {
        if (e.status === 409) return refresh(c);
        fail(e);
        if (e.status === 429) return cooldown(sendBtn, e.retryAfter, 'Send code');
      } finally { if (!sendBtn.dataset.cooling) sendBtn.disabled = false; }
    });
    const submit = async () => {
      err.textContent = ''; code.removeAttribute('aria-invalid');
      verifyBtn.disabled = true;
      try {
        view = await post('/v1/notifications/channels/' + seg(c) + '/verify', { code: code.value.trim() });
        paint(c);
        areas[c].focus();
        flash(LABEL[c] + ' verified: it gets every event its rules send it from now on.');
      } catch (e) {
        fail(e, code);
        if (e.status === 429) cooldown(verifyBtn, e.retryAfter, 'Verify');
      } finally { if (!verifyBtn.dataset.cooling) verifyBtn.disabled = false; }
    };
    verifyBtn.addEventListener('click', submit);
    // Enter in the code verifies it (it would otherwise submit the channels form around it).
    code.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); submit(); } });
    return fill(area,
      el('p', { class: 'small' }, el('span', { class: 'tag warn state' }, 'not verified'), ' Gets only its code and test messages until you verify it.'),
      el('div', { class: 'code-row' }, sendBtn,
        el('label', { for: code.id, class: 'visually-hidden' }, LABEL[c] + ' verification code'), code, verifyBtn),
      note, err);
  }
  async function refresh(c) {
    view = await get('/v1/notifications/channels');
    if (ctx.alive(seq)) paint(c);
  }
  CHANNELS.forEach(paint);

  const routing = el('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': 'event routing' },
    el('table', { id: 'routing' },
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'event'), CHANNELS.map((c) => el('th', { scope: 'col' }, c)))),
      el('tbody', {}, EVENTS.map(([name, sev, what]) => {
        const rule = rules[name];
        return el('tr', { 'data-event': name },
          el('th', { scope: 'row' }, el('code', {}, breakable(name)), el('span', { class: 'tag ' + (sev === 'critical' ? 'critical' : sev === 'warning' ? 'warn' : '') }, sev), el('br'), el('small', { class: 'muted' }, what),
            el('span', { class: 'field-error row-error', 'data-error-for': 'preferences.events.' + name })),
          CHANNELS.map((c) => el('td', {}, el('input', { type: 'checkbox', name: 'route:' + name + ':' + c, 'aria-label': name + ' to ' + c,
            checked: rule && rule.channels ? rule.channels.includes(c) : true }))));
      }))));

  const testBtn = el('button', { type: 'button', id: 'send-test' }, 'Send a test');
  const testMsg = el('span', { class: 'field-error', id: 'send-test-err', role: 'alert' });
  testBtn.setAttribute('aria-describedby', testMsg.id);
  testBtn.addEventListener('click', async () => {
    testMsg.textContent = '';
    testBtn.disabled = true;
    try {
      const r = await post('/v1/notifications/test');
      flash('Test sent to ' + r.channels.join(', ') + ': see its delivery below.');
      setTimeout(() => loadHistory().catch(() => {}), 2500);
    } catch (e) {
      testMsg.textContent = e.status === 429 ? 'Too many test messages for now (10 a minute, 3 per unverified channel). Try again in ' + (e.retryAfter || 60) + ' s.' : say(e);
      if (e.status === 429) return cooldown(testBtn, e.retryAfter || 60, 'Send a test');
    } finally { if (!testBtn.dataset.cooling) testBtn.disabled = false; }
  });

  const channelSet = (c, ...fields) => el('fieldset', {}, el('legend', {}, LABEL[c]), ...fields,
    el('span', { class: 'field-error', 'data-error-for': c }), areas[c]);
  const f = form({ id: 'channels', 'aria-label': 'Notification channels' }, [
    el('p', { class: 'muted small' }, 'A new channel gets real events once verified: save it, send it a code, type the code back. Critical events must reach at least one channel.'),
    channelSet('webhook',
      field('URL', input('webhook.url', { type: 'url', value: ch.webhook ? ch.webhook.url : '', placeholder: 'https://example.com/hooks/lnma' })),
      field('Signing secret', input('webhook.secret', { type: 'password', autocomplete: 'off', placeholder: ch.webhook && ch.webhook.hasSecret ? 'kept (leave empty)' : 'at least 16 characters' }), 'Deliveries carry x-lnma-signature (HMAC-SHA256).')),
    channelSet('telegram', field('Chat id', input('telegram.chatId', { value: ch.telegram ? ch.telegram.chatId : '', placeholder: '123456789 or @channel' }))),
    channelSet('email', field('Address', input('email.address', { type: 'email', value: ch.email ? ch.email.address : '' }))),
    el('fieldset', {}, el('legend', {}, 'Which events go where'),
      field('Minimum severity (all events)', select('preferences.default.minSeverity', [['info', 'info and above'], ['warning', 'warning and above'], ['critical', 'critical only']], (prefs.default && prefs.default.minSeverity) || 'info')),
      el('span', { class: 'field-error', 'data-error-for': 'preferences.default' }),
      el('p', { class: 'muted small' }, 'Unticked channels do not receive that event. Each critical event needs a ticked channel that is set up.'), routing,
      el('span', { class: 'field-error', 'data-error-for': 'preferences' })),
    el('div', { class: 'buttons' }, el('button', { type: 'submit', class: 'primary' }, 'Save channels'), testBtn),
    testMsg,
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
    view = await put('/v1/notifications/channels', body);
    CHANNELS.forEach(paint);
    form.elements.namedItem('webhook.secret').value = '';
    const unverified = CHANNELS.filter((c) => view[c] && !view[c].verified);
    flash('Channels saved.' + (unverified.length ? ' Verify ' + unverified.join(', ') + ' to receive events there.' : ''));
  });

  const history = el('div', { id: 'recent' });
  async function loadHistory() {
    if (!ctx.alive(seq)) return;
    const h = await get('/v1/notifications?limit=5');
    if (ctx.alive(seq)) fill(history, recent(h.data));
  }
  fill(history, recent(hist.data));
  main.append(card('Channels', f), card('Recent notifications', history, el('p', {}, el('a', { href: '#/activity?type=notifications' }, 'All notifications →'))));
  ctx.every(5000, () => loadHistory().catch(() => {}));
}

/** An event name that may wrap after its dots and underscores (narrow screens), not mid-word. */
const breakable = (name) => name.split(/(?<=[._])/).flatMap((part, i) => (i ? [el('wbr'), part] : [part]));

function recent(rows) {
  return table(['time', 'event', 'title', 'deliveries'], rows.map((n) => [fmt.time(n.createdAt), n.event, n.title,
    el('span', {}, n.deliveries.map((d) => el('span', { class: 'tag ' + (d.status === 'sent' ? 'ok' : d.status === 'failed' ? 'critical' : ''), title: d.lastError || '' }, d.channel + ': ' + d.status)))]), { label: 'recent notifications', empty: 'Nothing sent yet.' });
}
