/**
 * The executor every automation uses (DESIGN.md "Execution"): an idempotent clientId per
 * intent, the account's token bucket (inside the REST client), a circuit breaker, error
 * classes with their handling (the breaker itself is fed by every REST call of the account,
 * see AccountDO.client), and reconciliation after an uncertain outcome before any
 * retry. An intent is recorded before it is sent, so an evicted DO finds it on restart.
 *
 * Exactly once, as far as it goes (README "Automations"): every decision is an intent with a
 * clientId of its own (a retried run decides again under a new run id), recorded before it is
 * sent. An order call lives at most REQUEST_TIMEOUT_MS on our side, and every run timeout is
 * longer (src/domain/schedule.ts). No order goes out for a trade while an earlier intent on
 * that trade, of any automation, is unresolved: it is reconciled first, and it counts as not
 * landed only when the exchange does not show it at a read that started REQUEST_TIMEOUT_MS +
 * RUN_TIMEOUT_MARGIN_MS after it was sent; until then it is "in flight" and blocks. A done
 * intent is reported done (`already_done`) only for the very request it recorded. Within the
 * object, reconciling and sending take turns per trade (`exclusive`): a reconciliation whose
 * read was slow (a 429 waited out) cannot mark an intent that did not land "done" from a
 * margin a later add on the same trade raised, after another run had already found it not
 * landed and sent that later add (the fault suite caught exactly this). Limits: an
 * exchange that applies a request later than that window after we sent it, and add-margin
 * (which carries no clientId at LN Markets) being inferred from the trade's margin.
 */
import { CircuitBreaker } from "../../src/domain/circuit-breaker";
import { clientIdFor } from "../../src/domain/client-id";
import { REQUEST_TIMEOUT_MS, RUN_TIMEOUT_MARGIN_MS } from "../../src/domain/schedule";
import { sameTrailingFraction } from "../../src/domain/tp-sl";
import { isLnMarketsError, LnMarketsError } from "../../src/lnmarkets/errors";
import type { LnMarketsRestClient, NewTradeInput } from "../../src/lnmarkets/rest-client";
import type { FuturesTrade } from "../../src/lnmarkets/schemas";
import type { AccountStore, IntentRow } from "./storage";

export type IntentAction = "open" | "add_margin" | "close" | "takeprofit" | "stoploss";

export type IntentRequest =
  | { action: "open"; order: Omit<NewTradeInput, "clientId"> }
  /**
   * `fundingBefore`: the trade's `sumFundingFees` when `marginBefore` was read (absent on
   * intents recorded before it existed).
   */
  | { action: "add_margin"; tradeId: string; amount: number; marginBefore: number; fundingBefore?: number }
  | { action: "close"; tradeId: string }
  | { action: "takeprofit"; tradeId: string; value: number }
  | { action: "stoploss"; tradeId: string; value: number; mode: "fixed" | "trailing" };

export interface Intent {
  automationId: string;
  runId: string;
  request: IntentRequest;
  traceId?: string | null;
  /** The run's second decision and later (after re-reading the balance): a new clientId each. */
  decision?: number;
  /**
   * The amount was sized from the trade's margin as the run saw it (`marginBefore`): a guard's
   * add-margin, not a trader's own. Refused (`stale_decision`, temporary: the run decides
   * again) when another order added margin to the trade since.
   */
  sizedFromMargin?: boolean;
}

/** Orders that protect a position: an open breaker does not hold them back (the rate limit does). */
export const PROTECTIVE_ACTIONS: ReadonlySet<IntentAction> = new Set(["add_margin", "close", "stoploss"]);

/** How long after it was sent an order may still land: before that, "not seen" is not "not landed". */
export const ORDER_LANDING_WINDOW_MS = REQUEST_TIMEOUT_MS + RUN_TIMEOUT_MARGIN_MS;

export type ExecResult =
  | { ok: true; clientId: string; trade: FuturesTrade | null; reconciled: boolean; skipped?: "already_done" }
  | { ok: false; clientId: string; kind: "temporary" | "permanent" | "business"; code: string; message: string; uncertain: boolean; retryAfterMs?: number };

export interface TradeLog {
  automationId: string;
  clientId: string;
  action: string;
  request: unknown;
  outcome: "ok" | "error" | "uncertain" | "reconciled";
  errorKind?: string;
  error?: string;
  latencyMs?: number;
  tradeId?: string | null;
  traceId?: string | null;
}

export interface ExecutorDeps {
  store: AccountStore;
  client: () => Promise<LnMarketsRestClient>;
  breaker: CircuitBreaker;
  tradeLog: (entry: TradeLog) => void;
  /**
   * Every running-trades list a reconciliation reads: the account's view of its positions
   * must take it, or a decision made after an uncertain add-margin landed would size a second
   * one from the margin before it (the soak found exactly that).
   */
  onRunningTrades?: (trades: FuturesTrade[], readStartedAt: number) => void;
  /**
   * The exchange's answer to an order that went out: the account's view of its positions takes
   * it inside the trade's turn, so the next order on the trade is checked against it.
   */
  onTradeAnswered?: (trade: FuturesTrade) => void;
  /** The trade as the account knows it now (the answers to its orders, the stream, re-reads). */
  knownTrade?: (tradeId: string) => Pick<FuturesTrade, "margin"> & { sumFundingFees?: number | undefined } | undefined;
  now?: () => number;
  timeoutMs?: number;
}

/**
 * Whether an add-margin shows in the trade's margin. Funding settled since the decision moves
 * margin too (LN Markets takes an isolated trade's funding fee from its margin, credits a
 * received one to it; `sumFundingFees` counts what the trader paid, positive = paid): margin
 * is compared after putting back what funding took, or a landed add after a charge would
 * read as not landed and be sent again.
 */
export function addMarginLanded(
  t: Pick<FuturesTrade, "margin"> & { sumFundingFees?: number | undefined },
  req: { amount: number; marginBefore: number; fundingBefore?: number | undefined },
): boolean {
  return marginAddedSince(t, req) >= req.amount;
}

/** Margin the trade gained since `marginBefore` was read, with the funding settled since put back. */
function marginAddedSince(
  t: Pick<FuturesTrade, "margin"> & { sumFundingFees?: number | undefined },
  req: { marginBefore: number; fundingBefore?: number | undefined },
): number {
  const fundingSince = req.fundingBefore === undefined ? 0 : (t.sumFundingFees ?? req.fundingBefore) - req.fundingBefore;
  return t.margin + fundingSince - req.marginBefore;
}

const tradeIdOf = (r: IntentRequest) => ("tradeId" in r ? r.tradeId : undefined);
/** What reconciling and sending serialise on: the trade, or an open's own clientId. */
const turnKey = (clientId: string, tradeId: string | null | undefined) => (tradeId != null ? `trade:${tradeId}` : `intent:${clientId}`);
const UNRESOLVED: ReadonlySet<string> = new Set(["pending", "uncertain"]);

export class Executor {
  private readonly now: () => number;
  /** The last operation queued per turn key (see `exclusive`). */
  private readonly turns = new Map<string, Promise<void>>();
  constructor(private readonly d: ExecutorDeps) {
    this.now = d.now ?? Date.now;
  }

  get breaker(): CircuitBreaker {
    return this.d.breaker;
  }

  clientIdOf(intent: Intent): string {
    return clientIdFor({ automationId: intent.automationId, runId: intent.runId, action: intent.request.action, tradeId: tradeIdOf(intent.request), decision: intent.decision });
  }

  /**
   * Sends an intent at most once. A done intent is not re-sent; an uncertain one (timeout,
   * network error, 5xx after sending) is reconciled against the exchange first and only
   * re-sent when the exchange shows it did not land.
   */
  async execute(intent: Intent, signal?: AbortSignal): Promise<ExecResult> {
    const clientId = this.clientIdOf(intent);
    return this.exclusive(turnKey(clientId, tradeIdOf(intent.request)), () => this.executeInTurn(intent, clientId, signal));
  }

  /**
   * Runs `fn` once every operation queued before it on the same key has finished: one
   * reconciliation or order at a time per trade in this object (each is bounded by its request
   * timeout, so a turn never waits for long).
   */
  private async exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.turns.get(key) ?? Promise.resolve();
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const tail = before.then(() => finished);
    this.turns.set(key, tail);
    await before;
    try {
      return await fn();
    } finally {
      done();
      if (this.turns.get(key) === tail) this.turns.delete(key);
    }
  }

  /** Reconciles one row in its trade's turn, as it stands then (another run may have settled it meanwhile). */
  private reconcileInTurn(row: IntentRow, signal?: AbortSignal): Promise<ExecResult | null> {
    return this.exclusive(turnKey(row.client_id, row.trade_id), async () => {
      const now = this.d.store.intent(row.client_id);
      return now && UNRESOLVED.has(now.status) ? this.reconcile(now, signal) : null;
    });
  }

  private async executeInTurn(intent: Intent, clientId: string, signal?: AbortSignal): Promise<ExecResult> {
    const now = this.now();
    const existing = this.d.store.intent(clientId);
    if (existing?.status === "done") {
      // Done means the exchange answered it or showed it landed: success for this decision
      // only if it is this very request (a clientId reused for another decision sent nothing).
      if (existing.request !== JSON.stringify(intent.request)) {
        return { ok: false, clientId, kind: "permanent", code: "client_id_reused", message: "this clientId was used by another decision: nothing sent", uncertain: false };
      }
      return { ok: true, clientId, trade: existing.result ? JSON.parse(existing.result) : null, reconciled: false, skipped: "already_done" };
    }
    if (existing && (existing.status === "uncertain" || existing.status === "pending")) {
      const landed = await this.reconcile(existing, signal);
      // Only an intent the exchange shows did not land may be sent again.
      if (landed.ok || landed.code !== "not_landed") return landed;
    }
    // Never a second order on a trade while an earlier one on it may still land.
    const tradeId = tradeIdOf(intent.request);
    if (tradeId !== undefined) {
      const blocking = await this.settleTrade(tradeId, clientId, signal);
      if (blocking) return { ok: false, clientId, kind: "temporary", code: "in_flight", message: `an earlier order on trade ${tradeId} may still land (${blocking})`, uncertain: false };
      const moved = intent.sizedFromMargin ? this.marginMovedSince(intent.request) : 0;
      if (moved > 0) return { ok: false, clientId, kind: "temporary", code: "stale_decision", message: `${moved} sats of margin were added to trade ${tradeId} since this amount was decided: deciding again`, uncertain: false };
    }
    // The run took the breaker's probe already; an order only checks that it is not open.
    // Protective orders go out anyway: the rate limit still holds them (in the REST client).
    if (this.d.breaker.stateAt(now) === "open" && !PROTECTIVE_ACTIONS.has(intent.request.action)) {
      return { ok: false, clientId, kind: "temporary", code: "breaker_open", message: "circuit breaker open: exchange calls paused", uncertain: false };
    }
    const attempts = (existing?.attempts ?? 0) + 1;
    this.d.store.upsertIntent({
      client_id: clientId, automation_id: intent.automationId, run_id: intent.runId, action: intent.request.action,
      trade_id: tradeIdOf(intent.request) ?? null, request: JSON.stringify(intent.request), status: "pending", attempts,
      result: null, error: null, created_at: existing?.created_at ?? now, updated_at: now, settles_at: now + ORDER_LANDING_WINDOW_MS,
    });
    const started = this.now();
    try {
      const trade = await this.send(await this.d.client(), intent.request, clientId, signal);
      this.d.store.setIntentStatus(clientId, "done", { result: JSON.stringify(trade) });
      if (trade) this.d.onTradeAnswered?.(trade);
      this.d.tradeLog({ automationId: intent.automationId, traceId: intent.traceId ?? null, clientId, action: intent.request.action, request: intent.request, outcome: "ok", latencyMs: this.now() - started, tradeId: trade?.id ?? tradeIdOf(intent.request) ?? null });
      return { ok: true, clientId, trade, reconciled: false };
    } catch (e) {
      const err = isLnMarketsError(e) ? e : new LnMarketsError({ kind: "temporary", code: "network", message: e instanceof Error ? e.message : String(e), uncertain: true });
      const status = err.uncertain ? "uncertain" : "failed";
      this.d.store.setIntentStatus(clientId, status, { error: `${err.code}: ${err.message}` });
      // An answer (a 500, a 503) means the exchange is done with the request: whether it was
      // applied is for reconciliation, but it will not land later. No answer (timeout,
      // network, abort) or a gateway's 502/504/408 leaves it in flight for its window.
      if (err.status !== undefined && ![408, 502, 504].includes(err.status)) this.d.store.setIntentSettlesAt(clientId, this.now());
      this.d.tradeLog({
        automationId: intent.automationId, traceId: intent.traceId ?? null, clientId, action: intent.request.action, request: intent.request,
        outcome: err.uncertain ? "uncertain" : "error", errorKind: err.kind, error: `${err.code}: ${err.message}`, latencyMs: this.now() - started,
        tradeId: tradeIdOf(intent.request) ?? null,
      });
      // A trade the exchange says is not ours (400 "You do not own this trade") or no longer
      // runs is gone: there is nothing left to act on, as when reconciling finds it gone.
      if (err.code === "not_found" && tradeIdOf(intent.request) !== undefined) {
        return { ok: false, clientId, kind: "business", code: "trade_gone", message: err.message, uncertain: false };
      }
      return { ok: false, clientId, kind: err.kind, code: err.code, message: err.message, uncertain: err.uncertain, ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}) };
    }
  }

  /**
   * Margin added to an add-margin's trade since its amount was decided (another automation's
   * order that went first in the trade's turn, or one the trader placed), as the account knows
   * the trade now.
   */
  private marginMovedSince(r: IntentRequest): number {
    if (r.action !== "add_margin") return 0;
    const t = this.d.knownTrade?.(r.tradeId);
    return t ? Math.max(0, Math.floor(marginAddedSince(t, r))) : 0;
  }

  /**
   * Reconciles the account's unresolved intents, every automation's, before a run decides
   * again: a decision made on trades that an uncertain order (a guard's add-margin, a TP/SL's
   * close, an entry's open) may already have changed would send a second order under a new
   * clientId. Returns how many there were and how many are still unknown (in flight or not
   * reconcilable): the caller must not decide while any is.
   */
  async settle(_automationId?: string, signal?: AbortSignal): Promise<{ found: number; unresolved: number }> {
    const rows = this.d.store.unresolvedIntents();
    let unresolved = 0;
    for (const row of rows) {
      const r = await this.reconcileInTurn(row, signal);
      if (r && !r.ok && (r.code === "reconcile_failed" || r.code === "in_flight")) unresolved++;
    }
    return { found: rows.length, unresolved };
  }

  /** Reconciles other unresolved intents on `tradeId`; returns why one still blocks, if one does. */
  private async settleTrade(tradeId: string, except: string, signal?: AbortSignal): Promise<string | null> {
    for (const row of this.d.store.unresolvedIntents()) {
      if (row.trade_id !== tradeId || row.client_id === except) continue;
      const r = await this.reconcile(row, signal);
      if (!r.ok && (r.code === "reconcile_failed" || r.code === "in_flight")) return `${row.action} ${row.client_id}: ${r.code}`;
    }
    return null;
  }

  /** Resolves every intent left pending or uncertain (after a timeout or an eviction). */
  async reconcilePending(signal?: AbortSignal): Promise<void> {
    for (const row of this.d.store.unresolvedIntents()) await this.reconcileInTurn(row, signal);
  }

  /**
   * Asks the exchange whether an intent landed: an open by its clientId among running, open
   * and recent closed trades; an add-margin by the trade's margin; a close by the trade no
   * longer running; TP/SL by the value the trade carries.
   */
  private async reconcile(row: IntentRow, signal?: AbortSignal): Promise<ExecResult> {
    const req = JSON.parse(row.request) as IntentRequest;
    const fail = (message: string): ExecResult => ({ ok: false, clientId: row.client_id, kind: "temporary", code: "reconcile_failed", message, uncertain: true });
    const checkedAt = this.now();
    let landed: FuturesTrade | null | undefined;
    try {
      const client = await this.d.client();
      const opts = signal ? { signal } : undefined;
      const readStartedAt = this.now();
      const running = await client.runningTrades(opts);
      this.d.onRunningTrades?.(running, readStartedAt);
      switch (req.action) {
        case "open": {
          const open = await client.openTrades(opts);
          landed = [...running, ...open].find((t) => t.clientId === row.client_id);
          if (!landed) landed = (await client.closedTrades({ limit: 50 }, opts)).data.find((t) => t.clientId === row.client_id);
          break;
        }
        case "add_margin": {
          const t = running.find((x) => x.id === req.tradeId);
          landed = t && addMarginLanded(t, req) ? t : t ? undefined : null;
          break;
        }
        case "close":
          landed = running.some((x) => x.id === req.tradeId) ? undefined : null;
          break;
        case "takeprofit":
        case "stoploss": {
          const t = running.find((x) => x.id === req.tradeId);
          // A trailing stop's value is a fraction of price, reported back as its distance.
          const same = !t ? false
            : req.action === "stoploss" && req.mode === "trailing" ? sameTrailingFraction(t.stoplossTrailingDistance ?? 0, req.value)
            : Math.abs(((req.action === "takeprofit" ? t.takeprofit : t.stoploss) ?? 0) - req.value) < 0.25;
          landed = t && same ? t : t ? undefined : null;
          break;
        }
      }
    } catch (e) {
      return fail(`could not reconcile: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (landed !== undefined) {
      // null: the trade is gone (closed or liquidated); for a close that is the intent done,
      // for anything else there is nothing left to act on.
      const status = landed === null && req.action !== "close" ? "failed" : "done";
      this.d.store.setIntentStatus(row.client_id, status, { result: JSON.stringify(landed), ...(status === "failed" ? { error: "trade no longer running" } : {}) });
      this.d.tradeLog({ automationId: row.automation_id, clientId: row.client_id, action: row.action, request: req, outcome: "reconciled", tradeId: landed?.id ?? row.trade_id });
      if (status === "failed") return { ok: false, clientId: row.client_id, kind: "business", code: "trade_gone", message: "the trade is no longer running", uncertain: false };
      return { ok: true, clientId: row.client_id, trade: landed, reconciled: true };
    }
    // Not seen yet, but it may still land: its request is unanswered and within its window.
    const settlesAt = row.settles_at ?? row.updated_at + ORDER_LANDING_WINDOW_MS;
    if (checkedAt < settlesAt) {
      return { ok: false, clientId: row.client_id, kind: "temporary", code: "in_flight", message: `may still land for ${settlesAt - checkedAt} ms`, uncertain: true };
    }
    // It did not land: the intent may be sent (again).
    this.d.store.setIntentStatus(row.client_id, "failed", { error: "reconciled: not landed" });
    return { ok: false, clientId: row.client_id, kind: "temporary", code: "not_landed", message: "not landed", uncertain: false };
  }

  /**
   * One deadline for the whole order call, the limiter's wait and a waited-out 429 included:
   * the request's lifetime on our side is REQUEST_TIMEOUT_MS, whatever the caller's signal.
   */
  private async send(client: LnMarketsRestClient, req: IntentRequest, clientId: string, signal?: AbortSignal): Promise<FuturesTrade | null> {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new Error(`order call over ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
    const onAbort = () => deadline.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await this.sendOnce(client, req, clientId, deadline.signal);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  private async sendOnce(client: LnMarketsRestClient, req: IntentRequest, clientId: string, signal: AbortSignal): Promise<FuturesTrade | null> {
    const opts = { signal, timeoutMs: Math.min(this.d.timeoutMs ?? REQUEST_TIMEOUT_MS, REQUEST_TIMEOUT_MS) };
    switch (req.action) {
      case "open":
        return client.newTrade({ ...req.order, clientId } as NewTradeInput, opts);
      case "add_margin":
        return client.addMargin({ id: req.tradeId, amount: req.amount }, opts);
      case "close":
        return client.close({ id: req.tradeId }, opts);
      case "takeprofit":
        return client.setTakeprofit({ id: req.tradeId, value: req.value }, opts);
      case "stoploss":
        return client.setStoploss({ id: req.tradeId, value: req.value, mode: req.mode }, opts);
    }
  }
}
