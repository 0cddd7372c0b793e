/**
 * One step of a simulation (issue 8): the exchange side first (liquidation, stop loss, take
 * profit, trailing stops at the new price), then the automations react exactly as they do
 * live (Margin Guard, TP/SL, Auto Entry, same pure functions), with LN Markets' fee model.
 * Deterministic: the same state and price always give the same next state and record.
 *
 * Prices: the scenario gives the last price. As on the exchange, market orders fill at the
 * spread (a buy at the offer, last + spread/2 rounded up to the 0.5 tick; a sell at the bid,
 * last - spread/2 rounded down), a close fills on the opposite side, while P&L, liquidation,
 * take profit and stop loss are judged on the last price (../shared/lnmarkets-v3.md "Bid,
 * offer and last"; LN Markets docs, Futures, "Price reference").
 *
 * Backtests (issue 24) turn on the exchange's remaining money flows per state: a fee rate
 * other than tier 1 (`feeRate`), the closing fee of a liquidation taken from the maintenance
 * reserve (`liquidationFee`) and funding settlements ({@link applyFunding}). Without them a
 * state behaves as it always did, so saved simulations replay the same.
 */
import { maintenanceReserveSats, paysFunding, fundingFeeSats } from "./backtest-exchange";
import {
  PRICE_TICK,
  SATS_PER_BTC,
  liquidationPrice,
  marginFor,
  pnl,
  quantityFor,
  roundToTick,
  type Side,
} from "./inverse";
import { evaluateAutoEntry, initialAutoEntryState, type AutoEntryConfig, type AutoEntryState } from "./auto-entry";
import { evaluateMarginGuard, initialMarginGuardState, type MarginGuardConfig, type MarginGuardState } from "./margin-guard";
import { evaluateTpSl, initialTpSlState, type TpSlConfig, type TpSlState } from "./tp-sl";
import { tradeRisk, type RunningTrade } from "./trade";

/** LN Markets' trading fee: 0.1 % of the notional, on opening and on closing. */
export const FEE_RATE = 0.001;
/** Free balance beside the position when the caller gives none: 0.01 BTC. */
export const DEFAULT_FREE_BALANCE_SATS = 1_000_000;
/** Offer minus bid when the caller gives none: the simulator's default (sim/README.md). */
export const DEFAULT_SPREAD_USD = 5;

const ceilTick = (p: number) => Math.ceil(p / PRICE_TICK - 1e-9) * PRICE_TICK;
const floorTick = (p: number) => Math.floor(p / PRICE_TICK + 1e-9) * PRICE_TICK;

/**
 * Where a market order fills: buying at the offer (last + spread/2, up to the tick), selling
 * at the bid (last - spread/2, down to the tick, never below one tick).
 */
export function marketFill(side: Side, last: number, spread: number): number {
  return side === "buy" ? ceilTick(last + spread / 2) : Math.max(PRICE_TICK, floorTick(last - spread / 2));
}

const opposite = (side: Side): Side => (side === "buy" ? "sell" : "buy");

/** Fee in sats for `quantity` USD at `price` (tier 1 unless `rate` is given). */
export function feeFor(quantity: number, price: number, rate: number = FEE_RATE): number {
  return Math.floor(((quantity * SATS_PER_BTC) / price) * rate);
}

/** Liquidation on the tick, rounded towards entry as the exchange does (never in our favour). */
function simLiquidation(side: Side, quantity: number, entry: number, margin: number): number {
  const raw = liquidationPrice(side, quantity, entry, margin);
  if (!Number.isFinite(raw)) return 0;
  return side === "buy" ? Math.ceil(raw / PRICE_TICK - 1e-9) * PRICE_TICK : Math.floor(raw / PRICE_TICK + 1e-9) * PRICE_TICK;
}

export interface SimTrade extends RunningTrade {
  takeprofit: number;
  stoploss: number;
  stoplossTrailingDistance: number;
  leverage: number;
  /** Simulated time of the opening (ms). */
  openedAt?: number;
  openingFeeSats?: number;
  /** The maintenance margin left after the opening fee: pays a liquidation's closing fee. */
  reserveSats?: number;
  /** Funding paid by this trade so far (sats, negative = received). */
  fundingSats?: number;
  /** Sats added as margin by automations. */
  marginAddedSats?: number;
}

export interface SimAutomations {
  margin_guard?: MarginGuardConfig;
  tp_sl?: TpSlConfig;
  auto_entry?: AutoEntryConfig;
}

export interface SimState {
  step: number;
  /** Offer minus bid, USD; absent on runs saved before it existed (filled at the last price). */
  spread?: number;
  startMs: number;
  stepMs: number;
  balanceSats: number;
  trades: SimTrade[];
  nextTradeId: number;
  initialEquitySats: number;
  feesSats: number;
  liquidations: number;
  automations: SimAutomations;
  guardState: MarginGuardState;
  tpSlState: TpSlState;
  entryState: AutoEntryState;
  /** Trading fee rate (default {@link FEE_RATE}, tier 1). */
  feeRate?: number;
  /** Charge a liquidation's closing fee from the trade's maintenance reserve, as the exchange does. */
  liquidationFee?: boolean;
  /** Net funding paid (sats, negative = received). */
  fundingSats?: number;
  /** Sats the automations added as margin. */
  marginAddedSats?: number;
}

export type SimActionType =
  | "open"
  | "add_margin"
  | "close"
  | "liquidation"
  | "stoploss_hit"
  | "takeprofit_hit"
  | "set_takeprofit"
  | "set_stoploss"
  | "funding";

export interface SimAction {
  type: SimActionType;
  tradeId: string;
  /** Sats moved (margin added, PnL realised on a close). */
  amountSats?: number;
  /** Price level set (TP/SL), or the funding rate. */
  value?: number;
  /** Fill price of an open or an exit (liquidation: the liquidation price). */
  price?: number;
  reason?: string;
}

export interface StepRecord {
  step: number;
  price: number;
  /** Highest risk among running trades after the step, 0 when flat. */
  risk: number;
  /** Equity minus initial equity: realised and unrealised PnL net of fees. */
  pnlSats: number;
  equitySats: number;
  actions: SimAction[];
}

export interface SimPosition {
  side: Side;
  quantity?: number;
  margin?: number;
  leverage: number;
}

export interface CreateSimulationInput {
  initialPrice: number;
  position?: SimPosition;
  automations?: SimAutomations;
  /** Free balance after opening the position. */
  freeBalanceSats?: number;
  /** Simulated clock: step n happens at startMs + n * stepMs. */
  startMs?: number;
  stepMs?: number;
  /** Offer minus bid in USD (default {@link DEFAULT_SPREAD_USD}). */
  spread?: number;
  /** Trading fee rate (default tier 1, 0.1 %). */
  feeRate?: number;
  /** Take a liquidation's closing fee from the maintenance reserve (backtests). */
  liquidationFee?: boolean;
}

/** Quantity and margin of an order given by one of them, as the exchange sizes it. */
function sizeOf(size: { quantity?: number; margin?: number }, price: number, leverage: number): { quantity: number; margin: number } {
  const quantity = size.quantity ?? quantityFor(size.margin ?? 0, price, leverage);
  return { quantity, margin: size.margin ?? marginFor(quantity, price, leverage) };
}

/** Opens a market order at `last`: it fills at the offer (buy) or the bid (sell). */
function openTrade(state: SimState, side: Side, leverage: number, last: number, size: { quantity?: number; margin?: number }, now: number): SimTrade | null {
  const price = marketFill(side, last, state.spread ?? 0);
  const { quantity, margin } = sizeOf(size, price, leverage);
  if (quantity < 1 || margin < 1) return null;
  const fee = feeFor(quantity, price, state.feeRate);
  if (margin + fee > state.balanceSats) return null;
  state.balanceSats -= margin + fee;
  state.feesSats += fee;
  const trade: SimTrade = {
    id: `sim-${state.nextTradeId++}`,
    side,
    quantity,
    entryPrice: price,
    margin,
    leverage,
    liquidation: simLiquidation(side, quantity, price, margin),
    takeprofit: 0,
    stoploss: 0,
    stoplossTrailingDistance: 0,
  };
  if (state.liquidationFee) {
    Object.assign(trade, { openedAt: now, openingFeeSats: fee, fundingSats: 0, marginAddedSats: 0, reserveSats: Math.max(0, maintenanceReserveSats(side, quantity, price, margin) - fee) });
  }
  state.trades.push(trade);
  return trade;
}

/**
 * Start a simulation: the position (if any) opened at `initialPrice` with its fee.
 * @throws RangeError on a bad initial price or a position that cannot be opened (under 1 USD
 * or 1 sat of margin).
 */
export function createSimulation(input: CreateSimulationInput): SimState {
  const free = input.freeBalanceSats ?? DEFAULT_FREE_BALANCE_SATS;
  const state: SimState = {
    step: 0,
    startMs: input.startMs ?? 0,
    stepMs: input.stepMs ?? 100,
    spread: input.spread ?? DEFAULT_SPREAD_USD,
    balanceSats: free,
    trades: [],
    nextTradeId: 1,
    initialEquitySats: 0,
    feesSats: 0,
    liquidations: 0,
    automations: input.automations ?? {},
    guardState: initialMarginGuardState(),
    tpSlState: initialTpSlState(),
    entryState: initialAutoEntryState(),
    ...(input.feeRate !== undefined ? { feeRate: input.feeRate } : {}),
    ...(input.liquidationFee ? { liquidationFee: true, fundingSats: 0, marginAddedSats: 0 } : {}),
  };
  const price = roundToTick(input.initialPrice);
  if (!(Number.isFinite(price) && price > 0)) throw new RangeError("initialPrice must be positive and finite");
  if (!(Number.isFinite(state.spread) && state.spread! >= 0)) throw new RangeError("spread must be a non-negative number");
  const p = input.position;
  if (p) {
    const size = p.quantity !== undefined ? { quantity: p.quantity } : { margin: p.margin ?? 0 };
    const fill = marketFill(p.side, price, state.spread!);
    const { quantity, margin } = sizeOf(size, fill, p.leverage);
    // The wallet holds the free balance plus what opening the position costs.
    state.balanceSats += margin + feeFor(quantity, fill, state.feeRate);
    if (!openTrade(state, p.side, p.leverage, price, size, state.startMs)) throw new RangeError("position too small to open");
  }
  // What the wallet held before opening: the opening fee and the spread paid (the position is
  // worth less at the last price than it cost at the offer) show as the first loss in PnL.
  state.initialEquitySats = state.balanceSats + state.trades.reduce((sum, t) => sum + t.margin, 0) + state.feesSats;
  return state;
}

/** Free balance plus each running trade's margin and unrealised PnL at `price`. */
export function equityAt(state: SimState, price: number): number {
  let e = state.balanceSats;
  for (const t of state.trades) e += Math.max(0, t.margin + pnl(t.side, t.quantity, t.entryPrice, price));
  return Math.round(e);
}

/** Closes at market: the exit fills on the opposite side of the spread from `last`. */
function closeTrade(state: SimState, t: SimTrade, last: number): number {
  const price = marketFill(opposite(t.side), last, state.spread ?? 0);
  const fee = feeFor(t.quantity, price, state.feeRate);
  const realised = Math.round(pnl(t.side, t.quantity, t.entryPrice, price));
  state.balanceSats += Math.max(0, t.margin + realised - fee);
  state.feesSats += fee;
  state.trades = state.trades.filter((x) => x.id !== t.id);
  return realised - fee;
}

/** A trailing stop's level at `price`: `fraction` of it behind, on the tick. */
function trailingLevel(side: Side, price: number, fraction: number): number {
  return Math.max(PRICE_TICK, roundToTick(side === "buy" ? price * (1 - fraction) : price * (1 + fraction)));
}

/** The exit price of a market close at `last` (the opposite side of the spread). */
const exitFill = (state: SimState, t: SimTrade, last: number) => marketFill(opposite(t.side), last, state.spread ?? 0);

/**
 * The exchange liquidates at the liquidation price: the margin is lost. In backtests the
 * closing fee at that price is also taken from the trade's maintenance reserve (capped by it),
 * as the exchange does (sim/README.md, "Fees and maintenance margin").
 */
function liquidate(state: SimState, t: SimTrade, actions: SimAction[]): void {
  state.trades = state.trades.filter((x) => x.id !== t.id);
  state.liquidations += 1;
  let fee = 0;
  if (state.liquidationFee) {
    fee = Math.max(0, Math.min(feeFor(t.quantity, t.liquidation, state.feeRate), t.reserveSats ?? 0, state.balanceSats));
    state.balanceSats -= fee;
    state.feesSats += fee;
    actions.push({ type: "liquidation", tradeId: t.id, amountSats: -t.margin - fee, price: t.liquidation });
  } else {
    actions.push({ type: "liquidation", tradeId: t.id, amountSats: -t.margin });
  }
}

function exchangeSide(state: SimState, price: number, actions: SimAction[]): void {
  const px = (t: SimTrade) => (state.liquidationFee ? { price: exitFill(state, t, price) } : {});
  for (const t of [...state.trades]) {
    const long = t.side === "buy";
    if (t.liquidation > 0 && (long ? price <= t.liquidation : price >= t.liquidation)) {
      liquidate(state, t, actions);
    } else if (t.stoploss > 0 && (long ? price <= t.stoploss : price >= t.stoploss)) {
      actions.push({ type: "stoploss_hit", tradeId: t.id, ...px(t), amountSats: closeTrade(state, t, price) });
    } else if (t.takeprofit > 0 && (long ? price >= t.takeprofit : price <= t.takeprofit)) {
      actions.push({ type: "takeprofit_hit", tradeId: t.id, ...px(t), amountSats: closeTrade(state, t, price) });
    } else if (t.stoplossTrailingDistance > 0 && t.stoploss > 0) {
      // The trailing distance is a fraction of price, as on LN Markets (tp-sl.ts).
      const trailed = trailingLevel(t.side, price, t.stoplossTrailingDistance);
      if (long ? trailed > t.stoploss : trailed < t.stoploss) t.stoploss = trailed;
    }
  }
}

function automationsSide(state: SimState, price: number, now: number, actions: SimAction[]): void {
  const { margin_guard: guard, tp_sl: tpsl, auto_entry: entry } = state.automations;
  const find = (id: string) => state.trades.find((t) => t.id === id);
  if (guard) {
    const r = evaluateMarginGuard({ config: guard, trades: state.trades, price, balanceSats: state.balanceSats, state: state.guardState, now });
    state.guardState = r.nextState;
    for (const d of r.decisions) {
      const t = find(d.tradeId);
      if (!t || !d.action) continue;
      if (d.action.type === "close") {
        const exit = state.liquidationFee ? { price: exitFill(state, t, price) } : {};
        actions.push({ type: "close", tradeId: t.id, ...exit, amountSats: closeTrade(state, t, price), reason: d.reason });
      } else {
        const amount = Math.min(d.action.amountSats, state.balanceSats);
        state.balanceSats -= amount;
        t.margin += amount;
        if (state.marginAddedSats !== undefined) state.marginAddedSats += amount;
        if (t.marginAddedSats !== undefined) t.marginAddedSats += amount;
        t.liquidation = simLiquidation(t.side, t.quantity, t.entryPrice, t.margin);
        actions.push({ type: "add_margin", tradeId: t.id, amountSats: amount, reason: d.reason });
      }
    }
  }
  if (tpsl) {
    const r = evaluateTpSl({ config: tpsl, trades: state.trades, price, state: state.tpSlState });
    state.tpSlState = r.nextState;
    for (const ch of r.changes) {
      const t = find(ch.tradeId);
      if (!t) continue;
      if (ch.type === "close") {
        const exit = state.liquidationFee ? { price: exitFill(state, t, price) } : {};
        actions.push({ type: "close", tradeId: t.id, ...exit, amountSats: closeTrade(state, t, price), reason: ch.reason });
      } else if (ch.type === "takeprofit") {
        t.takeprofit = ch.value;
        actions.push({ type: "set_takeprofit", tradeId: t.id, value: ch.value });
      } else {
        // A trailing stop's value is its distance as a fraction of price: the level starts
        // that far from the last price.
        t.stoplossTrailingDistance = ch.mode === "trailing" ? ch.value : 0;
        t.stoploss = ch.mode === "trailing" ? trailingLevel(t.side, price, ch.value) : ch.value;
        actions.push({ type: "set_stoploss", tradeId: t.id, value: t.stoploss, reason: ch.mode });
      }
    }
  }
  if (entry) {
    const openTrades = state.trades.filter((t) => t.side === entry.side);
    const r = evaluateAutoEntry({ config: entry, price, now, openTrades, state: state.entryState });
    state.entryState = r.nextState;
    if (r.open) {
      const size = r.open.quantity !== undefined ? { quantity: r.open.quantity } : { margin: r.open.margin ?? 0 };
      const t = openTrade(state, r.open.side, r.open.leverage, price, size, now);
      if (t) {
        t.takeprofit = r.open.takeprofit ?? 0;
        t.stoploss = r.open.stoploss ?? 0;
        actions.push({ type: "open", tradeId: t.id, amountSats: t.margin, reason: "auto_entry", ...(state.liquidationFee ? { price: t.entryPrice } : {}) });
      } else {
        actions.push({ type: "open", tradeId: "", reason: "rejected_insufficient_balance" });
      }
    }
  }
}

/**
 * Advance one step to `price`: exchange triggers first (a price past liquidation liquidates
 * before any automation can react, as on the exchange), then the automations.
 * Returns a new state; the input is not mutated.
 */
export function simulateStep(prev: SimState, rawPrice: number): { state: SimState; record: StepRecord } {
  const state: SimState = structuredClone(prev);
  return { state, record: advanceStep(state, rawPrice) };
}

/**
 * {@link simulateStep} in place: mutates `state` (no copy, for long backtests). `at` is the
 * simulated time of the step; by default startMs + step * stepMs.
 */
export function advanceStep(state: SimState, rawPrice: number, at?: number): StepRecord {
  if (!(Number.isFinite(rawPrice) && rawPrice > 0)) throw new RangeError("price must be positive and finite");
  const price = Math.max(PRICE_TICK, roundToTick(rawPrice));
  state.step += 1;
  const now = at ?? state.startMs + state.step * state.stepMs;
  const actions: SimAction[] = [];
  exchangeSide(state, price, actions);
  automationsSide(state, price, now, actions);
  const equitySats = equityAt(state, price);
  const risk = state.trades.reduce((m, t) => Math.max(m, tradeRisk(t, price)), 0);
  return { step: state.step, price, risk, pnlSats: equitySats - state.initialEquitySats, equitySats, actions };
}

/**
 * A funding settlement at `rate`, fixed at `fixingPrice`, as the exchange settles it: each
 * running trade pays or receives floor(q / fixing * |rate| * 1e8) sats from or into its margin
 * (a payer's capped at its margin); a positive rate makes longs pay. The liquidation price
 * follows the margin; a trade whose new liquidation the last price `last` has reached is
 * liquidated at once. Mutates `state`; returns the actions.
 */
export function applyFunding(state: SimState, rate: number, fixingPrice: number, last: number): SimAction[] {
  const actions: SimAction[] = [];
  if (rate === 0) return actions;
  for (const t of [...state.trades]) {
    const fee = fundingFeeSats(t.quantity, fixingPrice, rate);
    const paid = paysFunding(t.side, rate) ? Math.min(fee, t.margin) : -fee;
    if (paid === 0) continue;
    t.margin -= paid;
    t.fundingSats = (t.fundingSats ?? 0) + paid;
    state.fundingSats = (state.fundingSats ?? 0) + paid;
    t.liquidation = simLiquidation(t.side, t.quantity, t.entryPrice, t.margin);
    actions.push({ type: "funding", tradeId: t.id, amountSats: -paid, value: rate });
    const long = t.side === "buy";
    if (t.margin < 1 || (t.liquidation > 0 && (long ? last <= t.liquidation : last >= t.liquidation))) liquidate(state, t, actions);
  }
  return actions;
}

export interface SimSummary {
  steps: number;
  finalPrice: number | null;
  finalPnlSats: number;
  finalEquitySats: number;
  peakEquitySats: number;
  /** Largest fall of equity from a previous peak, sats and share of that peak. */
  maxDrawdownSats: number;
  maxDrawdownPct: number;
  actionsByType: Partial<Record<SimActionType, number>>;
  liquidated: boolean;
  liquidations: number;
}

/** The summary before any step. */
export function initialSummary(state: SimState): SimSummary {
  return {
    steps: 0,
    finalPrice: null,
    finalPnlSats: 0,
    finalEquitySats: state.initialEquitySats,
    peakEquitySats: state.initialEquitySats,
    maxDrawdownSats: 0,
    maxDrawdownPct: 0,
    actionsByType: {},
    liquidated: false,
    liquidations: 0,
  };
}

/** Fold one step record into the summary (pure: returns a new summary). */
export function accumulateSummary(s: SimSummary, r: StepRecord): SimSummary {
  const peak = Math.max(s.peakEquitySats, r.equitySats);
  const dd = peak - r.equitySats;
  const actionsByType = { ...s.actionsByType };
  let liquidations = s.liquidations;
  for (const a of r.actions) {
    actionsByType[a.type] = (actionsByType[a.type] ?? 0) + 1;
    if (a.type === "liquidation") liquidations += 1;
  }
  const worse = dd > s.maxDrawdownSats;
  return {
    steps: s.steps + 1,
    finalPrice: r.price,
    finalPnlSats: r.pnlSats,
    finalEquitySats: r.equitySats,
    peakEquitySats: peak,
    maxDrawdownSats: worse ? dd : s.maxDrawdownSats,
    maxDrawdownPct: worse ? (peak > 0 ? dd / peak : 0) : s.maxDrawdownPct,
    actionsByType,
    liquidated: liquidations > 0,
    liquidations,
  };
}
