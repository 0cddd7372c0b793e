/**
 * Manual controls (issue 23): close a trade, close all, add margin, run an automation now,
 * each with `{dryRun: true}`. The account's Durable Object does the work through its executor
 * (durable-objects/account/manual.ts); these routes validate, rate-limit and map its answer.
 *
 * `Idempotency-Key` (optional header, 1-64 of [A-Za-z0-9_.:-]): a retried request with the
 * same key and action replays the first answer (`replayed: true`, header
 * `idempotency-replayed: true`) and sends nothing again; keys are per account, kept 24 h.
 * Requests that send (not dry runs) take a token of RL_OUTBOUND, per user.
 */
import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { getAccount } from "../../accounts/service";
import type { ManualResult } from "../../../durable-objects/account";
import type { AppEnv } from "../context";
import { ApiError, type ErrorCode } from "../errors";
import { commonErrors, errorResponses, json, jsonBody, router, security, z } from "../openapi";
import { takeToken } from "../rate-limit";
import { AccountParams } from "./accounts";

const tags = ["manual controls"];

const IdempotencyHeaders = z.object({
  "idempotency-key": z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, "1 to 64 characters of A-Z a-z 0-9 _ . : -").optional()
    .openapi({ param: { name: "idempotency-key", in: "header" }, description: "Retrying with the same key replays the first answer: one order at most" }),
});
const TradeParams = AccountParams.extend({ tradeId: z.string().min(1).max(100).openapi({ param: { name: "tradeId", in: "path" } }) });
const RunParams = AccountParams.extend({ aid: z.string().min(1).max(100).openapi({ param: { name: "aid", in: "path" } }) });
const DryRun = z.boolean().default(false).openapi({ description: "Say what it would do; send nothing" });
const ManualBody = z.strictObject({ dryRun: DryRun }).openapi("ManualControlBody");
const AddMarginBody = z.strictObject({
  amountSats: z.number().int("amountSats must be a whole number of sats").min(1, "amountSats must be at least 1").max(100_000_000_000, "amountSats is at most 100,000,000,000"),
  dryRun: DryRun,
}).openapi("AddMarginBody");

const TradeFacts = z.object({ margin: z.number(), liquidation: z.number(), risk: z.number() });
const ManualOrder = z.object({
  action: z.enum(["close", "add_margin", "open", "takeprofit", "stoploss"]),
  tradeId: z.string().nullable(),
  amountSats: z.number().optional(),
  value: z.number().optional(),
  order: z.unknown().optional(),
  status: z.enum(["planned", "sent", "already_done", "reconciled", "uncertain", "failed"]),
  clientId: z.string().nullable().openapi({ description: "The order's idempotency id at the exchange (null in a dry run)" }),
  before: TradeFacts.optional(),
  after: TradeFacts.optional(),
  estimatedPnlSats: z.number().optional(),
  warning: z.string().optional(),
  error: z.object({ code: z.string(), kind: z.string(), message: z.string(), uncertain: z.boolean() }).optional(),
}).openapi("ManualOrder");
const ManualOutcome = z.object({
  action: z.enum(["close", "close_all", "add_margin", "run"]),
  dryRun: z.boolean(),
  replayed: z.boolean(),
  idempotencyKey: z.string().nullable(),
  price: z.number().nullable(),
  orders: z.array(ManualOrder),
  summary: z.string(),
  decisions: z.array(z.unknown()).optional(),
  automation: z.object({ id: z.string(), type: z.string(), lastResult: z.string().nullable(), lastError: z.string().nullable() }).optional(),
}).openapi("ManualOutcome");

const responses = {
  200: json(ManualOutcome, "Done (or, with dryRun, what would be done)"),
  402: errorResponses[402],
  409: errorResponses[409],
  422: json(z.object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }) }), "The exchange refused the order, or the Idempotency-Key was used for another action"),
  429: errorResponses[429],
  503: errorResponses[503],
  ...commonErrors,
};

/** The DO's refusals as API errors. */
const STATUS_OF: Record<Extract<ManualResult, { ok: false }>["code"], ErrorCode> = {
  not_found: "not_found", validation_error: "validation_error", account_disabled: "account_disabled", credentials_rejected: "credentials_rejected",
  automations_stopped: "automations_stopped", automation_disabled: "automation_disabled", entries_paused: "entries_paused", plan_paused: "plan_limit",
  automation_running: "automation_running", idempotency_key_reused: "idempotency_key_reused", request_in_progress: "request_in_progress",
  order_in_flight: "order_in_flight", exchange_refused: "exchange_refused", exchange_unavailable: "upstream_unavailable", exchange_rate_limited: "rate_limited",
};

type Ctx = Context<AppEnv>;

/** Checks the account is the caller's, takes an outbound token for a request that sends, and asks the account's DO. */
async function act(c: Ctx, accountId: string, dryRun: boolean, call: (opts: { dryRun: boolean; idempotencyKey: string | null; traceId: string }) => Promise<ManualResult>) {
  const user = c.get("user");
  await getAccount(c.env, user.id, accountId);
  if (!dryRun) await takeToken(c.env, "RL_OUTBOUND", user.id, "manual orders; slow down");
  const idempotencyKey = c.req.header("idempotency-key") ?? null;
  const r = await call({ dryRun, idempotencyKey, traceId: c.get("requestId") });
  if (!r.ok) {
    const retry = r.retryAfterMs !== undefined ? Math.max(1, Math.ceil(r.retryAfterMs / 1000)) : undefined;
    throw new ApiError(STATUS_OF[r.code], r.message, r.details, retry !== undefined ? { "retry-after": String(retry) } : undefined);
  }
  c.get("logger").info("manual.action", { accountId, action: r.value.action, dryRun, replayed: r.value.replayed, orders: r.value.orders.length });
  if (r.value.replayed) c.header("idempotency-replayed", "true");
  return c.json(r.value as z.infer<typeof ManualOutcome>, 200);
}

const stub = (env: Env, accountId: string) => env.ACCOUNT.getByName(accountId);
/** An optional JSON body: a POST with no body at all is `{}` (close, close all and run need nothing). */
const optionalBody = <T extends z.ZodType>(schema: T) => ({ body: { content: { "application/json": { schema } }, required: false } });

export const manualRoutes = router()
  .openapi(
    createRoute({ method: "post", path: "/{id}/trades/{tradeId}/close", tags, security, summary: "Close a running trade now (dryRun: what it would do)",
      request: { params: TradeParams, headers: IdempotencyHeaders, ...optionalBody(ManualBody) }, responses }),
    async (c) => {
      const { id, tradeId } = c.req.valid("param");
      const { dryRun = false } = c.req.valid("json");
      return act(c, id, dryRun, (o) => stub(c.env, id).manual({ action: { kind: "close", tradeId }, ...o }));
    },
  )
  .openapi(
    createRoute({ method: "post", path: "/{id}/trades/close-all", tags, security, summary: "Close every running trade of the account, one order each (answers per trade)",
      request: { params: AccountParams, headers: IdempotencyHeaders, ...optionalBody(ManualBody) }, responses }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { dryRun = false } = c.req.valid("json");
      return act(c, id, dryRun, (o) => stub(c.env, id).manual({ action: { kind: "close_all" }, ...o }));
    },
  )
  .openapi(
    createRoute({ method: "post", path: "/{id}/trades/{tradeId}/add-margin", tags, security, summary: "Add margin to a running trade now (dryRun: the liquidation and risk it would leave)",
      request: { params: TradeParams, headers: IdempotencyHeaders, ...jsonBody(AddMarginBody) }, responses }),
    async (c) => {
      const { id, tradeId } = c.req.valid("param");
      const { amountSats, dryRun } = c.req.valid("json");
      return act(c, id, dryRun, (o) => stub(c.env, id).manual({ action: { kind: "add_margin", tradeId, amountSats }, ...o }));
    },
  )
  .openapi(
    createRoute({ method: "post", path: "/{id}/automations/{aid}/run", tags, security, summary: "Run an automation now, off its schedule (dryRun: its decisions, nothing sent)",
      request: { params: RunParams, headers: IdempotencyHeaders, ...optionalBody(ManualBody) }, responses }),
    async (c) => {
      const { id, aid } = c.req.valid("param");
      const { dryRun = false } = c.req.valid("json");
      return act(c, id, dryRun, (o) => stub(c.env, id).manual({ action: { kind: "run", automationId: aid }, ...o }));
    },
  );
