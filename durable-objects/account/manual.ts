/**
 * Manual controls (issue 23): close a trade, close every trade of the account, add margin to a
 * trade, run an automation now, each with a dry run that sends nothing. Orders go through the
 * account's executor like an automation's (an intent with its own clientId recorded before it
 * is sent, the account's token bucket, reconciliation of an uncertain outcome before any
 * re-send, a trade log), under the automation id `manual`.
 *
 * Idempotency (README "Manual controls"): a request with an `Idempotency-Key` derives its
 * clientIds from the key (`clientIdFor({automationId: "manual", runId: "k:<key>", action,
 * tradeId})`), and its answer is kept 24 h in the DO's SQLite under the key. A retry with
 * the same key and the same action replays that answer (`replayed: true`) without deciding
 * again; the same key for another action is refused (`idempotency_key_reused`); a retry while
 * the first is still running is refused (`request_in_progress`). An answer that left the
 * outcome unknown (timeout, exchange unavailable) is not kept: the retry decides again under
 * the same clientIds, so the executor reconciles the first order before it sends anything. A
 * request without a key is a new decision each time.
 */
import { liquidationPrice, riskOf, SATS_PER_BTC } from "../../src/domain/inverse";
import { effectiveMargin, tradeRisk, type RunningTrade } from "../../src/domain/trade";
import { newId } from "../../src/lib/ids";
import type { LnMarketsRestClient } from "../../src/lnmarkets/rest-client";
import type { AccountContext } from "./context";
import type { Executor, ExecResult, IntentRequest } from "./executor";
import type { Journal } from "./journal";
import { planAutomation, type ManualOrder, type TradeFacts } from "./manual-plan";
import type { Market } from "./market";
import { MONITOR_ID, type Runner } from "./runner";
import type { AccountStore, AutomationRow } from "./storage";

export type { ManualOrder };

/** The executor's automation id for orders a trader sends by hand. */
export const MANUAL_ID = "manual";
/** How long an Idempotency-Key's answer is kept. */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
/** A claim still "running" after this was cut off (longer than any order call or run timeout). */
const ABANDONED_AFTER_MS = 10 * 60_000;

export type ManualAction =
  | { kind: "close"; tradeId: string }
  | { kind: "close_all" }
  | { kind: "add_margin"; tradeId: string; amountSats: number }
  | { kind: "run"; automationId: string };

export interface ManualRequest {
  action: ManualAction;
  dryRun?: boolean;
  idempotencyKey?: string | null;
  traceId?: string | null;
}

export interface ManualOutcome {
  action: ManualAction["kind"];
  dryRun: boolean;
  /** The answer of an earlier request with the same Idempotency-Key: nothing was decided or sent now. */
  replayed: boolean;
  idempotencyKey: string | null;
  price: number | null;
  orders: ManualOrder[];
  summary: string;
  /** run: what the automation decided (dry run: would decide), and how its run ended. */
  decisions?: unknown[];
  automation?: { id: string; type: string; lastResult: string | null; lastError: string | null };
}

export type ManualErrorCode =
  | "not_found" | "validation_error" | "account_disabled" | "credentials_rejected" | "automations_stopped" | "automation_disabled"
  | "entries_paused" | "plan_paused" | "automation_running" | "idempotency_key_reused" | "request_in_progress" | "order_in_flight"
  | "exchange_refused" | "exchange_unavailable" | "exchange_rate_limited";

export type ManualResult =
  | { ok: true; value: ManualOutcome }
  | { ok: false; code: ManualErrorCode; message: string; details?: unknown; retryAfterMs?: number };

type Fail = Extract<ManualResult, { ok: false }>;

export interface ManualHost {
  readonly store: AccountStore;
  readonly journal: Journal;
  readonly market: Market;
  readonly executor: Executor;
  readonly runner: Runner;
  client(): Promise<LnMarketsRestClient>;
  loadContext(): Promise<AccountContext | null>;
  keysRejected(ctx: AccountContext): boolean;
  /** The plan in force includes this automation's type, and the account is within the plan's account limit. */
  planAllows(row: AutomationRow, ctx: AccountContext): boolean;
  parsedConfig(row: AutomationRow): unknown;
  /** After orders: re-register the levels they moved, flush the logs. */
  afterOrders(): Promise<void>;
}

const fail = (code: ManualErrorCode, message: string, details?: unknown, retryAfterMs?: number): Fail =>
  ({ ok: false, code, message, ...(details !== undefined ? { details } : {}), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });

const field = (path: string, message: string) => [{ path, message, code: "custom" }];

/** The answer to keep under an Idempotency-Key: final outcomes only (unknown ones are decided again). */
const final = (r: ManualResult) => r.ok ? !r.value.orders.some((o) => o.status === "uncertain" || (o.error?.kind === "temporary")) : !["exchange_unavailable", "exchange_rate_limited", "order_in_flight", "request_in_progress"].includes(r.code);

export class ManualControls {
  constructor(private readonly h: ManualHost) {}

  async handle(req: ManualRequest): Promise<ManualResult> {
    const dryRun = req.dryRun ?? false;
    const key = dryRun ? null : req.idempotencyKey ?? null;
    if (!key) return this.decide(req, dryRun, `m:${newId("req")}`);
    const fingerprint = JSON.stringify(req.action);
    const now = Date.now();
    this.h.store.pruneManualRequests(now - IDEMPOTENCY_TTL_MS);
    const seen = this.h.store.manualRequest(key);
    if (seen && seen.fingerprint !== fingerprint) {
      return fail("idempotency_key_reused", "This Idempotency-Key was used for another action on this account: nothing sent", { idempotencyKey: key });
    }
    if (seen?.status === "done" && seen.response) {
      const r = JSON.parse(seen.response) as ManualResult;
      return r.ok ? { ok: true, value: { ...r.value, replayed: true } } : r;
    }
    // A request cut off mid-way (the DO evicted or reset) leaves its claim: taken over after a while.
    if (seen?.status === "running" && now - seen.created_at > ABANDONED_AFTER_MS) this.h.store.finishManualRequest(key, null);
    if (!this.h.store.claimManualRequest(key, fingerprint, now)) {
      return fail("request_in_progress", "A request with this Idempotency-Key is still running: retry in a moment", { idempotencyKey: key }, 1_000);
    }
    let result: ManualResult | null = null;
    try {
      result = await this.decide(req, false, `k:${key}`);
      return result;
    } finally {
      this.h.store.finishManualRequest(key, result && final(result) ? JSON.stringify(result) : null);
    }
  }

  private async decide(req: ManualRequest, dryRun: boolean, runId: string): Promise<ManualResult> {
    const ctx = await this.h.loadContext();
    if (!ctx) return fail("not_found", "Account not found");
    if (ctx.status !== "active") return fail("account_disabled", "The account is disabled: enable it (PATCH /v1/accounts/:id {status: \"active\"}) first");
    if (this.h.keysRejected(ctx)) return fail("credentials_rejected", "The exchange refused this account's API keys: replace them first");
    const a = req.action;
    if (a.kind === "run") return this.run(ctx, a.automationId, dryRun, req);
    const read = await this.readPositions();
    if (!read.ok) return read;
    const price = this.h.market.price;
    const base = { action: a.kind, dryRun, replayed: false, idempotencyKey: req.idempotencyKey && !dryRun ? req.idempotencyKey : null, price };
    const targets = a.kind === "close_all" ? this.h.market.runningTrades() : [this.h.market.trades.get(a.tradeId)].filter((t): t is RunningTrade => !!t);
    // A retry (same key) after an unknown outcome: the first attempt's orders on trades no
    // longer running are reconciled by the executor (a close that landed is the close done),
    // never forgotten, and never sent again unless the exchange shows they did not land.
    const earlier = dryRun || !runId.startsWith("k:") ? [] : this.h.store.intentsOfRun(MANUAL_ID, runId)
      .filter((i) => (i.status === "uncertain" || i.status === "pending") && !targets.some((t) => t.id === i.trade_id));
    if (a.kind !== "close_all" && !targets.length && !earlier.length) return fail("not_found", `No running trade ${a.tradeId} on this account`, field("tradeId", "no running trade with this id on this account"));
    if (a.kind === "add_margin" && targets.length) {
      const t = targets[0]!;
      // The exchange refuses an add that would bring leverage under 1 (margin above the notional).
      const max = Math.floor((t.quantity * SATS_PER_BTC) / t.entryPrice - t.margin);
      if (a.amountSats > max) return fail("validation_error", `Invalid amountSats: at most ${Math.max(0, max)} sats on this trade (leverage cannot fall under 1)`, field("amountSats", `at most ${Math.max(0, max)} sats on this trade`));
    }
    const items: { request: IntentRequest; planned: ManualOrder }[] = earlier.map((i) => {
      const request = JSON.parse(i.request) as IntentRequest;
      return { request, planned: { action: request.action, tradeId: i.trade_id, status: "planned", clientId: null, ...(request.action === "add_margin" ? { amountSats: request.amount } : {}) } };
    });
    for (const t of targets) {
      const request: IntentRequest = a.kind === "add_margin"
        ? { action: "add_margin", tradeId: t.id, amount: a.amountSats, marginBefore: t.margin, ...(t.sumFundingFees !== undefined ? { fundingBefore: t.sumFundingFees } : {}) }
        : { action: "close", tradeId: t.id };
      items.push({ request, planned: await this.plan(t, request, price) });
    }
    const orders: ManualOrder[] = [];
    for (const { request, planned } of items) {
      const tradeId = planned.tradeId;
      if (dryRun) {
        orders.push(planned);
        continue;
      }
      const res = await this.h.executor.execute({ automationId: MANUAL_ID, runId, request, traceId: req.traceId ?? null });
      if (!res.ok && res.code === "trade_gone") this.h.market.tradesAt = 0;
      const order = { ...planned, ...outcome(res) };
      delete order.warning;
      orders.push(order);
      this.h.journal.automation(res.ok ? "info" : "warn", `manual.${request.action}`, null,
        { tradeId, clientId: res.clientId, status: order.status, ...(res.ok ? {} : { code: res.code, kind: res.kind }), ...(a.kind === "add_margin" ? { amountSats: a.amountSats } : {}), closeAll: a.kind === "close_all", idempotencyKey: base.idempotencyKey },
        undefined, req.traceId);
    }
    if (!dryRun && orders.length) await this.h.afterOrders();
    else this.h.journal.logger.debug("manual.dry_run", { action: a.kind, orders: orders.length });
    // One trade asked for: its refusal is the answer. Close-all answers per trade.
    const only = a.kind !== "close_all" ? orders[0] : undefined;
    if (only?.error) return refusal(only);
    const sent = orders.filter((o) => o.status !== "failed").length;
    const summary = a.kind === "close_all"
      ? (!orders.length ? "no running trades" : dryRun ? `would close ${orders.length} trade(s)` : `${sent} of ${orders.length} trade(s) closed`)
      : dryRun ? (a.kind === "close" ? `would close trade ${a.tradeId}` : `would add ${a.amountSats} sats to trade ${a.tradeId}`)
      : a.kind === "close" ? `trade ${a.tradeId} closed` : `${a.amountSats} sats added to trade ${a.tradeId}`;
    return { ok: true, value: { ...base, orders, summary } };
  }

  /** The order as it would leave the trade, at the current price (and a warning the exchange would refuse it). */
  private async plan(t: RunningTrade, request: IntentRequest, price: number | null): Promise<ManualOrder> {
    const before = facts(t, t.margin, t.liquidation, price);
    if (request.action === "add_margin") {
      const liq = liquidationPrice(t.side, t.quantity, t.entryPrice, effectiveMargin(t) + request.amount);
      const balance = this.h.market.balance;
      return {
        action: "add_margin", tradeId: t.id, amountSats: request.amount, status: "planned", clientId: null, before, after: facts(t, t.margin + request.amount, liq, price),
        ...(balance !== null && balance < request.amount ? { warning: `the last balance read (${balance} sats) is below the amount: the exchange would likely refuse it` } : {}),
      };
    }
    const m = this.h.market;
    const fill = t.side === "buy" ? m.bid ?? price : m.offer ?? price;
    const pnl = fill ? t.quantity * SATS_PER_BTC * (1 / t.entryPrice - 1 / fill) * (t.side === "buy" ? 1 : -1) : null;
    return { action: "close", tradeId: t.id, status: "planned", clientId: null, before, ...(pnl !== null ? { estimatedPnlSats: Math.round(pnl) } : {}) };
  }

  /** Runs an automation now (its run, its executor path, its logs), or says what it would do. */
  private async run(ctx: AccountContext, automationId: string, dryRun: boolean, req: ManualRequest): Promise<ManualResult> {
    const row = automationId === MONITOR_ID ? undefined : this.h.store.automation(automationId);
    if (!row) return fail("not_found", "Automation not found", field("automationId", "no such automation on this account"));
    if (!row.enabled) return fail("automation_disabled", "The automation is disabled: enable it first");
    if (!ctx.inScope) return fail("automations_stopped", "Automations are stopped for this account: the kill switch is on (POST /v1/automations/start), or it is not your active account and scheduleScope is \"active\"");
    if (!this.h.planAllows(row, ctx)) return fail("plan_paused", `The ${ctx.plan.id} plan in force pauses this automation`, { plan: ctx.plan.id });
    if (row.type === "auto_entry" && ctx.pauseEntries) return fail("entries_paused", "Entries are paused (pauseEntries): Auto Entry does not open positions");
    if (this.h.runner.has(row.id)) return fail("automation_running", "The automation is running right now: its result shows in its status", undefined, 1_000);
    const config = this.h.parsedConfig(row);
    if (config === null) return fail("validation_error", "The automation's stored config is invalid: edit it first", field("config", "invalid stored config"));
    const read = await this.readPositions();
    if (!read.ok) return read;
    const m = this.h.market;
    const base = { action: "run" as const, dryRun, replayed: false, idempotencyKey: req.idempotencyKey && !dryRun ? req.idempotencyKey : null, price: m.price };
    if (dryRun) {
      let balanceSats = Number.MAX_SAFE_INTEGER;
      if (row.type === "margin_guard" && m.runningTrades().length) {
        try {
          balanceSats = await m.knownBalance(await this.h.client(), Date.now());
        } catch (e) {
          return fail("exchange_unavailable", `The exchange could not be reached: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      const p = planAutomation(row, config, { trades: m.runningTrades(), price: m.price!, balanceSats, now: Date.now(), pauseEntries: ctx.pauseEntries });
      return { ok: true, value: { ...base, orders: p.orders, decisions: p.decisions, summary: p.summary, automation: view(row) } };
    }
    this.h.journal.automation("info", "manual.run", row.id, { type: row.type, idempotencyKey: base.idempotencyKey }, undefined, req.traceId);
    await this.h.runner.trigger(row, "manual");
    const after = this.h.store.automation(row.id) ?? row;
    const orders = this.h.store.intentsOfRun(row.id, `t${after.run_seq}`).map((i): ManualOrder => {
      const request = JSON.parse(i.request) as IntentRequest;
      return {
        action: request.action, tradeId: i.trade_id, clientId: i.client_id,
        status: i.status === "done" ? "sent" : i.status === "failed" ? "failed" : "uncertain",
        ...(request.action === "add_margin" ? { amountSats: request.amount } : {}),
        ...(request.action === "takeprofit" || request.action === "stoploss" ? { value: request.value } : {}),
        ...(request.action === "open" ? { order: request.order } : {}),
        ...(i.error ? { error: { code: i.error.split(":")[0]!, kind: i.status === "failed" ? "permanent" : "temporary", message: i.error, uncertain: i.status !== "failed" } } : {}),
      };
    });
    await this.h.afterOrders();
    return { ok: true, value: { ...base, price: m.price, orders, summary: after.last_error ?? after.last_result ?? "ran", automation: view(after) } };
  }

  /** Fresh positions and price from the exchange (a manual action never decides on stale ones). */
  private async readPositions(): Promise<{ ok: true } | Fail> {
    try {
      await this.h.market.refresh(await this.h.client(), Date.now(), undefined, 0);
      return { ok: true };
    } catch (e) {
      return fail("exchange_unavailable", `The exchange could not be reached: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

function facts(t: RunningTrade, margin: number, liquidation: number, price: number | null): TradeFacts {
  const risk = price === null ? 0 : margin === t.margin ? tradeRisk(t, price) : riskOf(t.side, t.entryPrice, liquidation, price);
  return { margin, liquidation: Math.round(liquidation * 2) / 2, risk: Math.round(risk * 1000) / 1000 };
}

function view(row: AutomationRow) {
  return { id: row.id, type: row.type, lastResult: row.last_result, lastError: row.last_error };
}

/** What the executor reported, as the order's status. */
function outcome(res: ExecResult): Partial<ManualOrder> {
  if (res.ok) return { clientId: res.clientId, status: res.skipped ? "already_done" : res.reconciled ? "reconciled" : "sent" };
  return { clientId: res.clientId, status: res.uncertain ? "uncertain" : "failed", error: { code: res.code, kind: res.kind, message: res.message, uncertain: res.uncertain } };
}

/**
 * An exchange refusal as the API answers it, by the executor's error kinds (DESIGN.md
 * "Execution"): business and permanent refusals are the exchange's no; temporary ones (network,
 * timeout, 5xx, breaker) are "unavailable, retry with the same Idempotency-Key".
 */
function refusal(o: ManualOrder): Fail {
  const e = o.error!;
  const details = { tradeId: o.tradeId, clientId: o.clientId, exchangeCode: e.code, kind: e.kind, uncertain: e.uncertain };
  if (e.code === "trade_gone" || e.code === "not_found") return fail("not_found", `No running trade ${o.tradeId} on this account: ${e.message}`, [...field("tradeId", "the trade is no longer running"), details]);
  if (e.code === "client_id_reused") return fail("idempotency_key_reused", "This Idempotency-Key was used for another order: nothing sent", details);
  if (e.code === "unauthorized" || e.code === "forbidden") return fail("credentials_rejected", `The exchange refused this account's API keys: ${e.message}`, details);
  if (e.code === "in_flight") return fail("order_in_flight", `An earlier order on trade ${o.tradeId} may still land: retry in a few seconds (${e.message})`, details, 5_000);
  if (e.code === "rate_limited") return fail("exchange_rate_limited", `The exchange's rate limit: ${e.message}`, details, 5_000);
  if (e.kind === "temporary") return fail("exchange_unavailable", `The exchange could not be reached${e.uncertain ? " (the order may have landed: retry with the same Idempotency-Key, it is reconciled first and never sent twice)" : ""}: ${e.message}`, details);
  return fail("exchange_refused", `The exchange refused the order: ${e.message}`, details);
}
