import { describe, expect, it } from "vitest";
import { closedByLiquidation, CRITICAL_RISK, monitorMargins, riskLevel } from "../../src/domain/margin-monitor";
import { effectiveMargin, liquidationOf, tradeRisk, type RunningTrade } from "../../src/domain/trade";

const long: RunningTrade = { id: "L", side: "buy", quantity: 100, entryPrice: 50_000, margin: 20_000, liquidation: 45_000 };
const short: RunningTrade = { id: "S", side: "sell", quantity: 100, entryPrice: 50_000, margin: 20_000, liquidation: 55_000 };

describe("riskLevel", () => {
  it("grades with the default thresholds", () => {
    expect([0, 0.79, 0.8, 0.89, 0.9, 1].map((r) => riskLevel(r))).toEqual(["ok", "ok", "warn", "warn", "critical", "critical"]);
  });

  it("critical stays at 0.9 whatever the thresholds", () => {
    expect(riskLevel(0.92, { warnAt: 0.93, actAt: 0.95 })).toBe("critical");
    expect(riskLevel(0.86, { warnAt: 0.7, actAt: 0.85 })).toBe("act");
    expect(CRITICAL_RISK).toBe(0.9);
  });
});

describe("monitorMargins", () => {
  it("reports every trade's risk, highest first, and flags critical ones without a guard", () => {
    // long: (50000-45600)/5000 = 0.88; short: (45600-50000) < 0 -> 0
    const r = monitorMargins([short, long], 45_600);
    expect(r.trades.map((t) => [t.tradeId, t.level])).toEqual([["L", "warn"], ["S", "ok"]]);
    expect(r.trades[0]!.risk).toBeCloseTo(0.88, 12);
    expect(r.critical).toEqual([]);
    expect(r.maxRisk).toBeCloseTo(0.88, 12);

    const crit = monitorMargins([short, long], 54_600); // short: 4600/5000 = 0.92
    expect(crit.critical.map((t) => t.tradeId)).toEqual(["S"]);
    expect(crit.critical[0]).toMatchObject({ level: "critical", critical: true, liquidation: 55_000, price: 54_600 });
  });

  it("reports escalations once, against the previous levels", () => {
    const a = monitorMargins([long, short], 45_600); // L warn
    expect(a.escalated.map((t) => t.tradeId)).toEqual(["L"]);
    expect(a.levels).toEqual({ L: "warn", S: "ok" });
    expect(monitorMargins([long, short], 45_700, undefined, a.levels).escalated).toEqual([]);
    const c = monitorMargins([long, short], 45_400, undefined, a.levels); // L: 4600/5000 = 0.92
    expect(c.escalated.map((t) => [t.tradeId, t.level])).toEqual([["L", "critical"]]);
    expect(monitorMargins([long, short], 49_000, undefined, c.levels).escalated).toEqual([]);
  });

  it("handles no trades and rejects bad prices", () => {
    expect(monitorMargins([], 50_000)).toEqual({ trades: [], critical: [], maxRisk: 0, escalated: [], levels: {} });
    expect(() => monitorMargins([long], -1)).toThrow(RangeError);
  });
});

describe("trade helpers", () => {
  it("falls back to the computed liquidation when the exchange's is missing or implausible", () => {
    expect(liquidationOf({ ...long, liquidation: 0 })).toBeCloseTo(45_454.545_45, 4);
    expect(liquidationOf({ ...long, liquidation: 60_000 })).toBeCloseTo(45_454.545_45, 4);
    expect(liquidationOf({ ...short, liquidation: 40_000 })).toBeCloseTo(55_555.555_56, 4);
    expect(liquidationOf(long)).toBe(45_000);
  });

  it("effective margin reproduces the exchange's liquidation", () => {
    // 1e10 * (1/45000 - 1/50000) = 22222.22
    expect(effectiveMargin(long)).toBeCloseTo(22_222.222, 2);
    expect(effectiveMargin({ ...long, liquidation: 0 })).toBeCloseTo(20_000, 6);
    expect(tradeRisk(long, 47_500)).toBeCloseTo(0.5, 12);
  });
});

describe("closedByLiquidation: how a trade ended, from its REST record", () => {
  it("a long that exited at or below its liquidation price was liquidated; above it, it was closed", () => {
    expect(closedByLiquidation({ side: "buy", exitPrice: 98_000, liquidation: 98_039.5 })).toBe(true);
    expect(closedByLiquidation({ side: "buy", exitPrice: 98_039.5, liquidation: 98_039.5 })).toBe(true);
    expect(closedByLiquidation({ side: "buy", exitPrice: 98_040, liquidation: 98_039.5 })).toBe(false);
  });
  it("a short mirrors it", () => {
    expect(closedByLiquidation({ side: "sell", exitPrice: 102_100, liquidation: 102_040.5 })).toBe(true);
    expect(closedByLiquidation({ side: "sell", exitPrice: 101_000, liquidation: 102_040.5 })).toBe(false);
  });
  it("a canceled order, a missing exit or liquidation price is not a liquidation", () => {
    expect(closedByLiquidation({ side: "buy", exitPrice: 90_000, liquidation: 98_000, canceled: true })).toBe(false);
    expect(closedByLiquidation({ side: "buy", exitPrice: null, liquidation: 98_000 })).toBe(false);
    expect(closedByLiquidation({ side: "buy", exitPrice: 90_000, liquidation: 0 })).toBe(false);
  });
});
