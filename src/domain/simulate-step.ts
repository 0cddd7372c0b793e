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
import { paysFunding, fundingFeeSats } from "./backtest-exchange";
import { PRICE_TICK, roundToTick } from "./inverse";
import { evaluateAutoEntry, initialAutoEntryState } from "./auto-entry";
import { evaluateMarginGuard, initialMarginGuardState } from "./margin-guard";
import { evaluateTpSl, initialTpSlState } from "./tp-sl";
import { tradeRisk } from "./trade";
import { closeTrade, equityAt, exitPriceField, feeFor, liquidate, marketFill, openTrade, simLiquidation, sizeOf, trailingLevel } from "./simulate-orders";
import type { CreateSimulationInput, SimAction, SimState, StepRecord } from "./simulate-types";

// The pieces live beside this module; importers of simulate-step see them all.
export { FEE_RATE, equityAt, feeFor, marketFill } from "./simulate-orders";
export { accumulateSummary, initialSummary, type SimSummary } from "./simulate-summary";
export type * from "./simulate-types";

/** Free balance beside the position when the caller gives none: 0.01 BTC. */
export const DEFAULT_FREE_BALANCE_SATS = 1_000_000;
/** Offer minus bid when the caller gives none: the simulator's default (sim/README.md). */
export const DEFAULT_SPREAD_USD = 5;

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

function exchangeSide(state: SimState, price: number, actions: SimAction[]): void {
  for (const t of [...state.trades]) {
    const long = t.side === "buy";
    if (t.liquidation > 0 && (long ? price <= t.liquidation : price >= t.liquidation)) {
      liquidate(state, t, actions);
    } else if (t.stoploss > 0 && (long ? price <= t.stoploss : price >= t.stoploss)) {
      actions.push({ type: "stoploss_hit", tradeId: t.id, ...exitPriceField(state, t, price), amountSats: closeTrade(state, t, price) });
    } else if (t.takeprofit > 0 && (long ? price >= t.takeprofit : price <= t.takeprofit)) {
      actions.push({ type: "takeprofit_hit", tradeId: t.id, ...exitPriceField(state, t, price), amountSats: closeTrade(state, t, price) });
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
        actions.push({ type: "close", tradeId: t.id, ...exitPriceField(state, t, price), amountSats: closeTrade(state, t, price), reason: d.reason });
      } else {
        const amount = Math.min(d.action.amountSats, state.balanceSats);
        state.balanceSats -= amount;
        t.margin += amount;
        if (state.marginAddedSats !== undefined) state.marginAddedSats += amount;
        if (t.marginAddedSats !== undefined) t.marginAddedSats += amount;
        t.liquidation = t.margin <= 0 ? t.entryPrice : simLiquidation(t.side, t.quantity, t.entryPrice, t.margin);
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
        actions.push({ type: "close", tradeId: t.id, ...exitPriceField(state, t, price), amountSats: closeTrade(state, t, price), reason: ch.reason });
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
 * follows the margin (at the entry price once none is left); a trade whose new liquidation
 * the last price `last` has reached is liquidated at once. Price decides, as in the
 * simulator's exchange (sim/src/funding.ts fundTrade, sim/src/positions.ts liquidationOf):
 * a profitable trade whose margin funding has emptied stays open until the price comes back
 * to its entry (before: liquidated at once when its margin fell under 1 sat, a rule no source
 * gave). Mutates `state`; returns the actions.
 */
export function applyFunding(state: SimState, rate: number, fixingPrice: number, last: number): SimAction[] {
  const actions: SimAction[] = [];
  if (rate === 0) return actions;
  for (const t of [...state.trades]) {
    const fee = fundingFeeSats(t.quantity, fixingPrice, rate);
    const paid = paysFunding(t.side, rate) ? Math.min(fee, Math.max(0, t.margin)) : -fee;
    if (paid === 0) continue;
    t.margin -= paid;
    t.fundingSats = (t.fundingSats ?? 0) + paid;
    state.fundingSats = (state.fundingSats ?? 0) + paid;
    t.liquidation = t.margin <= 0 ? t.entryPrice : simLiquidation(t.side, t.quantity, t.entryPrice, t.margin);
    actions.push({ type: "funding", tradeId: t.id, amountSats: -paid, value: rate });
    const long = t.side === "buy";
    if (t.liquidation > 0 && (long ? last <= t.liquidation : last >= t.liquidation)) liquidate(state, t, actions);
  }
  return actions;
}
