/**
 * Operator routes for monitoring (mounted under /v1/admin behind requireAuth + requireAdmin):
 * metrics as JSON, alerts, and a health probe of every dependency. Also the top-level
 * `/metrics` scrape endpoint (Prometheus text) and its auth: the METRICS_TOKEN bearer, or an
 * admin user's token.
 */
import { createRoute } from "@hono/zod-openapi";
import { and, desc, eq, sql } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import { getDb } from "../../db/client";
import { alerts, systemState } from "../../db/schema";
import { timingSafeEqual } from "../../lib/crypto";
import { collectMetrics, DEFAULT_WINDOW_MINUTES } from "../../ops/metrics";
import { PROMETHEUS_CONTENT_TYPE, toPrometheus } from "../../ops/prometheus";
import { decodeCursor, olderThan, page, PageQuery } from "../pagination";
import type { AppEnv } from "../context";
import { bearerToken, requireAdmin, requireAuth } from "../middleware/auth";
import { commonErrors, errorResponses, json, router, security, z } from "../openapi";

const tags = ["admin"];
const forbidden = { 403: errorResponses[403] };
/** The cron runs every minute: three missed runs means it is not running. */
export const CRON_STALE_MS = 3 * 60_000;
const PROBE_TIMEOUT_MS = 3_000;

const Alert = z.object({
  id: z.string(), rule: z.string(), subject: z.string(), severity: z.enum(["warning", "critical"]), status: z.enum(["open", "resolved"]),
  message: z.string(), data: z.unknown(), openedAt: z.number(), lastSeenAt: z.number(), resolvedAt: z.number().nullable(),
}).openapi("Alert");

const FallbackAccount = z.object({
  id: z.string(), name: z.string(), network: z.string(), feed: z.string().nullable(), lastHeartbeatAt: z.number().nullable(), enabledAutomations: z.number(),
}).openapi("FallbackAccount");

const Check = z.object({ ok: z.boolean(), latencyMs: z.number().optional(), error: z.string().optional() }).passthrough();
const Health = z.object({
  ok: z.boolean(), checkedAt: z.number(),
  checks: z.object({ d1: Check, kv: Check, queues: Check, durableObjects: Check, cron: Check }),
}).openapi("Health");

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms); });
  return Promise.race([p, timeout]).finally(() => { if (timer !== null) clearTimeout(timer); });
}

/** Runs one probe, timing it; a throw is a failed check, never a 500. */
async function probe(fn: () => Promise<Record<string, unknown> | void>): Promise<z.infer<typeof Check>> {
  const started = Date.now();
  try {
    const extra = (await withTimeout(fn(), PROBE_TIMEOUT_MS)) ?? {};
    return { ok: true, latencyMs: Date.now() - started, ...extra };
  } catch (e) {
    return { ok: false, latencyMs: Date.now() - started, error: e instanceof Error ? e.message : String(e) };
  }
}

/** Checks D1, KV, the queue bindings (and backlog), a DO round trip and the last cron run. */
export async function healthReport(env: Env, now = Date.now()): Promise<z.infer<typeof Health>> {
  const db = getDb(env);
  const [d1, kv, queues, durableObjects, cron] = await Promise.all([
    probe(async () => { await db.get(sql`SELECT 1 AS one`); }),
    probe(async () => {
      const key = `__health__:${crypto.randomUUID()}`;
      await env.CREDENTIAL_CACHE.put(key, "1", { expirationTtl: 60 });
      const v = await env.CREDENTIAL_CACHE.get(key);
      await env.CREDENTIAL_CACHE.delete(key);
      if (v !== "1") throw new Error("KV read did not return the probe value");
    }),
    probe(async () => {
      // No probe message is sent: any message would be delivered. Bindings and counters only.
      const bindings = { notifications: !!env.NOTIFICATIONS, alerts: !!env.ALERTS, payments: !!env.PAYMENTS, logs: !!env.LOGS };
      const missing = Object.entries(bindings).filter(([, ok]) => !ok).map(([q]) => q);
      if (missing.length) throw new Error(`missing queue bindings: ${missing.join(", ")}`);
      const rows = await db.all<{ queue: string; backlog: number }>(sql`SELECT queue, max(0, sent - settled) AS backlog FROM queue_counters ORDER BY queue`);
      return { bindings, backlog: Object.fromEntries(rows.map((r) => [r.queue, Number(r.backlog)])) };
    }),
    probe(async () => {
      // status() of an id no account has: reads D1, finds nothing, runs nothing. A real RPC
      // round trip through the ACCOUNT namespace without touching any trader's account.
      // The RPC stub's inferred type of status() is too deep for the checker: read one field.
      const st = (await env.ACCOUNT.getByName("__health__").status()) as unknown as { running: boolean };
      return { namespace: "ACCOUNT", running: st.running };
    }),
    probe(async () => {
      const row = await db.select().from(systemState).where(eq(systemState.key, "last_cron_run")).get();
      const lastRunAt = row ? Number(row.value) : null;
      const ageMs = lastRunAt === null ? null : now - lastRunAt;
      const stale = ageMs === null || ageMs > CRON_STALE_MS;
      if (stale) throw Object.assign(new Error(lastRunAt === null ? "the cron never ran" : `last cron run ${Math.round(ageMs! / 1000)} s ago`), { lastRunAt });
      return { lastRunAt, ageMs, stale };
    }),
  ]);
  if (!cron.ok) Object.assign(cron, { stale: true });
  const checks = { d1, kv, queues, durableObjects, cron };
  return { ok: Object.values(checks).every((c) => c.ok), checkedAt: now, checks };
}

function alertView(r: typeof alerts.$inferSelect): z.infer<typeof Alert> {
  let data: unknown = r.data;
  try {
    data = r.data ? JSON.parse(r.data) : null;
  } catch {
    /* stored as text */
  }
  return { ...r, data };
}

export const adminOpsRoutes = router()
  .openapi(
    createRoute({ method: "get", path: "/metrics", tags, security, summary: "Job, queue, account and DLQ metrics over a window (per-minute series)",
      request: { query: z.object({ minutes: z.coerce.number().int().min(1).max(1440).default(DEFAULT_WINDOW_MINUTES) }) },
      responses: { 200: json(z.record(z.string(), z.unknown()), "Metrics"), ...forbidden, ...commonErrors } }),
    async (c) => c.json(await collectMetrics(c.env, { minutes: c.req.valid("query").minutes }) as unknown as Record<string, unknown>, 200),
  )
  .openapi(
    createRoute({ method: "get", path: "/alerts", tags, security, summary: "Operator alerts, newest first (filter by status; cursor paged)",
      request: { query: PageQuery.extend({ status: z.enum(["open", "resolved"]).optional() }) },
      responses: { 200: json(z.object({ data: z.array(Alert), nextCursor: z.string().nullable() }), "Alerts"), ...forbidden, ...commonErrors } }),
    async (c) => {
      const q = c.req.valid("query");
      const after = decodeCursor(q.cursor);
      const rows = await getDb(c.env).select().from(alerts).where(and(
        q.status ? eq(alerts.status, q.status) : undefined,
        olderThan(alerts.openedAt, alerts.id, after),
      )).orderBy(desc(alerts.openedAt), desc(alerts.id)).limit(q.limit + 1).all();
      const p = page(rows, q.limit, (r) => r.openedAt);
      return c.json({ data: p.data.map(alertView), nextCursor: p.nextCursor }, 200);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/accounts/fallback", tags, security, summary: "Active accounts whose price feed is not the stream (REST fallback or none), stalest first",
      responses: { 200: json(z.object({ data: z.array(FallbackAccount) }), "Accounts"), ...forbidden, ...commonErrors } }),
    async (c) => {
      const rows = await getDb(c.env).all<z.infer<typeof FallbackAccount>>(sql`
        SELECT id, name, network, feed, last_heartbeat_at AS lastHeartbeatAt, enabled_automations AS enabledAutomations FROM exchange_accounts
        WHERE enabled_automations > 0 AND status = 'active' AND (feed IS NULL OR feed <> 'stream')
        ORDER BY coalesce(last_heartbeat_at, 0) LIMIT 200`);
      return c.json({ data: rows }, 200);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/health", tags, security, summary: "D1, KV, queues, DO reachability and the last cron run",
      responses: { 200: json(Health, "Health (ok is false when any check failed)"), ...forbidden, ...commonErrors } }),
    async (c) => c.json(await healthReport(c.env), 200),
  );

const enc = new TextEncoder();

/** `/metrics` auth: the METRICS_TOKEN bearer (a scraper), else a logged-in admin. */
export const requireMetricsAccess = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearerToken(c.req.header("authorization"));
  const expected = c.env.METRICS_TOKEN;
  if (token && expected && timingSafeEqual(enc.encode(token), enc.encode(expected))) {
    await next();
    return;
  }
  await requireAuth(c, async () => {
    await requireAdmin(c, next);
  });
});

/** Body of `GET /metrics`: Prometheus text exposition format 0.0.4, never cached. */
export async function prometheusResponse(env: Env): Promise<Response> {
  return new Response(toPrometheus(await collectMetrics(env)), { status: 200, headers: { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" } });
}
