// Simulations: start one from a form (scenario, seed, position, Margin Guard), watch its price,
// risk and equity charts (uPlot) fill as steps are saved, read its summary. Backtests on candle
// history (./backtest.js) chart price with the actions marked and the equity of both runs.
import { del, get, post, seg } from '../api.js';
import { card, checkbox, compact, el, field, fill, flash, fmt, form, input, select, table, val } from '../ui.js';
import { backtestCharts, backtestForm, backtestSummaryView, MAX_CHART_STEPS } from './backtest.js';

const SCENARIOS = ['crash', 'bear', 'bull', 'sideways', 'volatile'];
const num = (name, attrs = {}) => input(name, { type: 'number', step: 'any', ...attrs });
const charts = [];

function startForm(onStarted) {
  return form({ id: 'new-simulation', 'aria-label': 'Start a simulation' }, [
    el('div', { class: 'grid' },
      field('Scenario', select('scenario', SCENARIOS, 'crash')),
      field('Start price (USD)', num('initialPrice', { value: 100000, min: 1 })),
      field('Steps', num('steps', { value: 300, min: 1, step: 1 })),
      field('Seed', num('seed', { value: 7, min: 0, step: 1 }), 'The same seed replays the same path.'),
      field('Crash depth (%)', num('dropPct', { min: 0, max: 99 }), 'Crash only; optional.'),
      field('Speed', select('speed', [['fast', 'As fast as possible'], ['realtime', 'Real time (one step per interval)']], 'fast')),
      field('Step interval (ms)', num('stepMs', { value: 100, min: 10, step: 1 })),
      field('Free balance (sats)', num('freeBalanceSats', { value: 5000000, min: 0, step: 1 })),
      field('Side', select('position.side', [['buy', 'Long (buy)'], ['sell', 'Short (sell)']], 'buy')),
      field('Quantity (USD)', num('position.quantity', { value: 1000, min: 1, step: 1 })),
      field('Leverage', num('position.leverage', { value: 50, min: 1, max: 100 }))),
    el('fieldset', {}, el('legend', {}, checkbox('guard', 'Margin Guard', true)),
      el('div', { class: 'grid' },
        field('Warn at', num('automations.marginGuard.warnAt', { value: 0.6, min: 0, max: 1 })),
        field('Act at', num('automations.marginGuard.actAt', { value: 0.7, min: 0, max: 1 }), 'Below 0.9: a step can jump over a high threshold.'),
        field('Back to', num('automations.marginGuard.targetRisk', { value: 0.3, min: 0, max: 1 })),
        field('Max per trade (sats)', num('automations.marginGuard.maxAddPerTradeSats', { value: 5000000, min: 1, step: 1 })),
        field('Max per day (sats)', num('automations.marginGuard.maxAddPerDaySats', { value: 5000000, min: 1, step: 1 })))),
    el('div', { class: 'buttons' }, el('button', { type: 'submit', class: 'primary' }, 'Start simulation')),
  ], async (f) => {
    const mg = (k) => val(f, 'automations.marginGuard.' + k);
    const body = compact({
      scenario: val(f, 'scenario'), initialPrice: val(f, 'initialPrice'), steps: val(f, 'steps'), seed: val(f, 'seed'),
      dropPct: val(f, 'scenario') === 'crash' ? val(f, 'dropPct') : undefined, speed: val(f, 'speed'), stepMs: val(f, 'stepMs'), freeBalanceSats: val(f, 'freeBalanceSats'),
      position: { side: val(f, 'position.side'), quantity: val(f, 'position.quantity'), leverage: val(f, 'position.leverage') },
      automations: val(f, 'guard') ? { marginGuard: compact({ warnAt: mg('warnAt'), actAt: mg('actAt'), targetRisk: mg('targetRisk'), maxAddPerTradeSats: mg('maxAddPerTradeSats'), maxAddPerDaySats: mg('maxAddPerDaySats') }) } : {},
    });
    const r = await post('/v1/simulations', body);
    flash('Simulation started.');
    onStarted(r.id);
  });
}

/** One uPlot line chart (uPlot is a classic script from /vendor, a global). */
function lineChart(target, title, xs, ys, color, yFmt, range) {
  const width = Math.max(260, target.clientWidth || 600);
  const u = new uPlot({
    width, height: 160, legend: { show: false }, title,
    scales: { x: { time: false }, y: range ? { range } : {} },
    axes: [{ stroke: '#6a737d', label: 'step' }, { stroke: '#6a737d', size: 64, values: (u, v) => v.map(yFmt) }],
    series: [{}, { label: title, stroke: color, width: 2 }],
  }, [xs, ys], target);
  charts.push({ u, target });
  return u;
}
const resizer = new ResizeObserver(() => { for (const c of charts) c.u.setSize({ width: Math.max(260, c.target.clientWidth), height: 160 }); });

function summaryView(s) {
  if (!s) return el('p', { class: 'muted' }, 'Running…');
  const acts = Object.entries(s.actionsByType || {}).map(([k, v]) => k + ' ×' + v).join(', ') || 'none';
  return el('dl', { class: 'facts', id: 'sim-summary' },
    el('dt', {}, 'Final price'), el('dd', {}, fmt.usd(s.finalPrice)),
    el('dt', {}, 'Final PnL'), el('dd', { class: s.finalPnlSats < 0 ? 'bad' : 'ok' }, fmt.signedSats(s.finalPnlSats)),
    el('dt', {}, 'Final equity'), el('dd', {}, fmt.sats(s.finalEquitySats)),
    el('dt', {}, 'Max drawdown'), el('dd', {}, fmt.sats(s.maxDrawdownSats) + ' (' + fmt.pct(s.maxDrawdownPct) + ')'),
    el('dt', {}, 'Actions'), el('dd', {}, acts),
    el('dt', {}, 'Liquidated'), el('dd', { class: s.liquidated ? 'bad' : 'ok' }, s.liquidated ? 'yes (' + s.liquidations + ')' : 'no'),
    el('dt', {}, 'Time'), el('dd', {}, s.durationMs + ' ms'));
}

async function showRun(box, id, ctx, seq) {
  charts.splice(0).forEach((c) => c.u.destroy());
  const head = el('div');
  const priceEl = el('div', { class: 'chart', id: 'chart-price' });
  const riskEl = el('div', { class: 'chart', id: 'chart-risk' });
  const eqEl = el('div', { class: 'chart', id: 'chart-equity' });
  const sumEl = el('div');
  fill(box, head, el('div', { class: 'charts' }, priceEl, riskEl, eqEl), sumEl);
  const steps = [];
  let cursor = null;
  let drawn = false;
  let bt = null;
  const draw = (backtest) => {
    if (backtest) {
      if (!steps.length) return;
      if (!bt) {
        riskEl.remove();
        priceEl.parentNode.classList.add('two');
        bt = backtestCharts(priceEl, eqEl, steps);
        charts.push(...bt.charts);
        bt.charts.forEach((c) => resizer.observe(c.target));
      } else bt.update(steps);
      return;
    }
    const xs = steps.map((s) => s.step);
    if (!drawn) {
      if (!xs.length) return;
      lineChart(priceEl, 'Price (USD)', xs, steps.map((s) => s.price), '#1967d2', (v) => '$' + Math.round(v).toLocaleString('en-US'));
      lineChart(riskEl, 'Risk', xs, steps.map((s) => s.risk), '#c5221f', (v) => Math.round(v * 100) + '%', [0, 1]);
      lineChart(eqEl, 'Equity (sats)', xs, steps.map((s) => s.equitySats), '#188038', (v) => (v / 1e6).toFixed(2) + 'M');
      charts.forEach((c) => resizer.observe(c.target));
      drawn = true;
    } else {
      charts[0].u.setData([xs, steps.map((s) => s.price)]);
      charts[1].u.setData([xs, steps.map((s) => s.risk)]);
      charts[2].u.setData([xs, steps.map((s) => s.equitySats)]);
    }
  };
  for (;;) {
    const sim = await get('/v1/simulations/' + seg(id));
    // Every saved step, 1,000 at a time (cursor = the last step seen); a chart holds MAX_CHART_STEPS.
    while (steps.length < MAX_CHART_STEPS) {
      const page = await get('/v1/simulations/' + seg(id) + '/results?limit=1000' + (cursor ? '&cursor=' + cursor : ''));
      steps.push(...page.data);
      if (page.data.length) cursor = String(page.data[page.data.length - 1].step);
      if (!page.nextCursor || !ctx.alive(seq)) break;
    }
    if (!ctx.alive(seq) || !box.isConnected) return;
    fill(head, el('p', {}, el('strong', {}, sim.scenario), ' · ', el('span', { class: 'tag ' + (sim.status === 'completed' ? 'ok' : sim.status === 'failed' ? 'critical' : '') , id: 'sim-status' }, sim.status),
      ' · step ', sim.progress ? sim.progress.step + ' / ' + sim.progress.steps : steps.length, sim.error ? el('span', { class: 'bad' }, ' ' + sim.error) : null,
      sim.status === 'running' ? el('button', { type: 'button', onclick: async () => { await del('/v1/simulations/' + seg(id)); flash('Canceled.'); } }, 'Cancel') : null),
      steps.length >= MAX_CHART_STEPS ? el('p', { class: 'muted small' }, 'The charts show the first ' + MAX_CHART_STEPS.toLocaleString('en-US') + ' steps; /results and results.csv have them all.') : null);
    const backtest = sim.scenario === 'backtest';
    draw(backtest);
    fill(sumEl, backtest ? backtestSummaryView(sim.summary) : summaryView(sim.summary));
    if (sim.status !== 'running') return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function render(main, ctx, seq) {
  const run = el('div', { id: 'sim-run' });
  const list = el('div', { id: 'sim-list' });
  const open = (id) => { history.replaceState(null, '', '#/simulations?id=' + encodeURIComponent(id)); showRun(run, id, ctx, seq).catch((e) => fill(run, el('p', { class: 'bad' }, e.message))); loadList(); };
  main.append(card('Run', run), card('New simulation', el('p', { class: 'muted small' }, 'Replays the automation logic live trading runs against a seeded price path: nothing reaches an exchange.'), startForm(open)),
    card('New backtest', el('p', { class: 'muted small' }, 'Walks the automations and the same position without them through a network\'s candle history, with the spread, fees and funding: nothing is sent to an exchange.'), backtestForm((id) => { flash('Backtest started.'); open(id); })),
    card('Past runs', list));
  async function loadList() {
    const r = await get('/v1/simulations?limit=20');
    if (!ctx.alive(seq)) return;
    fill(list, table(['started', 'scenario', 'status', 'final PnL', ''], r.data.map((s) => [fmt.when(s.createdAt ?? s.startedAt), s.scenario, s.status, s.summary ? fmt.signedSats(s.summary.finalPnlSats) : '—',
      el('button', { type: 'button', onclick: () => open(s.id) }, 'Show')]), { label: 'simulations', empty: 'No simulation yet.' }));
  }
  ctx.onLeave(() => { charts.splice(0).forEach((c) => c.u.destroy()); resizer.disconnect(); });
  const id = new URLSearchParams(location.hash.split('?')[1] || '').get('id');
  await loadList();
  if (id) open(id);
  else fill(run, el('p', { class: 'muted' }, 'Start a simulation below, or pick a past run.'));
}
