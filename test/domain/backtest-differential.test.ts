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
import { fundTrade, liquidationOf } from "../../sim/src/positions";
import { applyFunding, createSimulation } from "../../src/domain/simulate-step";

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

describe("a funding settlement that empties a payer's margin, as the simulator settles it", () => {
  // The simulator's side, written independently (sim/src/funding.ts, sim/src/positions.ts).
  const simSettle = (t: { side: "buy" | "sell"; quantity: number; margin: number; entryPrice: number; price: number }, fixing: number, rate: number, last: number) => {
    // null: a fee that rounds to 0 sats settles nothing.
    const funded = fundTrade({ ...t, leverage: 1, sumFundingFees: 0 } as never, fixing, rate);
    if (!funded) return { margin: t.margin, liquidated: null };
    const next = funded.next as unknown as typeof t;
    return { margin: next.margin, liquidated: exchange.liquidatedAt(t.side, liquidationOf(next as never), last) };
  };
  const state = (side: "buy" | "sell", entry: number) => createSimulation({ initialPrice: entry, position: { side, quantity: 10_000, leverage: 100 }, spread: 0 });

  it("a profitable long drained to 0 margin stays open above its entry and is liquidated at it", () => {
    for (const [last, gone] of [[150_000, false], [100_000, true]] as const) {
      const s = state("buy", 100_000);
      const t = s.trades[0]!;
      // 1 % of 10,000 USD at 100,000: 100,000 sats, more than the 10,000 sats of margin.
      const actions = applyFunding(s, 0.01, 100_000, last);
      const sim = simSettle({ side: "buy", quantity: t.quantity, margin: 10_000, entryPrice: t.entryPrice, price: t.entryPrice }, 100_000, 0.01, last);
      expect(actions.some((a) => a.type === "liquidation")).toBe(gone);
      expect(sim.liquidated).toBe(gone);
      if (!gone) expect(s.trades[0]!.margin).toBe(sim.margin);
    }
  });

  it("on generated settlements the backtest liquidates exactly when the simulator does", () => {
    fc.assert(
      fc.property(side, fc.integer({ min: 100, max: 100_000 }), fc.integer({ min: 2, max: 100 }), fc.double({ min: -0.05, max: 0.05, noNaN: true }), fc.double({ min: 0.5, max: 1.5, noNaN: true }), (sd, q, lev, rate, move) => {
        const entry = 100_000;
        const s = createSimulation({ initialPrice: entry, position: { side: sd, quantity: q, leverage: lev }, spread: 0 });
        const t = s.trades[0]!;
        fc.pre(t.margin >= 1);
        const last = Math.round(entry * move * 2) / 2;
        const before = { side: sd, quantity: t.quantity, margin: t.margin, entryPrice: t.entryPrice, price: t.entryPrice };
        const actions = applyFunding(s, rate, entry, last);
        const sim = simSettle(before, entry, rate, last);
        fc.pre(sim.liquidated !== null);
        expect(actions.some((a) => a.type === "liquidation")).toBe(sim.liquidated);
        if (!sim.liquidated && s.trades[0]) expect(s.trades[0].margin).toBe(sim.margin);
      }),
      { numRuns: 3_000 },
    );
  });
});
