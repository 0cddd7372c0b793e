/**
 * Backtests on candle history (issue 24). Two runs walk the same candles in lockstep: the
 * automated one (the position plus the automations, the same pure step as live trading and
 * simulations) and the baseline (the same position, no automation). Each run pays what the
 * exchange charges: fills at the spread, opening and closing fees at the fee rate, a
 * liquidation's closing fee from the maintenance reserve, and funding at every funding slot
 * (04:00, 12:00, 20:00 UTC) at the settled rate, else the configured one.
 *
 * Within a candle each run walks open -> worst extreme -> other extreme -> close for its own
 * exposure (backtest-candles.ts `candleWalk`: a long sees the low first), so a liquidation
 * inside a candle is never missed. The state is plain JSON: the SimulationDO saves it between
 * chunks and resumes. Pure: no runtime imports.
 */
import { candleWalk, type BtCandle, type Exposure } from "./backtest-candles";
import { fundingSlotsBetween } from "./backtest-exchange";
import { pnl } from "./inverse";
import {
  advanceStep,
  applyFunding,
  createSimulation,
  feeFor,
  type SimAction,
  type SimActionType,
  type SimAutomations,
  type SimPosition,
  type SimState,
  type SimSummary,
  type SimTrade,
} from "./simulate-step";

export interface BacktestConfig {
  position?: SimPosition;
  automations: SimAutomations;
  freeBalanceSats?: number;
  /** Offer minus bid, USD (default 5). */
  spread?: number;
  /** Trading fee rate (default 0.001, tier 1). */
  feeRate?: number;
  /** Funding rate per settlement for slots with no settlement in the history. */
  fundingRate: number;
}

/** What one run did, the side-by-side report's row. */
export interface RunReport {
  finalPnlSats: number;
  finalEquitySats: number;
  peakEquitySats: number;
  maxDrawdownSats: number;
  maxDrawdownPct: number;
  liquidations: number;
  marginAddedSats: number;
  feesSats: number;
  /** Net funding paid (negative = received). */
  fundingSats: number;
  actionsByType: Partial<Record<SimActionType, number>>;
  /** Time with at least one trade running. */
  exposureMs: number;
}

export type RunName = "automated" | "baseline";

/** One trade from its opening to its exit (or to the end of the backtest: reason "open"). */
export interface TradeReport {
  run: RunName;
  tradeId: string;
  side: "buy" | "sell";
  quantity: number;
  leverage: number;
  entryTime: number;
  entryPrice: number;
  exitTime: number | null;
  exitPrice: number;
  reason: string;
  marginAddedSats: number;
  feesSats: number;
  fundingSats: number;
  /** Sats out minus sats in: net of fees and funding. */
  pnlSats: number;
}

interface TradeTally {
  closed: number;
  wins: number;
  grossWinSats: number;
  grossLossSats: number;
}

interface RunTrack {
  state: SimState;
  report: RunReport;
  tally: TradeTally;
  lastAt: number;
  lastPrice: number;
}

export interface BacktestState {
  config: BacktestConfig;
  automated: RunTrack;
  baseline: RunTrack;
  candles: number;
  firstTime: number;
  lastTime: number;
}

/** What one candle produced, as saved per step. */
export interface BacktestStep {
  step: number;
  time: number;
  price: number;
  low: number;
  high: number;
  /** Highest risk of the automated run inside the candle. */
  risk: number;
  pnlSats: number;
  equitySats: number;
  actions: SimAction[];
  baseline: { pnlSats: number; equitySats: number; risk: number; actions: SimAction[] };
}

function newRun(config: BacktestConfig, first: BtCandle, automations: SimAutomations): RunTrack {
  const state = createSimulation({
    initialPrice: first.open,
    automations,
    ...(config.position ? { position: config.position } : {}),
    ...(config.freeBalanceSats !== undefined ? { freeBalanceSats: config.freeBalanceSats } : {}),
    ...(config.spread !== undefined ? { spread: config.spread } : {}),
    ...(config.feeRate !== undefined ? { feeRate: config.feeRate } : {}),
    liquidationFee: true,
    startMs: first.time,
  });
  const equity = state.initialEquitySats;
  return {
    state,
    report: {
      finalPnlSats: 0, finalEquitySats: equity, peakEquitySats: equity, maxDrawdownSats: 0, maxDrawdownPct: 0, liquidations: 0,
      marginAddedSats: 0, feesSats: state.feesSats, fundingSats: 0, actionsByType: {}, exposureMs: 0,
    },
    tally: { closed: 0, wins: 0, grossWinSats: 0, grossLossSats: 0 },
    lastAt: first.time,
    lastPrice: first.open,
  };
}

/**
 * Start a backtest at the first candle's open: the position (if any) opens there in both runs.
 * @throws RangeError when the position cannot be opened (as createSimulation).
 */
export function createBacktest(config: BacktestConfig, first: BtCandle): BacktestState {
  return {
    config,
    automated: newRun(config, first, config.automations),
    baseline: newRun(config, first, {}),
    candles: 0,
    firstTime: first.time,
    lastTime: first.time,
  };
}

function exposureOf(state: SimState): Exposure {
  let net = 0;
  for (const t of state.trades) net += t.side === "buy" ? t.quantity : -t.quantity;
  return net > 0 ? "long" : net < 0 ? "short" : "flat";
}

const EXITS: Partial<Record<SimActionType, string>> = { liquidation: "liquidation", stoploss_hit: "stoploss", takeprofit_hit: "takeprofit", close: "close" };

function tradeReport(run: RunName, t: SimTrade, exit: { time: number | null; price: number; reason: string; closingFee: number; outSats: number }): TradeReport {
  const funding = t.fundingSats ?? 0;
  const opening = t.openingFeeSats ?? 0;
  // Sats in: the initial margin, the margin added and the opening fee; funding came out of the margin.
  const inSats = t.margin + funding + opening;
  return {
    run, tradeId: t.id, side: t.side, quantity: t.quantity, leverage: t.leverage, entryTime: t.openedAt ?? 0, entryPrice: t.entryPrice,
    exitTime: exit.time, exitPrice: exit.price, reason: exit.reason, marginAddedSats: t.marginAddedSats ?? 0,
    feesSats: opening + exit.closingFee, fundingSats: funding, pnlSats: exit.outSats - inSats,
  };
}

function tally(run: RunTrack, r: TradeReport): void {
  run.tally.closed += 1;
  if (r.pnlSats > 0) {
    run.tally.wins += 1;
    run.tally.grossWinSats += r.pnlSats;
  } else {
    run.tally.grossLossSats += -r.pnlSats;
  }
}

/** Exits among `actions`, reported from the trades as they were before the step (`before`). */
function exits(name: RunName, run: RunTrack, before: SimTrade[], actions: SimAction[], at: number, out: TradeReport[]): void {
  for (const a of actions) {
    const kind = EXITS[a.type];
    if (!kind) continue;
    const t = before.find((x) => x.id === a.tradeId);
    if (!t) continue;
    const amount = a.amountSats ?? 0;
    const price = a.price ?? run.lastPrice;
    const liquidated = a.type === "liquidation";
    const closingFee = liquidated ? -amount - t.margin : feeFor(t.quantity, price, run.state.feeRate);
    const outSats = liquidated ? amount + t.margin : Math.max(0, t.margin + amount);
    const r = tradeReport(name, t, { time: at, price, reason: a.type === "close" ? (a.reason ?? "close") : kind, closingFee, outSats });
    tally(run, r);
    out.push(r);
  }
}

function fold(report: RunReport, equity: number, initial: number, actions: SimAction[]): void {
  report.finalEquitySats = equity;
  report.finalPnlSats = equity - initial;
  if (equity > report.peakEquitySats) report.peakEquitySats = equity;
  const dd = report.peakEquitySats - equity;
  if (dd > report.maxDrawdownSats) {
    report.maxDrawdownSats = dd;
    report.maxDrawdownPct = report.peakEquitySats > 0 ? dd / report.peakEquitySats : 0;
  }
  for (const a of actions) {
    report.actionsByType[a.type] = (report.actionsByType[a.type] ?? 0) + 1;
    if (a.type === "liquidation") report.liquidations += 1;
  }
}

/** One run through one candle. Mutates the run; returns the candle's actions and peak risk. */
function walk(name: RunName, run: RunTrack, c: BtCandle, durationMs: number, rateAt: (slot: number) => number, trades: TradeReport[]) {
  const state = run.state;
  const actions: SimAction[] = [];
  let risk = 0;
  for (const { price, at } of candleWalk(c, exposureOf(state), durationMs)) {
    if (state.trades.length > 0) run.report.exposureMs += Math.max(0, at - run.lastAt);
    let before = state.trades;
    for (const slot of fundingSlotsBetween(run.lastAt, at)) {
      const funded = applyFunding(state, rateAt(slot), price, price);
      exits(name, run, before, funded, at, trades);
      actions.push(...funded);
      fold(run.report, run.report.finalEquitySats, state.initialEquitySats, funded);
      before = state.trades;
    }
    run.lastAt = at;
    // Same price as the previous sub-step: nothing can trigger that did not already.
    if (price === run.lastPrice && state.step > 0) continue;
    const rec = advanceStep(state, price, at);
    run.lastPrice = price;
    exits(name, run, before, rec.actions, at, trades);
    actions.push(...rec.actions);
    fold(run.report, rec.equitySats, state.initialEquitySats, rec.actions);
    if (rec.risk > risk) risk = rec.risk;
  }
  run.report.feesSats = state.feesSats;
  run.report.fundingSats = state.fundingSats ?? 0;
  run.report.marginAddedSats = state.marginAddedSats ?? 0;
  return { actions, risk };
}

/**
 * Walk both runs through one candle. `rateAt(slot)` gives the funding rate of a settlement
 * slot (the history's, else the configured one). Mutates `bt`; returns the step to save and
 * the trades that ended in it.
 */
export function stepCandle(bt: BacktestState, c: BtCandle, durationMs: number, rateAt: (slot: number) => number): { step: BacktestStep; trades: TradeReport[] } {
  const trades: TradeReport[] = [];
  const a = walk("automated", bt.automated, c, durationMs, rateAt, trades);
  const b = walk("baseline", bt.baseline, c, durationMs, rateAt, trades);
  bt.candles += 1;
  bt.lastTime = c.time;
  const A = bt.automated.report;
  const B = bt.baseline.report;
  return {
    trades,
    step: {
      step: bt.candles, time: c.time, price: bt.automated.lastPrice, low: c.low, high: c.high, risk: a.risk,
      pnlSats: A.finalPnlSats, equitySats: A.finalEquitySats, actions: a.actions,
      baseline: { pnlSats: B.finalPnlSats, equitySats: B.finalEquitySats, risk: b.risk, actions: b.actions },
    },
  };
}

/** Trades still running at the end, marked to the last price (reason "open"). */
export function openTradeReports(bt: BacktestState): TradeReport[] {
  const out: TradeReport[] = [];
  for (const name of ["automated", "baseline"] as const) {
    const run = bt[name];
    for (const t of run.state.trades) {
      const closingFee = feeFor(t.quantity, run.lastPrice, run.state.feeRate);
      const outSats = Math.max(0, t.margin + Math.round(pnl(t.side, t.quantity, t.entryPrice, run.lastPrice)));
      out.push(tradeReport(name, t, { time: null, price: run.lastPrice, reason: "open", closingFee: 0, outSats: outSats - closingFee }));
    }
  }
  return out;
}

export interface TradeStats {
  /** Trades that ended (an exit, a liquidation); running ones are left out. */
  trades: number;
  winRate: number | null;
  avgWinSats: number | null;
  avgLossSats: number | null;
  /** Gross wins over gross losses; null without a losing trade. */
  profitFactor: number | null;
  maxDrawdownSats: number;
  /** Share of the backtest's time with a trade running. */
  exposurePct: number;
}

function stats(run: RunTrack, spanMs: number): TradeStats {
  const t = run.tally;
  const losses = t.closed - t.wins;
  return {
    trades: t.closed,
    winRate: t.closed ? t.wins / t.closed : null,
    avgWinSats: t.wins ? Math.round(t.grossWinSats / t.wins) : null,
    avgLossSats: losses ? -Math.round(t.grossLossSats / losses) : null,
    profitFactor: t.grossLossSats > 0 ? t.grossWinSats / t.grossLossSats : null,
    maxDrawdownSats: run.report.maxDrawdownSats,
    exposurePct: spanMs > 0 ? run.report.exposureMs / spanMs : 0,
  };
}

/** The automated run's figures, in the shape of a simulation summary, and the backtest's own. */
export interface BacktestSummary extends SimSummary {
  from: string;
  to: string;
  automated: RunReport;
  baseline: RunReport;
  /** "saved N of M liquidations for X sats": N = M minus the automated run's liquidations. */
  saved: { liquidations: number; of: number; marginAddedSats: number; text: string };
  trades: { automated: TradeStats; baseline: TradeStats };
}

/** The side-by-side report so far. `endTime` is the end of the last candle walked. */
export function backtestSummary(bt: BacktestState, endTime: number): BacktestSummary {
  const A = bt.automated.report;
  const B = bt.baseline.report;
  const saved = Math.max(0, B.liquidations - A.liquidations);
  const span = Math.max(0, endTime - bt.firstTime);
  return {
    steps: bt.candles,
    finalPrice: bt.candles ? bt.automated.lastPrice : null,
    finalPnlSats: A.finalPnlSats,
    finalEquitySats: A.finalEquitySats,
    peakEquitySats: A.peakEquitySats,
    maxDrawdownSats: A.maxDrawdownSats,
    maxDrawdownPct: A.maxDrawdownPct,
    actionsByType: A.actionsByType,
    liquidated: A.liquidations > 0,
    liquidations: A.liquidations,
    from: new Date(bt.firstTime).toISOString(),
    to: new Date(endTime).toISOString(),
    automated: A,
    baseline: B,
    saved: {
      liquidations: saved,
      of: B.liquidations,
      marginAddedSats: A.marginAddedSats,
      text: `saved ${saved} of ${B.liquidations} liquidations for ${A.marginAddedSats.toLocaleString("en-US")} sats`,
    },
    trades: { automated: stats(bt.automated, span), baseline: stats(bt.baseline, span) },
  };
}

/** Funding rate of a slot: the settlement within 4 h of it in the history, else `fallback`. */
export function fundingRateLookup(settlements: Array<{ time: number; rate: number }>, fallback: number): (slot: number) => number {
  const bySlot = new Map<number, number>();
  const HALF = 4 * 3_600_000;
  for (const s of settlements) {
    // The slot a settlement belongs to: the nearest 04:00/12:00/20:00 UTC.
    const slot = fundingSlotsBetween(s.time - HALF - 1, s.time + HALF - 1)[0];
    if (slot !== undefined) bySlot.set(slot, s.rate);
  }
  return (slot) => bySlot.get(slot) ?? fallback;
}
