/**
 * Where a backtest's candles come from (issue 24): `GET /futures/candles` on the chosen
 * network (the simulator's deterministic history in dev and tests, through the same endpoint
 * resolution as accounts), one chunk of CHUNK_CANDLES candles at a time, cursor-paged, and
 * cached in R2 (`CANDLES`) under a key naming network, range and time window. A chunk is
 * stored only once its window is over (a window reaching into the future would cache a
 * partial page), so a second run over the same past window reads no exchange.
 * Funding settlements of the window are fetched (and cached) the same way.
 */
import { chunkKey, chunkSpanMs, type BtCandle, type CandleRange } from "../../src/domain/backtest-candles";
import { LnMarketsRestClient } from "../../src/lnmarkets/rest-client";
import { resolveEndpoints, type LnMarketsNetwork } from "../../src/lnmarkets/transport";

export interface CandleSourceSpec {
  type: "candles";
  network: LnMarketsNetwork;
  range: CandleRange;
  /** Window, ms: candles starting in [from, to). */
  from: number;
  to: number;
}

/** How the run got its data: the proof that a cached window reads no exchange. */
export interface SourceStats {
  chunks: number;
  cacheHits: number;
  exchangeRequests: number;
  candles: number;
}

export const emptyStats = (): SourceStats => ({ chunks: 0, cacheHits: 0, exchangeRequests: 0, candles: 0 });

/** Pages followed per chunk at most: a chunk is one page at limit 1000; a smaller server page size still fits. */
const MAX_PAGES = 50;

function client(env: Env, network: LnMarketsNetwork, stats: SourceStats): LnMarketsRestClient {
  const endpoints = resolveEndpoints(env, network);
  const fetch = endpoints.fetch;
  return new LnMarketsRestClient({
    endpoints: { restBase: endpoints.restBase, fetch: (input, init) => { stats.exchangeRequests += 1; return fetch(input, init); } },
    timeoutMs: 20_000,
  });
}

const iso = (t: number) => new Date(t).toISOString();

/** The candles of the chunk starting at `start`, from R2 or the exchange (then cached). */
export async function loadChunk(env: Env, spec: CandleSourceSpec, start: number, stats: SourceStats, now = Date.now()): Promise<BtCandle[]> {
  stats.chunks += 1;
  const key = chunkKey(spec.network, spec.range, start);
  const cached = await env.CANDLES.get(key);
  if (cached) {
    stats.cacheHits += 1;
    return (await cached.json()) as BtCandle[];
  }
  const end = start + chunkSpanMs(spec.range);
  const lnm = client(env, spec.network, stats);
  const byTime = new Map<number, BtCandle>();
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const r = await lnm.getCandles({ from: iso(start), to: iso(end - 1), range: spec.range, limit: 1_000, ...(cursor ? { cursor } : {}) });
    for (const c of r.data) {
      const time = Date.parse(c.time);
      if (Number.isFinite(time) && time >= start && time < end) byTime.set(time, { time, open: c.open, high: c.high, low: c.low, close: c.close });
    }
    cursor = r.nextCursor ?? undefined;
    if (!cursor || r.data.length === 0) break;
  }
  const out = [...byTime.values()].sort((a, b) => a.time - b.time);
  if (end <= now) await env.CANDLES.put(key, JSON.stringify(out), { httpMetadata: { contentType: "application/json" } });
  return out;
}

/** Funding settlements in [from, to): `{time, rate}` oldest first, cached like candles. */
export async function loadFunding(env: Env, spec: CandleSourceSpec, stats: SourceStats, now = Date.now()): Promise<Array<{ time: number; rate: number }>> {
  const key = `funding/v1/${spec.network}/${spec.from}-${spec.to}.json`;
  const cached = await env.CANDLES.get(key);
  if (cached) {
    stats.cacheHits += 1;
    return (await cached.json()) as Array<{ time: number; rate: number }>;
  }
  const lnm = client(env, spec.network, stats);
  const out: Array<{ time: number; rate: number }> = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const r = await lnm.getFundingSettlements({ from: iso(spec.from), to: iso(spec.to - 1), limit: 1_000, ...(cursor ? { cursor } : {}) });
    for (const s of r.data) {
      const time = Date.parse(s.time);
      if (Number.isFinite(time) && time >= spec.from && time < spec.to) out.push({ time, rate: s.fundingRate });
    }
    cursor = r.nextCursor ?? undefined;
    if (!cursor || r.data.length === 0) break;
  }
  out.sort((a, b) => a.time - b.time);
  if (spec.to <= now) await env.CANDLES.put(key, JSON.stringify(out), { httpMetadata: { contentType: "application/json" } });
  return out;
}
