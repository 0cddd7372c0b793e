/**
 * Automations per account (stored in the account's Durable Object), the user's scheduling
 * switch, schedule status, live positions, and the account's logs and trade logs (D1).
 */
import { createRoute } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import { getAutomationScheduleStatus, startUserAutomationScheduling, stopUserAutomationScheduling } from "../../accounts/scheduling";
import { getAccount } from "../../accounts/service";
import { getDb } from "../../db/client";
import { automationLogs, tradeLogs } from "../../db/schema";
import type { DoResult } from "../../../durable-objects/account";
import { ApiError } from "../errors";
import { commonErrors, errorResponses, json, jsonBody, router, security, z } from "../openapi";
import { decodeCursor, olderThan, page, PageQuery } from "../pagination";
import { requirePlan } from "../../accounts/plans";
import { AccountParams } from "./accounts";

const tags = ["automations"];
const PLAN_GATED = new Set(["margin_guard", "tp_sl", "auto_entry"]);
const AutomationParams = AccountParams.extend({ aid: z.string().max(100).openapi({ param: { name: "aid", in: "path" } }) });
const Automation = z.object({
  id: z.string(), type: z.string(), name: z.string().nullable(), enabled: z.boolean(), config: z.unknown(), schedule: z.unknown().nullable(),
  status: z.object({
    nextRunAt: z.number().nullable(), lastRunAt: z.number().nullable(), lastResult: z.string().nullable(), lastError: z.string().nullable(),
    lastDurationMs: z.number().nullable(), attempts: z.number(), runs: z.number(), failures: z.number(), feed: z.string(),
  }),
  createdAt: z.number(), updatedAt: z.number(),
}).openapi("Automation");
const Schedule = z.unknown().optional().openapi({ description: "Overrides of {intervalMs, timeoutMs, retryAttempts, retryDelayMs} within bounds" });
const CreateAutomation = z.strictObject({
  type: z.string().min(1).max(40).openapi({ example: "margin_guard" }),
  name: z.string().trim().max(64).optional(),
  config: z.record(z.string(), z.unknown()).default({}),
  schedule: Schedule,
  enabled: z.boolean().optional(),
}).openapi("CreateAutomation");
const PatchAutomation = z.strictObject({
  name: z.string().trim().max(64).nullable().optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  schedule: Schedule,
  enabled: z.boolean().optional(),
}).openapi("PatchAutomation");

function unwrap<T>(r: DoResult<T>): T {
  if (r.ok) return r.value;
  if (r.code === "validation_error") throw new ApiError("validation_error", r.message, r.details);
  if (r.code === "limit_reached") throw new ApiError("limit_reached", r.message, { limit: r.limit, name: r.name });
  throw new ApiError("not_found", r.message);
}

const stub = (env: Env, accountId: string) => env.ACCOUNT.getByName(accountId);

export const accountAutomationRoutes = router()
  .openapi(
    createRoute({ method: "post", path: "/{id}/automations", tags, security, summary: "Create an automation (config validated per type, unknown fields rejected)",
      request: { params: AccountParams, ...jsonBody(CreateAutomation) }, responses: { 201: json(Automation, "Created"), 402: errorResponses[402], 409: errorResponses[409], ...commonErrors } }),
    async (c) => {
      const user = c.get("user");
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      await getAccount(c.env, user.id, id);
      if (PLAN_GATED.has(body.type)) {
        await requirePlan(getDb(c.env), user.id, "automationTypes", (l) => l.automationTypes.includes(body.type), `Automation type ${body.type}`);
      }
      return c.json(unwrap(await stub(c.env, id).createAutomation(body, { traceId: c.get("requestId") })) as z.infer<typeof Automation>, 201);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/{id}/automations", tags, security, summary: "List an account's automations with their schedule status",
      request: { params: AccountParams }, responses: { 200: json(z.object({ data: z.array(Automation) }), "Automations"), ...commonErrors } }),
    async (c) => {
      const { id } = c.req.valid("param");
      await getAccount(c.env, c.get("user").id, id);
      return c.json({ data: (await stub(c.env, id).listAutomations()) as z.infer<typeof Automation>[] }, 200);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/{id}/automations/{aid}", tags, security, summary: "One automation", request: { params: AutomationParams }, responses: { 200: json(Automation, "Automation"), ...commonErrors } }),
    async (c) => {
      const { id, aid } = c.req.valid("param");
      await getAccount(c.env, c.get("user").id, id);
      return c.json(unwrap(await stub(c.env, id).getAutomation(aid)) as z.infer<typeof Automation>, 200);
    },
  )
  .openapi(
    createRoute({ method: "patch", path: "/{id}/automations/{aid}", tags, security, summary: "Enable/disable, change config or schedule",
      request: { params: AutomationParams, ...jsonBody(PatchAutomation) }, responses: { 200: json(Automation, "Updated"), ...commonErrors } }),
    async (c) => {
      const { id, aid } = c.req.valid("param");
      await getAccount(c.env, c.get("user").id, id);
      return c.json(unwrap(await stub(c.env, id).updateAutomation(aid, c.req.valid("json"), { traceId: c.get("requestId") })) as z.infer<typeof Automation>, 200);
    },
  )
  .openapi(
    createRoute({ method: "delete", path: "/{id}/automations/{aid}", tags, security, summary: "Delete an automation", request: { params: AutomationParams }, responses: { 204: { description: "Deleted" }, ...commonErrors } }),
    async (c) => {
      const { id, aid } = c.req.valid("param");
      await getAccount(c.env, c.get("user").id, id);
      unwrap(await stub(c.env, id).deleteAutomation(aid, { traceId: c.get("requestId") }));
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/{id}/positions", tags: ["accounts"], security, summary: "Running positions, live, with risk (0 at entry, 1 at liquidation)",
      request: { params: AccountParams }, responses: { 200: json(z.object({
        price: z.number().openapi({ description: "Last price: risk, P&L and triggers are judged on it" }),
        bid: z.number().nullable().optional().openapi({ description: "Where a market sell fills (last REST ticker)" }),
        offer: z.number().nullable().optional().openapi({ description: "Where a market buy fills (last REST ticker)" }),
        feed: z.string(), trades: z.array(z.unknown()) }), "Positions"), 503: errorResponses[503], ...commonErrors } }),
    async (c) => {
      const { id } = c.req.valid("param");
      await getAccount(c.env, c.get("user").id, id);
      let result: DoResult<{ price: number; bid?: number | null; offer?: number | null; feed: string; trades: unknown[] }>;
      try {
        result = await stub(c.env, id).positions();
      } catch (e) {
        throw new ApiError("upstream_unavailable", `The exchange could not be reached: ${e instanceof Error ? e.message : String(e)}`);
      }
      // Cast as before: the narrowed RPC stub type is too deep for inference here.
      const value = unwrap(result) as { price: number; bid?: number | null; offer?: number | null; feed: string; trades: unknown[] };
      return c.json({ price: value.price, bid: value.bid ?? null, offer: value.offer ?? null, feed: value.feed, trades: value.trades as never[] }, 200);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/{id}/logs", tags: ["accounts"], security, summary: "Automation logs, newest first (cursor paged)",
      request: { params: AccountParams, query: PageQuery }, responses: { 200: json(z.object({ data: z.array(z.unknown()), nextCursor: z.string().nullable() }), "Logs"), ...commonErrors } }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { cursor, limit } = c.req.valid("query");
      await getAccount(c.env, c.get("user").id, id);
      const cur = decodeCursor(cursor);
      const t = automationLogs;
      const rows = await getDb(c.env).select().from(t)
        .where(and(eq(t.accountId, id), olderThan(t.createdAt, t.id, cur)))
        .orderBy(desc(t.createdAt), desc(t.id)).limit(limit + 1).all();
      const p = page(rows.map((r) => ({ ...r, data: r.data ? JSON.parse(r.data) : null })), limit, (r) => r.createdAt);
      return c.json(p, 200);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/{id}/trades", tags: ["accounts"], security, summary: "Trade logs: every order sent, its outcome and latency (cursor paged)",
      request: { params: AccountParams, query: PageQuery }, responses: { 200: json(z.object({ data: z.array(z.unknown()), nextCursor: z.string().nullable() }), "Trade logs"), ...commonErrors } }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { cursor, limit } = c.req.valid("query");
      await getAccount(c.env, c.get("user").id, id);
      const cur = decodeCursor(cursor);
      const t = tradeLogs;
      const rows = await getDb(c.env).select().from(t)
        .where(and(eq(t.accountId, id), olderThan(t.createdAt, t.id, cur)))
        .orderBy(desc(t.createdAt), desc(t.id)).limit(limit + 1).all();
      return c.json(page(rows.map((r) => ({ ...r, request: r.request ? JSON.parse(r.request) : null })), limit, (r) => r.createdAt), 200);
    },
  );

export const automationRoutes = router()
  .openapi(
    createRoute({ method: "post", path: "/start", tags, security, summary: "Start your automations' scheduling (startUserAutomationScheduling)", responses: { 200: json(z.object({ schedulingEnabled: z.boolean() }), "Started"), ...commonErrors } }),
    async (c) => {
      await startUserAutomationScheduling(c.env, c.get("user").id);
      c.get("logger").info("automations.started");
      return c.json({ schedulingEnabled: true }, 200);
    },
  )
  .openapi(
    createRoute({ method: "post", path: "/stop", tags, security, summary: "Stop all scheduling: the kill switch (stopUserAutomationScheduling)", responses: { 200: json(z.object({ schedulingEnabled: z.boolean() }), "Stopped"), ...commonErrors } }),
    async (c) => {
      await stopUserAutomationScheduling(c.env, c.get("user").id);
      c.get("logger").info("automations.stopped");
      return c.json({ schedulingEnabled: false }, 200);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/status", tags, security, summary: "Per account and automation: next run, last run and result, attempts, feed, breaker (getAutomationScheduleStatus)",
      responses: { 200: json(z.object({ schedulingEnabled: z.boolean(), scheduleScope: z.string(), accounts: z.array(z.unknown()) }), "Status"), ...commonErrors } }),
    async (c) => {
      return c.json(await getAutomationScheduleStatus(c.env, c.get("user").id), 200);
    },
  );
