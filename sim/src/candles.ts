/**
 * A deterministic synthetic price history for `GET /v3/futures/candles`: the price at a time
 * is a fixed function of that time (a sum of seeded slow waves plus keyed noise), so the same
 * query always gives the same candles, a candle does not depend on the window it was asked in,
 * and paging is stable. It is not the live price of the simulator. Pure: no runtime imports.
 */
import { PRICE_TICK, roundToTick } from "./maths";
import { hashUniform } from "./random";

/** The SDK's CandlesResolution (node_modules/@ln-markets/sdk/src/rest/v3/routes/futures/candles.ts). */
export const CANDLE_RANGES = [
  "1m", "3m", "5m", "10m", "15m", "30m", "45m", "1h", "2h", "3h", "4h", "1d", "1w", "1month", "3months",
] as const;
export type CandleRange = (typeof CANDLE_RANGES)[number];
export const DEFAULT_CANDLE_RANGE: CandleRange = "1m";

const MIN = 60_000;
const FIXED: Partial<Record<CandleRange, number>> = {
  "1m": MIN, "3m": 3 * MIN, "5m": 5 * MIN, "10m": 10 * MIN, "15m": 15 * MIN, "30m": 30 * MIN, "45m": 45 * MIN,
  "1h": 60 * MIN, "2h": 120 * MIN, "3h": 180 * MIN, "4h": 240 * MIN, "1d": 1440 * MIN, "1w": 7 * 1440 * MIN,
};
/** Weeks start on Monday 00:00 UTC (1970-01-05). */
const MONDAY0 = 4 * 1440 * MIN;

export interface Candle {
  time: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** Start of the candle of `range` that contains `t` (UTC). */
export function candleStart(range: CandleRange, t: number): number {
  const ms = FIXED[range];
  if (ms !== undefined) {
    const origin = range === "1w" ? MONDAY0 : 0;
    return origin + Math.floor((t - origin) / ms) * ms;
  }
  const d = new Date(t);
  const months = range === "1month" ? 1 : 3;
  const m = Math.floor(d.getUTCMonth() / months) * months;
  return Date.UTC(d.getUTCFullYear(), m, 1);
}

/** Start of the candle after the one starting at `start`. */
export function nextCandleStart(range: CandleRange, start: number): number {
  const ms = FIXED[range];
  if (ms !== undefined) return start + ms;
  const d = new Date(start);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + (range === "1month" ? 1 : 3), 1);
}

// Periods in minutes and log amplitudes of the waves; phases are seeded.
const WAVES: Array<[number, number]> = [
  [4 * 525_600, 0.45], [525_600, 0.22], [129_600, 0.09], [43_200, 0.05], [10_080, 0.025],
  [1_440, 0.012], [240, 0.005], [60, 0.0025], [15, 0.0012],
];
const PHASES = WAVES.map((_, i) => 2 * Math.PI * hashUniform(0x5eed, i));
const BASE = Math.log(60_000);

/** The synthetic price at time `t` (ms), on the tick. */
export function syntheticPrice(t: number): number {
  const minute = t / MIN;
  let x = BASE;
  WAVES.forEach(([period, amp], i) => {
    x += amp * Math.sin((2 * Math.PI * minute) / period + PHASES[i]!);
  });
  x += 0.0008 * (hashUniform(Math.floor(minute), 0xc0ffee) - 0.5);
  return Math.max(PRICE_TICK, roundToTick(Math.exp(x)));
}

const SAMPLES = 24;

/** The candle of `range` starting at `start`: open at its start, close at the next candle's open. */
export function candleAt(range: CandleRange, start: number): Candle {
  const end = nextCandleStart(range, start);
  const open = syntheticPrice(start);
  const close = syntheticPrice(end);
  let high = Math.max(open, close);
  let low = Math.min(open, close);
  for (let i = 1; i < SAMPLES; i++) {
    const p = syntheticPrice(start + ((end - start) * i) / SAMPLES);
    if (p > high) high = p;
    if (p < low) low = p;
  }
  const minutes = (end - start) / MIN;
  const volume = Math.round(minutes * 2_000 * (0.5 + hashUniform(Math.floor(start / MIN), 0xb0b)));
  return { time: new Date(start).toISOString(), open, high, low, close, volume };
}

/**
 * Candles oldest first, starting at the first candle that starts at or after `from` (or at
 * `cursor`, the start of the next page), up to `to` and never past `now`: at most `limit`, and
 * the start of the next one as cursor when more remain.
 */
export function candles(opts: { range: CandleRange; from: number; to: number; limit: number; cursor?: number; now: number }): {
  data: Candle[];
  next: number | null;
} {
  const last = Math.min(opts.to, opts.now);
  let start = opts.cursor ?? candleStart(opts.range, opts.from);
  if (opts.cursor === undefined && start < opts.from) start = nextCandleStart(opts.range, start);
  const data: Candle[] = [];
  while (start <= last && data.length < opts.limit) {
    data.push(candleAt(opts.range, start));
    start = nextCandleStart(opts.range, start);
  }
  return { data, next: start <= last ? start : null };
}
