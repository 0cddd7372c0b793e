/**
 * The exchange's order mechanics on a simulated wallet (simulate-step.ts): fills at the
 * spread, fees, liquidation prices on the tick, opening, closing and liquidating a trade.
 */
import { maintenanceReserveSats } from "./backtest-exchange";
import { PRICE_TICK, SATS_PER_BTC, liquidationPrice, marginFor, pnl, quantityFor, roundToTick, type Side } from "./inverse";
import type { SimAction, SimState, SimTrade } from "./simulate-types";

/** LN Markets' trading fee: 0.1 % of the notional, on opening and on closing. */
export const FEE_RATE = 0.001;

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
export function simLiquidation(side: Side, quantity: number, entry: number, margin: number): number {
  const raw = liquidationPrice(side, quantity, entry, margin);
  if (!Number.isFinite(raw)) return 0;
  return side === "buy" ? ceilTick(raw) : floorTick(raw);
}

/** Quantity and margin of an order given by one of them, as the exchange sizes it. */
export function sizeOf(size: { quantity?: number; margin?: number }, price: number, leverage: number): { quantity: number; margin: number } {
  const quantity = size.quantity ?? quantityFor(size.margin ?? 0, price, leverage);
  return { quantity, margin: size.margin ?? marginFor(quantity, price, leverage) };
}

/** Opens a market order at `last`: it fills at the offer (buy) or the bid (sell). */
export function openTrade(state: SimState, side: Side, leverage: number, last: number, size: { quantity?: number; margin?: number }, now: number): SimTrade | null {
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

/** Free balance plus each running trade's margin and unrealised PnL at `price`. */
export function equityAt(state: SimState, price: number): number {
  let e = state.balanceSats;
  for (const t of state.trades) e += Math.max(0, t.margin + pnl(t.side, t.quantity, t.entryPrice, price));
  return Math.round(e);
}

/** Closes at market: the exit fills on the opposite side of the spread from `last`. */
export function closeTrade(state: SimState, t: SimTrade, last: number): number {
  const price = marketFill(opposite(t.side), last, state.spread ?? 0);
  const fee = feeFor(t.quantity, price, state.feeRate);
  const realised = Math.round(pnl(t.side, t.quantity, t.entryPrice, price));
  state.balanceSats += Math.max(0, t.margin + realised - fee);
  state.feesSats += fee;
  state.trades = state.trades.filter((x) => x.id !== t.id);
  return realised - fee;
}

/** A trailing stop's level at `price`: `fraction` of it behind, on the tick. */
export function trailingLevel(side: Side, price: number, fraction: number): number {
  return Math.max(PRICE_TICK, roundToTick(side === "buy" ? price * (1 - fraction) : price * (1 + fraction)));
}

/** The exit price of a market close at `last` (the opposite side of the spread). */
export const exitFill = (state: SimState, t: SimTrade, last: number) => marketFill(opposite(t.side), last, state.spread ?? 0);

/**
 * The exchange liquidates at the liquidation price: the margin is lost. In backtests the
 * closing fee at that price is also taken from the trade's maintenance reserve (capped by it),
 * as the exchange does (sim/README.md, "Fees and maintenance margin").
 */
export function liquidate(state: SimState, t: SimTrade, actions: SimAction[]): void {
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

/** `{price}` of a market exit at `last` when the state records fill prices (backtests), else nothing. */
export function exitPriceField(state: SimState, t: SimTrade, last: number): { price?: number } {
  return state.liquidationFee ? { price: exitFill(state, t, last) } : {};
}
