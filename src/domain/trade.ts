/**
 * The subset of LN Markets' `FuturesTrade` the automations read, and risk per trade.
 * Not strict: the exchange sends many more fields and they are simply dropped.
 *
 * Entry and liquidation are always the exchange's: a market buy fills at the offer and a sell
 * at the bid (../shared/lnmarkets-v3.md "Bid, offer and last"), so neither is the price seen
 * when the order was sent. Risk and P&L are taken at the last price, the one LN Markets
 * triggers liquidation, take profit and stop loss on (LN Markets docs, Futures, "Price
 * reference").
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
  /** The exchange's entry price (see {@link entryPriceOf}). */
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
  /** Funding the trade paid so far (sats, positive = paid), as the exchange reports it. */
  sumFundingFees: z.number().optional(),
});
export type RunningTrade = z.infer<typeof RunningTrade>;

/**
 * The price risk is measured from: `entryPrice`, falling back to the order `price` only while
 * the exchange reports no entry price (null or absent).
 *
 * Cash-in: LN Markets' v3 SDK says nothing of how `POST /trade/cash-in` changes a trade; the
 * simulator (sim/README.md) models the exchange moving `entryPrice` when profit is cashed in
 * (the realised part leaves the position) while the order `price` stays. Reading `entryPrice`
 * is right under that model and harmless under the other (entryPrice unchanged): it is what
 * the exchange computes liquidation from. Unverified against the live exchange.
 */
export function entryPriceOf(t: { entryPrice?: number | null | undefined; price: number }): number {
  return t.entryPrice ?? t.price;
}

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
