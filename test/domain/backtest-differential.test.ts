/**
 * Differential test (issue 24): the backtest's exchange maths (src/domain/backtest-exchange.ts)
 * against the simulator's (sim/src/maths.ts, sim/src/exchange.ts), written independently.
 * Fees, the maintenance-margin reserve, funding fees, who pays, bid/offer and the funding slots
 * must agree exactly on generated inputs.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as bt from "../../src/domain/backtest-exchange";
import * as exchange from "../../sim/src/maths";
import { FUNDING_ANCHOR_MS as SIM_ANCHOR, nextFundingSlot as simNextSlot } from "../../sim/src/maths";

const price = fc.integer({ min: 2, max: 2_000_000 }).map((p) => p / 2);
const quantity = fc.integer({ min: 1, max: 500_000 });
const side = fc.constantFrom<"buy" | "sell">("buy", "sell");

describe("backtest exchange maths agree with the simulator's", () => {
  it("trading fees at every tier, the maintenance reserve, funding and its payer", () => {
    fc.assert(
      fc.property(side, quantity, price, fc.constantFrom<1 | 2 | 3 | 4>(1, 2, 3, 4), fc.double({ min: 1, max: 100, noNaN: true }), fc.double({ min: -0.003, max: 0.003, noNaN: true }), (s, q, p, tier, lev, rate) => {
        const r = exchange.feeRate(tier);
        expect(bt.tradingFeeSats(q, p, r)).toBe(exchange.tradingFee(q, p, r));
        const margin = exchange.tradeMargin(q, p, lev);
        fc.pre(margin >= 1);
        const liq = exchange.liquidationPrice(s, q, p, margin);
        expect(bt.maintenanceReserveSats(s, q, p, margin)).toBe(exchange.maintenanceMarginAtOpen(q, p, Number.isFinite(liq) ? liq : 0));
        expect(bt.fundingFeeSats(q, p, rate)).toBe(exchange.fundingFee(q, p, rate));
        expect(bt.paysFunding(s, rate)).toBe(exchange.paysFunding(s, rate));
      }),
      { numRuns: 10_000 },
    );
    expect(bt.TIER1_FEE_RATE).toBe(exchange.TIER1_FEE_RATE);
  });

  it("bid and offer at every spread", () => {
    fc.assert(
      fc.property(price, fc.integer({ min: 0, max: 200 }).map((s) => s / 2), (last, spread) => {
        expect(bt.bidOffer(last, spread)).toEqual(exchange.bidOffer(last, spread));
      }),
      { numRuns: 5_000 },
    );
  });

  it("funding slots: every 8 h at 04:00, 12:00 and 20:00 UTC, as the simulator arms them", () => {
    expect(bt.FUNDING_ANCHOR_MS).toBe(SIM_ANCHOR);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), (t) => {
        expect(bt.nextFundingSlot(t + 1)).toBe(simNextSlot(t, bt.FUNDING_PERIOD_MS));
      }),
      { numRuns: 5_000 },
    );
    const day = Date.UTC(2025, 0, 1);
    expect(bt.fundingSlotsBetween(day, day + 86_400_000).map((s) => new Date(s).toISOString().slice(11, 16))).toEqual(["04:00", "12:00", "20:00", "00:00"].slice(0, 3));
  });
});
