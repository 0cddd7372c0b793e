import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isOnTick } from "../../src/domain/inverse";
import {
  CRASH_STEPS,
  SCENARIO_PARAMS,
  createPriceScenario,
  createRng,
  crashDriftPerStep,
  mulberry32,
  type ScenarioName,
} from "../../src/domain/scenarios";

function path(name: ScenarioName, steps: number, seed = 42, initialPrice = 100_000, dropPct?: number): number[] {
  const s = createPriceScenario({ name, initialPrice, seed, ...(dropPct === undefined ? {} : { dropPct }) });
  return Array.from({ length: steps }, () => s.next());
}

function logReturns(prices: number[], start: number): number[] {
  const all = [start, ...prices];
  return prices.map((p, i) => Math.log(p / all[i]!));
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
};

describe("mulberry32", () => {
  it("is deterministic per seed and differs across seeds", () => {
    const a = mulberry32(7), b = mulberry32(7), c = mulberry32(8);
    const xa = [a(), a(), a()], xb = [b(), b(), b()], xc = [c(), c(), c()];
    expect(xa).toEqual(xb);
    expect(xa).not.toEqual(xc);
  });

  it("matches the reference algorithm's first outputs for seed 0", () => {
    // Computed by hand-running the reference steps: a = 0x6d2b79f5 on the first call.
    const r = mulberry32(0);
    let a = 0x6d2b79f5;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    expect(r()).toBe(((t ^ (t >>> 14)) >>> 0) / 4294967296);
    a = (0x6d2b79f5 * 2) >>> 0;
    t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    expect(r()).toBe(((t ^ (t >>> 14)) >>> 0) / 4294967296);
  });

  it("is uniform on [0, 1)", () => {
    const r = mulberry32(123);
    const xs = Array.from({ length: 20_000 }, r);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(mean(xs)).toBeCloseTo(0.5, 2);
    const buckets = new Array(10).fill(0);
    for (const x of xs) buckets[Math.floor(x * 10)]++;
    for (const n of buckets) expect(Math.abs(n - 2000)).toBeLessThan(200);
  });

  it("normal() has mean 0 and standard deviation 1", () => {
    const rng = createRng(99);
    const xs = Array.from({ length: 20_000 }, () => rng.normal());
    expect(Math.abs(mean(xs))).toBeLessThan(0.03);
    expect(std(xs)).toBeGreaterThan(0.97);
    expect(std(xs)).toBeLessThan(1.03);
    expect(xs.every(Number.isFinite)).toBe(true);
  });
});

describe("createPriceScenario", () => {
  const generated: ScenarioName[] = ["bull", "bear", "sideways", "volatile", "crash"];

  it.each(generated)("%s: same seed gives the identical path, another seed another", (name) => {
    expect(path(name, 500, 1)).toEqual(path(name, 500, 1));
    expect(path(name, 500, 1)).not.toEqual(path(name, 500, 2));
  });

  it("every price is on the 0.5 tick and positive, for any seed and scenario", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...generated),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.double({ min: 1, max: 1e6, noNaN: true }),
        (name, seed, initialPrice) => {
          for (const p of path(name, 300, seed, initialPrice)) {
            if (!(p > 0 && isOnTick(p))) return false;
          }
          return true;
        },
      ),
      { numRuns: 60 },
    );
  });

  it("never returns <= 0 even when the walk collapses", () => {
    // A 99.99 % crash from 1 USD would round to 0 without the one-tick floor.
    const prices = path("crash", CRASH_STEPS + 10, 3, 1, 99.99);
    expect(Math.min(...prices)).toBe(0.5);
  });

  it("bull drifts up with low volatility, matching the documented parameters", () => {
    const r = logReturns(path("bull", 5000), 100_000);
    const { drift, volatility } = SCENARIO_PARAMS.bull;
    // Standard error of the mean is vol/sqrt(n) = 2.8e-5: drift must lie within 4 of them.
    expect(mean(r)).toBeGreaterThan(0);
    expect(Math.abs(mean(r) - drift)).toBeLessThan(4 * (volatility / Math.sqrt(5000)));
    expect(std(r)).toBeCloseTo(volatility, 3);
  });

  it("bear drifts down with medium volatility", () => {
    const r = logReturns(path("bear", 5000), 100_000);
    const { drift, volatility } = SCENARIO_PARAMS.bear;
    expect(mean(r)).toBeLessThan(0);
    expect(Math.abs(mean(r) - drift)).toBeLessThan(4 * (volatility / Math.sqrt(5000)));
    expect(Math.abs(std(r) - volatility) / volatility).toBeLessThan(0.05);
    expect(volatility).toBeGreaterThan(SCENARIO_PARAMS.bull.volatility);
  });

  it("sideways has no trend and stays near its start", () => {
    const prices = path("sideways", 5000);
    const r = logReturns(prices, 100_000);
    expect(Math.abs(mean(r))).toBeLessThan(4 * (SCENARIO_PARAMS.sideways.volatility / Math.sqrt(5000)));
    // Mean reversion bounds the wander: stationary sd of ln(p) is vol/sqrt(2k) = 1 %.
    expect(Math.max(...prices)).toBeLessThan(106_000);
    expect(Math.min(...prices)).toBeGreaterThan(94_000);
  });

  it("volatile is the noisiest and has extreme events", () => {
    const r = logReturns(path("volatile", 5000), 100_000);
    const { volatility, jumpMin, jumpProbability } = SCENARIO_PARAMS.volatile;
    expect(std(r)).toBeGreaterThan(volatility);
    const extreme = r.filter((x) => Math.abs(x) >= jumpMin).length;
    // ~45 expected (1 % of 5000, most jumps still beyond jumpMin after noise); diffusion alone
    // gives about one move beyond 3.75 sigma in 5000.
    expect(extreme).toBeGreaterThan(5000 * jumpProbability * 0.5);
    expect(extreme).toBeLessThan(5000 * jumpProbability * 2);
    for (const other of ["bull", "bear", "sideways"] as const) {
      expect(volatility).toBeGreaterThan(SCENARIO_PARAMS[other].volatility);
    }
  });

  it("crash drops dropPct over CRASH_STEPS steps, then moves as noise", () => {
    const prices = path("crash", CRASH_STEPS + 2000, 5, 100_000, 30);
    expect(crashDriftPerStep(30)).toBeCloseTo(Math.log(0.7) / CRASH_STEPS, 12);
    const atBottom = prices[CRASH_STEPS - 1]!;
    expect(atBottom / 100_000).toBeGreaterThan(0.68);
    expect(atBottom / 100_000).toBeLessThan(0.72);
    const after = logReturns(prices.slice(CRASH_STEPS), atBottom);
    expect(Math.abs(mean(after))).toBeLessThan(4 * (SCENARIO_PARAMS.crash.volatility / Math.sqrt(2000)));
  });

  it("crash defaults to a 20 % drop", () => {
    const bottom = path("crash", CRASH_STEPS)[CRASH_STEPS - 1]!;
    expect(bottom / 100_000).toBeGreaterThan(0.78);
    expect(bottom / 100_000).toBeLessThan(0.82);
  });

  it("replay returns the prices in order, on the tick, then holds the last", () => {
    const s = createPriceScenario({ name: "replay", initialPrice: 1, seed: 0, prices: [100, 101.3, 99.74] });
    expect([s.next(), s.next(), s.next(), s.next(), s.next()]).toEqual([100, 101.5, 99.5, 99.5, 99.5]);
  });

  it("rejects bad inputs", () => {
    expect(() => createPriceScenario({ name: "bull", initialPrice: 0, seed: 1 })).toThrow(RangeError);
    expect(() => createPriceScenario({ name: "bull", initialPrice: Number.NaN, seed: 1 })).toThrow(RangeError);
    expect(() => createPriceScenario({ name: "crash", initialPrice: 1, seed: 1, dropPct: 100 })).toThrow(RangeError);
    expect(() => createPriceScenario({ name: "replay", initialPrice: 1, seed: 1 })).toThrow(RangeError);
    expect(() => createPriceScenario({ name: "replay", initialPrice: 1, seed: 1, prices: [1, -2] })).toThrow(RangeError);
  });
});
