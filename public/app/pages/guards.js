// Guards: the account's automations (Margin Guard, TP/SL, Auto Entry) with forms to create and
// edit them (the API validates; its messages show beside the fields), enable/disable, delete,
// what each did last, the kill switch and "pause entries".
import { del, get, patch, post, seg } from '../api.js';
import { card, checkbox, compact, el, field, fill, flash, fmt, form, input, select, val } from '../ui.js';
import { lastRuns } from './positions.js';

const TYPES = [['margin_guard', 'Margin Guard'], ['tp_sl', 'Take profit / stop loss'], ['auto_entry', 'Auto entry']];
const label = (type) => (TYPES.find(([t]) => t === type) || [type, type])[1];
const num = (name, attrs = {}) => input(name, { type: 'number', step: 'any', ...attrs });
const g = (o, path) => path.split('.').reduce((x, k) => (x === undefined || x === null ? undefined : x[k]), o);

/** A distance given as percent or USD: [kind select, value input] under one error slot. */
function distance(name, labelText, cfg) {
  const kind = cfg && cfg.priceDistance !== undefined ? 'priceDistance' : 'percent';
  const value = cfg ? cfg[kind] : undefined;
  return el('div', { class: 'field distance' },
    el('label', { for: 'd-' + name.replace(/\./g, '-') }, labelText),
    el('div', { class: 'pair' },
      num(name, { id: 'd-' + name.replace(/\./g, '-'), value, 'aria-describedby': 'd-' + name.replace(/\./g, '-') + '-err' }),
      select(name + '#kind', [['percent', '% of entry'], ['priceDistance', 'USD']], kind, { 'aria-label': labelText + ' unit' })),
    el('span', { class: 'field-error', id: 'd-' + name.replace(/\./g, '-') + '-err', 'data-error-for': name }));
}
function readDistance(f, name) {
  const v = val(f, name);
  return v === undefined ? undefined : { [val(f, name + '#kind')]: v };
}

const FORMS = {
  margin_guard: {
    fields: (c = {}) => [
      field('Warn at (risk 0–1)', num('config.warnAt', { value: c.warnAt ?? 0.8, min: 0, max: 1 }), 'Risk is 0 at entry, 1 at liquidation.'),
      field('Act at (risk 0–1)', num('config.actAt', { value: c.actAt ?? 0.9, min: 0, max: 1 })),
      field('Action', select('config.action', [['add_margin', 'Add margin'], ['close', 'Close the trade']], c.action ?? 'add_margin')),
      field('Bring risk back to', num('config.targetRisk', { value: c.targetRisk ?? 0.5, min: 0, max: 1 })),
      field('Max added per trade (sats)', num('config.maxAddPerTradeSats', { value: c.maxAddPerTradeSats ?? 200000, min: 1, step: 1 })),
      field('Max added per day (sats)', num('config.maxAddPerDaySats', { value: c.maxAddPerDaySats ?? 500000, min: 1, step: 1 })),
      field('When the caps or balance fall short', select('config.onInsufficient', [['alert', 'Add what is allowed and alert'], ['close', 'Close instead']], c.onInsufficient ?? 'alert')),
      field('Cooldown (s)', num('config.cooldownMs', { value: c.cooldownMs === undefined ? 60 : c.cooldownMs / 1000, min: 0 })),
    ],
    read: (f) => compact({
      warnAt: val(f, 'config.warnAt'), actAt: val(f, 'config.actAt'), action: val(f, 'config.action'), targetRisk: val(f, 'config.targetRisk'),
      maxAddPerTradeSats: val(f, 'config.maxAddPerTradeSats'), maxAddPerDaySats: val(f, 'config.maxAddPerDaySats'),
      onInsufficient: val(f, 'config.onInsufficient'), cooldownMs: ms(val(f, 'config.cooldownMs')),
    }),
  },
  tp_sl: {
    fields: (c = {}) => [
      distance('config.takeProfit', 'Take profit at', c.takeProfit),
      distance('config.stopLoss', 'Stop loss at', c.stopLoss),
      el('div', { class: 'field' }, checkbox('config.stopLoss.trailing', 'Trailing stop', g(c, 'stopLoss.trailing'))),
      field('Trailing mode', select('config.stopLoss.trailingMode', [['exchange', 'LN Markets trails it'], ['managed', 'The platform moves it']], g(c, 'stopLoss.trailingMode') ?? 'exchange')),
      field('Break-even after a gain of (%)', num('config.breakEven.triggerPercent', { value: g(c, 'breakEven.triggerPercent'), min: 0 }), 'Optional: moves the stop to entry (plus the offset).'),
      field('Break-even offset (%)', num('config.breakEven.offsetPercent', { value: g(c, 'breakEven.offsetPercent'), min: 0 })),
    ],
    read: (f) => {
      const sl = readDistance(f, 'config.stopLoss');
      const be = val(f, 'config.breakEven.triggerPercent');
      return compact({
        takeProfit: readDistance(f, 'config.takeProfit'),
        stopLoss: sl && { ...sl, trailing: val(f, 'config.stopLoss.trailing'), trailingMode: val(f, 'config.stopLoss.trailingMode') },
        breakEven: be === undefined ? undefined : compact({ triggerPercent: be, offsetPercent: val(f, 'config.breakEven.offsetPercent') }),
      });
    },
  },
  auto_entry: {
    fields: (c = {}) => {
      const cond = c.condition || { type: 'price_below' };
      return [
        field('When', select('config.condition.type', [['price_below', 'price falls below'], ['price_above', 'price rises above'], ['drop_from_high', 'price drops from its high by %'], ['rise_from_low', 'price rises from its low by %']], cond.type)),
        field('Level (USD) or percent', num('config.condition.value', { value: cond.level ?? cond.percent }), 'A price for below/above, a percent for drop/rise.'),
        field('Window (min), for drop/rise', num('config.condition.windowMs', { value: cond.windowMs === undefined ? 60 : cond.windowMs / 60000, min: 0 })),
        field('Side', select('config.side', [['buy', 'Long (buy)'], ['sell', 'Short (sell)']], c.side ?? 'buy')),
        field('Quantity (USD)', num('config.quantity', { value: c.quantity ?? 100, min: 1, step: 1 })),
        field('Leverage', num('config.leverage', { value: c.leverage ?? 10, min: 1, max: 100 })),
        distance('config.takeprofit', 'Take profit (optional)', c.takeprofit),
        distance('config.stoploss', 'Stop loss (optional)', c.stoploss),
        field('Max open trades', num('config.maxOpenTrades', { value: c.maxOpenTrades ?? 1, min: 1, step: 1 })),
        field('Max entries per day', num('config.maxPerDay', { value: c.maxPerDay ?? 5, min: 1, step: 1 })),
        field('Cooldown (min)', num('config.cooldownMs', { value: c.cooldownMs === undefined ? 5 : c.cooldownMs / 60000, min: 0 })),
      ];
    },
    read: (f) => {
      const type = val(f, 'config.condition.type');
      const v = val(f, 'config.condition.value');
      const windowed = type === 'drop_from_high' || type === 'rise_from_low';
      const condition = windowed ? { type, percent: v, windowMs: ms(val(f, 'config.condition.windowMs'), 60000) } : { type, level: v };
      return compact({
        condition, side: val(f, 'config.side'), quantity: val(f, 'config.quantity'), leverage: val(f, 'config.leverage'),
        takeprofit: readDistance(f, 'config.takeprofit'), stoploss: readDistance(f, 'config.stoploss'),
        maxOpenTrades: val(f, 'config.maxOpenTrades'), maxPerDay: val(f, 'config.maxPerDay'), cooldownMs: ms(val(f, 'config.cooldownMs'), 60000),
      });
    },
  },
};
function ms(v, unit = 1000) { return v === undefined ? undefined : Math.round(v * unit); }

function guardForm(ctx, acc, type, existing, done) {
  const spec = FORMS[type];
  const id = existing ? 'edit-' + existing.id : 'new-' + type;
  return form({ id, class: 'guard-form', 'data-type': type, 'aria-label': (existing ? 'Edit ' : 'New ') + label(type) }, [
    el('div', { class: 'grid' }, spec.fields(existing ? existing.config : undefined)),
    el('div', { class: 'buttons' }, el('button', { type: 'submit', class: 'primary' }, existing ? 'Save' : 'Create ' + label(type)),
      existing ? el('button', { type: 'button', onclick: done }, 'Cancel') : null),
  ], async (f) => {
    const config = spec.read(f);
    if (existing) await patch('/v1/accounts/' + seg(acc.id) + '/automations/' + seg(existing.id), { config });
    else await post('/v1/accounts/' + seg(acc.id) + '/automations', { type, config, enabled: true });
    flash(label(type) + (existing ? ' saved.' : ' created and on.'));
    done();
  });
}

function summary(a) {
  const c = a.config || {};
  if (a.type === 'margin_guard') return 'warn ' + fmt.pct(c.warnAt) + ', act ' + fmt.pct(c.actAt) + ': ' + (c.action === 'close' ? 'close' : 'add margin back to ' + fmt.pct(c.targetRisk) + ' (≤ ' + fmt.sats(c.maxAddPerTradeSats) + ' a trade)');
  if (a.type === 'tp_sl') return [c.takeProfit && 'TP ' + dist(c.takeProfit), c.stopLoss && (c.stopLoss.trailing ? 'trailing ' : '') + 'SL ' + dist(c.stopLoss), c.breakEven && 'break-even after ' + c.breakEven.triggerPercent + ' %'].filter(Boolean).join(', ');
  if (a.type === 'auto_entry') { const k = c.condition || {}; return (c.side === 'sell' ? 'short ' : 'long ') + fmt.usd(c.quantity) + ' ' + c.leverage + '× when ' + k.type + ' ' + (k.level !== undefined ? fmt.usd(k.level) : k.percent + ' %'); }
  return JSON.stringify(c);
}
const dist = (d) => (d.percent !== undefined ? d.percent + ' %' : fmt.usd(d.priceDistance));

export async function render(main, ctx, seq) {
  const acc = ctx.account();
  const list = el('div', { id: 'guards' });
  const runs = el('div', { id: 'last-runs' });
  const switches = el('div', { id: 'switches' });
  const create = el('div', { id: 'create' });
  main.append(el('div', { class: 'toolbar' }, ctx.accountPicker()), card('Switches', switches), card('Automations on ' + acc.name, list), card('Add a guard', create), card('What each did last', runs));

  async function load() {
    const [autos, st] = await Promise.all([get('/v1/accounts/' + seg(acc.id) + '/automations'), get('/v1/automations/status')]);
    if (!ctx.alive(seq)) return;
    await ctx.reload();
    renderSwitches(st);
    // A row being edited keeps its form: polling must not wipe what the trader is typing.
    if (!list.querySelector('form')) fill(list, autos.data.length ? autos.data.map((a) => row(a)) : el('p', { class: 'muted' }, 'No guard yet: add a Margin Guard below.'));
    fill(runs, lastRuns(st.accounts.find((x) => x.accountId === acc.id)));
  }

  function renderSwitches(st) {
    const me = ctx.me;
    fill(switches,
      el('div', { class: 'switch-row' },
        el('div', {}, el('strong', {}, 'Kill switch'), el('p', { class: 'muted small' }, st.schedulingEnabled ? 'Automations are running.' : 'Stopped: no automation runs on any account.')),
        el('button', { type: 'button', id: 'kill-switch', class: st.schedulingEnabled ? 'danger' : 'primary', 'aria-pressed': String(!st.schedulingEnabled), onclick: async () => {
          await post(st.schedulingEnabled ? '/v1/automations/stop' : '/v1/automations/start');
          flash(st.schedulingEnabled ? 'Kill switch on: every automation stopped.' : 'Automations resumed.', st.schedulingEnabled ? 'bad' : 'ok');
          await load();
        } }, st.schedulingEnabled ? 'Stop everything' : 'Resume')),
      el('div', { class: 'switch-row' },
        el('div', {}, el('strong', {}, 'Pause entries'), el('p', { class: 'muted small' }, me.pauseEntries ? 'Auto Entry opens nothing; protection keeps running.' : 'Auto Entry may open trades.')),
        el('button', { type: 'button', id: 'pause-entries', 'aria-pressed': String(!!me.pauseEntries), onclick: async () => {
          await patch('/v1/me', { pauseEntries: !me.pauseEntries });
          flash(me.pauseEntries ? 'Entries resumed.' : 'Entries paused.');
          await load();
        } }, me.pauseEntries ? 'Resume entries' : 'Pause entries')),
      el('div', { class: 'switch-row' },
        el('div', {}, el('strong', {}, 'Scope'), el('p', { class: 'muted small' }, me.scheduleScope === 'all' ? 'Every account\'s automations run.' : 'Only the active account\'s automations run.')),
        el('button', { type: 'button', id: 'scope', onclick: async () => {
          await patch('/v1/me', { scheduleScope: me.scheduleScope === 'all' ? 'active' : 'all' });
          await load();
        } }, me.scheduleScope === 'all' ? 'Active account only' : 'Run every account')));
  }

  function row(a) {
    const box = el('article', { class: 'guard', 'data-automation-id': a.id, 'data-type': a.type, 'data-enabled': String(a.enabled) });
    const show = () => fill(box,
      el('header', {}, el('strong', {}, a.name || label(a.type)), el('span', { class: 'tag ' + (a.enabled ? 'ok' : '') }, a.enabled ? 'on' : 'off')),
      el('p', {}, summary(a)),
      el('p', { class: 'muted small' }, 'Last: ', a.status.lastError ? '⚠ ' + a.status.lastError : a.status.lastResult || 'not run yet', ' · ', fmt.ago(a.status.lastRunAt), ' · next ', fmt.ago(a.status.nextRunAt)),
      el('div', { class: 'buttons' },
        el('button', { type: 'button', class: 'toggle', onclick: async () => { await patch('/v1/accounts/' + seg(acc.id) + '/automations/' + seg(a.id), { enabled: !a.enabled }); flash(label(a.type) + (a.enabled ? ' off.' : ' on.')); await load(); } }, a.enabled ? 'Disable' : 'Enable'),
        FORMS[a.type] ? el('button', { type: 'button', onclick: () => { fill(box, guardForm(ctx, acc, a.type, a, () => { box.textContent = ''; return load(); })); box.querySelector('input,select')?.focus(); } }, 'Edit') : null,
        el('button', { type: 'button', class: 'danger', onclick: async () => { if (!confirm('Delete this ' + label(a.type) + '?')) return; await del('/v1/accounts/' + seg(acc.id) + '/automations/' + seg(a.id)); flash('Deleted.'); await load(); } }, 'Delete')));
    show();
    return box;
  }

  const picker = select('type', TYPES, 'margin_guard', { id: 'new-type', 'aria-label': 'Type' });
  const slot = el('div');
  const showForm = () => fill(slot, guardForm(ctx, acc, picker.value, null, () => { showForm(); load(); }),
    picker.value !== 'margin_guard' && ctx.me.plan === 'free' ? el('p', { class: 'muted small' }, label(picker.value) + ' is a Pro feature: ', el('a', { href: '#/plan' }, 'see plans')) : null);
  picker.addEventListener('change', showForm);
  fill(create, el('label', { class: 'picker' }, 'Type ', picker), slot);
  showForm();
  await load();
  ctx.every(5000, () => load().catch(() => {}));
}
