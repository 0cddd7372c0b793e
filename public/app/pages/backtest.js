// Backtests in the console (issue 24, item 6): a form that starts one on a network's candle
// history, and the run's charts: price with the automations' actions and both runs'
// liquidations marked, equity of the automated run and of the baseline (same position, no
// automation), and the side-by-side summary.
import { post } from '../api.js';
import { checkbox, compact, el, field, fmt, form, input, select, table, val } from '../ui.js';

const RANGES = ['1m', '5m', '15m', '30m', '1h', '4h', '1d'];
/** Steps charted at most: more are paged from the API for nothing a chart this wide can show. */
export const MAX_CHART_STEPS = 20_000;
const num = (name, attrs = {}) => input(name, { type: 'number', step: 'any', ...attrs });
const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);

export function backtestForm(onStarted) {
  return form({ id: 'new-backtest', 'aria-label': 'Start a backtest' }, [
    el('div', { class: 'grid' },
      field('History', select('source.network', [['simulator', 'Simulator'], ['mainnet', 'LN Markets mainnet'], ['testnet', 'LN Markets testnet']], 'simulator')),
      field('Candles', select('source.range', RANGES, '1m'), 'One step per candle.'),
      field('From (UTC day)', input('source.from', { type: 'date', value: '2025-01-02', required: true })),
      field('To (UTC day, excluded)', input('source.to', { type: 'date', value: '2025-01-03', required: true })),
      field('Free balance (sats)', num('freeBalanceSats', { value: 5000000, min: 0, step: 1 })),
      field('Side', select('position.side', [['buy', 'Long (buy)'], ['sell', 'Short (sell)']], 'buy')),
      field('Quantity (USD)', num('position.quantity', { value: 1000, min: 1, step: 1 })),
      field('Leverage', num('position.leverage', { value: 100, min: 1, max: 100 }))),
    el('fieldset', {}, el('legend', {}, checkbox('guard', 'Margin Guard', true)),
      el('div', { class: 'grid' },
        field('Warn at', num('automations.marginGuard.warnAt', { value: 0.6, min: 0, max: 1 })),
        field('Act at', num('automations.marginGuard.actAt', { value: 0.7, min: 0, max: 1 })),
        field('Back to', num('automations.marginGuard.targetRisk', { value: 0.3, min: 0, max: 1 })),
        field('Max per trade (sats)', num('automations.marginGuard.maxAddPerTradeSats', { value: 5000000, min: 1, step: 1 })),
        field('Max per day (sats)', num('automations.marginGuard.maxAddPerDaySats', { value: 5000000, min: 1, step: 1 })))),
    el('div', { class: 'buttons' }, el('button', { type: 'submit', class: 'primary' }, 'Start backtest')),
  ], async (f) => {
    const mg = (k) => val(f, 'automations.marginGuard.' + k);
    const day = (name) => { const v = val(f, name); return v ? v + 'T00:00:00.000Z' : undefined; };
    const body = compact({
      source: { type: 'candles', network: val(f, 'source.network'), range: val(f, 'source.range'), from: day('source.from'), to: day('source.to') },
      freeBalanceSats: val(f, 'freeBalanceSats'),
      position: { side: val(f, 'position.side'), quantity: val(f, 'position.quantity'), leverage: val(f, 'position.leverage') },
      automations: val(f, 'guard') ? { marginGuard: compact({ warnAt: mg('warnAt'), actAt: mg('actAt'), targetRisk: mg('targetRisk'), maxAddPerTradeSats: mg('maxAddPerTradeSats'), maxAddPerDaySats: mg('maxAddPerDaySats') }) } : {},
    });
    const r = await post('/v1/simulations', body);
    onStarted(r.id);
  });
}

const has = (acts, type) => acts.some((a) => a.type === type);
/** The series of a backtest's charts: x in seconds (uPlot's time scale), null where nothing is marked. */
export function backtestSeries(steps) {
  const xs = [];
  const price = [];
  const acted = [];
  const liqA = [];
  const liqB = [];
  const eqA = [];
  const eqB = [];
  for (const s of steps) {
    xs.push(Math.round((s.time ?? 0) / 1000));
    price.push(s.price);
    const a = s.actions || [];
    const b = (s.baseline && s.baseline.actions) || [];
    acted.push(a.some((x) => x.type !== 'liquidation' && x.type !== 'funding') ? s.price : null);
    liqA.push(has(a, 'liquidation') ? s.price : null);
    liqB.push(has(b, 'liquidation') ? s.price : null);
    eqA.push(s.equitySats);
    eqB.push(s.baseline ? s.baseline.equitySats : null);
  }
  const count = (ys) => ys.filter((v) => v !== null).length;
  return { xs, price, acted, liqA, liqB, eqA, eqB, marks: { acted: count(acted), liqA: count(liqA), liqB: count(liqB) } };
}

const dots = (label, color, size) => ({ label, stroke: color, fill: color, width: 0, paths: () => null, points: { show: true, size, stroke: color, fill: color } });

/** Two uPlot charts (price with marks, equity of both runs); returns the handles to update and destroy. */
export function backtestCharts(priceEl, eqEl, steps) {
  const d = backtestSeries(steps);
  const mk = (target, title, series, data, yFmt) => {
    const width = Math.max(260, target.clientWidth || 600);
    const u = new uPlot({
      width, height: 200, title, legend: { show: true, live: false },
      scales: { x: { time: true } },
      axes: [{ stroke: '#6a737d' }, { stroke: '#6a737d', size: 64, values: (u, v) => v.map(yFmt) }],
      series: [{}, ...series],
    }, data, target);
    return { u, target };
  };
  const usd = (v) => '$' + Math.round(v).toLocaleString('en-US');
  const msats = (v) => (v / 1e6).toFixed(2) + 'M';
  const price = mk(priceEl, 'Price (USD) and actions', [
    { label: 'price', stroke: '#1967d2', width: 1.5 },
    dots('automation acted', '#e37400', 7),
    dots('liquidated (automated)', '#c5221f', 10),
    dots('liquidated (no automation)', '#5f6368', 8),
  ], [d.xs, d.price, d.acted, d.liqA, d.liqB], usd);
  const equity = mk(eqEl, 'Equity (sats)', [
    { label: 'automated', stroke: '#188038', width: 2 },
    // Drawn over the automated line, dashed: until the runs part they are one line.
    { label: 'no automation', stroke: '#9334e6', width: 2, dash: [6, 4] },
  ], [d.xs, d.eqA, d.eqB], msats);
  priceEl.dataset.marks = JSON.stringify(d.marks);
  eqEl.dataset.series = '2';
  return {
    charts: [price, equity],
    update(all) {
      const n = backtestSeries(all);
      price.u.setData([n.xs, n.price, n.acted, n.liqA, n.liqB]);
      equity.u.setData([n.xs, n.eqA, n.eqB]);
      priceEl.dataset.marks = JSON.stringify(n.marks);
    },
  };
}

/** The side-by-side summary of a backtest. */
export function backtestSummaryView(s) {
  if (!s) return el('p', { class: 'muted' }, 'Running…');
  const A = s.automated || {};
  const B = s.baseline || {};
  const row = (label, f) => [label, f(A), f(B)];
  return el('div', { id: 'bt-summary' },
    el('p', {}, el('strong', { id: 'bt-saved' }, s.saved ? s.saved.text : ''), ' · ', isoDay(Date.parse(s.from)), ' to ', s.to ? s.to.slice(0, 16).replace('T', ' ') + ' UTC' : '', ' · ', String(s.steps), ' candles'),
    table(['', 'automated', 'no automation'], [
      row('Final PnL', (r) => fmt.signedSats(r.finalPnlSats)),
      row('Max drawdown', (r) => fmt.sats(r.maxDrawdownSats) + ' (' + fmt.pct(r.maxDrawdownPct) + ')'),
      row('Liquidations', (r) => String(r.liquidations ?? '—')),
      row('Added as margin', (r) => fmt.sats(r.marginAddedSats)),
      row('Fees', (r) => fmt.sats(r.feesSats)),
      row('Funding (paid)', (r) => fmt.signedSats(r.fundingSats)),
    ], { label: 'backtest summary' }));
}
