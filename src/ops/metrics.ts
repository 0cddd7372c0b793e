/**
 * Operator metrics computed on demand from D1 (job_events, queue_counters, exchange_accounts,
 * dead_letters, alerts, counters). Nothing is pre-aggregated: the window is short (15 min by
 * default) and job_events is indexed on (worker, ts), so a scrape costs a handful of queries.
 */
import { sql } from "drizzle-orm";
import { getDb } from "../db/client";

/** One minute: the bucket size of every time series. */
export const BUCKET_MS = 60_000;
/** Default look-back of the metrics (and of the failure-rate / p95 alert rules). */
export const DEFAULT_WINDOW_MINUTES = 15;

/** Totals of one worker over the window. Rates are null when nothing finished (no division by zero). */
export interface WorkerMetrics {
  worker: string;
  events: { start: number; complete: number; fail: number; retry: number };
  /** complete + fail: a job that ended, either way. */
  processed: number;
  perMinute: number;
  successRate: number | null;
  failureRate: number | null;
  /** Over finished jobs (complete/fail) that carry a duration. */
  durationCount: number;
  durationSumMs: number;
  avgDurationMs: number | null;
  p95DurationMs: number | null;
  lastEventAt: number | null;
}

/** One minute of one worker: what ended in that minute. */
export interface SeriesPoint {
  ts: number;
  worker: string;
  complete: number;
  fail: number;
}

/** The full metrics document (`GET /v1/admin/metrics`). */
export interface OpsMetrics {
  generatedAt: number;
  window: { from: number; to: number; minutes: number; bucketMs: number };
  workers: WorkerMetrics[];
  series: SeriesPoint[];
  queues: { queue: string; sent: number; settled: number; backlog: number }[];
  accounts: { active: number; feeds: Record<"stream" | "rest" | "none", number>; openSockets: number; inFallback: number };
  deadLetters: { open: number };
  alerts: { open: number };
  counters: Record<string, number>;
}

/** Nearest-rank percentile over an ascending-sorted count: the 1-based rank is ceil(p * n). */
export function percentileRank(p: number, n: number): number {
  return Math.max(1, Math.ceil(p * n));
}

/** Start of the window: whole minutes so every bucket is a full calendar minute (the last one partial). */
export function windowStart(now: number, minutes: number): number {
  return Math.floor(now / BUCKET_MS) * BUCKET_MS - (minutes - 1) * BUCKET_MS;
}

const num = (v: unknown) => Number(v ?? 0);

/**
 * Collects every metric for the window ending at `now` (inclusive) and starting `minutes`
 * whole minutes earlier.
 */
export async function collectMetrics(env: Pick<Env, "DB">, opts: { now?: number; minutes?: number } = {}): Promise<OpsMetrics> {
  const now = opts.now ?? Date.now();
  const minutes = Math.max(1, Math.min(24 * 60, Math.floor(opts.minutes ?? DEFAULT_WINDOW_MINUTES)));
  const from = windowStart(now, minutes);
  const db = getDb(env);

  const [byEvent, durations, buckets, queues, feeds, dlq, alertsOpen, counterRows] = await Promise.all([
    db.all<{ worker: string; event: string; n: number; last: number }>(sql`
      SELECT worker, event, count(*) AS n, max(ts) AS last FROM job_events
      WHERE ts >= ${from} AND ts <= ${now} GROUP BY worker, event`),
    db.all<{ worker: string; n: number; total: number }>(sql`
      SELECT worker, count(*) AS n, sum(duration_ms) AS total FROM job_events
      WHERE ts >= ${from} AND ts <= ${now} AND event IN ('complete', 'fail') AND duration_ms IS NOT NULL GROUP BY worker`),
    db.all<{ worker: string; b: number; complete: number; fail: number }>(sql`
      SELECT worker, CAST((ts - ${from}) / ${BUCKET_MS} AS INTEGER) AS b,
        sum(CASE WHEN event = 'complete' THEN 1 ELSE 0 END) AS complete,
        sum(CASE WHEN event = 'fail' THEN 1 ELSE 0 END) AS fail
      FROM job_events WHERE ts >= ${from} AND ts <= ${now} AND event IN ('complete', 'fail') GROUP BY worker, b`),
    db.all<{ queue: string; sent: number; settled: number }>(sql`SELECT queue, sent, settled FROM queue_counters ORDER BY queue`),
    db.all<{ feed: string | null; n: number }>(sql`
      SELECT feed, count(*) AS n FROM exchange_accounts WHERE enabled_automations > 0 AND status = 'active' GROUP BY feed`),
    db.get<{ n: number }>(sql`SELECT count(*) AS n FROM dead_letters WHERE status = 'open'`),
    db.get<{ n: number }>(sql`SELECT count(*) AS n FROM alerts WHERE status = 'open'`),
    db.all<{ name: string; value: number }>(sql`SELECT name, value FROM counters ORDER BY name`),
  ]);

  // The p95 is read in SQL (one row at the nearest rank) so a busy window never ships every
  // duration to the worker.
  const p95 = new Map<string, number>();
  await Promise.all(durations.map(async (d) => {
    const offset = percentileRank(0.95, num(d.n)) - 1;
    const row = await db.get<{ v: number }>(sql`
      SELECT duration_ms AS v FROM job_events WHERE worker = ${d.worker} AND ts >= ${from} AND ts <= ${now}
        AND event IN ('complete', 'fail') AND duration_ms IS NOT NULL ORDER BY duration_ms LIMIT 1 OFFSET ${sql.raw(String(offset))}`);
    if (row) p95.set(d.worker, num(row.v));
  }));

  const workers = new Map<string, WorkerMetrics>();
  const workerOf = (name: string) => {
    let w = workers.get(name);
    if (!w) {
      w = { worker: name, events: { start: 0, complete: 0, fail: 0, retry: 0 }, processed: 0, perMinute: 0, successRate: null, failureRate: null,
        durationCount: 0, durationSumMs: 0, avgDurationMs: null, p95DurationMs: null, lastEventAt: null };
      workers.set(name, w);
    }
    return w;
  };
  for (const r of byEvent) {
    const w = workerOf(r.worker);
    if (r.event in w.events) w.events[r.event as keyof WorkerMetrics["events"]] = num(r.n);
    w.lastEventAt = Math.max(w.lastEventAt ?? 0, num(r.last));
  }
  for (const d of durations) {
    const w = workerOf(d.worker);
    w.durationCount = num(d.n);
    w.durationSumMs = num(d.total);
    w.avgDurationMs = w.durationCount ? w.durationSumMs / w.durationCount : null;
    w.p95DurationMs = p95.get(d.worker) ?? null;
  }
  for (const w of workers.values()) {
    w.processed = w.events.complete + w.events.fail;
    w.perMinute = w.processed / minutes;
    w.successRate = w.processed ? w.events.complete / w.processed : null;
    w.failureRate = w.processed ? w.events.fail / w.processed : null;
  }

  // Dense series: every worker gets every minute, zeros included, so charts need no gap logic.
  const names = [...workers.keys()].sort();
  const series: SeriesPoint[] = [];
  for (let i = 0; i < minutes; i++) {
    for (const worker of names) series.push({ ts: from + i * BUCKET_MS, worker, complete: 0, fail: 0 });
  }
  for (const b of buckets) {
    const p = series[num(b.b) * names.length + names.indexOf(b.worker)];
    if (p) Object.assign(p, { complete: num(b.complete), fail: num(b.fail) });
  }

  const feedCounts = { stream: 0, rest: 0, none: 0 };
  for (const f of feeds) {
    const key = f.feed === "stream" || f.feed === "rest" ? f.feed : "none";
    feedCounts[key] += num(f.n);
  }
  const active = feedCounts.stream + feedCounts.rest + feedCounts.none;

  return {
    generatedAt: now,
    window: { from, to: now, minutes, bucketMs: BUCKET_MS },
    workers: names.map((n) => workers.get(n)!),
    series,
    queues: queues.map((q) => ({ queue: q.queue, sent: num(q.sent), settled: num(q.settled), backlog: Math.max(0, num(q.sent) - num(q.settled)) })),
    // The heartbeat writes the feed in use: "stream" means the account's socket is open and fresh.
    accounts: { active, feeds: feedCounts, openSockets: feedCounts.stream, inFallback: active - feedCounts.stream },
    deadLetters: { open: num(dlq?.n) },
    alerts: { open: num(alertsOpen?.n) },
    counters: Object.fromEntries(counterRows.map((r) => [r.name, num(r.value)])),
  };
}
