/**
 * The subset of LN Markets' `FuturesTrade` the automations read, and risk per trade.
 * Not strict: the exchange sends many more fields and they are simply dropped.
 */
import { z } from "zod";
import { liquidationPrice, riskOf, SATS_PER_BTC } from "./inverse";

export const Side = z.enum(["buy", "sell"]);
export type Side = z.infer<typeof Side>;

export const RunningTrade = z.object({
  id: z.string().min(1),
  side: Side,
  /** USD. */
  quantity: z.number().positive(),
  entryPrice: z.number().positive(),
  /** Sats. */
  margin: z.number().nonnegative(),
  /** Price; the exchange's own value (it includes maintenance margin), 0 when unknown. */
  liquidation: z.number().nonnegative(),
  clientId: z.string().nullable().optional(),
  /** Price, 0 = none (LN Markets convention). */
  takeprofit: z.number().nonnegative().optional(),
  /** Price, 0 = none. */
  stoploss: z.number().nonnegative().optional(),
  /** Price distance the exchange trails the stop by; 0 for a fixed stop. */
  stoplossTrailingDistance: z.number().nonnegative().optional(),
  leverage: z.number().positive().optional(),
});
export type RunningTrade = z.infer<typeof RunningTrade>;

/**
 * The liquidation price to judge risk by: the exchange's value when it is plausible (below
 * entry for a long, above for a short), else the one computed from margin.
 */
export function liquidationOf(trade: RunningTrade): number {
  const L = trade.liquidation;
  const plausible = trade.side === "buy" ? L > 0 && L < trade.entryPrice : L > trade.entryPrice;
  return plausible ? L : liquidationPrice(trade.side, trade.quantity, trade.entryPrice, trade.margin);
}

/** Risk of a running trade at `price` (0 at entry, 1 at liquidation). */
export function tradeRisk(trade: RunningTrade, price: number): number {
  return riskOf(trade.side, trade.entryPrice, liquidationOf(trade), price);
}

/**
 * The margin that would put liquidation where the exchange says it is. It differs from
 * `margin` by whatever the exchange holds back (maintenance margin, fees); adding X sats moves
 * both by X, so margin maths done on this value lands on the exchange's liquidation.
 */
export function effectiveMargin(trade: RunningTrade): number {
  const L = liquidationOf(trade);
  if (!Number.isFinite(L)) return trade.margin;
  const perUnit = trade.side === "buy" ? 1 / L - 1 / trade.entryPrice : 1 / trade.entryPrice - 1 / L;
  return perUnit * SATS_PER_BTC * trade.quantity;
}
