/**
 * Candles for backtests (issue 24): the validated shape, an uploaded CSV or JSON file, the
 * cache chunks a history is fetched and stored in, and the walk through one candle.
 * Pure: no runtime imports.
 */
import { z } from "zod";
import { PRICE_TICK, roundToTick } from "./inverse";

/** Candle resolutions of `GET /futures/candles` (the SDK's `CandlesResolution`). */
export const CandleRange = z.enum(["1m", "3m", "5m", "10m", "15m", "30m", "45m", "1h", "2h", "3h", "4h", "1d", "1w", "1month", "3months"]);
export type CandleRange = z.infer<typeof CandleRange>;

const MIN = 60_000;
const FIXED_MS: Partial<Record<CandleRange, number>> = {
  "1m": MIN, "3m": 3 * MIN, "5m": 5 * MIN, "10m": 10 * MIN, "15m": 15 * MIN, "30m": 30 * MIN, "45m": 45 * MIN,
  "1h": 60 * MIN, "2h": 120 * MIN, "3h": 180 * MIN, "4h": 240 * MIN, "1d": 1_440 * MIN, "1w": 7 * 1_440 * MIN,
};

/** Nominal length of a candle (a month counts 31 days: only used for sizing, never for times). */
export function rangeMs(range: CandleRange): number {
  return FIXED_MS[range] ?? (range === "1month" ? 31 : 92) * 1_440 * MIN;
}

/** One candle as the backtest uses it: `time` is its start in ms. */
export interface BtCandle {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
}

const Time = z.union([z.number().int().min(0), z.string().min(1).max(40)]).transform((v, ctx) => {
  const t = typeof v === "number" ? v : /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t) || t < 0) {
    ctx.addIssue({ code: "custom", message: "time must be an ISO date-time or Unix milliseconds" });
    return z.NEVER;
  }
  return t;
});
const Price = z.coerce.number().positive().max(100_000_000);

/** A candle from an upload or the exchange; `high` and `low` must bound `open` and `close`. */
export const CandleInput = z.object({ time: Time, open: Price, high: Price, low: Price, close: Price, volume: z.unknown().optional() })
  .superRefine((c, ctx) => {
    if (c.high < Math.max(c.open, c.close, c.low)) ctx.addIssue({ code: "custom", path: ["high"], message: "high is under open, close or low" });
    if (c.low > Math.min(c.open, c.close)) ctx.addIssue({ code: "custom", path: ["low"], message: "low is over open or close" });
  })
  .transform((c): BtCandle => ({ time: c.time, open: c.open, high: c.high, low: c.low, close: c.close }));

/** At most this many candles in an uploaded file (a larger one is refused with 413). */
export const MAX_UPLOAD_CANDLES = 5_000;

export type CandleFileResult = { ok: true; candles: BtCandle[] } | { ok: false; status: 400 | 413; path: string; message: string };

/** Candles oldest first with strictly increasing times, else the first fault. */
function ordered(candles: BtCandle[], path: string): CandleFileResult {
  for (let i = 1; i < candles.length; i++) {
    if (candles[i]!.time <= candles[i - 1]!.time) return { ok: false, status: 400, path: `${path}.${i}.time`, message: "candles must be oldest first with increasing times" };
  }
  return { ok: true, candles };
}

/** Validate an uploaded JSON array of candles (`path` names the field in errors). */
export function parseCandleJson(input: unknown[], path = "source.candles"): CandleFileResult {
  if (input.length > MAX_UPLOAD_CANDLES) return { ok: false, status: 413, path, message: `at most ${MAX_UPLOAD_CANDLES} candles per upload (got ${input.length})` };
  if (input.length < 2) return { ok: false, status: 400, path, message: "at least 2 candles" };
  const out: BtCandle[] = [];
  for (let i = 0; i < input.length; i++) {
    const r = CandleInput.safeParse(input[i]);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      return { ok: false, status: 400, path: [path, i, ...issue.path].join("."), message: issue.message };
    }
    out.push(r.data);
  }
  return ordered(out, path);
}

/**
 * Validate an uploaded CSV: a header naming at least `time,open,high,low,close` (any order,
 * more columns ignored), then one candle a line. Errors name `source.csv` and the line.
 */
export function parseCandleCsv(text: string, path = "source.csv"): CandleFileResult {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length - 1 > MAX_UPLOAD_CANDLES) return { ok: false, status: 413, path, message: `at most ${MAX_UPLOAD_CANDLES} candles per upload (got ${lines.length - 1})` };
  const header = (lines[0] ?? "").split(",").map((h) => h.trim().toLowerCase());
  const col = Object.fromEntries(["time", "open", "high", "low", "close"].map((k) => [k, header.indexOf(k)]));
  const missing = Object.entries(col).filter(([, i]) => i < 0).map(([k]) => k);
  if (missing.length) return { ok: false, status: 400, path, message: `the header must name time,open,high,low,close (missing ${missing.join(", ")})` };
  const rows = lines.slice(1).map((l) => {
    const cells = l.split(",").map((c) => c.trim());
    return { time: cells[col.time!], open: cells[col.open!], high: cells[col.high!], low: cells[col.low!], close: cells[col.close!] };
  });
  const r = parseCandleJson(rows, path);
  if (!r.ok && r.status === 400) {
    const m = /^source\.csv\.(\d+)\.?(.*)$/.exec(r.path);
    if (m) return { ...r, path, message: `line ${Number(m[1]) + 2}${m[2] ? ` (${m[2]})` : ""}: ${r.message}` };
  }
  return r;
}

// --- cache chunks ------------------------------------------------------------------------

/** Candles per cache chunk: one page of the exchange at its largest `limit`. */
export const CHUNK_CANDLES = 1_000;

/** Length of a cache chunk for `range`: CHUNK_CANDLES nominal candles (months: 31 days each). */
export function chunkSpanMs(range: CandleRange): number {
  return CHUNK_CANDLES * rangeMs(range);
}

/** Start of the cache chunk containing `t`. Chunks are aligned to the epoch so runs share them. */
export function chunkStart(range: CandleRange, t: number): number {
  const span = chunkSpanMs(range);
  return Math.floor(t / span) * span;
}

/** R2 key of a chunk: network, range and its time window. */
export function chunkKey(network: string, range: CandleRange, start: number): string {
  return `candles/v1/${network}/${range}/${start}-${start + chunkSpanMs(range)}.json`;
}

// --- the walk through one candle ----------------------------------------------------------

/** Which side the run is exposed to at the start of a candle. */
export type Exposure = "long" | "short" | "flat";

/**
 * The prices a candle is walked through, with their time offsets: open -> first extreme ->
 * second extreme -> close, the extreme that is worst for the position first, so an
 * intra-candle liquidation (or stop) is never missed and never flattered: a long (net long
 * exposure) sees the low before the high, a short the high before the low. When flat, the
 * candle's own direction decides (a green candle dips first, a red one rallies first), the
 * usual convention of OHLC backtesters. Offsets split the candle in quarters: open at 0,
 * extremes at 1/4 and 1/2, close at 3/4 of `durationMs`. Prices are on the 0.5 tick.
 */
export function candleWalk(c: BtCandle, exposure: Exposure, durationMs: number): Array<{ price: number; at: number }> {
  const lowFirst = exposure === "long" || (exposure === "flat" && c.close >= c.open);
  const [a, b] = lowFirst ? [c.low, c.high] : [c.high, c.low];
  const tick = (p: number) => Math.max(PRICE_TICK, roundToTick(p));
  const q = Math.max(1, Math.floor(durationMs / 4));
  return [
    { price: tick(c.open), at: c.time },
    { price: tick(a), at: c.time + q },
    { price: tick(b), at: c.time + 2 * q },
    { price: tick(c.close), at: c.time + 3 * q },
  ];
}

/** Length of the exchange's candle of `range` starting at `start` (calendar months, UTC). */
export function candleDurationMs(range: CandleRange, start: number): number {
  const fixed = FIXED_MS[range];
  if (fixed !== undefined) return fixed;
  const d = new Date(start);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + (range === "1month" ? 1 : 3), 1) - start;
}
