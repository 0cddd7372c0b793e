/**
 * Seeded price scenarios for simulations and the exchange simulator.
 *
 * Every path is a function of (name, initialPrice, seed, dropPct, prices) only: the same
 * inputs give the same prices on every machine, so simulation results are reproducible.
 * Prices follow a log-normal random walk per step: ln(p[t+1]/p[t]) = drift + volatility * z
 * (z standard normal), plus scenario extras (jumps, mean reversion, the crash leg).
 * `drift` is the mean log return per step (no Ito correction), so tests can check it directly.
 */
import { z } from "zod";
import { PRICE_TICK, roundToTick } from "./inverse";

/**
 * mulberry32 by Tommy Ettinger (public domain), as popularised in
 * https://github.com/bryc/code/blob/master/jshash/PRNGs.md. 32-bit state, period 2^32, fast and
 * good enough for price noise; not for cryptography.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded source of uniform [0, 1) and standard-normal numbers. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Standard normal (Box-Muller). */
  normal(): number;
}

/** Create a deterministic {@link Rng} from a 32-bit seed (non-integers are truncated). */
export function createRng(seed: number): Rng {
  const uniform = mulberry32(Math.trunc(seed));
  let spare: number | undefined;
  return {
    next: uniform,
    normal() {
      if (spare !== undefined) {
        const s = spare;
        spare = undefined;
        return s;
      }
      // 1 - u keeps the log argument in (0, 1]: log(0) would give an infinite price move.
      const r = Math.sqrt(-2 * Math.log(1 - uniform()));
      const theta = 2 * Math.PI * uniform();
      spare = r * Math.sin(theta);
      return r * Math.cos(theta);
    },
  };
}

export const ScenarioName = z.enum(["bull", "bear", "sideways", "volatile", "crash", "replay"]);
export type ScenarioName = z.infer<typeof ScenarioName>;

/** Per-step parameters of a generated scenario (log returns). */
export interface ScenarioParams {
  /** Mean log return per step. */
  readonly drift: number;
  /** Standard deviation of the diffusive log return per step. */
  readonly volatility: number;
  /** Probability per step of an extreme event (jump). */
  readonly jumpProbability: number;
  /** Jump size bounds, absolute log return; the sign is a fair coin. */
  readonly jumpMin: number;
  readonly jumpMax: number;
  /** Pull of the log price back to its start per step (0 = none): keeps sideways sideways. */
  readonly meanReversion: number;
}

const base = { jumpProbability: 0, jumpMin: 0, jumpMax: 0, meanReversion: 0 } as const;

/**
 * Documented parameters per generated scenario. At 100 ms per step, bull drifts about +0.02 %
 * per step; bear falls faster and is twice as noisy; volatile has 4x bull's noise plus a 1 %
 * chance per step of a 3-8 % jump either way. Crash uses its `noise` after the drop leg.
 */
export const SCENARIO_PARAMS = {
  bull: { ...base, drift: 0.0002, volatility: 0.002 },
  bear: { ...base, drift: -0.0003, volatility: 0.004 },
  sideways: { ...base, drift: 0, volatility: 0.002, meanReversion: 0.02 },
  volatile: { ...base, drift: 0, volatility: 0.008, jumpProbability: 0.01, jumpMin: 0.03, jumpMax: 0.08 },
  crash: { ...base, drift: 0, volatility: 0.002 },
} as const satisfies Record<Exclude<ScenarioName, "replay">, ScenarioParams>;

/** Crash leg: the drop is spread evenly (in log terms) over this many steps, then noise. */
export const CRASH_STEPS = 50;
/** Noise on top of the crash leg, small so the drop stays monotone in practice. */
export const CRASH_LEG_VOLATILITY = 0.0005;
export const DEFAULT_CRASH_DROP_PCT = 20;

/** Mean log return per step during the crash leg for a given drop (e.g. 20 -> ln(0.8)/50). */
export function crashDriftPerStep(dropPct: number = DEFAULT_CRASH_DROP_PCT): number {
  return Math.log(1 - dropPct / 100) / CRASH_STEPS;
}

export interface PriceScenarioOptions {
  name: ScenarioName;
  /** Price at step 0 (not returned by next()). Ignored by replay. */
  initialPrice: number;
  seed: number;
  /** Crash only: total drop in percent, in (0, 100). Default 20. */
  dropPct?: number;
  /** Replay only: the prices to return in order; must be non-empty and positive. */
  prices?: number[];
}

export interface PriceScenario {
  /** The next price, on the 0.5 tick, always >= 0.5. */
  next(): number;
}

/** Rounded to the tick, floored at one tick so a price is never <= 0. */
function toTick(price: number): number {
  return Math.max(PRICE_TICK, roundToTick(price));
}

/**
 * Create a deterministic price path. The first next() is step 1 (after `initialPrice`),
 * except replay, which returns `prices[0]` first and then holds the last price forever.
 * @throws RangeError on a non-positive initial price, a drop outside (0, 100) or empty replay.
 */
export function createPriceScenario(options: PriceScenarioOptions): PriceScenario {
  const { name, initialPrice, seed } = options;
  if (name === "replay") return replayScenario(options.prices);
  if (!(Number.isFinite(initialPrice) && initialPrice > 0)) {
    throw new RangeError("initialPrice must be a positive finite number");
  }
  const dropPct = options.dropPct ?? DEFAULT_CRASH_DROP_PCT;
  if (name === "crash" && !(dropPct > 0 && dropPct < 100)) {
    throw new RangeError("dropPct must be in (0, 100)");
  }
  const params: ScenarioParams = SCENARIO_PARAMS[name];
  const rng = createRng(seed);
  const logStart = Math.log(initialPrice);
  let logPrice = logStart;
  let step = 0;
  const crashDrift = crashDriftPerStep(dropPct);
  return {
    next() {
      step += 1;
      let r: number;
      if (name === "crash" && step <= CRASH_STEPS) {
        r = crashDrift + CRASH_LEG_VOLATILITY * rng.normal();
      } else {
        r = params.drift + params.volatility * rng.normal() - params.meanReversion * (logPrice - logStart);
        if (params.jumpProbability > 0 && rng.next() < params.jumpProbability) {
          const size = params.jumpMin + (params.jumpMax - params.jumpMin) * rng.next();
          r += rng.next() < 0.5 ? -size : size;
        }
      }
      logPrice += r;
      return toTick(Math.exp(logPrice));
    },
  };
}

function replayScenario(prices: number[] | undefined): PriceScenario {
  if (!prices || prices.length === 0) throw new RangeError("replay needs a non-empty prices list");
  if (!prices.every((p) => Number.isFinite(p) && p > 0)) {
    throw new RangeError("replay prices must be positive finite numbers");
  }
  const ticks = prices.map(toTick);
  let i = 0;
  return {
    next() {
      const p = ticks[Math.min(i, ticks.length - 1)]!;
      i += 1;
      return p;
    },
  };
}
