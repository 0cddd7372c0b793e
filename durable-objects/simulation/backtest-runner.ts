/**
 * The SimulationDO's backtest mode (issue 24): candles in batches (one cache chunk of the
 * exchange's history, or 1,000 candles of an upload, per alarm), both runs of
 * src/domain/backtest.ts stepped through each candle, every candle saved as a step and every
 * ended trade as a trade row, the side-by-side summary kept up to date.
 */
import { backtestSummary, createBacktest, fundingRateLookup, openTradeReports, stepCandle, type BacktestState } from "../../src/domain/backtest";
import { candleDurationMs, chunkSpanMs, chunkStart, rangeMs, type BtCandle } from "../../src/domain/backtest-candles";
import { LnMarketsError } from "../../src/lnmarkets/errors";
import { emptyStats, loadChunk, loadFunding, type SourceStats } from "./candle-source";
import type { SavedStep, SimulationStore } from "./storage";
import type { SimResult, SimulationParams } from "./types";

/** Candles of an upload stepped per alarm invocation. */
const UPLOAD_BATCH = 1_000;
/** Default funding rate per settlement when the history has none for a slot: 0.01 %. */
export const DEFAULT_FUNDING_RATE = 0.0001;

export interface BacktestCursor {
  /** Candles source: start of the next chunk to load; upload: index of the next candle. */
  next: number;
  stats: SourceStats;
  /** End of the last candle stepped (ms). */
  endTime?: number;
  funding: Array<{ time: number; rate: number }>;
}

/** How many candles the window should hold (the progress denominator). */
export function expectedCandles(params: SimulationParams): number {
  const s = params.source!;
  if (s.type === "upload") return s.candles.length;
  return Math.max(1, Math.ceil((s.to - s.from) / rangeMs(s.range)));
}

type Batch = { candles: Array<{ c: BtCandle; durationMs: number }>; next: number; done: boolean };

/** The next batch of candles after `cursor` (loads and caches a chunk for the candles source). */
async function nextBatch(env: Env, params: SimulationParams, cursor: BacktestCursor): Promise<Batch> {
  const s = params.source!;
  if (s.type === "upload") {
    const all = s.candles;
    const end = Math.min(all.length, cursor.next + UPLOAD_BATCH);
    const candles = all.slice(cursor.next, end).map((c, i) => {
      const k = cursor.next + i;
      const gap = k + 1 < all.length ? all[k + 1]!.time - c.time : k > 0 ? c.time - all[k - 1]!.time : 60_000;
      return { c, durationMs: gap };
    });
    return { candles, next: end, done: end >= all.length };
  }
  const chunk = await loadChunk(env, s, cursor.next, cursor.stats);
  const candles = chunk.filter((c) => c.time >= s.from && c.time < s.to).map((c) => ({ c, durationMs: candleDurationMs(s.range, c.time) }));
  const next = cursor.next + chunkSpanMs(s.range);
  return { candles, next, done: next >= s.to };
}

const invalid = (field: string, message: string): SimResult<never> => ({ ok: false, code: "validation_error", field, message });

/**
 * Load the funding history and the first candles, and open the position in both runs. Fails
 * (as a validation error naming the field) when the network is not configured here, the
 * window holds no candle, or the position cannot be opened.
 */
export async function prepareBacktest(env: Env, params: SimulationParams): Promise<SimResult<{ bt: BacktestState; cursor: BacktestCursor }>> {
  const s = params.source!;
  const cursor: BacktestCursor = { next: s.type === "upload" ? 0 : chunkStart(s.range, s.from), stats: emptyStats(), funding: [] };
  let first: BtCandle | undefined;
  try {
    if (s.type === "candles") cursor.funding = await loadFunding(env, s, cursor.stats);
    // Find the first candle without consuming the cursor: its chunk is cached (or reloaded) by the alarm.
    const probe: BacktestCursor = { ...cursor, stats: emptyStats() };
    for (;;) {
      const b = await nextBatch(env, params, probe);
      first = b.candles[0]?.c;
      if (first || b.done) break;
      probe.next = b.next;
      cursor.next = b.next; // empty chunks need not be read again
    }
    cursor.stats.exchangeRequests += probe.stats.exchangeRequests;
  } catch (e) {
    if (e instanceof LnMarketsError && e.code === "not_configured") return invalid("source.network", e.message);
    throw e;
  }
  if (!first) return invalid("source", "the window holds no candle");
  try {
    const bt = createBacktest({
      automations: params.automations,
      ...(params.position ? { position: params.position } : {}),
      ...(params.freeBalanceSats !== undefined ? { freeBalanceSats: params.freeBalanceSats } : {}),
      ...(params.spread !== undefined ? { spread: params.spread } : {}),
      ...(params.feeRate !== undefined ? { feeRate: params.feeRate } : {}),
      fundingRate: params.fundingRate ?? DEFAULT_FUNDING_RATE,
    }, first);
    return { ok: true, value: { bt, cursor } };
  } catch (e) {
    return invalid("position", e instanceof Error ? e.message : String(e));
  }
}

/**
 * Step one batch: load it, then (synchronously, in one transaction by the caller's `write`)
 * step and save every candle. Returns whether the backtest is done and the steps saved.
 */
export async function advanceBacktest(
  env: Env,
  store: SimulationStore,
  params: SimulationParams,
  write: (fn: () => void) => void,
  /** Sends a message to the run's sockets; null when none is connected (steps are then not serialised). */
  push: ((msg: string) => void) | null,
): Promise<{ done: boolean; step: number }> {
  const cursor = store.getJson<BacktestCursor>("cursor")!;
  const batch = await nextBatch(env, params, cursor);
  let step = 0;
  write(() => {
    const bt = store.getJson<BacktestState>("bt")!;
    const rateAt = fundingRateLookup(cursor.funding, bt.config.fundingRate);
    const steps: SavedStep[] = [];
    for (const { c, durationMs } of batch.candles) {
      // A chunk reloaded after an eviction may hold candles already stepped.
      if (bt.candles > 0 && c.time <= bt.lastTime) continue;
      const r = stepCandle(bt, c, durationMs, rateAt);
      steps.push(r.step);
      for (const t of r.trades) store.insertTrade(t);
      if (push) push(JSON.stringify({ type: "step", record: r.step }));
      cursor.endTime = c.time + durationMs;
    }
    store.insertSteps(steps);
    cursor.next = batch.next;
    cursor.stats.candles = bt.candles;
    if (batch.done) for (const t of openTradeReports(bt)) store.insertTrade(t);
    store.setJson("bt", bt);
    store.setJson("cursor", cursor);
    store.setJson("summary", { ...backtestSummary(bt, cursor.endTime ?? bt.lastTime), source: sourceView(params, cursor.stats) });
    step = bt.candles;
  });
  return { done: batch.done, step };
}

function sourceView(params: SimulationParams, stats: SourceStats) {
  const s = params.source!;
  return s.type === "upload" ? { type: "upload", ...stats } : { type: s.type, network: s.network, range: s.range, ...stats };
}
