/**
 * AccountDO: one per exchange account (`env.ACCOUNT.getByName(accountId)`). It holds the
 * LN Markets stream socket while the account has enabled automations in scope, evaluates
 * every price tick against its triggers, and multiplexes every schedule (automations and the
 * built-in margin monitor) on one alarm: armed for the earliest due row, overdue included,
 * re-armed in `finally`. Its SQLite is the source of truth for automations; D1 gets a
 * summary row. Expected failures come back as `{ok:false, code}` (only name and message
 * survive RPC). Consoles' live positions stream: WithViewers (account/viewers.ts, issue 23).
 */
import { CircuitBreaker } from "../src/domain/circuit-breaker";
import { alarmTime, dueRows, restSlot, SCHEDULE_DEFAULTS } from "../src/domain/schedule";
import type { LnMarketsRestClient } from "../src/lnmarkets/rest-client";
import { TokenBucketLimiter } from "../src/lnmarkets/rate-limiter";
import { AutomationCrud, type AutomationInput, type AutomationPatch, type DoResult } from "./account/automation-crud";
import { ContextCache, type AccountContext } from "./account/context";
import { ExchangeHealth } from "./account/exchange-health";
import { Executor } from "./account/executor";
import { FeedLink, INDEXED_TYPES } from "./account/feed-link";
import { HotZone } from "./account/hot-zone";
import { Journal } from "./account/journal";
import { Keys, KEYS_RECHECK_MS } from "./account/keys";
import { Liveness } from "./account/liveness";
import { ManualControls, type ManualRequest, type ManualResult } from "./account/manual";
import { Market } from "./account/market";
import { notePlanPause } from "./account/plan-pause";
import { RunPolicy } from "./account/policy";
import { MONITOR_ID, Runner } from "./account/runner";
import { AccountStore, migrate, type AutomationRow } from "./account/storage";
import { accountStatus, livePositions, type PositionsView, type StatusHost } from "./account/status";
import { StreamFeed } from "./account/stream-feed";
import { Ticks } from "./account/ticks";
import { Viewers, WithViewers } from "./account/viewers";
import { ParsedConfigs, scheduled, type AutomationView } from "./account/views";
import type { FundingSettlement, MarketTick } from "./market-feed";

export { MONITOR_ID };
export type { AutomationInput, DoResult, ManualResult };
const CONTEXT_TTL_MS = 60_000;

export class AccountDO extends WithViewers {
  private readonly store: AccountStore;
  private readonly journal: Journal;
  private readonly market = new Market();
  private readonly executor: Executor;
  private readonly contexts: ContextCache;
  private readonly limiter = new TokenBucketLimiter();
  private readonly keys: Keys;
  private readonly policy: RunPolicy;
  private readonly runner: Runner;
  private readonly feed: StreamFeed;
  /** The network's market feed: the account's trigger levels and its hot zone (issue 20). */
  private readonly link: FeedLink;
  private readonly hotZone: HotZone;
  private lastSyncAt = 0;
  private readonly health: ExchangeHealth;
  private readonly liveness: Liveness;
  private readonly ticks: Ticks;
  private readonly crud: AutomationCrud;
  private readonly controls: ManualControls;
  /** Stored configs parsed once per change, not per tick. */
  private readonly configs = new ParsedConfigs();
  protected readonly viewers: Viewers;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new AccountStore(ctx.storage.sql);
    this.journal = new Journal(env, this.store);
    this.contexts = new ContextCache({
      env, accountId: () => this.accountId, getMeta: (k) => this.store.getMeta(k), setMeta: (k, v) => this.store.setMeta(k, v),
      waitUntil: (p) => this.ctx.waitUntil(p),
      onLoaded: (c) => {
        if (this.store.getMeta("accountId") !== c.accountId) this.store.setMeta("accountId", c.accountId);
        this.journal.identify(c.accountId, c.name, c.userId);
      },
      onRefreshFailed: (e) => this.journal.logger.warn("context.refresh_failed", { error: e }),
    }, CONTEXT_TTL_MS);
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
      onTradeAnswered: (trade) => this.market.upsertTrade(trade),
      knownTrade: (id) => this.market.trades.get(id),
      timeoutMs: 10_000,
    });
    this.liveness = new Liveness({ env, store: this.store, market: this.market, accountId: () => this.accountId });
    this.keys = new Keys(env, this.store, this.limiter, { count: (what) => this.liveness.count(what), onCall: (info) => this.health.recordCall(info) });
    this.policy = new RunPolicy({ store: this.store, keys: this.keys, context: () => this.context });
    const self = this;
    this.runner = new Runner({
      store: this.store, journal: this.journal, market: this.market, executor: this.executor,
      accountId: () => this.accountId,
      client: () => this.client(),
      pauseEntries: () => this.context?.pauseEntries ?? false,
      automationsRunning: () => self.policy.automationsRun(self.context),
      monitorSchedule: (now) => this.hotZone.monitorSchedule(now),
      slowAtRest: (row, settings) => (INDEXED_TYPES.has(row.type) && this.hotZone.atRest() ? { ...settings, intervalMs: Math.max(settings.intervalMs, this.link.config.restResyncMs) } : settings),
      restSlot: (row, at) => (INDEXED_TYPES.has(row.type) && this.hotZone.atRest() ? restSlot(at, Date.now(), this.link.config.restResyncMs, this.accountId) : at),
      rearm: () => this.rearm(),
    });
    this.health = new ExchangeHealth({
      env, store: this.store, journal: this.journal, executor: this.executor, keys: this.keys, runner: this.runner,
      context: () => this.context,
      waitUntil: (p) => this.ctx.waitUntil(p),
      reconcile: () => this.reconcileRunning(),
    });
    this.crud = new AutomationCrud({
      env, store: this.store, journal: this.journal, market: this.market, runner: this.runner,
      loadContext: (force) => this.loadContext(force),
      afterChange: () => this.afterChange(),
    });
    this.controls = new ManualControls({
      store: this.store, journal: this.journal, market: this.market, executor: this.executor, runner: this.runner,
      client: () => this.client(), loadContext: () => this.loadContext(), keysRejected: (c) => this.keys.rejected(c),
      planAllows: (row, c) => c.plan.withinAccountLimit && this.policy.planAllows(row), parsedConfig: (row) => this.configs.get(row),
      afterOrders: async () => { await this.syncFeed(); await this.journal.flush(); },
    });
    this.ticks = new Ticks({
      store: this.store, journal: this.journal, market: this.market, runner: this.runner, keys: this.keys, configs: this.configs,
      context: () => this.context, currentContext: () => this.currentContext(), client: () => this.client(),
      watching: (c) => this.policy.watching(c), automationsRun: (c) => this.policy.automationsRun(c), enabledAutomations: () => this.policy.enabledAutomations(),
      syncFeed: () => this.syncFeed(), lastSyncAt: () => this.lastSyncAt, waitUntil: (p) => this.ctx.waitUntil(p),
    });
    this.link = new FeedLink({
      env, market: this.market, journal: this.journal,
      accountId: () => this.accountId,
      context: () => this.context,
      automations: () => (this.policy.automationsRun(this.context) ? this.policy.enabledAutomations() : []),
      parsedConfig: (row) => this.configs.get(row),
      onMissedCrossing: (price, at) => this.ticks.onTick(price, "feed", at),
    });
    this.feed = new StreamFeed({
      env, store: this.store, journal: this.journal, market: this.market,
      credentials: (c) => this.keys.credentials(c),
      wanted: () => this.hotZone.socketWanted(),
      onTick: (price) => this.ticks.onTick(price),
      rearm: () => this.ctx.waitUntil(this.rearm()),
    });
    this.hotZone = new HotZone({
      store: this.store, link: this.link, feed: this.feed, market: this.market,
      context: () => this.context,
      automationsRun: (c) => this.policy.automationsRun(c),
      rearm: () => this.rearm(),
    });
    this.viewers = new Viewers({ ctx, market: this.market, read: () => this.positions(), logger: () => this.journal.logger });
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

  private get context(): AccountContext | null {
    return this.contexts.value;
  }

  private loadContext(force = false): Promise<AccountContext | null> {
    return this.contexts.load(force);
  }

  /** The context for the order path: never a D1 read between a tick and its order (ContextCache). */
  private currentContext(): Promise<AccountContext | null> {
    return this.contexts.current();
  }

  /** The REST client on the account's keys (decrypted and cached by Keys). */
  private async client(): Promise<LnMarketsRestClient> {
    const ctx = await this.currentContext();
    if (!ctx) throw new Error("account not found");
    return this.keys.client(ctx);
  }

  // --- market feed and hot zone (issue 20) -----------------------------------------------------

  /** Re-registers the levels when they moved, then places the socket. */
  private async syncFeed(force = false): Promise<void> {
    this.lastSyncAt = Date.now();
    if (this.policy.watching(this.context)) await this.link.sync(force);
    // Places the socket; a failed registration brings the monitor within its 5 s (hot-zone.ts).
    await this.hotZone.place();
  }

  /** The market feed's wake-up: a tick crossed one of this account's levels (account/ticks.ts). */
  async marketTick(tick: MarketTick): Promise<{ evaluated: boolean }> {
    return this.ticks.marketTick(tick);
  }

  /** The market feed's wake-up after a funding settlement (account/ticks.ts). */
  async fundingSettled(settlement: FundingSettlement): Promise<{ evaluated: boolean }> {
    return this.ticks.fundingSettled(settlement);
  }

  // --- scheduling -------------------------------------------------------------------------------

  /** Brings schedules, the monitor row and the socket in line with whether we should run. */
  private async reconcileRunning(): Promise<boolean> {
    const ctx = await this.loadContext();
    const watch = this.policy.watching(ctx);
    const run = this.policy.automationsRun(ctx);
    const now = Date.now();
    if (watch && !this.store.automation(MONITOR_ID)) {
      this.store.insertAutomation({ id: MONITOR_ID, type: "margin_monitor", name: "Margin monitor", config: "{}", schedule: null, enabled: 1, next_run_at: now, created_at: now, updated_at: now });
    }
    // Automations starting: the monitor leaves its idle cadence at once.
    const monitor = this.store.automation(MONITOR_ID);
    if (run && monitor?.next_run_at != null && monitor.next_run_at > now + SCHEDULE_DEFAULTS.margin_monitor.intervalMs) this.store.updateAutomation(MONITOR_ID, { next_run_at: now });
    for (const a of this.store.automations()) {
      const on = a.id === MONITOR_ID ? watch : run && this.policy.planAllows(a);
      if (on && a.enabled && a.next_run_at === null) this.store.updateAutomation(a.id, { next_run_at: now, attempts: 0 });
      if (!on && a.next_run_at !== null) this.store.updateAutomation(a.id, { next_run_at: null, attempts: 0 });
    }
    // Runs that should not go on are stopped where they stand (kill switch, scope, keys).
    if (!run) this.runner.abortAll("automations stopped", (id) => id === MONITOR_ID && watch);
    else for (const a of this.policy.pausedByPlan(ctx)) this.runner.abort(a.id, "paused by the plan in force");
    await notePlanPause(this.store, this.journal, ctx, this.policy.pausedByPlan(ctx));
    if (!watch) this.runner.abort(MONITOR_ID, "monitor stopped");
    if (watch) await this.link.sync();
    else await this.link.clear();
    await this.hotZone.place();
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
      if (ctx && this.policy.watching(ctx)) await this.health.checkKeys(ctx);
      if (!ctx || !this.policy.watching(ctx)) {
        await this.reconcileRunning();
        return;
      }
      if (!this.keys.usable(ctx)) {
        // The exchange could not be asked whether new keys work: nothing runs on them yet.
        const later = Date.now() + KEYS_RECHECK_MS;
        for (const a of this.store.automations()) if (a.next_run_at !== null && a.next_run_at < later) this.store.updateAutomation(a.id, { next_run_at: later });
        return;
      }
      // Nothing to run, or the plan in force changed what may run (a lapse, a renewal).
      if (!this.policy.automationsRun(ctx) || this.policy.pausedByPlan(ctx).map((a) => a.id).sort().join(",") !== (this.store.getMeta("planPaused") ?? "")) await this.reconcileRunning();
      if (this.store.unresolvedIntents().length) await this.executor.reconcilePending().catch(() => undefined);
      // The due rows share one read of the exchange (at rest they fall on the same slot).
      await this.market.sharingReads(async () => {
        for (const due of dueRows(scheduled(this.store.automations()), Date.now())) {
          const row = this.store.automation(due.id);
          if (row) await this.runner.run(row);
        }
      });
      // Positions were re-read: the levels may have moved (funding, a manual trade or add-margin).
      await this.syncFeed();
      await this.liveness.heartbeat();
    } catch (e) {
      this.journal.logger.error("alarm.error", { error: e });
    } finally {
      await this.journal.flushIfDue();
      await this.rearm();
    }
  }

  // --- RPC: automations ----------------------------------------------------------------------

  /** Creates an automation; config validated by its type's strict schema. */
  async createAutomation(input: AutomationInput, trace?: { traceId?: string }): Promise<DoResult<AutomationView>> {
    return this.crud.create(input, trace);
  }

  async listAutomations(): Promise<AutomationView[]> {
    return this.crud.list();
  }

  async getAutomation(id: string): Promise<DoResult<AutomationView>> {
    return this.crud.get(id);
  }

  /** Enable/disable, replace config or schedule, rename. */
  async updateAutomation(id: string, patch: AutomationPatch, trace?: { traceId?: string }): Promise<DoResult<AutomationView>> {
    return this.crud.update(id, patch, trace);
  }

  async deleteAutomation(id: string, trace?: { traceId?: string }): Promise<DoResult<null>> {
    return this.crud.delete(id, trace);
  }

  private async afterChange(): Promise<void> {
    await this.liveness.syncSummary();
    await this.reconcileRunning();
    await this.journal.flush();
  }

  // --- RPC: manual controls (issue 23; durable-objects/account/manual.ts) ------------------------

  /**
   * Close a trade, close all, add margin, run an automation now: through the executor (an
   * idempotent clientId per order, the token bucket, reconciliation, trade logs); `dryRun`
   * says what it would do and sends nothing; an `idempotencyKey` replays a retried request.
   */
  async manual(req: ManualRequest): Promise<ManualResult> {
    return this.controls.handle(req);
  }

  // --- RPC: lifecycle and status -------------------------------------------------------------

  /**
   * Re-reads from D1 whether this account should run, and starts or stops accordingly (the
   * kill switch and scope changes abort runs in flight). New keys are validated live first.
   */
  async refreshScheduling(): Promise<{ running: boolean }> {
    const ctx = await this.loadContext(true);
    if (ctx && ctx.status === "active") await this.health.checkKeys(ctx);
    const running = await this.reconcileRunning();
    await this.journal.flush();
    return { running };
  }

  /** Drops the decrypted credentials held in memory (and the clients built on them). */
  async clearCredentialsCache(): Promise<void> {
    this.keys.clear();
    this.contexts.clear();
    this.feed.stop("credentials cleared");
    if (this.store.automations().some((a) => a.enabled)) await this.refreshScheduling();
  }

  /**
   * Stops everything and deletes all state (the account is being deleted): runs in flight are
   * aborted, and intents whose outcome is unknown are reconciled while the keys still exist;
   * those still unknown (in flight, exchange unreachable) are kept until reconciled.
   */
  async forget(): Promise<{ unresolvedIntents: number }> {
    await this.loadContext().catch(() => null);
    this.runner.abortAll("account deleted");
    this.feed.stop("account deleted");
    await this.link.clear();
    await this.ctx.storage.deleteAlarm();
    if (this.store.unresolvedIntents().length && this.context) await this.executor.reconcilePending().catch(() => undefined);
    const unresolved = this.store.unresolvedIntents().length;
    this.keys.clear();
    await this.journal.flush().catch(() => 0);
    if (unresolved) {
      this.journal.logger.warn("account.forget_kept_intents", { unresolved });
      this.store.forgetAllButUnresolvedIntents();
    } else {
      await this.ctx.storage.deleteAll();
      migrate(this.ctx.storage.sql);
    }
    return { unresolvedIntents: unresolved };
  }

  /** Schedule status of every automation, the feed in use, the stream and the breaker. */
  async status() {
    const ctx = await this.loadContext();
    const running = this.policy.automationsRun(ctx);
    if (running) await this.hotZone.place();
    return accountStatus(this.statusHost, ctx, running);
  }

  private get statusHost(): StatusHost {
    return {
      store: this.store, market: this.market, executor: this.executor, keys: this.keys, feed: this.feed, link: this.link,
      accountId: () => this.accountId, watching: (c) => this.policy.watching(c), pausedByPlan: (c) => this.policy.pausedByPlan(c),
    };
  }

  /** Live positions with risk: from the stream when fresh, else REST. */
  async positions(): Promise<DoResult<PositionsView>> {
    const ctx = await this.loadContext();
    if (!ctx) return { ok: false, code: "no_account", message: "Account not found" };
    return livePositions(this.market, await this.client());
  }

  /** Watchdog: wake up, re-read scope, re-arm the alarm and reopen the socket. */
  async wake(): Promise<{ running: boolean; alarm: number | null }> {
    const r = await this.refreshScheduling();
    return { ...r, alarm: await this.ctx.storage.getAlarm() };
  }
}

