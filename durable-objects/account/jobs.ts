/**
 * What each automation type does in one run: thin glue between the pure decisions of
 * src/domain and the executor. Every decision is logged with the inputs that led to it.
 */
import { AutoEntryState, evaluateAutoEntry, initialAutoEntryState, type AutoEntryConfig } from "../../src/domain/auto-entry";
import { evaluateMarginGuard, initialMarginGuardState, MarginGuardState, type MarginGuardConfig } from "../../src/domain/margin-guard";
import { evaluateTpSl, initialTpSlState, TpSlState, type TpSlConfig } from "../../src/domain/tp-sl";
import type { NoopConfig } from "../../src/automations/registry";
import type { LnMarketsRestClient, NewTradeInput } from "../../src/lnmarkets/rest-client";
import type { Executor, ExecResult, IntentRequest } from "./executor";
import type { Journal } from "./journal";
import type { Market } from "./market";
import type { AutomationRow } from "./storage";

export interface JobContext {
  market: Market;
  executor: Executor;
  journal: Journal;
  client: () => Promise<LnMarketsRestClient>;
  now: () => number;
  pauseEntries: boolean;
  /** Whether the account's automations run (scope, kill switch, credentials): else the monitor alerts alone. */
  automationsRunning: boolean;
  /** Other automations of the account (the monitor hands over to the guards). */
  automations: () => AutomationRow[];
  /** Runs a margin guard at once (outside its schedule). */
  triggerGuard: (row: AutomationRow, reason: string) => Promise<void>;
  /** The run's trace id (the trader's last change to the automation, else the run's own). */
  traceId: string;
  /** What started the run: its schedule, or a tick (or the monitor) crossing a threshold. */
  trigger: "schedule" | "tick";
  /** Per-run memory (noop failures) and persisted automation state. */
  saveState: (row: AutomationRow, state: unknown) => void;
}

export type JobOutcome = { ok: true; summary: string } | { ok: false; error: string };

class RunFailure extends Error {}

async function exec(ctx: JobContext, row: AutomationRow, runId: string, request: IntentRequest, signal: AbortSignal, decision = 0): Promise<ExecResult> {
  // Every add-margin an automation decides is sized from the margin it saw.
  const sized = request.action === "add_margin" ? { sizedFromMargin: true } : {};
  const res = await ctx.executor.execute({ automationId: row.id, runId, request, traceId: ctx.traceId, ...(decision ? { decision } : {}), ...sized }, signal);
  // The trade is gone (closed, liquidated, or not ours): the positions are re-read next run.
  if (!res.ok && res.code === "trade_gone") ctx.market.tradesAt = 0;
  // Sized on a margin another order has since changed: the caller decides again (nothing went out).
  if (!res.ok && res.code === "stale_decision") return res;
  if (!res.ok) {
    ctx.journal.automation("warn", "automation.action_failed", row.id, { action: request.action, code: res.code, kind: res.kind, uncertain: res.uncertain, clientId: res.clientId }, res.message, ctx.traceId);
    if (res.kind === "permanent") await ctx.journal.notify("automation.action_failed", "warning", "An automation could not act", `${request.action} failed: ${res.message}`, { automationId: row.id, code: res.code }, ctx.traceId);
    // Temporary failures fail the run so the scheduler retries it (same run id: reconciled first).
    if (res.kind === "temporary") throw new RunFailure(`${request.action}: ${res.code}: ${res.message}`);
  }
  return res;
}

/**
 * Before any run decides, every unresolved intent of the account (any automation's) is
 * reconciled, and the positions re-read when there was one: a decision made on trades an
 * earlier order may have changed would send a second order under a new clientId. While one
 * may still land (in flight) or cannot be reconciled, the run does not decide: it fails and
 * is retried with backoff. Returns the reason not to decide, if any.
 */
async function settleFirst(ctx: JobContext, signal: AbortSignal): Promise<string | null> {
  const earlier = await ctx.executor.settle(undefined, signal);
  if (earlier.unresolved) return `${earlier.unresolved} earlier order(s) may still land or could not be reconciled: not deciding yet`;
  if (earlier.found) ctx.market.tradesAt = 0;
  return null;
}

/**
 * An add-margin sized on a margin that another order changed before it went out (two guards
 * on one trade woken by one tick: the executor takes their orders one after the other) is
 * refused by the executor (`stale_decision`); the run decides again on the margin as it is
 * now, under a new clientId. At most MAX_DECISIONS decisions per run.
 */
const MAX_DECISIONS = 4;

/**
 * The balance that sizes an add-margin is the last one read, however old (the monitor re-reads
 * it every BALANCE_TTL_MS once a trade nears action, else every BALANCE_IDLE_TTL_MS), so the protective order is the only exchange call
 * on the critical path. The exchange is the authority: when it refuses an add-margin for
 * insufficient balance and the balance was not read in this run, the decision state is put
 * back as it was (nothing landed), the balance is read and the run decides once more: a new
 * decision, so a new clientId (the next decision number). A close or an alert for want of balance
 * (onInsufficient) is likewise only decided on a balance read in this run.
 */
async function marginGuard(ctx: JobContext, row: AutomationRow, config: MarginGuardConfig, runId: string, signal: AbortSignal): Promise<JobOutcome> {
  // Levels the trader was told of in this run (a later decision tells no one twice).
  const told = new Set<string>();
  let current = row;
  let balanceRead = false;
  for (let decision = 0; ; decision++) {
    const r = await marginGuardOnce(ctx, current, config, runId, signal, balanceRead, decision, told);
    if (r.ok || !("again" in r)) return r;
    if (r.again === "balance" && balanceRead) return { ok: false, error: "insufficient balance" };
    if (decision + 1 >= MAX_DECISIONS) return { ok: false, error: r.error };
    if (r.again === "balance") {
      ctx.journal.automation("info", "margin_guard.balance_reread", row.id, { tradeId: r.tradeId }, undefined, ctx.traceId);
      await ctx.market.refreshBalance(await ctx.client(), ctx.now(), signal);
      balanceRead = true;
    } else {
      ctx.journal.automation("info", "margin_guard.margin_moved", row.id, { tradeId: r.tradeId }, r.error, ctx.traceId);
    }
    current = ctx.automations().find((a) => a.id === row.id) ?? current;
  }
}

type DecideAgain = { ok: false; error: string; again: "balance" | "margin"; tradeId: string };

async function marginGuardOnce(ctx: JobContext, row: AutomationRow, config: MarginGuardConfig, runId: string, signal: AbortSignal, balanceRead: boolean, decision = 0, told = new Set<string>()): Promise<JobOutcome | DecideAgain> {
  const client = await ctx.client();
  // An earlier order whose outcome is unknown (timeout, eviction) is resolved first, and the
  // trades re-read: deciding on stale margins would add margin twice under a new clientId.
  const blocked = await settleFirst(ctx, signal);
  if (blocked) return { ok: false, error: blocked };
  const now = ctx.now();
  // A run a tick started keeps to the stream-fed positions (the monitor re-syncs them in the
  // background): its order is then the only exchange call on its critical path.
  const feed = await ctx.market.refresh(client, now, signal, ctx.trigger === "tick" ? Infinity : undefined);
  const trades = ctx.market.runningTrades();
  const price = ctx.market.price!;
  if (!trades.length) return { ok: true, summary: "no running trades" };
  const parsedState = MarginGuardState.safeParse(JSON.parse(row.state || "{}"));
  const state = parsedState.success ? parsedState.data : initialMarginGuardState();
  // The balance is only read when some trade is at the acting level.
  const dry = evaluateMarginGuard({ config, trades, price, balanceSats: Number.MAX_SAFE_INTEGER, state, now });
  const acting = dry.decisions.some((d) => d.action);
  // The last balance read (less what we added since), read now only when there is none.
  const balance = acting ? await ctx.market.knownBalance(client, now, signal) : Number.MAX_SAFE_INTEGER;
  const fromCache = acting && !balanceRead && ctx.market.balanceAt < now;
  const { decisions, nextState } = acting ? evaluateMarginGuard({ config, trades, price, balanceSats: balance, state, now }) : dry;
  // No close and no "cannot add enough" alert on a balance this run did not read: re-read it
  // and decide again (the trader's money is at stake on a possibly stale number).
  const short = decisions.find((d) => d.reason === "close_insufficient" || d.reason === "close_capped" || d.alert === "insufficient");
  if (short && fromCache) return { ok: false, error: "balance to re-read", again: "balance", tradeId: short.tradeId };
  // A trade counts as acted on (disarmed, cooling down) only once its order got an answer: a
  // temporary failure, a timeout or an eviction mid-order leaves it armed so the retry acts
  // at once instead of cooling down for cooldownMs. Caps keep counting the attempt.
  const saved = { ...nextState, trades: { ...nextState.trades } };
  for (const d of decisions) {
    if (!d.action) continue;
    const prev = state.trades[d.tradeId];
    saved.trades[d.tradeId] = { ...saved.trades[d.tradeId]!, armed: prev?.armed ?? true, lastActionAt: prev?.lastActionAt ?? null, lastActionPrice: prev?.lastActionPrice ?? null };
  }
  ctx.saveState(row, saved);
  let actions = 0;
  let moved: DecideAgain | null = null;
  for (const d of decisions) {
    const prev = state.trades[d.tradeId]?.lastLevel ?? "ok";
    if (d.level === "ok" && !d.action) continue;
    ctx.journal.automation(d.action ? "info" : "debug", "margin_guard.decision", row.id, { tradeId: d.tradeId, risk: d.risk, level: d.level, reason: d.reason, feed, ...d.inputs, ...(d.action ? { action: d.action } : {}) }, undefined, ctx.traceId);
    // The level's alert goes out with the order, not after its answer: the decision state
    // (lastLevel) is saved before the order, so an alert held back by a slow answer and lost
    // with a run that timed out would never be sent (the soak: a guarded trade at 0.93, margin
    // added late, no critical alert).
    const notifyLevel = async () => {
      const key = `${d.tradeId}:${d.level}`;
      if (told.has(key)) return;
      told.add(key);
      if (d.level === "warn" && prev === "ok") {
        await ctx.journal.notify("margin.warning", "warning", "Position approaching liquidation", `Trade ${d.tradeId} risk ${(d.risk * 100).toFixed(0)} % at ${price}`, { tradeId: d.tradeId, risk: d.risk, price }, ctx.traceId);
      }
      if ((d.level === "critical" || d.level === "act") && prev !== d.level) {
        await ctx.journal.notify("margin.critical", "critical", "Position at critical risk", `Trade ${d.tradeId} risk ${(d.risk * 100).toFixed(0)} % at ${price}; liquidation ${d.inputs.liquidation.toFixed(1)}`, { tradeId: d.tradeId, risk: d.risk, price }, ctx.traceId);
      }
    };
    // The caps or the balance cannot save it, and the trader chose an alert over a close.
    const alertShort = async () => {
      if (!d.alert) return;
      await ctx.journal.notify("margin.insufficient", "critical", "Margin Guard cannot add enough margin",
        `Trade ${d.tradeId} risk ${(d.risk * 100).toFixed(0)} % at ${price}: ${d.alert === "capped" ? "the guard's caps are reached" : "the balance is too low"}; needed ${d.inputs.neededSats ?? "?"} sats, allowed ${d.inputs.allowedSats ?? 0}. The position is not closed (onInsufficient: alert).`,
        { tradeId: d.tradeId, risk: d.risk, price, reason: d.reason, neededSats: d.inputs.neededSats, allowedSats: d.inputs.allowedSats }, ctx.traceId);
    };
    if (!d.action) {
      await notifyLevel();
      await alertShort();
      continue;
    }
    const t = trades.find((x) => x.id === d.tradeId)!;
    const request: IntentRequest = d.action.type === "add_margin"
      ? { action: "add_margin", tradeId: d.tradeId, amount: d.action.amountSats, marginBefore: t.margin, ...(t.sumFundingFees !== undefined ? { fundingBefore: t.sumFundingFees } : {}) }
      : { action: "close", tradeId: d.tradeId };
    const order = exec(ctx, row, runId, request, signal, decision);
    const alerted = notifyLevel();
    const res = await order;
    await alerted;
    if (!res.ok && res.code === "insufficient_balance" && fromCache && actions === 0) {
      ctx.saveState(row, state);
      return { ok: false, error: res.message, again: "balance", tradeId: d.tradeId };
    }
    if (!res.ok && res.code === "stale_decision") {
      // Nothing went out: the trade's state and the caps stand as they were before this decision.
      const before = state.trades[d.tradeId];
      if (before) saved.trades[d.tradeId] = before;
      else delete saved.trades[d.tradeId];
      if (d.action.type === "add_margin") saved.addedTodaySats = Math.max(0, saved.addedTodaySats - d.action.amountSats);
      ctx.saveState(row, saved);
      moved ??= { ok: false, error: res.message, again: "margin", tradeId: d.tradeId };
      continue;
    }
    saved.trades[d.tradeId] = nextState.trades[d.tradeId]!;
    ctx.saveState(row, saved);
    if (res.ok && d.action.type === "add_margin" && ctx.market.balance !== null) ctx.market.balance -= d.action.amountSats;
    await alertShort();
    if (res.ok) {
      actions++;
      await ctx.journal.notify("margin.action", "info", d.action.type === "add_margin" ? "Margin added" : "Position closed by Margin Guard",
        d.action.type === "add_margin" ? `Added ${d.action.amountSats} sats to trade ${d.tradeId} (risk was ${(d.risk * 100).toFixed(0)} %)` : `Closed trade ${d.tradeId} at risk ${(d.risk * 100).toFixed(0)} %`,
        { tradeId: d.tradeId, action: d.action, risk: d.risk, price }, ctx.traceId);
    }
  }
  if (moved) return moved;
  return { ok: true, summary: `${trades.length} trades, ${actions} actions, max risk ${Math.max(...decisions.map((d) => d.risk), 0).toFixed(3)}` };
}

async function tpSl(ctx: JobContext, row: AutomationRow, config: TpSlConfig, runId: string, signal: AbortSignal): Promise<JobOutcome> {
  const client = await ctx.client();
  const blocked = await settleFirst(ctx, signal);
  if (blocked) return { ok: false, error: blocked };
  const feed = await ctx.market.refresh(client, ctx.now(), signal);
  const trades = ctx.market.runningTrades();
  if (!trades.length) return { ok: true, summary: "no running trades" };
  const parsedState = TpSlState.safeParse(JSON.parse(row.state || "{}"));
  const { changes, nextState } = evaluateTpSl({ config, trades, price: ctx.market.price!, state: parsedState.success ? parsedState.data : initialTpSlState() });
  ctx.saveState(row, nextState);
  for (const c of changes) {
    ctx.journal.automation("info", "tp_sl.decision", row.id, { ...c, price: ctx.market.price, feed }, undefined, ctx.traceId);
    const request: IntentRequest = c.type === "close" ? { action: "close", tradeId: c.tradeId }
      : c.type === "takeprofit" ? { action: "takeprofit", tradeId: c.tradeId, value: c.value }
      : { action: "stoploss", tradeId: c.tradeId, value: c.value, mode: c.mode };
    await exec(ctx, row, runId, request, signal);
  }
  return { ok: true, summary: `${trades.length} trades, ${changes.length} changes` };
}

async function autoEntry(ctx: JobContext, row: AutomationRow, config: AutoEntryConfig, runId: string, signal: AbortSignal): Promise<JobOutcome> {
  const client = await ctx.client();
  const blocked = await settleFirst(ctx, signal);
  if (blocked) return { ok: false, error: blocked };
  const now = ctx.now();
  const feed = await ctx.market.refresh(client, now, signal);
  const price = ctx.market.price!;
  const parsedState = AutoEntryState.safeParse(JSON.parse(row.state || "{}"));
  const openTrades = ctx.market.runningTrades().filter((t) => t.side === config.side);
  const r = evaluateAutoEntry({ config, price, now, openTrades, state: parsedState.success ? parsedState.data : initialAutoEntryState(), paused: ctx.pauseEntries });
  ctx.saveState(row, r.nextState);
  if (!r.open) {
    ctx.journal.automation("debug", "auto_entry.decision", row.id, { reason: r.reason, feed, ...r.inputs }, undefined, ctx.traceId);
    return { ok: true, summary: r.reason };
  }
  ctx.journal.automation("info", "auto_entry.decision", row.id, { reason: r.reason, feed, order: r.open, ...r.inputs }, undefined, ctx.traceId);
  const res = await exec(ctx, row, runId, { action: "open", order: r.open as Omit<NewTradeInput, "clientId"> }, signal);
  if (res.ok) await ctx.journal.notify("auto_entry.opened", "info", "Auto Entry opened a position", `${r.open.side} ${r.open.quantity ?? ""}${r.open.quantity ? " USD" : `${r.open.margin} sats margin`} at ${r.open.leverage}x near ${price}`, { order: r.open, price }, ctx.traceId);
  return { ok: true, summary: res.ok ? "opened" : `not opened: ${res.ok === false ? res.code : ""}` };
}

// Decision state as the tick path reads it, parsed once per distinct stored string: every tick
// of every automation would otherwise JSON-parse and zod-validate the same row again. The
// cache is keyed by the raw text (a pure function of it) and shared read-only by the DOs of
// an isolate; evaluations never mutate their input state.
const parsedStates = new Map<string, unknown>();
const PARSED_STATES_MAX = 5_000;

function tickState<T>(row: AutomationRow, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, initial: () => T): T {
  const raw = row.state || "{}";
  const key = `${row.type}\u0000${raw}`;
  if (parsedStates.has(key)) return parsedStates.get(key) as T;
  const s = schema.safeParse(JSON.parse(raw));
  const value = s.success ? s.data : initial();
  if (parsedStates.size >= PARSED_STATES_MAX) parsedStates.clear();
  parsedStates.set(key, value);
  return value;
}

/**
 * The tick path: would this automation act at `price`? A dry evaluation in memory; when it
 * would, the caller runs it at once instead of waiting for its alarm. Auto Entry's state is
 * kept on every tick (its window and its re-arming follow each price, not just each run).
 */
export function wouldAct(row: AutomationRow, config: unknown, market: Market, price: number, now: number, pauseEntries: boolean, saveState: (state: unknown) => void): boolean {
  const trades = market.runningTrades();
  switch (row.type) {
    case "margin_guard": {
      if (!trades.length) return false;
      const state = tickState(row, MarginGuardState, initialMarginGuardState);
      return evaluateMarginGuard({ config: config as MarginGuardConfig, trades, price, balanceSats: Number.MAX_SAFE_INTEGER, state, now })
        .decisions.some((d) => d.action || (d.level !== "ok" && d.levelChanged));
    }
    case "tp_sl": {
      if (!trades.length) return false;
      return evaluateTpSl({ config: config as TpSlConfig, trades, price, state: tickState(row, TpSlState, initialTpSlState) }).changes.length > 0;
    }
    case "auto_entry": {
      const c = config as AutoEntryConfig;
      const r = evaluateAutoEntry({ config: c, price, now, openTrades: trades.filter((t) => t.side === c.side), state: tickState(row, AutoEntryState, initialAutoEntryState), paused: pauseEntries });
      // An open is decided (and its state written) by the run itself.
      if (r.open) return true;
      saveState(r.nextState);
      return false;
    }
    default:
      return false;
  }
}

async function noop(ctx: JobContext, row: AutomationRow, config: NoopConfig, signal: AbortSignal): Promise<JobOutcome> {
  const state = JSON.parse(row.state || "{}") as { failed?: number };
  if (config.sleepMs) {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, config.sleepMs);
      signal.addEventListener("abort", () => { clearTimeout(t); reject(signal.reason); }, { once: true });
    });
  }
  if ((state.failed ?? 0) < config.failTimes) {
    ctx.saveState(row, { failed: (state.failed ?? 0) + 1 });
    return { ok: false, error: `noop failure ${(state.failed ?? 0) + 1} of ${config.failTimes}` };
  }
  return { ok: true, summary: "noop" };
}

export async function runAutomation(ctx: JobContext, row: AutomationRow, config: unknown, runId: string, signal: AbortSignal): Promise<JobOutcome> {
  try {
    switch (row.type) {
      case "margin_guard":
        return await marginGuard(ctx, row, config as MarginGuardConfig, runId, signal);
      case "tp_sl":
        return await tpSl(ctx, row, config as TpSlConfig, runId, signal);
      case "auto_entry":
        return await autoEntry(ctx, row, config as AutoEntryConfig, runId, signal);
      case "noop":
        return await noop(ctx, row, config as NoopConfig, signal);
      default:
        return { ok: false, error: `automation type ${row.type} has no runner` };
    }
  } catch (e) {
    return { ok: false, error: e instanceof Error ? `${e.name === "Error" || e instanceof RunFailure ? "" : `${e.name}: `}${e.message}` : String(e) };
  }
}
