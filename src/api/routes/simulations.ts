/**
 * Simulations (issue 8): start a run on a SimulationDO, list and read them (D1 rows for
 * ownership and listing, the DO for live progress and steps), stream steps over a WebSocket,
 * cancel. The automations are validated by the same domain schemas as live ones.
 */
import { createRoute } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import type { SimResult, SimulationInfo, SimulationParams } from "../../../durable-objects/simulation";
import { getDb } from "../../db/client";
import { effectivePlan, planThatLifts } from "../../db/plans";
import { simulations } from "../../db/schema";
import { AutoEntryConfig } from "../../domain/auto-entry";
import { CandleRange, parseCandleCsv, parseCandleJson, rangeMs, type BtCandle } from "../../domain/backtest-candles";
import { MAX_LEVERAGE, MAX_QUANTITY, MIN_LEVERAGE, MIN_QUANTITY } from "../../domain/inverse";
import { MarginGuardConfig } from "../../domain/margin-guard";
import { TpSlConfig } from "../../domain/tp-sl";
import type { SimAutomations } from "../../domain/simulate-step";
import { isId, newId } from "../../lib/ids";
import { ApiError, issuesToDetails } from "../errors";
import { commonErrors, errorResponses, json, jsonBody, router, security, z } from "../openapi";
import { decodeCursor, olderThan, page, PageQuery } from "../pagination";

const tags = ["simulations"];

const Position = z.strictObject({
  side: z.enum(["buy", "sell"]),
  quantity: z.number().int().min(MIN_QUANTITY).max(MAX_QUANTITY).optional(),
  margin: z.number().int().positive().max(2_100_000_000_000_000).optional(),
  leverage: z.number().min(MIN_LEVERAGE).max(MAX_LEVERAGE),
}).superRefine((p, ctx) => {
  if ((p.quantity === undefined) === (p.margin === undefined)) ctx.addIssue({ code: "custom", path: ["quantity"], message: "give exactly one of quantity or margin" });
});

/** ISO date-time or Unix milliseconds. */
const Instant = z.union([z.number().int().min(0), z.string().max(40)]).transform((v, ctx) => {
  const t = typeof v === "number" ? v : /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t) || t < 0) {
    ctx.addIssue({ code: "custom", message: "an ISO date-time or Unix milliseconds" });
    return z.NEVER;
  }
  return t;
}).openapi({ type: "string", description: "ISO date-time or Unix milliseconds" });

/** Backtests (issue 24): the exchange's candle history, or an uploaded candle file. */
export const BacktestSource = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("candles"),
    network: z.enum(["mainnet", "testnet", "simulator"]).openapi({ description: "Whose history: simulator in dev and tests" }),
    range: CandleRange.default("1m"),
    from: Instant,
    to: Instant,
  }),
  z.strictObject({
    type: z.literal("upload"),
    // Bounds here are generous: parseCandleCsv/Json answer 413 naming the field above MAX_UPLOAD_CANDLES.
    csv: z.string().max(1_000_000).optional().openapi({ description: "CSV with a header naming time,open,high,low,close" }),
    candles: z.array(z.unknown()).max(1_000_000).optional().openapi({ description: "[{time, open, high, low, close}], oldest first" }),
  }),
]).openapi("BacktestSource");

export const CreateSimulation = z.strictObject({
  scenario: z.enum(["bull", "bear", "sideways", "volatile", "crash", "replay"]).optional().openapi({ description: "Required unless `source` is given" }),
  source: BacktestSource.optional(),
  automations: z.strictObject({
    marginGuard: z.unknown().optional(),
    tpSl: z.unknown().optional(),
    autoEntry: z.unknown().optional(),
  }).default({}),
  position: Position.optional(),
  initialPrice: z.number().positive().max(100_000_000).optional().openapi({ description: "Required for a scenario; a backtest starts at its first candle's open" }),
  // Hard bound only: the plan's maxSimulationSteps answers 402 below it.
  steps: z.number().int().min(1).max(1_000_000).optional().openapi({ description: "Required for a scenario; a backtest's steps are its candles" }),
  stepMs: z.number().int().min(10).max(60_000).default(100),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  speed: z.enum(["realtime", "fast"]).default("fast"),
  prices: z.array(z.number().positive().max(100_000_000)).min(1).max(100_000).optional(),
  dropPct: z.number().gt(0).lt(100).optional(),
  freeBalanceSats: z.number().int().min(0).max(2_100_000_000_000_000).optional(),
  // Offer minus bid in USD: market orders fill at the spread, triggers use the last price.
  spread: z.number().min(0).max(10_000).multipleOf(0.5).optional().openapi({ description: "Offer minus bid in USD, a multiple of 0.5 (default 5)" }),
  feeRate: z.number().min(0).max(0.01).optional().openapi({ description: "Backtests: trading fee rate (default 0.001, tier 1)" }),
  fundingRate: z.number().min(-0.01).max(0.01).optional().openapi({ description: "Backtests: funding rate per settlement where the history has none (default 0.0001)" }),
}).superRefine((b, ctx) => {
  if (b.source) {
    for (const k of ["scenario", "initialPrice", "steps", "prices", "dropPct", "seed"] as const) {
      if (b[k] !== undefined) ctx.addIssue({ code: "custom", path: [k], message: `${k} is not used by a backtest (source)` });
    }
    if (b.source.type === "candles" && !(b.source.from < b.source.to)) ctx.addIssue({ code: "custom", path: ["source", "to"], message: "to must be after from" });
    if (b.source.type === "upload" && (b.source.csv === undefined) === (b.source.candles === undefined)) ctx.addIssue({ code: "custom", path: ["source", "csv"], message: "give exactly one of csv or candles" });
    return;
  }
  for (const k of ["scenario", "initialPrice", "steps"] as const) {
    if (b[k] === undefined) ctx.addIssue({ code: "custom", path: [k], message: `${k} is required (or give a backtest source)` });
  }
  if (b.feeRate !== undefined || b.fundingRate !== undefined) ctx.addIssue({ code: "custom", path: [b.feeRate !== undefined ? "feeRate" : "fundingRate"], message: "only for a backtest (source)" });
  if (b.scenario === "replay" && !b.prices) ctx.addIssue({ code: "custom", path: ["prices"], message: "replay needs prices" });
  if (b.scenario !== "replay" && b.prices) ctx.addIssue({ code: "custom", path: ["prices"], message: "prices are only for replay" });
  if (b.dropPct !== undefined && b.scenario !== "crash") ctx.addIssue({ code: "custom", path: ["dropPct"], message: "dropPct is only for crash" });
}).openapi("CreateSimulation");

const Summary = z.record(z.string(), z.unknown()).nullable();
const Simulation = z.object({
  id: z.string(), status: z.enum(["running", "completed", "canceled", "failed"]), scenario: z.string(), speed: z.string().optional(),
  progress: z.object({ step: z.number(), steps: z.number() }).optional(), steps: z.number().optional(),
  params: z.unknown().optional(), summary: Summary, error: z.string().nullable().optional(),
  createdAt: z.number().optional(), startedAt: z.number().optional(), finishedAt: z.number().nullable(),
}).openapi("Simulation");
const StepRecord = z.object({
  step: z.number(), price: z.number(), risk: z.number(), pnlSats: z.number(), equitySats: z.number(), actions: z.array(z.unknown()),
  time: z.number().optional().openapi({ description: "Backtests: the candle's start (ms)" }),
  low: z.number().optional(), high: z.number().optional(),
  baseline: z.object({ pnlSats: z.number(), equitySats: z.number(), risk: z.number(), actions: z.array(z.unknown()) }).optional()
    .openapi({ description: "Backtests: the same position with no automation, after the same candle" }),
}).openapi("SimulationStep");
const IdParams = z.object({ id: z.string().max(100).openapi({ param: { name: "id", in: "path" } }) });
const ResultsQuery = z.object({
  cursor: z.string().regex(/^\d{1,9}$/, "not a cursor returned by this API").optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const AUTOMATION_SCHEMAS = [
  ["marginGuard", "margin_guard", MarginGuardConfig],
  ["tpSl", "tp_sl", TpSlConfig],
  ["autoEntry", "auto_entry", AutoEntryConfig],
] as const;

/** Each automation through its domain schema; issues name `automations.<key>.<field>`. */
function parseAutomations(input: Record<string, unknown>): SimAutomations {
  const out: Record<string, unknown> = {};
  const details: { path: string; message: string; code: string }[] = [];
  for (const [key, domainKey, schema] of AUTOMATION_SCHEMAS) {
    if (input[key] === undefined) continue;
    const r = schema.safeParse(input[key]);
    if (r.success) out[domainKey] = r.data;
    else details.push(...issuesToDetails(r.error.issues).map((d) => ({ ...d, path: d.path === "(body)" ? `automations.${key}` : `automations.${key}.${d.path}` })));
  }
  if (details.length) throw new ApiError("validation_error", `Invalid ${details[0]!.path}: ${details[0]!.message}`, details);
  return out as SimAutomations;
}

export type CreateSimulationBody = z.infer<typeof CreateSimulation>;
type Body = CreateSimulationBody;

/** The validated backtest source: an upload parsed (400/413 naming the field), a window sized in candles. */
function backtestSource(source: NonNullable<Body["source"]>): { source: NonNullable<SimulationParams["source"]>; steps: number } {
  if (source.type === "candles") {
    return { source, steps: Math.ceil((source.to - source.from) / rangeMs(source.range)) };
  }
  const r = source.csv !== undefined ? parseCandleCsv(source.csv) : parseCandleJson(source.candles ?? []);
  if (!r.ok) throw new ApiError(r.status === 413 ? "payload_too_large" : "validation_error", `Invalid ${r.path}: ${r.message}`, [{ path: r.path, message: r.message, code: r.status === 413 ? "too_big" : "invalid_value" }]);
  const candles: BtCandle[] = r.candles;
  return { source: { type: "upload", candles }, steps: candles.length };
}

/** Refuse more steps than the plan allows (402 naming the plan that lifts it). */
export async function checkSteps(db: ReturnType<typeof getDb>, userId: string, steps: number): Promise<void> {
  const plan = await effectivePlan(db, userId);
  if (steps > plan.limits.maxSimulationSteps) {
    const lifts = await planThatLifts(db, (l) => l.maxSimulationSteps >= steps);
    throw new ApiError("plan_limit", `${steps} steps exceed maxSimulationSteps (${plan.limits.maxSimulationSteps}) of the ${plan.name} plan${lifts ? `; the ${lifts.name} plan allows it` : ""}`, {
      limit: "maxSimulationSteps", max: plan.limits.maxSimulationSteps, plan: plan.id, upgradeTo: lifts?.id ?? null,
    });
  }
}

/** The parameters a SimulationDO begins with (scenario or backtest), validated. */
export function simulationParams(id: string, userId: string, body: Body): SimulationParams {
  const automations = parseAutomations(body.automations);
  const common = {
    id, userId, automations, position: body.position, stepMs: body.stepMs, speed: body.speed, freeBalanceSats: body.freeBalanceSats,
    ...(body.spread !== undefined ? { spread: body.spread } : {}),
  };
  if (body.source) {
    const { source, steps } = backtestSource(body.source);
    return {
      ...common, scenario: "backtest", source, steps, initialPrice: 0, seed: 0, speed: "fast",
      ...(body.feeRate !== undefined ? { feeRate: body.feeRate } : {}),
      ...(body.fundingRate !== undefined ? { fundingRate: body.fundingRate } : {}),
    };
  }
  return {
    ...common, scenario: body.scenario!, initialPrice: body.initialPrice!, steps: body.steps!,
    seed: body.seed ?? (crypto.getRandomValues(new Uint32Array(1))[0]!), prices: body.prices, dropPct: body.dropPct,
  };
}

function unwrap<T>(r: SimResult<T>): T {
  if (r.ok) return r.value;
  if (r.code === "validation_error") {
    const path = r.field ?? "(body)";
    throw new ApiError("validation_error", `Invalid ${path}: ${r.message}`, [{ path, message: r.message, code: "invalid_value" }]);
  }
  if (r.code === "conflict") throw new ApiError("conflict", r.message);
  throw new ApiError("not_found", "Simulation not found");
}

export const stub = (env: Env, id: string) => env.SIMULATION.getByName(id);

/** The user's D1 row, or 404 (another user's simulation is indistinguishable from none). */
/**
 * Stored simulations per user (issue 22: bounded growth): the newest 100 finished ones are
 * kept; starting a run deletes the user's older finished rows to make room (running ones are
 * never deleted, and at most the plan's maxConcurrentSimulations run). Retention deletes
 * finished rows after RETENTION_DAYS.simulations anyway.
 */
export const MAX_STORED_SIMULATIONS = 100;

/** Deletes the user's finished simulations beyond the newest MAX_STORED_SIMULATIONS - 1; returns how many. */
export async function pruneStoredSimulations(env: Pick<Env, "DB">, userId: string): Promise<number> {
  const res = await env.DB.prepare(
    `DELETE FROM simulations WHERE id IN (
       SELECT id FROM simulations WHERE user_id = ?1 AND status <> 'running'
       ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET ?2)`,
  ).bind(userId, MAX_STORED_SIMULATIONS - 1).run();
  return res.meta.changes ?? 0;
}

export async function ownRow(env: Env, userId: string, id: string) {
  if (!isId("sim", id)) throw new ApiError("not_found", "Simulation not found");
  const row = await getDb(env).select().from(simulations).where(and(eq(simulations.id, id), eq(simulations.userId, userId))).get();
  if (!row) throw new ApiError("not_found", "Simulation not found");
  return row;
}

export const simulationRoutes = router()
  .openapi(
    createRoute({ method: "post", path: "/", tags, security, summary: "Start a simulation (202); at most maxConcurrentSimulations running per user",
      request: jsonBody(CreateSimulation), responses: { 202: json(z.object({ id: z.string(), status: z.string() }), "Started"), 402: errorResponses[402], 429: errorResponses[429], ...commonErrors } }),
    async (c) => {
      const user = c.get("user");
      const body = c.req.valid("json");
      const db = getDb(c.env);
      const id = newId("sim");
      const params = simulationParams(id, user.id, body);
      await checkSteps(db, user.id, params.steps);
      const plan = await effectivePlan(db, user.id);
      // D1 keeps the parameters for listing; the prices and uploaded candles stay in the DO only.
      const { prices, userId: _owner, source, ...rest } = params;
      const stored = { ...rest, ...(source ? { source: source.type === "upload" ? { type: "upload", candlesCount: source.candles.length } : source } : {}) };
      const max = plan.limits.maxConcurrentSimulations;
      await pruneStoredSimulations(c.env, user.id);
      // Count and insert in one statement so two concurrent POSTs cannot both take the last slot.
      const ins = await c.env.DB.prepare(
        `INSERT INTO simulations (id, user_id, scenario, status, steps, params, summary, created_at, finished_at)
         SELECT ?1, ?2, ?3, 'running', ?4, ?5, NULL, ?6, NULL
         WHERE (SELECT COUNT(*) FROM simulations WHERE user_id = ?2 AND status = 'running') < ?7`,
      ).bind(id, user.id, params.scenario, params.steps, JSON.stringify({ ...stored, pricesCount: prices?.length }), Date.now(), max).run();
      if (!ins.meta.changes) {
        throw new ApiError("rate_limited", `You already have ${max} simulations running (the ${plan.name} plan allows ${max} at a time); wait for one to finish or cancel one with DELETE /v1/simulations/:id`, {
          limit: "maxConcurrentSimulations", max, plan: plan.id,
        });
      }
      let started: SimResult<SimulationInfo>;
      try {
        started = await stub(c.env, id).begin(params);
      } catch (e) {
        started = { ok: false, code: "conflict", message: e instanceof Error ? e.message : String(e) };
      }
      if (!started.ok) {
        // The slot must not stay taken by a run that never started.
        await db.update(simulations).set({ status: "failed", finishedAt: Date.now() }).where(eq(simulations.id, id)).run();
        if (started.code === "validation_error") unwrap(started);
        throw new ApiError("internal_error", "The simulation could not start");
      }
      return c.json({ id, status: started.value.status }, 202);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/", tags, security, summary: "The user's simulations, newest first (cursor paged)",
      request: { query: PageQuery }, responses: { 200: json(z.object({ data: z.array(Simulation), nextCursor: z.string().nullable() }), "Simulations"), ...commonErrors } }),
    async (c) => {
      const { cursor, limit } = c.req.valid("query");
      const cur = decodeCursor(cursor);
      const t = simulations;
      const rows = await getDb(c.env).select().from(t)
        .where(and(eq(t.userId, c.get("user").id), olderThan(t.createdAt, t.id, cur)))
        .orderBy(desc(t.createdAt), desc(t.id)).limit(limit + 1).all();
      const view = rows.map(({ userId: _u, ...r }) => ({ ...r, params: JSON.parse(r.params) as unknown, summary: r.summary ? (JSON.parse(r.summary) as Record<string, unknown>) : null }));
      return c.json(page(view, limit, (r) => r.createdAt), 200);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/{id}", tags, security, summary: "Status, progress {step, steps}, and the summary once finished",
      request: { params: IdParams }, responses: { 200: json(Simulation, "Simulation"), ...commonErrors } }),
    async (c) => {
      const row = await ownRow(c.env, c.get("user").id, c.req.valid("param").id);
      const r = await stub(c.env, row.id).info();
      if (!r.ok) {
        // A run that never started (begin failed): D1 is all there is.
        return c.json({ id: row.id, status: row.status, scenario: row.scenario, progress: { step: 0, steps: row.steps }, summary: null, createdAt: row.createdAt, finishedAt: row.finishedAt }, 200);
      }
      return c.json({ ...r.value, summary: r.value.summary as Record<string, unknown> | null, params: JSON.parse(row.params) as unknown, createdAt: row.createdAt }, 200);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/{id}/results", tags, security, summary: "Saved steps in order (cursor = last step seen)",
      request: { params: IdParams, query: ResultsQuery }, responses: { 200: json(z.object({ data: z.array(StepRecord), nextCursor: z.string().nullable() }), "Steps"), ...commonErrors } }),
    async (c) => {
      const row = await ownRow(c.env, c.get("user").id, c.req.valid("param").id);
      const { cursor, limit } = c.req.valid("query");
      const r = await stub(c.env, row.id).results(cursor ? Number(cursor) : 0, limit);
      if (!r.ok) return c.json({ data: [], nextCursor: null }, 200);
      return c.json(r.value, 200);
    },
  )
  .openapi(
    createRoute({ method: "delete", path: "/{id}", tags, security, summary: "Cancel a running simulation (a finished one keeps its status)",
      request: { params: IdParams }, responses: { 200: json(Simulation, "Status after cancel"), ...commonErrors } }),
    async (c) => {
      const row = await ownRow(c.env, c.get("user").id, c.req.valid("param").id);
      const info: SimulationInfo = unwrap(await stub(c.env, row.id).cancel());
      return c.json({ ...info, summary: info.summary as Record<string, unknown> | null, createdAt: row.createdAt }, 200);
    },
  );

// Not an OpenAPI route: a WebSocket upgrade has no JSON response to describe.
simulationRoutes.get("/:id/stream", async (c) => {
  const row = await ownRow(c.env, c.get("user").id, c.req.param("id"));
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError("validation_error", "Expected a WebSocket upgrade", [{ path: "upgrade", message: "send Upgrade: websocket", code: "invalid_value" }]);
  }
  const res = await stub(c.env, row.id).fetch(c.req.raw);
  // A response from a stub has immutable headers; the middleware (secure headers, request id) sets some.
  return new Response(res.body, { status: res.status, headers: new Headers(res.headers), webSocket: res.webSocket });
});
