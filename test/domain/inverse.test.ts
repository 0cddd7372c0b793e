import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  isOnTick,
  leverageOf,
  liquidationPrice,
  marginFor,
  marginToReachRisk,
  pnl,
  quantityFor,
  riskOf,
  roundToTick,
  type Side,
} from "../../src/domain/inverse";

describe("inverse maths: known values", () => {
  it("marginFor floors q*1e8/price/leverage", () => {
    expect(marginFor(100, 50_000, 10)).toBe(20_000);
    expect(marginFor(1000, 30_000, 3)).toBe(1_111_111); // 1,111,111.11
  });

  it("quantityFor inverts marginFor in whole USD", () => {
    expect(quantityFor(20_000, 50_000, 10)).toBe(100);
    expect(quantityFor(19_999, 50_000, 10)).toBe(99);
  });

  it("leverageOf recovers leverage", () => {
    expect(leverageOf(100, 20_000, 50_000)).toBeCloseTo(10, 12);
  });

  it("pnl: long gains when price rises, short is the negative", () => {
    // 1e10 * (1/50000 - 1/55000) = 1e10 * 5000 / 2.75e9
    expect(pnl("buy", 100, 50_000, 55_000)).toBeCloseTo(18_181.818_18, 4);
    expect(pnl("sell", 100, 50_000, 55_000)).toBeCloseTo(-18_181.818_18, 4);
    expect(pnl("buy", 100, 50_000, 50_000)).toBe(0);
  });

  it("liquidationPrice: 10x long and short", () => {
    // long 1/(2e-5 + 2e-6), short 1/(2e-5 - 2e-6)
    expect(liquidationPrice("buy", 100, 50_000, 20_000)).toBeCloseTo(45_454.545_45, 4);
    expect(liquidationPrice("sell", 100, 50_000, 20_000)).toBeCloseTo(55_555.555_56, 4);
  });

  it("liquidationPrice: a 1x short cannot be liquidated", () => {
    expect(liquidationPrice("sell", 100, 50_000, 200_000)).toBe(Number.POSITIVE_INFINITY);
    expect(riskOf("sell", 50_000, Number.POSITIVE_INFINITY, 1e9)).toBe(0);
  });

  it("riskOf: 0 at entry, 1 at liquidation, linear and clamped", () => {
    expect(riskOf("buy", 100, 90, 95)).toBe(0.5);
    expect(riskOf("buy", 100, 90, 100)).toBe(0);
    expect(riskOf("buy", 100, 90, 90)).toBe(1);
    expect(riskOf("buy", 100, 90, 80)).toBe(1);
    expect(riskOf("buy", 100, 90, 120)).toBe(0);
    expect(riskOf("sell", 100, 110, 105)).toBe(0.5);
    expect(riskOf("sell", 100, 110, 200)).toBe(1);
    expect(riskOf("sell", 100, 110, 50)).toBe(0);
    // Degenerate span (bad data): no risk rather than a division by zero.
    expect(riskOf("buy", 100, 100, 90)).toBe(0);
    expect(riskOf("buy", 100, 110, 90)).toBe(0);
  });

  it("marginToReachRisk: long at 0.88 risk back to 0.5", () => {
    // liq 45454.55, price 46000: target liq = 50000 - 4000/0.5 = 42000;
    // margin = ceil(1e10 * (1/42000 - 1/50000)) = ceil(38095.238) = 38096 -> add 18096.
    expect(marginToReachRisk("buy", 100, 50_000, 20_000, 46_000, 0.5)).toBe(18_096);
  });

  it("marginToReachRisk: short mirrored", () => {
    // target liq = 50000 + 4000/0.5 = 58000; margin = ceil(1e10*(1/50000-1/58000)) = 27587.
    expect(marginToReachRisk("sell", 100, 50_000, 20_000, 54_000, 0.5)).toBe(7_587);
  });

  it("marginToReachRisk: 0 when already under target, throws outside (0,1)", () => {
    expect(marginToReachRisk("buy", 100, 50_000, 20_000, 49_000, 0.5)).toBe(0);
    expect(marginToReachRisk("buy", 100, 50_000, 20_000, 51_000, 0.5)).toBe(0);
    expect(() => marginToReachRisk("buy", 100, 50_000, 20_000, 46_000, 0)).toThrow(RangeError);
    expect(() => marginToReachRisk("buy", 100, 50_000, 20_000, 46_000, 1)).toThrow(RangeError);
  });

  it("marginToReachRisk: a long whose target liquidation would be <= 0 needs infinite margin", () => {
    // Price at 40 % below entry with target 0.3: liquidation would have to be below zero.
    expect(marginToReachRisk("buy", 100, 50_000, 1_000_000, 30_000, 0.3)).toBe(Number.POSITIVE_INFINITY);
  });

  it("roundToTick and isOnTick", () => {
    expect(roundToTick(100.24)).toBe(100);
    expect(roundToTick(100.25)).toBe(100.5);
    expect(roundToTick(100.76)).toBe(101);
    expect(isOnTick(100.5)).toBe(true);
    expect(isOnTick(100.3)).toBe(false);
  });
});

describe("inverse maths: properties", () => {
  const side = fc.constantFrom<Side>("buy", "sell");
  const price = fc.integer({ min: 10_000, max: 200_000 });
  const quantity = fc.integer({ min: 1, max: 500_000 });
  const leverage = fc.integer({ min: 2, max: 100 });

  it("pnl of a short is minus the long's", () => {
    fc.assert(
      fc.property(quantity, price, price, (q, e, p) => pnl("sell", q, e, p) === -pnl("buy", q, e, p)),
    );
  });

  it("risk is 1 at the computed liquidation and 0 at entry", () => {
    fc.assert(
      fc.property(side, quantity, price, leverage, (s, q, e, lev) => {
        const m = marginFor(q, e, lev);
        fc.pre(m > 0);
        const liq = liquidationPrice(s, q, e, m);
        return riskOf(s, e, liq, e) === 0 && Math.abs(riskOf(s, e, liq, liq) - 1) < 1e-9;
      }),
    );
  });

  it("the long loses exactly its margin at liquidation", () => {
    fc.assert(
      fc.property(quantity, price, leverage, (q, e, lev) => {
        const m = marginFor(q, e, lev);
        fc.pre(m > 0);
        const loss = -pnl("buy", q, e, liquidationPrice("buy", q, e, m));
        return Math.abs(loss - m) < 1e-6 * m + 1e-6;
      }),
    );
  });

  it("adding marginToReachRisk brings risk to the target, and one sat less does not", () => {
    fc.assert(
      fc.property(
        side,
        quantity,
        price,
        leverage,
        fc.double({ min: 0.3, max: 0.99, noNaN: true }),
        fc.double({ min: 0.1, max: 0.8, noNaN: true }),
        (s, q, e, lev, risk, target) => {
          const m = marginFor(q, e, lev);
          fc.pre(m > 0);
          const liq = liquidationPrice(s, q, e, m);
          const p = s === "buy" ? e - risk * (e - liq) : e + risk * (liq - e);
          const add = marginToReachRisk(s, q, e, m, p, target);
          if (risk <= target) return add === 0;
          fc.pre(Number.isFinite(add) && add > 1);
          const after = riskOf(s, e, liquidationPrice(s, q, e, m + add), p);
          const short = riskOf(s, e, liquidationPrice(s, q, e, m + add - 1), p);
          return after <= target + 1e-9 && short > target - 1e-6;
        },
      ),
    );
  });
});
