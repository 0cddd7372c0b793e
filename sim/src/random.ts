/**
 * The simulator's own seeded randomness and price paths (scenarios, faults, candles): the
 * same seed gives the same numbers on every machine. Independent of the platform's
 * generator: xoshiro128** (Blackman and Vigna, public domain) seeded through splitmix32,
 * normals by the Marsaglia polar method. Pure: no runtime imports.
 */
import { PRICE_TICK, roundToTick } from "./maths";

/** One step of splitmix32: a well-mixed 32-bit value from a 32-bit state. */
export function mix32(x: number): number {
  let z = (x + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** A uniform in [0, 1) that depends only on its integer keys (for keyed, stateless draws). */
export function hashUniform(...keys: number[]): number {
  let h = 0x2545f491;
  for (const k of keys) {
    h = mix32(h ^ (k >>> 0));
    h = mix32(h ^ Math.floor(k / 4294967296) >>> 0);
  }
  return h / 4294967296;
}

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Standard normal. */
  normal(): number;
}

/** xoshiro128** seeded from a 32-bit seed (non-integers are truncated). */
export function seededRng(seed: number): Rng {
  let x = Math.trunc(seed) >>> 0;
  let a = (x = mix32(x));
  let b = (x = mix32(x));
  let c = (x = mix32(x));
  let d = (x = mix32(x));
  if ((a | b | c | d) === 0) a = 1;
  const rotl = (v: number, k: number) => ((v << k) | (v >>> (32 - k))) >>> 0;
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c = (c ^ a) >>> 0;
    d = (d ^ b) >>> 0;
    b = (b ^ c) >>> 0;
    a = (a ^ d) >>> 0;
    c = (c ^ t) >>> 0;
    d = rotl(d, 11);
    return result / 4294967296;
  };
  let spare: number | null = null;
  return {
    next,
    normal() {
      if (spare !== null) {
        const v = spare;
        spare = null;
        return v;
      }
      for (;;) {
        const u = 2 * next() - 1;
        const v = 2 * next() - 1;
        const q = u * u + v * v;
        if (q > 0 && q < 1) {
          const f = Math.sqrt((-2 * Math.log(q)) / q);
          spare = v * f;
          return u * f;
        }
      }
    },
  };
}

export type ScenarioName = "bull" | "bear" | "sideways" | "volatile" | "crash" | "replay";

/**
 * Per-step log-return parameters: drift, noise, jumps (probability and size range) and a pull
 * back to the start (sideways). Crash: the drop spread evenly over CRASH_STEPS steps, then
 * sideways-like noise.
 */
const PARAMS: Record<Exclude<ScenarioName, "replay">, { drift: number; vol: number; jumpP: number; jump: [number, number]; pull: number }> = {
  bull: { drift: 0.00025, vol: 0.002, jumpP: 0, jump: [0, 0], pull: 0 },
  bear: { drift: -0.0003, vol: 0.0035, jumpP: 0, jump: [0, 0], pull: 0 },
  sideways: { drift: 0, vol: 0.002, jumpP: 0, jump: [0, 0], pull: 0.03 },
  volatile: { drift: 0, vol: 0.007, jumpP: 0.015, jump: [0.03, 0.08], pull: 0 },
  crash: { drift: 0, vol: 0.002, jumpP: 0, jump: [0, 0], pull: 0 },
};
export const CRASH_STEPS = 40;
export const DEFAULT_CRASH_DROP_PCT = 20;

export interface PricePathOptions {
  name: ScenarioName;
  initialPrice: number;
  seed: number;
  dropPct?: number;
  prices?: number[];
}

export interface PricePath {
  /** The next price, on the 0.5 tick, never under one tick. */
  next(): number;
}

const toTick = (p: number) => Math.max(PRICE_TICK, roundToTick(p));

/**
 * A deterministic price path: a function of its options only. The first next() is the step
 * after `initialPrice`; replay plays `prices` in order and then holds the last one.
 */
export function pricePath(o: PricePathOptions): PricePath {
  if (o.name === "replay") {
    const ticks = (o.prices ?? []).map(toTick);
    if (ticks.length === 0) throw new RangeError("replay needs prices");
    let i = 0;
    return { next: () => ticks[Math.min(i++, ticks.length - 1)]! };
  }
  const p = PARAMS[o.name];
  const rng = seededRng(o.seed);
  const start = Math.log(o.initialPrice);
  const crashStep = Math.log(1 - (o.dropPct ?? DEFAULT_CRASH_DROP_PCT) / 100) / CRASH_STEPS;
  let logPrice = start;
  let step = 0;
  return {
    next() {
      step += 1;
      let r: number;
      if (o.name === "crash" && step <= CRASH_STEPS) {
        // Small noise only, so the crash leg stays a fall.
        r = crashStep * (1 + 0.2 * (rng.next() - 0.5));
      } else {
        r = p.drift + p.vol * rng.normal() - p.pull * (logPrice - start);
        if (p.jumpP > 0 && rng.next() < p.jumpP) {
          const size = p.jump[0] + (p.jump[1] - p.jump[0]) * rng.next();
          r += rng.next() < 0.5 ? -size : size;
        }
      }
      logPrice += r;
      return toTick(Math.exp(logPrice));
    },
  };
}
