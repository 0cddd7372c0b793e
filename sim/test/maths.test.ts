/** Unit tests of the simulator's own exchange maths on numbers worked out by hand from the docs. */
import { describe, expect, it } from "vitest";
import {
  bidOffer,
  cashIn,
  cashInSplit,
  feeRate,
  feeTier,
  fundingFee,
  liquidationPrice,
  maintenanceMarginAtOpen,
  MAX_MARGIN_USED,
  MAX_QUANTITY,
  PRICE_TICK,
  pnlSats,
  quantityForMargin,
  reportedLiquidation,
  SATS_PER_BTC,
  tradeMargin,
  tradingFee,
  trailingStopLevel,
} from "../src/maths";

describe("sim maths", () => {
  it("constants", () => {
    expect([SATS_PER_BTC, PRICE_TICK, MAX_QUANTITY, MAX_MARGIN_USED]).toEqual([1e8, 0.5, 500_000, 10_000_000]);
  });

  it("margin and quantity", () => {
    expect(tradeMargin(1000, 50_000, 10)).toBe(200_000);
    expect(tradeMargin(1000, 50_002.5, 10)).toBe(199_990); // 199,990.0005 floored
    expect(tradeMargin(1, 100_000, 100)).toBe(10);
    expect(quantityForMargin(100_000, 50_000, 10)).toBe(500);
    expect(quantityForMargin(99_999, 50_000, 10)).toBe(499);
  });

  it("P&L rounded to the satoshi, a short the negative of a long", () => {
    expect(pnlSats("buy", 1000, 50_000, 55_000)).toBe(181_818); // 1e11 * (1/50,000 - 1/55,000) = 181,818.18
    expect(pnlSats("sell", 1000, 50_000, 55_000)).toBe(-181_818);
    expect(pnlSats("buy", 1000, 50_000, 45_000)).toBe(-222_222);
    expect(pnlSats("buy", 100, 50_000, 50_000)).toBe(0);
    expect(Object.is(pnlSats("sell", 100, 50_000, 50_000), 0)).toBe(true);
  });

  it("liquidation price exact and as reported on the tick towards the entry", () => {
    // long: 1 / (1/50,000 + 200,000 / 1e11) = 1 / 0.000022 = 45,454.545...
    expect(liquidationPrice("buy", 1000, 50_000, 200_000)).toBeCloseTo(45_454.5454545, 5);
    expect(reportedLiquidation("buy", 1000, 50_000, 200_000)).toBe(45_455);
    // short: 1 / (1/50,000 - 0.000002) = 55,555.55...
    expect(liquidationPrice("sell", 1000, 50_000, 200_000)).toBeCloseTo(55_555.5555556, 5);
    expect(reportedLiquidation("sell", 1000, 50_000, 200_000)).toBe(55_555.5);
    // A short whose margin covers the notional (leverage 1) is never liquidated.
    expect(liquidationPrice("sell", 1000, 50_000, 2_000_000)).toBe(Infinity);
    expect(reportedLiquidation("sell", 1000, 50_000, 2_000_000)).toBe(0);
    // Exactly on the tick stays there: 1 / (1/2 + 1/6) = 1.5.
    expect(reportedLiquidation("buy", 1, 2, 1e8 / 6)).toBe(1.5);
  });

  it("fee tiers by 30-day volume, strictly above each step", () => {
    expect([0, 250_000, 250_001, 1_000_000, 1_000_001, 5_000_000, 5_000_001].map(feeTier)).toEqual([1, 1, 2, 2, 3, 3, 4]);
    expect([1, 2, 3, 4].map((t) => feeRate(t as 1 | 2 | 3 | 4))).toEqual([0.001, 0.0008, 0.0007, 0.0006]);
  });

  it("trading, funding and reserve fees, floored without float noise", () => {
    expect(tradingFee(1000, 50_000, 0.001)).toBe(2000);
    expect(tradingFee(1000, 55_000, 0.001)).toBe(1818);
    expect(tradingFee(1000, 50_000, 0.0007)).toBe(1400);
    expect(tradingFee(1000, 50_000, 0.0006)).toBe(1200);
    // LN Markets FAQ: (10 / 30,000) * 0.01 % * 1e8 = 3.33 -> 3 sats; the sign of the rate does not matter.
    expect(fundingFee(10, 30_000, 0.0001)).toBe(3);
    expect(fundingFee(10, 30_000, -0.0001)).toBe(3);
    expect(fundingFee(10_000, 100_000, 0.0001)).toBe(1000);
    // opening reserve at entry + closing reserve at the initial liquidation, tier 1.
    expect(maintenanceMarginAtOpen(1000, 50_000, 45_455)).toBe(2000 + 2199);
    // A short without liquidation price reserves its closing fee at the entry.
    expect(maintenanceMarginAtOpen(1000, 50_000, 0)).toBe(4000);
    expect(maintenanceMarginAtOpen(1000, 50_000, Infinity)).toBe(4000);
  });

  it("bid and offer around the last price on the tick", () => {
    expect(bidOffer(50_000, 5)).toEqual({ bid: 49_997.5, offer: 50_002.5 });
    expect(bidOffer(50_000, 0)).toEqual({ bid: 50_000, offer: 50_000 });
    // Half of 1.5 is 0.75: bid rounds down, offer up.
    expect(bidOffer(50_000, 1.5)).toEqual({ bid: 49_999, offer: 50_001 });
    expect(bidOffer(100_000, 10)).toEqual({ bid: 99_995, offer: 100_005 });
  });

  it("trailing stop level: a long under the best price, a short over it, on the tick", () => {
    expect(trailingStopLevel("buy", 100_000, 0.01)).toBe(99_000);
    expect(trailingStopLevel("buy", 102_000, 0.01)).toBe(100_980);
    expect(trailingStopLevel("buy", 50_001, 0.001)).toBe(49_950.5); // 49,950.999 floored to the tick
    expect(trailingStopLevel("sell", 50_001, 0.001)).toBe(50_051.5); // 50,051.001 ceiled to the tick
  });

  it("cash-in: profit first (the entry moves so what is left is the P&L), then margin", () => {
    const s = cashInSplit("buy", 1000, 50_000, 55_000, 81_818);
    expect(s.fromPl).toBe(81_818);
    expect(s.fromMargin).toBe(0);
    expect(pnlSats("buy", 1000, s.entryPrice, 55_000)).toBe(100_000);
    const all = cashInSplit("buy", 1000, 50_000, 55_000, 231_818);
    expect(all).toMatchObject({ fromPl: 181_818, fromMargin: 50_000, entryPrice: 55_000 });
    // A losing position: margin only, entry unchanged.
    expect(cashInSplit("sell", 1000, 50_000, 55_000, 1000)).toEqual({ fromPl: 0, fromMargin: 1000, entryPrice: 50_000 });
    const short = cashInSplit("sell", 1000, 50_000, 45_000, 100_000);
    expect(pnlSats("sell", 1000, short.entryPrice, 45_000)).toBe(222_222 - 100_000);

    const p = { side: "buy" as const, quantity: 1000, entryPrice: 50_000, margin: 200_000 };
    expect(cashIn(p, 231_818, 55_000)).toMatchObject({ margin: 150_000, entryPrice: 55_000 });
    expect(cashIn(p, 200_000, 50_000)).toBeNull(); // margin would be 0
    expect(cashIn(p, 199_000, 50_000)).toBeNull(); // leverage over 100
    expect(cashIn(p, 150_000, 46_000)).toBeNull(); // liquidation would pass the last price
  });
});
