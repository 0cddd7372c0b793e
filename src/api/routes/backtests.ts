/**
 * Backtest reports and sweeps (issue 24). Mounted twice: `simulationExportRoutes` under
 * /v1/simulations (a run's trades, and its steps and trades as CSV) and `backtestRoutes`
 * under /v1/backtests (parameter sweeps). Backtests themselves start with
 * `POST /v1/simulations` and a `source` (simulations.ts).
 */
import { createRoute } from "@hono/zod-openapi";
import type { TradeReport } from "../../domain/backtest";
import { applyCell, expandGrid, Grid, gridSize, SweepObjective } from "../../domain/backtest-sweep";
import { getDb } from "../../db/client";
import { effectivePlan, maxSweepCells, planThatLifts } from "../../db/plans";
import { newId } from "../../lib/ids";
import type { SweepSpec } from "../../../durable-objects/simulation/sweep";
import type { SavedStep } from "../../../durable-objects/simulation/storage";
import type { SimResult } from "../../../durable-objects/simulation/types";
import { ApiError, issuesToDetails } from "../errors";
import { commonErrors, errorResponses, json, jsonBody, router, security, z } from "../openapi";
import { checkSteps, CreateSimulation, ownRow, pruneStoredSimulations, simulationParams, stub } from "./simulations";

const tags = ["backtests"];
const IdParams = z.object({ id: z.string().max(100).openapi({ param: { name: "id", in: "path" } }) });
const PageQuery = z.object({
  cursor: z.string().regex(/^\d{1,9}$/, "not a cursor returned by this API").optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const Trade = z.object({
  run: z.enum(["automated", "baseline"]), tradeId: z.string(), side: z.enum(["buy", "sell"]), quantity: z.number(), leverage: z.number(),
  entryTime: z.number(), entryPrice: z.number(), exitTime: z.number().nullable(), exitPrice: z.number(),
  reason: z.string().openapi({ description: "liquidation, stoploss, takeprofit, a close reason (e.g. takeprofit_reached, close_configured), or open (still running at the end)" }),
  marginAddedSats: z.number(), feesSats: z.number(), fundingSats: z.number(), pnlSats: z.number(),
}).openapi("BacktestTrade");

const csvResponse = (description: string) => ({ content: { "text/csv": { schema: z.string() } }, description });

/** RFC 4180 cell: quoted when it holds a comma, quote or newline. */
const cell = (v: unknown) => {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
const csvLine = (values: unknown[]) => `${values.map(cell).join(",")}\r\n`;
const iso = (t: number | null | undefined) => (t === null || t === undefined ? "" : new Date(t).toISOString());

/** Stream every page of a DO listing as CSV lines (pages of 1,000 rows over RPC). */
function csvStream<T>(header: string[], page: (cursor: number) => Promise<{ data: T[]; nextCursor: string | null }>, row: (r: T) => unknown[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let cursor: number | null = 0;
  let headerSent = false;
  return new ReadableStream({
    async pull(ctrl) {
      if (!headerSent) {
        headerSent = true;
        ctrl.enqueue(enc.encode(csvLine(header)));
        return;
      }
      if (cursor === null) return ctrl.close();
      const p = await page(cursor);
      ctrl.enqueue(enc.encode(p.data.map((r) => csvLine(row(r))).join("")));
      cursor = p.nextCursor === null ? null : Number(p.nextCursor);
    },
  });
}

const csvHeaders = (id: string, what: string) => ({
  "content-type": "text/csv; charset=utf-8",
  "content-disposition": `attachment; filename="${id}-${what}.csv"`,
});

const STEP_COLUMNS = ["step", "time", "price", "low", "high", "risk", "pnl_sats", "equity_sats", "actions", "baseline_pnl_sats", "baseline_equity_sats", "baseline_actions"];
const TRADE_COLUMNS = ["run", "trade_id", "side", "quantity", "leverage", "entry_time", "entry_price", "exit_time", "exit_price", "reason", "margin_added_sats", "fees_sats", "funding_sats", "pnl_sats"];
const actionList = (actions: Array<{ type: string; amountSats?: number }>) => actions.map((a) => (a.amountSats === undefined ? a.type : `${a.type}:${a.amountSats}`)).join(";");

export const simulationExportRoutes = router()
  .openapi(
    createRoute({ method: "get", path: "/{id}/trades", tags, security, summary: "A backtest's trades, both runs, in order of their exit (cursor paged); trades still running at the end have reason \"open\"",
      request: { params: IdParams, query: PageQuery }, responses: { 200: json(z.object({ data: z.array(Trade), nextCursor: z.string().nullable() }), "Trades"), ...commonErrors } }),
    async (c) => {
      const row = await ownRow(c.env, c.get("user").id, c.req.valid("param").id);
      const { cursor, limit } = c.req.valid("query");
      const r = (await stub(c.env, row.id).trades(cursor ? Number(cursor) : 0, limit)) as SimResult<{ data: TradeReport[]; nextCursor: string | null }>;
      if (!r.ok) return c.json({ data: [], nextCursor: null }, 200);
      return c.json(r.value, 200);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/{id}/results.csv", tags, security, summary: "Every step as CSV (a backtest: per candle, with the baseline run beside it)",
      request: { params: IdParams }, responses: { 200: csvResponse("Steps, one a line"), ...commonErrors } }),
    async (c) => {
      const row = await ownRow(c.env, c.get("user").id, c.req.valid("param").id);
      const s = stub(c.env, row.id);
      const body = csvStream<SavedStep>(STEP_COLUMNS, async (cur) => {
        const r = (await s.results(cur, 1_000)) as SimResult<{ data: SavedStep[]; nextCursor: string | null }>;
        return r.ok ? r.value : { data: [], nextCursor: null };
      }, (r) => [r.step, iso(r.time), r.price, r.low, r.high, r.risk, r.pnlSats, r.equitySats, actionList(r.actions), r.baseline?.pnlSats, r.baseline?.equitySats, r.baseline ? actionList(r.baseline.actions) : ""]);
      return new Response(body, { status: 200, headers: csvHeaders(row.id, "results") }) as never;
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/{id}/trades.csv", tags, security, summary: "A backtest's trades as CSV",
      request: { params: IdParams }, responses: { 200: csvResponse("Trades, one a line"), ...commonErrors } }),
    async (c) => {
      const row = await ownRow(c.env, c.get("user").id, c.req.valid("param").id);
      const s = stub(c.env, row.id);
      const body = csvStream<TradeReport>(TRADE_COLUMNS, async (cur) => {
        const r = (await s.trades(cur, 1_000)) as SimResult<{ data: TradeReport[]; nextCursor: string | null }>;
        return r.ok ? r.value : { data: [], nextCursor: null };
      }, (t) => [t.run, t.tradeId, t.side, t.quantity, t.leverage, iso(t.entryTime), t.entryPrice, iso(t.exitTime), t.exitPrice, t.reason, t.marginAddedSats, t.feesSats, t.fundingSats, t.pnlSats]);
      return new Response(body, { status: 200, headers: csvHeaders(row.id, "trades") }) as never;
    },
  );

const CreateSweep = z.strictObject({
  base: z.unknown().openapi({ description: "A backtest as POST /v1/simulations takes it (with `source`)" }),
  grid: Grid.openapi({ description: "Axes to vary, e.g. {\"marginGuard.actAt\": [0.6, 0.7], \"marginGuard.targetRisk\": [0.2, 0.3]}", example: { "marginGuard.actAt": [0.6, 0.7], "marginGuard.targetRisk": [0.2, 0.3] } }),
  objective: SweepObjective.default("liquidations_avoided_per_sat"),
}).openapi("CreateSweep");

const SweepRow = z.object({
  cellId: z.string(), values: z.record(z.string(), z.unknown()), status: z.string(),
  finalEquitySats: z.number().nullable(), finalPnlSats: z.number().nullable(), maxDrawdownSats: z.number().nullable(),
  liquidations: z.number().nullable(), baselineLiquidations: z.number().nullable(), liquidationsAvoided: z.number().nullable(),
  marginAddedSats: z.number().nullable(), avoidedPerMillionSats: z.number().nullable(),
}).openapi("SweepRow");
const Sweep = z.object({
  id: z.string(), status: z.enum(["running", "completed", "canceled", "failed"]), objective: SweepObjective,
  progress: z.object({ done: z.number(), cells: z.number() }), startedAt: z.number(), finishedAt: z.number().nullable(),
  table: z.array(SweepRow),
}).openapi("Sweep");

/** Hard bound whatever the plan: a sweep is this many SimulationDOs. */
const MAX_CELLS = 400;

export const backtestRoutes = router()
  .openapi(
    createRoute({ method: "post", path: "/sweep", tags, security,
      summary: "Run a backtest per cell of a parameter grid, in parallel; poll GET /v1/backtests/sweep/{id} for the table sorted by the objective",
      request: jsonBody(CreateSweep), responses: { 202: json(Sweep, "Started"), 402: errorResponses[402], 429: errorResponses[429], ...commonErrors } }),
    async (c) => {
      const user = c.get("user");
      const body = c.req.valid("json");
      const base = CreateSimulation.safeParse(body.base);
      if (!base.success) {
        const details = issuesToDetails(base.error.issues).map((d) => ({ ...d, path: d.path === "(body)" ? "base" : `base.${d.path}` }));
        throw new ApiError("validation_error", `Invalid ${details[0]!.path}: ${details[0]!.message}`, details);
      }
      if (!base.data.source) throw new ApiError("validation_error", "Invalid base.source: a sweep backtests a history", [{ path: "base.source", message: "required", code: "invalid_value" }]);
      const size = gridSize(body.grid);
      if (size > MAX_CELLS) throw new ApiError("validation_error", `Invalid grid: ${size} cells, at most ${MAX_CELLS}`, [{ path: "grid", message: `at most ${MAX_CELLS} cells`, code: "too_big" }]);
      const db = getDb(c.env);
      const plan = await effectivePlan(db, user.id);
      const max = maxSweepCells(plan);
      if (size > max) {
        const lifts = await planThatLifts(db, (l) => (l.maxSweepCells ?? 0) >= size);
        throw new ApiError("plan_limit", `${size} cells exceed the ${plan.name} plan's ${max} per sweep`, { limit: "maxSweepCells", max, plan: plan.id, upgradeTo: lifts?.id ?? null });
      }
      const id = newId("sim");
      const cells: SweepSpec["cells"] = expandGrid(body.grid).map((values) => {
        const input = { ...base.data, automations: applyCell(base.data.automations, values) } as typeof base.data;
        try {
          return { id: newId("sim"), values, params: simulationParams(newId("sim"), user.id, input) };
        } catch (e) {
          // Name the grid axis when a cell's value is what the automation's schema refused.
          if (e instanceof ApiError && Array.isArray(e.details)) {
            const details = (e.details as Array<{ path: string; message: string; code: string }>).map((d) => {
              const axis = d.path.replace(/^automations\./, "");
              return { ...d, path: axis in body.grid ? `grid.${axis}` : `base.${d.path}`, cell: values };
            });
            throw new ApiError(e.code, `Invalid ${details[0]!.path}: ${details[0]!.message}`, details);
          }
          throw e;
        }
      });
      for (const cl of cells) cl.params.id = cl.id;
      await checkSteps(db, user.id, cells[0]!.params.steps);
      const concurrent = plan.limits.maxConcurrentSimulations;
      await pruneStoredSimulations(c.env, user.id);
      // A sweep takes one of the user's simulation slots, counted and taken in one statement.
      const ins = await c.env.DB.prepare(
        `INSERT INTO simulations (id, user_id, scenario, status, steps, params, summary, created_at, finished_at)
         SELECT ?1, ?2, 'sweep', 'running', ?3, ?4, NULL, ?5, NULL
         WHERE (SELECT COUNT(*) FROM simulations WHERE user_id = ?2 AND status = 'running') < ?6`,
      ).bind(id, user.id, size * cells[0]!.params.steps, JSON.stringify({ grid: body.grid, objective: body.objective, cells: cells.map((x) => x.id) }), Date.now(), concurrent).run();
      if (!ins.meta.changes) {
        throw new ApiError("rate_limited", `You already have ${concurrent} simulations running (the ${plan.name} plan allows ${concurrent} at a time); a sweep takes one`, { limit: "maxConcurrentSimulations", max: concurrent, plan: plan.id });
      }
      const started = await stub(c.env, id).beginSweep({ id, objective: body.objective, cells });
      if (!started.ok) {
        await c.env.DB.prepare("UPDATE simulations SET status = 'failed', finished_at = ? WHERE id = ?").bind(Date.now(), id).run();
        if (started.code === "validation_error") {
          const path = started.field ? `base.${started.field}` : "base";
          throw new ApiError("validation_error", `Invalid ${path}: ${started.message}`, [{ path, message: started.message, code: "invalid_value" }]);
        }
        throw new ApiError("internal_error", "The sweep could not start");
      }
      return c.json(started.value, 202);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/sweep/{id}", tags, security, summary: "A sweep's progress and its table, best cell first for the objective (unfinished cells last)",
      request: { params: IdParams }, responses: { 200: json(Sweep, "Sweep"), ...commonErrors } }),
    async (c) => {
      const row = await ownRow(c.env, c.get("user").id, c.req.valid("param").id);
      if (row.scenario !== "sweep") throw new ApiError("not_found", "Sweep not found");
      const r = await stub(c.env, row.id).sweepInfo();
      if (!r.ok) throw new ApiError("not_found", "Sweep not found");
      return c.json(r.value, 200);
    },
  );
