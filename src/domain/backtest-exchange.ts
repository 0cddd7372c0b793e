/**
 * The exchange's fee and funding maths for backtests (issue 24), written from LN Markets' FAQ
 * and ../shared/lnmarkets-v3.md like the rest of src/domain. The simulator has its own copy
 * (sim/src/maths.ts, which src/ must not import); test/domain/backtest-differential.test.ts
 * proves the two agree on fees, the maintenance-margin reserve, funding and the funding slots.
 * Pure: no runtime imports.
 */
import { liquidationPrice, PRICE_TICK, SATS_PER_BTC, type Side } from "./inverse";

/** Tier-1 trading fee (0.1 %): the rate a backtest uses unless given one. */
export const TIER1_FEE_RATE = 0.001;
/** Funding is settled every 8 h, at 04:00, 12:00 and 20:00 UTC (LN Markets' FAQ). */
export const FUNDING_PERIOD_MS = 8 * 3_600_000;
export const FUNDING_ANCHOR_MS = 4 * 3_600_000;

/**
 * floor(quantity / price * |rate| * 1e8) with rate * 1e8 snapped to an integer when it is one
 * up to float noise (0.1 % of 1,000 USD at 50,000 is exactly 2,000 sats, where the naive float
 * product reads 1999.9999999999998).
 */
function perPrice(quantity: number, price: number, rate: number): number {
  const perBtc = Math.abs(rate) * SATS_PER_BTC;
  const snapped = Math.abs(perBtc - Math.round(perBtc)) < 1e-6 ? Math.round(perBtc) : perBtc;
  return Math.floor((quantity * snapped) / price + 1e-9);
}

/** Opening or closing fee in sats at the fill price: floor(q / price * rate * 1e8). */
export function tradingFeeSats(quantity: number, price: number, rate: number = TIER1_FEE_RATE): number {
  return perPrice(quantity, price, rate);
}

/**
 * The maintenance margin the exchange reserves at opening: the opening fee at the entry plus
 * the closing fee at the initial liquidation price, both at the tier-1 rate (FAQ). A short
 * that can never be liquidated reserves its closing fee at the entry. What is left of it after
 * the opening fee pays the closing fee of a liquidation (capped by it).
 */
export function maintenanceReserveSats(side: Side, quantity: number, entry: number, margin: number): number {
  const liq = liquidationPrice(side, quantity, entry, margin);
  const closeAt = Number.isFinite(liq) && liq > 0 ? liq : entry;
  return perPrice(quantity, entry, TIER1_FEE_RATE) + perPrice(quantity, closeAt, TIER1_FEE_RATE);
}

/** Funding in sats for one settlement, unsigned: floor(q / fixing price * |rate| * 1e8). */
export function fundingFeeSats(quantity: number, fixingPrice: number, rate: number): number {
  return perPrice(quantity, fixingPrice, rate);
}

/** A positive rate: longs pay shorts; negative: shorts pay longs; 0: nobody pays. */
export function paysFunding(side: Side, rate: number): boolean {
  return rate === 0 ? false : (rate > 0) === (side === "buy");
}

/** The first funding slot at or after `t` (ms): 04:00, 12:00 or 20:00 UTC. */
export function nextFundingSlot(t: number): number {
  return FUNDING_ANCHOR_MS + Math.ceil((t - FUNDING_ANCHOR_MS) / FUNDING_PERIOD_MS) * FUNDING_PERIOD_MS;
}

/** Funding slots in (after, upTo], oldest first. */
export function fundingSlotsBetween(after: number, upTo: number): number[] {
  const out: number[] = [];
  for (let s = nextFundingSlot(after + 1); s <= upTo; s += FUNDING_PERIOD_MS) out.push(s);
  return out;
}

/** Bid and offer around the last price: last -/+ spread/2, down/up to the 0.5 tick. */
export function bidOffer(last: number, spread: number): { bid: number; offer: number } {
  return {
    bid: Math.floor((last - spread / 2) / PRICE_TICK + 1e-9) * PRICE_TICK,
    offer: Math.ceil((last + spread / 2) / PRICE_TICK - 1e-9) * PRICE_TICK,
  };
}
