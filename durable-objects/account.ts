/**
 * AccountDO: one per exchange account (`env.ACCOUNT.getByName(accountId)`). It holds the
 * LN Markets stream socket while the account has enabled automations in scope, evaluates
 * every price tick against its triggers, and multiplexes every schedule (automations and the
 * built-in margin monitor) on one alarm: armed for the earliest due row, overdue included,
 * re-armed in `finally`. Its SQLite is the source of truth for automations; D1 gets a
 * summary row. Expected failures come back as `{ok:false, code}` (only name and message
 * survive RPC).
 */
import { DurableObject } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { decryptAccountCredentials } from "../src/accounts/credentials";
import { parseAutomationConfig, parseScheduleOverride, scheduleKindOf, type AutomationType, type Issue } from "../src/automations/registry";
import { CircuitBreaker } from "../src/domain/circuit-breaker";
import { monitorMargins } from "../src/domain/margin-monitor";
import { alarmTime, dueRows, monitorSchedule, nextAfterRun, resolveSchedule, SCHEDULE_DEFAULTS, type ScheduleOverride } from "../src/domain/schedule";
import { tradeRisk } from "../src/domain/trade";
import { getDb } from "../src/db/client";
import { exchangeAccounts } from "../src/db/schema";
import { newId } from "../src/lib/ids";
import { LnMarketsRestClient, type LnMarketsCredentials } from "../src/lnmarkets/rest-client";
import { TokenBucketLimiter } from "../src/lnmarkets/rate-limiter";
import { LnMarketsStreamClient } from "../src/lnmarkets/stream-client";
import { resolveEndpoints } from "../src/lnmarkets/transport";
import { loadAccountContext, type AccountContext } from "./account/context";
import { flushAccountCounters } from "./account/counters";
import { Executor } from "./account/executor";
import { marginMonitor, runAutomation, wouldAct, type JobContext } from "./account/jobs";
import { Journal } from "./account/journal";
import { Market } from "./account/market";
import { AccountStore, migrate, type AutomationRow } from "./account/storage";
import { automationView, type AutomationView } from "./account/views";

export const MONITOR_ID = "margin_monitor";
const CONTEXT_TTL_MS = 60_000;
const CREDENTIALS_TTL_MS = 10 * 60_000;
// The watchdog calls a heartbeat stale after 120 s (ALERT_THRESHOLDS.heartbeatStaleMs): 30 s
// leaves it four beats, and each beat is a D1 write per account.
const HEARTBEAT_EVERY_MS = 30_000;
// Decrypted-key cache hits are only counted to D1 this often (a miss or expiry at the next beat).
const COUNTERS_EVERY_MS = 300_000;

export type DoResult<T> = { ok: true; value: T } | { ok: false; code: "validation_error" | "not_found" | "no_account"; message: string; details?: Issue[] };

export interface AutomationInput {
  type: string;
  name?: string | null;
  config?: unknown;
  schedule?: unknown;
  enabled?: boolean;
}

export class AccountDO extends DurableObject<Env> {
  private readonly store: AccountStore;
  private readonly journal: Journal;
  private readonly market = new Market();
  private readonly executor: Executor;
  private context: AccountContext | null = null;
  private contextRefresh: Promise<unknown> | null = null;
  private creds: { value: LnMarketsCredentials; version: number; at: number } | null = null;
  private credCounters = { hit: 0, miss: 0, expiry: 0 };
  private restClient: { client: LnMarketsRestClient; version: number } | null = null;
  private readonly limiter = new TokenBucketLimiter();
  private stream: LnMarketsStreamClient | null = null;
  private streamStarting = false;
  private readonly inFlight = new Set<string>();
  private readonly criticalAlerted = new Set<string>();
  private lastHeartbeat = 0;
  private lastCountersAt = 0;
  /** The monitor's backstop time while a socket problem pulled it in (restored when it heals). */
  private monitorPulledIn: { from: number; to: number } | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new AccountStore(ctx.storage.sql);
    this.journal = new Journal(env, this.store);
    const breakerJson = (() => {
      try {
        migrate(ctx.storage.sql);
        const raw = this.store.getMeta("breaker");
        return raw ? JSON.parse(raw) : null;
      } catch {
        return null;
      }
    })();
    this.executor = new Executor({
      store: this.store,
      client: () => this.client(),
      breaker: CircuitBreaker.fromJSON(breakerJson),
      tradeLog: (t) => this.journal.trade(t),
      onRunningTrades: (trades, readStartedAt) => this.market.setTrades(trades, Date.now(), readStartedAt),
      timeoutMs: 10_000,
    });
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage.sql);
    });
  }

  private get accountId(): string {
    const id = this.ctx.id.name ?? this.store.getMeta("accountId");
    if (!id) throw new Error("AccountDO has no name: create it with getByName(accountId)");
    return id;
  }

  // --- context, credentials, clients ----------------------------------------------------------

  private async loadContext(force = false): Promise<AccountContext | null> {
    if (!force && this.context && Date.now() - this.context.loadedAt < CONTEXT_TTL_MS) return this.context;
    this.context = await loadAccountContext(this.env, this.accountId);
    if (this.context) {
      this.store.setMeta("accountId", this.context.accountId);
      this.journal.identify(this.context.accountId, this.context.name, this.context.userId);
    }
    return this.context;
  }

  /**
   * The context for the order path: a cached one is used at once and, past its TTL, re-read
   * in the background (the alarm re-reads it anyway, and every RPC that changes scope or keys
   * forces a fresh one), so a D1 read never sits between a tick and its order.
   */
  private async currentContext(): Promise<AccountContext | null> {
    if (!this.context) return this.loadContext();
    if (Date.now() - this.context.loadedAt >= CONTEXT_TTL_MS && !this.contextRefresh) {
      this.contextRefresh = this.loadContext(true)
        .catch((e) => this.journal.logger.warn("context.refresh_failed", { error: e }))
        .finally(() => (this.contextRefresh = null));
      this.ctx.waitUntil(this.contextRefresh);
    }
    return this.context;
  }

  /** Decrypted keys cached in memory for 10 minutes, per credential version. */
  private async credentials(): Promise<LnMarketsCredentials> {
    const ctx = await this.currentContext();
    if (!ctx) throw new Error("account not found");
    const now = Date.now();
    if (this.creds && this.creds.version === ctx.credentialVersion && now - this.creds.at < CREDENTIALS_TTL_MS) {
      this.credCounters.hit++;
      return this.creds.value;
    }
    if (this.creds) this.credCounters.expiry++;
    else this.credCounters.miss++;
    const row = await getDb(this.env).select().from(exchangeAccounts).where(eq(exchangeAccounts.id, ctx.accountId)).get();
    if (!row) throw new Error("account not found");
    this.creds = { value: await decryptAccountCredentials(this.env, row), version: row.credentialVersion, at: now };
    return this.creds.value;
  }

  private async client(): Promise<LnMarketsRestClient> {
    const creds = await this.credentials();
    const ctx = this.context!;
    if (this.restClient?.version !== ctx.credentialVersion) {
      this.restClient = {
        version: ctx.credentialVersion,
        client: new LnMarketsRestClient({
          endpoints: resolveEndpoints(this.env, ctx.network), credentials: creds, rateLimiter: this.limiter, rateLimitRetry: { maxWaitMs: 2_000 },
          // Every call feeds the breaker: only temporary failures say the exchange is unwell.
          onCall: (info) => this.recordCall(info.ok, info.errorKind),
        }),
      };
    }
    return this.restClient.client;
  }

  private recordCall(ok: boolean, kind: string | undefined): void {
    const b = this.executor.breaker;
    const before = b.stateAt(Date.now());
    if (ok) b.onSuccess(Date.now());
    else if (kind === "temporary") b.onFailure(Date.now());
    else return;
    this.store.setMeta("breaker", JSON.stringify(b.toJSON()));
    const after = b.stateAt(Date.now());
    if (after !== before) this.journal.automation(after === "open" ? "warn" : "info", "breaker.state", null, { from: before, to: after });
  }

  // --- scheduling -------------------------------------------------------------------------------

  private enabledAutomations(): AutomationRow[] {
    return this.store.automations().filter((a) => a.id !== MONITOR_ID && a.enabled);
  }

  private shouldRun(ctx: AccountContext | null): boolean {
    return !!ctx && ctx.inScope && this.enabledAutomations().length > 0;
  }

  /** Brings schedules, the monitor row and the socket in line with whether we should run. */
  private async reconcileRunning(): Promise<boolean> {
    const ctx = await this.loadContext();
    const run = this.shouldRun(ctx);
    const now = Date.now();
    if (run) {
      if (!this.store.automation(MONITOR_ID)) {
        this.store.insertAutomation({ id: MONITOR_ID, type: "margin_monitor", name: "Margin monitor", config: "{}", schedule: null, enabled: 1, next_run_at: now, created_at: now, updated_at: now });
      }
      for (const a of this.store.automations()) {
        if (a.enabled && a.next_run_at === null) this.store.updateAutomation(a.id, { next_run_at: now, attempts: 0 });
      }
      this.ensureStream();
    } else {
      for (const a of this.store.automations()) if (a.next_run_at !== null) this.store.updateAutomation(a.id, { next_run_at: null, attempts: 0 });
      this.stopStream("not running");
    }
    await this.rearm();
    return run;
  }

  private async rearm(): Promise<void> {
    const at = alarmTime(scheduled(this.store.automations()), Date.now());
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(at);
  }

  override async alarm(): Promise<void> {
    try {
      const ctx = await this.loadContext();
      if (!this.shouldRun(ctx)) {
        await this.reconcileRunning();
        return;
      }
      this.ensureStream();
      if (this.store.unresolvedIntents().length) await this.executor.reconcilePending().catch(() => undefined);
      for (const due of dueRows(scheduled(this.store.automations()), Date.now())) {
        const row = this.store.automation(due.id);
        if (row) await this.runScheduled(row);
      }
      await this.heartbeat();
    } catch (e) {
      this.journal.logger.error("alarm.error", { error: e });
    } finally {
      await this.journal.flushIfDue();
      await this.rearm();
    }
  }

  /** Runs one row under its timeout; a failure retries after its delay, up to its limit. */
  private async runScheduled(row: AutomationRow, trigger: "schedule" | "tick" = "schedule"): Promise<void> {
    if (this.inFlight.has(row.id)) return;
    this.inFlight.add(row.id);
    const isMonitor = row.id === MONITOR_ID;
    const settings = isMonitor
      ? monitorSchedule(this.market.feed(Date.now()))
      : resolveSchedule(scheduleKindOf(row.type as AutomationType), row.schedule ? (JSON.parse(row.schedule) as ScheduleOverride) : null);
    // Every run, a retry included, decides anew: a new run id, so new clientIds. What an earlier
    // run sent is reconciled before this one decides (Executor.settle), never taken for its own.
    const runSeq = row.run_seq + 1;
    const runId = `${trigger === "tick" ? "t" : "s"}${runSeq}`;
    const jobId = `${this.accountId}:${row.id}:${runId}:${row.attempts + 1}`;
    const traceId = row.trace_id ?? jobId;
    const started = Date.now();
    this.store.updateAutomation(row.id, { run_seq: runSeq });
    this.journal.job(jobId, "start", { traceId, metadata: { automationId: row.id, type: row.type, trigger, attempt: row.attempts + 1 } });
    const gate = this.executor.breaker.allow(started);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error(`timed out after ${settings.timeoutMs} ms`)), settings.timeoutMs);
    let outcome: { ok: true; summary: string } | { ok: false; error: string };
    try {
      if (!gate.ok) throw new Error(`circuit breaker open: exchange calls paused for ${Math.ceil(gate.retryAfterMs / 1000)} s`);
      const run = isMonitor ? marginMonitor(this.jobContext(traceId, trigger), ac.signal, this.criticalAlerted) : this.runAutomationRow(row, runId, traceId, trigger, ac.signal);
      outcome = await Promise.race([
        run,
        new Promise<{ ok: false; error: string }>((resolve) => ac.signal.addEventListener("abort", () => resolve({ ok: false, error: `timeout: ${String((ac.signal.reason as Error)?.message ?? "aborted")}` }), { once: true })),
      ]);
    } catch (e) {
      outcome = { ok: false, error: e instanceof Error ? e.message : String(e) };
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(row.id);
    }
    const now = Date.now();
    const durationMs = now - started;
    const current = this.store.automation(row.id);
    if (!current) return;
    // The monitor's cadence follows the feed at the end of its run (the socket may have dropped).
    const next = nextAfterRun(isMonitor ? monitorSchedule(this.market.feed(now)) : settings, current.attempts, outcome.ok ? "success" : "failure", now);
    const scheduled = trigger === "schedule" || !outcome.ok;
    this.store.updateAutomation(row.id, {
      last_run_at: now, last_duration_ms: durationMs, last_result: outcome.ok ? outcome.summary : "failure",
      last_error: outcome.ok ? null : outcome.error, runs: current.runs + 1, failures: current.failures + (outcome.ok ? 0 : 1),
      ...(scheduled && current.next_run_at !== null ? { next_run_at: next.nextRunAt, attempts: next.attempts } : {}),
      updated_at: now,
    });
    if (outcome.ok) {
      this.journal.job(jobId, "complete", { durationMs, traceId, metadata: { automationId: row.id, summary: outcome.summary } });
      return;
    }
    this.journal.job(jobId, next.kind === "retry" ? "retry" : "fail", { durationMs, traceId, error: outcome.error, metadata: { automationId: row.id, attempt: current.attempts + 1, nextRunAt: next.nextRunAt } });
    if (next.kind === "exhausted") {
      this.journal.automation("error", "automation.run_failed", isMonitor ? null : row.id, { type: row.type, attempts: current.attempts + 1, error: outcome.error }, undefined, traceId);
      await this.journal.notify("automation.failed", "warning", "An automation keeps failing", `${row.type} failed ${current.attempts + 1} times: ${outcome.error}; it continues at its next interval`, { automationId: row.id }, traceId);
    }
  }

  private runAutomationRow(row: AutomationRow, runId: string, traceId: string, trigger: "schedule" | "tick", signal: AbortSignal) {
    const parsed = parseAutomationConfig(row.type, JSON.parse(row.config), { allowTestTypes: true });
    if (!parsed.ok) return Promise.resolve({ ok: false as const, error: `invalid stored config: ${parsed.issues[0]?.message}` });
    return runAutomation(this.jobContext(traceId, trigger), row, parsed.value.config, runId, signal);
  }

  private jobContext(traceId: string, trigger: "schedule" | "tick"): JobContext {
    return {
      traceId,
      trigger,
      market: this.market,
      executor: this.executor,
      journal: this.journal,
      client: () => this.client(),
      now: Date.now,
      pauseEntries: this.context?.pauseEntries ?? false,
      automations: () => this.store.automations(),
      triggerGuard: (row, reason) => this.trigger(row, reason),
      saveState: (row, state) => this.store.updateAutomation(row.id, { state: JSON.stringify(state) }),
    };
  }

  /** Runs an automation now, off its schedule (a tick or the monitor crossed a threshold). */
  private async trigger(row: AutomationRow, reason: string): Promise<void> {
    if (this.inFlight.has(row.id)) return;
    this.journal.automation("debug", "automation.triggered", row.id, { reason });
    await this.runScheduled(this.store.automation(row.id) ?? row, "tick");
  }

  // --- stream -------------------------------------------------------------------------------------

  private ensureStream(): void {
    if (this.stream || this.streamStarting || !this.context) return;
    this.streamStarting = true;
    const network = this.context.network;
    // Credentials first (they may need a D1 read); a failed open keeps reconnecting by itself.
    void this.credentials()
      .then((credentials) => {
        if (this.stream || !this.shouldRun(this.context)) return;
        this.stream = new LnMarketsStreamClient({
          endpoints: resolveEndpoints(this.env, network),
          credentials,
          logger: this.journal.logger,
          onPrice: (price) => this.onTick(price),
          onTradeEvent: (ev) => {
            const change = this.market.onTradeEvent(ev);
            this.journal.automation(ev.event === "liquidation" ? "warn" : "info", `trade.${ev.event}`, null, { tradeId: ev.trade.id, clientId: ev.trade.clientId, change });
            if (ev.event === "liquidation") void this.journal.notify("trade.liquidated", "critical", "Position liquidated", `Trade ${ev.trade.id} was liquidated at ${ev.trade.exitPrice}`, { tradeId: ev.trade.id });
          },
          onStateChange: (state, previous, reason) => {
            this.market.onStreamState(state);
            // A quiet socket goes stale and is probed back to open: routine, not a warning.
            // Reconnects and closes are what operators need to see.
            const routine = state === "stale" || (state === "open" && previous === "stale");
            this.journal.automation(routine ? "debug" : state === "open" ? "info" : "warn", "stream.state", null, { state, previous, reason });
            // Without a healthy socket the monitor is the only detection again; a quiet socket
            // that goes stale and answers its probe puts the monitor's backstop back.
            if (state === "open") this.monitorRelaxed();
            else this.monitorSoon();
          },
        });
        return this.stream.open();
      })
      .catch((e) => this.journal.logger.warn("stream.open_failed", { error: e }))
      .finally(() => {
        this.streamStarting = false;
      });
  }

  /** Without the stream the monitor is the only detection again: due within its 5 s. */
  private monitorSoon(): void {
    const m = this.store.automation(MONITOR_ID);
    const soon = Date.now() + SCHEDULE_DEFAULTS.margin_monitor.intervalMs;
    if (m?.next_run_at == null || m.next_run_at <= soon) return;
    this.monitorPulledIn = { from: m.next_run_at, to: soon };
    this.store.updateAutomation(MONITOR_ID, { next_run_at: soon });
    this.ctx.waitUntil(this.rearm());
  }

  /** The socket is healthy again before the pulled-in monitor ran: its backstop time is back. */
  private monitorRelaxed(): void {
    const p = this.monitorPulledIn;
    this.monitorPulledIn = null;
    const m = p && this.store.automation(MONITOR_ID);
    if (!p || m?.next_run_at !== p.to) return;
    this.store.updateAutomation(MONITOR_ID, { next_run_at: p.from });
    this.ctx.waitUntil(this.rearm());
  }

  private stopStream(reason: string): void {
    if (!this.stream) return;
    this.stream.close(reason);
    this.stream = null;
    this.market.onStreamState("closed");
  }

  /**
   * A price tick: every enabled automation is evaluated in memory at once (pure, dry); one
   * that would act runs now instead of at its next alarm. Stored configs are parsed once per
   * change, not per tick.
   */
  private onTick(price: number): void {
    const now = Date.now();
    this.market.onStreamPrice(price, now);
    if (!this.context?.inScope) return;
    const enabled = this.enabledAutomations();
    for (const a of enabled) {
      if (this.inFlight.has(a.id) || a.type === "noop") continue;
      const config = this.parsedConfig(a);
      if (!config) continue;
      let act = false;
      try {
        act = wouldAct(a, config, this.market, price, now, this.context.pauseEntries, (state) => this.store.updateAutomation(a.id, { state: JSON.stringify(state) }));
      } catch (e) {
        this.journal.logger.warn("tick.evaluate_failed", { automationId: a.id, error: e });
      }
      // An action taken on a tick is logged at once: operators look for it right away.
      if (act) this.ctx.waitUntil(this.trigger(a, `tick ${price}`).then(() => this.journal.flush()));
    }
    // The monitor's check on every tick, for an account without a guard (a guard's own
    // evaluation above acts and alerts): a trade newly at critical risk alerts now. The
    // monitor's run is not started beside a guard: its reads would queue with the guard's order.
    const trades = this.market.runningTrades();
    if (trades.length && !enabled.some((a) => a.type === "margin_guard") && !this.inFlight.has(MONITOR_ID)
      && monitorMargins(trades, price).critical.some((r) => !this.criticalAlerted.has(r.tradeId))) {
      const m = this.store.automation(MONITOR_ID);
      if (m) this.ctx.waitUntil(this.trigger(m, `tick ${price}`).then(() => this.journal.flush()));
    }
  }

  private readonly configCache = new Map<string, { updatedAt: number; config: unknown }>();
  private parsedConfig(row: AutomationRow): unknown {
    const hit = this.configCache.get(row.id);
    if (hit && hit.updatedAt === row.updated_at) return hit.config;
    const parsed = parseAutomationConfig(row.type, JSON.parse(row.config), { allowTestTypes: true });
    const config = parsed.ok ? parsed.value.config : null;
    this.configCache.set(row.id, { updatedAt: row.updated_at, config });
    return config;
  }

  // --- RPC: automations ----------------------------------------------------------------------

  /** Creates an automation; config validated by its type's strict schema. */
  async createAutomation(input: AutomationInput, trace?: { traceId?: string }): Promise<DoResult<AutomationView>> {
    const parsed = this.validate(input.type, input.config, input.schedule);
    if (!parsed.ok) return parsed;
    const ctx = await this.loadContext(true);
    if (!ctx) return { ok: false, code: "no_account", message: "Account not found" };
    const now = Date.now();
    const id = newId("aut");
    this.store.insertAutomation({
      id, type: parsed.value.type, name: input.name ?? null, config: JSON.stringify(parsed.value.config),
      schedule: parsed.value.schedule ? JSON.stringify(parsed.value.schedule) : null, enabled: input.enabled === false ? 0 : 1,
      next_run_at: null, trace_id: trace?.traceId ?? null, created_at: now, updated_at: now,
    });
    this.journal.automation("info", "automation.created", id, { type: parsed.value.type, enabled: input.enabled !== false, config: parsed.value.config }, undefined, trace?.traceId);
    await this.afterChange();
    return { ok: true, value: automationView(this.store.automation(id)!, this.market.feed(now)) };
  }

  async listAutomations(): Promise<AutomationView[]> {
    const feed = this.market.feed(Date.now());
    return this.store.automations().filter((a) => a.id !== MONITOR_ID).map((a) => automationView(a, feed));
  }

  async getAutomation(id: string): Promise<DoResult<AutomationView>> {
    const row = id === MONITOR_ID ? undefined : this.store.automation(id);
    return row ? { ok: true, value: automationView(row, this.market.feed(Date.now())) } : { ok: false, code: "not_found", message: "Automation not found" };
  }

  /** Enable/disable, replace config or schedule, rename. */
  async updateAutomation(id: string, patch: { name?: string | null; config?: unknown; schedule?: unknown; enabled?: boolean }, trace?: { traceId?: string }): Promise<DoResult<AutomationView>> {
    const row = id === MONITOR_ID ? undefined : this.store.automation(id);
    if (!row) return { ok: false, code: "not_found", message: "Automation not found" };
    const parsed = this.validate(row.type, patch.config === undefined ? JSON.parse(row.config) : patch.config, patch.schedule === undefined ? (row.schedule ? JSON.parse(row.schedule) : null) : patch.schedule);
    if (!parsed.ok) return parsed;
    const now = Date.now();
    const enabled = patch.enabled === undefined ? row.enabled : patch.enabled ? 1 : 0;
    this.store.updateAutomation(id, {
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      config: JSON.stringify(parsed.value.config),
      schedule: parsed.value.schedule ? JSON.stringify(parsed.value.schedule) : null,
      enabled,
      ...(enabled ? {} : { next_run_at: null, attempts: 0 }),
      // A new config starts with fresh decision state (cooldowns, trailing anchors).
      ...(patch.config !== undefined ? { state: "{}" } : {}),
      ...(trace?.traceId ? { trace_id: trace.traceId } : {}),
      updated_at: now,
    });
    this.journal.automation("info", "automation.updated", id, { fields: Object.keys(patch), enabled: !!enabled }, undefined, trace?.traceId);
    await this.afterChange();
    return { ok: true, value: automationView(this.store.automation(id)!, this.market.feed(now)) };
  }

  async deleteAutomation(id: string, trace?: { traceId?: string }): Promise<DoResult<null>> {
    if (id === MONITOR_ID || !this.store.automation(id)) return { ok: false, code: "not_found", message: "Automation not found" };
    this.store.deleteAutomation(id);
    this.journal.automation("info", "automation.deleted", id, {}, undefined, trace?.traceId);
    await this.afterChange();
    return { ok: true, value: null };
  }

  private validate(type: string, config: unknown, schedule: unknown): DoResult<{ type: AutomationType; config: unknown; schedule: ScheduleOverride | null }> {
    const allowTestTypes = this.env.ENVIRONMENT === "development" || this.env.ENVIRONMENT === "test";
    const c = parseAutomationConfig(type, config, { allowTestTypes });
    const s = parseScheduleOverride(schedule);
    const issues = [...(c.ok ? [] : c.issues), ...(s.ok ? [] : s.issues)];
    if (!c.ok || !s.ok) return { ok: false, code: "validation_error", message: `Invalid ${issues[0]?.path}: ${issues[0]?.message}`, details: issues };
    return { ok: true, value: { ...c.value, schedule: s.value } };
  }

  private async afterChange(): Promise<void> {
    await this.syncSummary();
    await this.reconcileRunning();
    await this.journal.flush();
  }

  // --- RPC: lifecycle and status -------------------------------------------------------------

  /** Re-reads from D1 whether this account should run, and starts or stops accordingly. */
  async refreshScheduling(): Promise<{ running: boolean }> {
    await this.loadContext(true);
    const running = await this.reconcileRunning();
    await this.journal.flush();
    return { running };
  }

  /** Drops the decrypted credentials held in memory (and the clients built on them). */
  async clearCredentialsCache(): Promise<void> {
    this.creds = null;
    this.restClient = null;
    this.context = null;
    this.stopStream("credentials cleared");
    if (this.store.automations().some((a) => a.enabled)) await this.refreshScheduling();
  }

  /** Stops everything and deletes all state (the account is being deleted). */
  async forget(): Promise<void> {
    this.stopStream("account deleted");
    this.creds = null;
    this.restClient = null;
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    migrate(this.ctx.storage.sql);
  }

  /** Schedule status of every automation, the feed in use, the stream and the breaker. */
  async status() {
    const now = Date.now();
    const ctx = await this.loadContext();
    const running = this.shouldRun(ctx);
    if (running) this.ensureStream();
    const breaker = this.executor.breaker;
    return {
      accountId: this.accountId,
      accountName: ctx?.name ?? null,
      running,
      feed: this.market.feed(now),
      stream: this.stream ? this.stream.snapshot() : { state: "closed" as const },
      breaker: { state: breaker.stateAt(now), ...breaker.windowCounts(now) },
      price: this.market.price,
      runningTrades: this.market.trades.size,
      pendingLogs: this.store.outboxSize(),
      monitor: (() => {
        const m = this.store.automation(MONITOR_ID);
        return m ? automationView(m, this.market.feed(now)) : null;
      })(),
      automations: this.store.automations().filter((a) => a.id !== MONITOR_ID).map((a) => automationView(a, this.market.feed(now))),
    };
  }

  /** Live positions with risk: from the stream when fresh, else REST. */
  async positions(): Promise<DoResult<{ price: number; bid: number | null; offer: number | null; feed: string; trades: unknown[] }>> {
    const ctx = await this.loadContext();
    if (!ctx) return { ok: false, code: "no_account", message: "Account not found" };
    const client = await this.client();
    const feed = await this.market.refresh(client, Date.now());
    const price = this.market.price!;
    const trades = this.market.runningTrades().map((t) => {
      const risk = tradeRisk(t, price);
      return { ...t, risk, riskLevel: risk >= 0.9 ? "critical" : risk >= 0.8 ? "warn" : "ok" };
    });
    return { ok: true, value: { price, bid: this.market.bid, offer: this.market.offer, feed, trades } };
  }

  /** Watchdog: wake up, re-read scope, re-arm the alarm and reopen the socket. */
  async wake(): Promise<{ running: boolean; alarm: number | null }> {
    const r = await this.refreshScheduling();
    return { ...r, alarm: await this.ctx.storage.getAlarm() };
  }

  // --- heartbeat ---------------------------------------------------------------------------------

  private async heartbeat(force = false): Promise<void> {
    const now = Date.now();
    if (!force && now - this.lastHeartbeat < HEARTBEAT_EVERY_MS) return;
    this.lastHeartbeat = now;
    await getDb(this.env).update(exchangeAccounts).set({ lastHeartbeatAt: now, feed: this.market.feed(now) }).where(eq(exchangeAccounts.id, this.accountId)).run();
    if (await flushAccountCounters(this.env, this.credCounters, now, this.lastCountersAt, COUNTERS_EVERY_MS)) {
      this.lastCountersAt = now;
      this.credCounters = { hit: 0, miss: 0, expiry: 0 };
    }
  }

  /** Keeps the D1 summary row (listing, watchdog) in step with the automations. */
  private async syncSummary(): Promise<void> {
    const autos = this.store.automations().filter((a) => a.id !== MONITOR_ID);
    const byType: Record<string, number> = {};
    for (const a of autos) byType[a.type] = (byType[a.type] ?? 0) + 1;
    const enabled = autos.filter((a) => a.enabled).length;
    await getDb(this.env).update(exchangeAccounts)
      .set({ automationSummary: JSON.stringify({ total: autos.length, enabled, byType }), enabledAutomations: enabled, updatedAt: Date.now() })
      .where(eq(exchangeAccounts.id, this.accountId)).run();
  }
}


/** Enabled rows as the schedule maths sees them. */
function scheduled(rows: AutomationRow[]) {
  return rows.filter((a) => a.enabled).map((a) => ({ id: a.id, nextRunAt: a.next_run_at }));
}
