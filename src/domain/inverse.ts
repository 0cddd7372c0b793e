/**
 * Inverse-futures maths for LN Markets BTC/USD isolated trades.
 * Units: `quantity` in USD, `margin` and PnL in sats, prices in USD per BTC.
 * Pure: no runtime imports. See ../shared/lnmarkets-v3.md and DESIGN.md "Margin and risk".
 */

export type Side = "buy" | "sell";

export const SATS_PER_BTC = 100_000_000;
export const PRICE_TICK = 0.5;
export const MIN_LEVERAGE = 1;
export const MAX_LEVERAGE = 100;
export const MIN_QUANTITY = 1;
export const MAX_QUANTITY = 500_000;

/** Margin (sats) needed to open `quantity` USD at `price` with `leverage`. */
export function marginFor(quantity: number, price: number, leverage: number): number {
  return Math.floor((quantity * SATS_PER_BTC) / price / leverage);
}

/** Quantity (USD) a margin buys at a price and leverage (rounded down to whole USD). */
export function quantityFor(margin: number, price: number, leverage: number): number {
  return Math.floor((margin * leverage * price) / SATS_PER_BTC);
}

/** Leverage implied by a position's quantity, margin and entry price. */
export function leverageOf(quantity: number, margin: number, entry: number): number {
  return (quantity * SATS_PER_BTC) / entry / margin;
}

/** Unrealised PnL in sats (not rounded): long = q*1e8*(1/entry - 1/price), short the negative. */
export function pnl(side: Side, quantity: number, entry: number, price: number): number {
  const long = quantity * SATS_PER_BTC * (1 / entry - 1 / price);
  return side === "buy" ? long : -long;
}

/**
 * Liquidation price. Long: 1/(1/entry + margin/(1e8*q)); short: 1/(1/entry - margin/(1e8*q)).
 * A short whose margin covers the whole notional can never be liquidated: Infinity.
 */
export function liquidationPrice(side: Side, quantity: number, entry: number, margin: number): number {
  const m = margin / (SATS_PER_BTC * quantity);
  if (side === "buy") return 1 / (1 / entry + m);
  const inv = 1 / entry - m;
  return inv <= 0 ? Number.POSITIVE_INFINITY : 1 / inv;
}

/**
 * Risk of a running trade: the share of the distance from entry to liquidation already
 * consumed, clamped to [0, 1]. 0 at (or better than) entry, 1 at (or past) liquidation.
 */
export function riskOf(side: Side, entry: number, liquidation: number, price: number): number {
  const span = side === "buy" ? entry - liquidation : liquidation - entry;
  if (!(span > 0) || !Number.isFinite(span)) return 0;
  const moved = side === "buy" ? entry - price : price - entry;
  return Math.min(1, Math.max(0, moved / span));
}

/**
 * Margin (sats) to add so that the risk at `price` falls to `targetRisk`.
 * Solves for the liquidation L with (entry - price) = target * (entry - L) (mirrored for a
 * short), then for the margin giving L. Returns 0 when risk is already at or under target.
 */
export function marginToReachRisk(
  side: Side,
  quantity: number,
  entry: number,
  margin: number,
  price: number,
  targetRisk: number,
): number {
  if (!(targetRisk > 0 && targetRisk < 1)) throw new RangeError("targetRisk must be in (0, 1)");
  const current = riskOf(side, entry, liquidationPrice(side, quantity, entry, margin), price);
  if (current <= targetRisk) return 0;
  const moved = side === "buy" ? entry - price : price - entry;
  const targetLiq = side === "buy" ? entry - moved / targetRisk : entry + moved / targetRisk;
  if (side === "buy" && targetLiq <= 0) return Number.POSITIVE_INFINITY;
  // margin/(1e8 q) = 1/L - 1/entry (long) or 1/entry - 1/L (short)
  const perUnit = side === "buy" ? 1 / targetLiq - 1 / entry : 1 / entry - 1 / targetLiq;
  const needed = Math.ceil(perUnit * SATS_PER_BTC * quantity);
  return Math.max(0, needed - margin);
}

/** Round a price to the exchange tick (0.5 USD). */
export function roundToTick(price: number, tick: number = PRICE_TICK): number {
  return Math.round(price / tick) * tick;
}

/** True when `price` is a multiple of the tick. */
export function isOnTick(price: number, tick: number = PRICE_TICK): boolean {
  return Math.abs(price / tick - Math.round(price / tick)) < 1e-9;
}
