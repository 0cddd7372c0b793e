/**
 * The simulator's own inverse-futures maths for LN Markets BTC/USD isolated trades, written
 * from the exchange's documentation and not from the platform's code (nothing here imports
 * from outside sim/). Pure: no runtime imports, safe to load in Node for property tests.
 *
 * Units: `quantity` in USD, margins, fees and P&L in sats, prices in USD per BTC.
 *
 * Sources (cited per function):
 * - [v3] ../shared/lnmarkets-v3.md, "Inverse futures maths" and the FAQ notes under it
 *   (LN Markets' futures FAQ, github ln-markets/docs.lnmarkets.com, src/faq/trading_futures.md);
 * - [limits] ../shared/lnmarkets-v3.md, "REST routes used here", the `Limits:` paragraph;
 * - [trailing] ../shared/lnmarkets-v3.md, "Trailing stop loss" (LN Markets' Python SDK,
 *   `UpdateStoplossParams`);
 * - [funding] LN Markets FAQ, "What are the funding fees?": fee = quantity / price * rate in
 *   BTC, e.g. (10 / 30,000) * 0.01 % * 1e8 = 3 sats;
 * - [margin guide] docs.lnmarkets.com/guides/margin, "How to cash in?".
 *
 * The contract other code tests against: Side, SATS_PER_BTC, PRICE_TICK, the limits,
 * tradeMargin, quantityForMargin, pnlSats, liquidationPrice, reportedLiquidation, feeTier,
 * feeRate, tradingFee, maintenanceMarginAtOpen, fundingFee, bidOffer, cashInSplit, cashIn.
 */

export type Side = "buy" | "sell";

export const SATS_PER_BTC = 100_000_000;
/** [limits] prices are multiples of 0.5 USD. */
export const PRICE_TICK = 0.5;
/** [limits] leverage 1 to 100, quantity 1 to 500,000 USD. */
export const MIN_LEVERAGE = 1;
export const MAX_LEVERAGE = 100;
export const MIN_QUANTITY = 1;
export const MAX_QUANTITY = 500_000;
/** [v3] FAQ: margin used across positions is capped at 0.1 BTC. */
export const MAX_MARGIN_USED = 10_000_000;
/** [trailing] a trailing distance is a fraction of price, 0.001 to 10. */
export const MIN_TRAILING_DISTANCE = 0.001;
export const MAX_TRAILING_DISTANCE = 10;

export type FeeTier = 1 | 2 | 3 | 4;
/**
 * [v3] "Fee tiers by 30-day volume: 0.1 % (from 0), 0.08 % (> $250k), 0.07 % (> $1M),
 * 0.06 % (> $5M)".
 */
export const FEE_TIERS: ReadonlyArray<{ tier: FeeTier; aboveUsd: number; rate: number }> = [
  { tier: 4, aboveUsd: 5_000_000, rate: 0.0006 },
  { tier: 3, aboveUsd: 1_000_000, rate: 0.0007 },
  { tier: 2, aboveUsd: 250_000, rate: 0.0008 },
  { tier: 1, aboveUsd: -Infinity, rate: 0.001 },
];
export const TIER1_FEE_RATE = 0.001;

// --- ticks -------------------------------------------------------------------------------

/** Float noise allowance when snapping to the tick (a price is far above 1e-9 USD). */
const TICK_EPS = 1e-9;

export function floorToTick(price: number): number {
  return Math.floor(price / PRICE_TICK + TICK_EPS) * PRICE_TICK;
}

export function ceilToTick(price: number): number {
  return Math.ceil(price / PRICE_TICK - TICK_EPS) * PRICE_TICK;
}

export function roundToTick(price: number): number {
  return Math.round(price / PRICE_TICK) * PRICE_TICK;
}

export function isOnTick(price: number): boolean {
  return Math.abs(price / PRICE_TICK - Math.round(price / PRICE_TICK)) < TICK_EPS;
}

// --- size ----------------------------------------------------------------------------------

/** [v3] margin (sats) for a quantity at a leverage: floor(quantity * 1e8 / price / leverage). */
export function tradeMargin(quantity: number, price: number, leverage: number): number {
  return Math.floor((quantity * SATS_PER_BTC) / price / leverage);
}

/** The inverse of tradeMargin, whole USD: floor(margin * leverage * price / 1e8). */
export function quantityForMargin(margin: number, price: number, leverage: number): number {
  return Math.floor((margin * leverage * price) / SATS_PER_BTC);
}

/** Leverage implied by a position: quantity * 1e8 / price / margin (not rounded). */
export function impliedLeverage(quantity: number, margin: number, price: number): number {
  return (quantity * SATS_PER_BTC) / price / margin;
}

// --- P&L and liquidation ---------------------------------------------------------------------

/**
 * [v3] P&L in sats, rounded to the satoshi (Math.round): long = q * 1e8 * (1/entry - 1/price),
 * short the negative. Written as q * 1e8 * (price - entry) / (entry * price), the same value
 * with one rounding less.
 */
export function pnlSats(side: Side, quantity: number, entryPrice: number, price: number): number {
  const long = (quantity * SATS_PER_BTC * (price - entryPrice)) / (entryPrice * price);
  const v = Math.round(side === "buy" ? long : -long);
  return v === 0 ? 0 : v; // no -0
}

/**
 * [v3] exact liquidation price (unrounded): long 1 / (1/entry + margin / (1e8 q)); short
 * 1 / (1/entry - margin / (1e8 q)), Infinity when the margin covers the whole notional
 * (the short can never be liquidated).
 */
export function liquidationPrice(side: Side, quantity: number, entryPrice: number, margin: number): number {
  const perUsd = margin / (SATS_PER_BTC * quantity);
  if (side === "buy") return 1 / (1 / entryPrice + perUsd);
  const inv = 1 / entryPrice - perUsd;
  return inv > 0 ? 1 / inv : Number.POSITIVE_INFINITY;
}

/**
 * The liquidation price a trade reports and that triggers its liquidation: on the 0.5 tick,
 * rounded towards the entry (a long up, a short down) so the exchange never liquidates after
 * the margin is gone; 0 when a short cannot be liquidated.
 */
export function reportedLiquidation(side: Side, quantity: number, entryPrice: number, margin: number): number {
  const raw = liquidationPrice(side, quantity, entryPrice, margin);
  if (!Number.isFinite(raw)) return 0;
  return side === "buy" ? ceilToTick(raw) : floorToTick(raw);
}

// --- fees ------------------------------------------------------------------------------------

/** [v3] the account's fee tier for its 30-day traded volume in USD (strictly above each step). */
export function feeTier(volume30dUsd: number): FeeTier {
  for (const t of FEE_TIERS) if (volume30dUsd > t.aboveUsd) return t.tier;
  return 1;
}

/** [v3] the trading fee rate of a tier: 0.001, 0.0008, 0.0007, 0.0006. */
export function feeRate(tier: FeeTier): number {
  return FEE_TIERS.find((t) => t.tier === tier)!.rate;
}

/**
 * floor(quantity / price * rate * 1e8), computed as floor(quantity * (rate * 1e8) / price)
 * with rate * 1e8 snapped to an integer when it is one up to float noise: a rate of 0.1 %
 * on 1,000 USD at 50,000 is exactly 2,000 sats, where the naive float product reads
 * 1999.9999999999998 or 2000.0000000000002 depending on the order of operations.
 */
function feeSats(quantity: number, price: number, rate: number): number {
  const perBtc = Math.abs(rate) * SATS_PER_BTC;
  const snapped = Math.abs(perBtc - Math.round(perBtc)) < 1e-6 ? Math.round(perBtc) : perBtc;
  return Math.floor((quantity * snapped) / price + 1e-9);
}

/** [v3] trading fee in sats: floor(quantity / price * rate * 1e8). */
export function tradingFee(quantity: number, price: number, rate: number): number {
  return feeSats(quantity, price, rate);
}

/**
 * [v3] FAQ: "maintenance margin = opening fee reserved + closing fee reserved, with opening
 * fee reserved = quantity / entry price * tier-1 fee and closing fee reserved = quantity /
 * initial liquidation price * tier-1 fee". A short that cannot be liquidated (no liquidation
 * price, `initialLiquidation` 0 or Infinity) reserves its closing fee at the entry price.
 */
export function maintenanceMarginAtOpen(quantity: number, entryPrice: number, initialLiquidation: number): number {
  const closeAt = Number.isFinite(initialLiquidation) && initialLiquidation > 0 ? initialLiquidation : entryPrice;
  return feeSats(quantity, entryPrice, TIER1_FEE_RATE) + feeSats(quantity, closeAt, TIER1_FEE_RATE);
}

/** [funding] funding fee in sats, unsigned: floor(quantity / price * |rate| * 1e8). */
export function fundingFee(quantity: number, price: number, rate: number): number {
  return feeSats(quantity, price, rate);
}

/**
 * Whether `side` pays the funding at `rate` ([v3] "with a positive fundingRate longs pay
 * shorts"; negative the reverse; 0 nobody).
 */
export function paysFunding(side: Side, rate: number): boolean {
  return rate === 0 ? false : (rate > 0) === (side === "buy");
}

// --- quotes ------------------------------------------------------------------------------------

/**
 * Bid and offer around the last price: bid = last - spread/2 rounded down to the tick,
 * offer = last + spread/2 rounded up to the tick. The spread is the simulator's choice (the
 * exchange's varies by size); [v3] "market buys fill at the offer, sells at the bid".
 */
export function bidOffer(lastPrice: number, spread: number): { bid: number; offer: number } {
  return { bid: floorToTick(lastPrice - spread / 2), offer: ceilToTick(lastPrice + spread / 2) };
}

/**
 * [trailing] a trailing stop's level for the best last price seen since it was set: a long
 * floor_to_tick(best * (1 - d)), a short ceil_to_tick(best * (1 + d)).
 */
export function trailingStopLevel(side: Side, best: number, distance: number): number {
  return side === "buy" ? floorToTick(best * (1 - distance)) : ceilToTick(best * (1 + distance));
}

// --- cash-in -----------------------------------------------------------------------------------

/**
 * How a cash-in of `amount` sats splits at the last price `price` (the simulator's reading of
 * [margin guide], which does not say which price moves): unrealised profit first, which moves
 * the entry price so that the P&L left at `price` is the profit left; then margin. `entryPrice`
 * is the new entry (unrounded; unchanged when no profit is taken).
 */
export function cashInSplit(
  side: Side,
  quantity: number,
  entryPrice: number,
  price: number,
  amount: number,
): { fromPl: number; fromMargin: number; entryPrice: number } {
  const pl = pnlSats(side, quantity, entryPrice, price);
  const fromPl = Math.min(amount, Math.max(0, pl));
  const fromMargin = amount - fromPl;
  if (fromPl <= 0) return { fromPl: 0, fromMargin, entryPrice };
  // Left P&L r at price p: long r = q*1e8*(1/e' - 1/p) -> 1/e' = 1/p + r/(q*1e8); short mirrored.
  const rest = (pl - fromPl) / (quantity * SATS_PER_BTC);
  const inv = side === "buy" ? 1 / price + rest : 1 / price - rest;
  return { fromPl, fromMargin, entryPrice: 1 / inv };
}

export interface Position {
  side: Side;
  quantity: number;
  entryPrice: number;
  margin: number;
}

/**
 * A cash-in applied to a position at the last price, or null when the exchange refuses it:
 * margin would fall under 1 sat, leverage over MAX_LEVERAGE, or the new liquidation price is
 * at or through the last price.
 */
export function cashIn(
  p: Position,
  amount: number,
  price: number,
): { entryPrice: number; margin: number; fromPl: number; fromMargin: number; leverage: number } | null {
  if (!(amount > 0)) return null;
  const split = cashInSplit(p.side, p.quantity, p.entryPrice, price, amount);
  const margin = p.margin - split.fromMargin;
  if (margin < 1) return null;
  const leverage = impliedLeverage(p.quantity, margin, split.entryPrice);
  if (leverage > MAX_LEVERAGE) return null;
  const liq = reportedLiquidation(p.side, p.quantity, split.entryPrice, margin);
  if (p.side === "buy" ? price <= liq : liq > 0 && price >= liq) return null;
  return { entryPrice: split.entryPrice, margin, fromPl: split.fromPl, fromMargin: split.fromMargin, leverage };
}

/** Whether the last price `price` is at or through a trade's reported liquidation price. */
export function liquidatedAt(side: Side, liquidation: number, price: number): boolean {
  if (!(liquidation > 0)) return false;
  return side === "buy" ? price <= liquidation : price >= liquidation;
}

/** LN Markets' FAQ ("What are the funding fees?"): funding every 8 h, at 04:00, 12:00 and 20:00 UTC. */
export const DEFAULT_FUNDING_PERIOD_MS = 8 * 3600_000;
export const FUNDING_ANCHOR_MS = 4 * 3600_000;

/** The next slot of a funding schedule of period `periodMs` anchored at 04:00 UTC, after `now`. */
export function nextFundingSlot(now: number, periodMs: number): number {
  const anchor = FUNDING_ANCHOR_MS % periodMs;
  return anchor + (Math.floor((now - anchor) / periodMs) + 1) * periodMs;
}
