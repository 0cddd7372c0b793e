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
import { CircuitBreaker } from "../src/domain/circuit-breaker";
import { monitorMargins } from "../src/domain/margin-monitor";
import { alarmTime, dueRows, monitorSchedule, SCHEDULE_DEFAULTS } from "../src/domain/schedule";
import { tradeRisk } from "../src/domain/trade";
import type { LnMarketsRestClient } from "../src/lnmarkets/rest-client";
import { TokenBucketLimiter } from "../src/lnmarkets/rate-limiter";
import { AutomationCrud, type AutomationInput, type AutomationPatch, type DoResult } from "./account/automation-crud";
import { loadAccountContext, type AccountContext } from "./account/context";
import { ExchangeHealth } from "./account/exchange-health";
import { Executor } from "./account/executor";
import { FeedLink, INDEXED_TYPES } from "./account/feed-link";
import { monitorLevels, wouldAct } from "./account/jobs";
import { Journal } from "./account/journal";
import { Keys, KEYS_RECHECK_MS } from "./account/keys";
import { Liveness } from "./account/liveness";
import { ManualControls, type ManualRequest, type ManualResult } from "./account/manual";
import { Market } from "./account/market";
import { notePlanPause } from "./account/plan-pause";
import { MONITOR_ID, Runner } from "./account/runner";
import { AccountStore, migrate, type AutomationRow } from "./account/storage";
import { StreamFeed } from "./account/stream-feed";
import { automationView, ParsedConfigs, scheduled, type AutomationView } from "./account/views";
import type { FundingSettlement, MarketTick } from "./market-feed";

export { MONITOR_ID };
export type { AutomationInput, DoResult, ManualResult };
const CONTEXT_TTL_MS = 60_000;
/** After leaving the hot zone the socket stays this long (no open/close flapping at its edge). */
const HOT_LINGER_MS = 30_000;

export class AccountDO extends DurableObject<Env> {
  private readonly store: AccountStore;
  private readonly journal: Journal;
  private readonly market = new Market();
  private readonly executor: Executor;
  private context: AccountContext | null = null;
  private contextRefresh: Promise<unknown> | null = null;
  private readonly limiter = new TokenBucketLimiter();
  private readonly keys: Keys;
  private readonly runner: Runner;
  private readonly feed: StreamFeed;
  /** The network's market feed: the account's trigger levels and its hot zone (issue 20). */
  private readonly link: FeedLink;
  private lastHotAt = 0;
  private lastSyncAt = 0;
  private readonly health: ExchangeHealth;
  private readonly liveness: Liveness;
  private readonly crud: AutomationCrud;
  private readonly controls: ManualControls;
  /** Stored configs parsed once per change, not per tick. */
  private readonly configs = new ParsedConfigs();

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
    this.liveness = new Liveness({ env, store: this.store, market: this.market, accountId: () => this.accountId });
    this.keys = new Keys(env, this.store, this.limiter, { count: (what) => this.liveness.count(what), onCall: (info) => this.health.recordCall(info) });
    const self = this;
    this.runner = new Runner({
      store: this.store, journal: this.journal, market: this.market, executor: this.executor,
      accountId: () => this.accountId,
      client: () => this.client(),
      pauseEntries: () => this.context?.pauseEntries ?? false,
      automationsRunning: () => self.automationsRun(self.context),
      monitorSchedule: (now) => this.monitorSchedule(now),
      slowAtRest: (row, settings) => (INDEXED_TYPES.has(row.type) && this.atRest() ? { ...settings, intervalMs: Math.max(settings.intervalMs, this.link.config.restResyncMs) } : settings),
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
      planAllows: (row, c) => c.plan.withinAccountLimit && this.planAllows(row), parsedConfig: (row) => this.configs.get(row),
      afterOrders: async () => { await this.syncFeed(); await this.journal.flush(); },
    });
    this.link = new FeedLink({
      env, market: this.market, journal: this.journal,
      accountId: () => this.accountId,
      context: () => this.context,
      automations: () => (this.automationsRun(this.context) ? this.enabledAutomations() : []),
      parsedConfig: (row) => this.configs.get(row),
      onMissedCrossing: (price, at) => this.onTick(price, "feed", at),
    });
    this.feed = new StreamFeed({
      env, store: this.store, journal: this.journal, market: this.market,
      credentials: (c) => this.keys.credentials(c),
      wanted: () => this.streamWanted(),
      onTick: (price) => this.onTick(price),
      rearm: () => this.ctx.waitUntil(this.rearm()),
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

  /** The REST client on the account's keys (decrypted and cached by Keys). */
  private async client(): Promise<LnMarketsRestClient> {
    const ctx = await this.currentContext();
    if (!ctx) throw new Error("account not found");
    return this.keys.client(ctx);
  }

  /** The monitor's schedule: 5 s on REST, 30 s behind a healthy stream, 60 s with nothing to watch. */
  private monitorSchedule(now: number) {
    const s = monitorSchedule(this.market.feed(now));
    const idle = this.market.trades.size === 0 && this.market.tradesAt > 0 && !this.automationsRun(this.context);
    // At rest the feed watches the levels: the monitor is the slow REST re-sync.
    return idle || this.atRest() ? { ...s, intervalMs: Math.max(s.intervalMs, this.link.config.restResyncMs) } : s;
  }

  // --- market feed and hot zone (issue 20) -----------------------------------------------------

  /** No level near the price (and the feed holds the levels): no socket, slow alarm. */
  private atRest(): boolean {
    return !this.link.failed && !this.streamWanted();
  }

  /** The account's own socket: automations running and a level within the hot zone (or just left). */
  private streamWanted(): boolean {
    if (!this.automationsRun(this.context)) return false;
    const now = Date.now();
    if (this.link.hot()) this.lastHotAt = now;
    return now - this.lastHotAt < HOT_LINGER_MS && this.lastHotAt > 0;
  }

  /** Opens the socket in the hot zone, closes it at rest. */
  private placeStream(): void {
    if (this.streamWanted()) this.feed.ensure(this.context);
    else this.feed.stop(this.automationsRun(this.context) ? "at rest: no trigger near the price" : "not running");
  }

  /** Re-registers the levels when they moved, then places the socket. */
  private async syncFeed(force = false): Promise<void> {
    this.lastSyncAt = Date.now();
    if (this.watching(this.context)) await this.link.sync(force);
    this.placeStream();
    // The feed does not hold the levels: the monitor watches on its own, every 5 s, until it does.
    const m = this.link.failed ? this.store.automation(MONITOR_ID) : undefined;
    const soon = Date.now() + SCHEDULE_DEFAULTS.margin_monitor.intervalMs;
    if (m?.next_run_at != null && m.next_run_at > soon) {
      this.store.updateAutomation(MONITOR_ID, { next_run_at: soon });
      await this.rearm();
    }
  }

  /**
   * The market feed's wake-up: a tick crossed one of this account's levels (or the edge of its
   * hot zone). Evaluated at once, as a stream tick; the monitor runs when only it watches.
   */
  async marketTick(tick: MarketTick): Promise<{ evaluated: boolean }> {
    const ctx = await this.currentContext();
    if (!ctx || !this.watching(ctx) || !this.keys.usable(ctx)) return { evaluated: false };
    const now = Date.now();
    this.market.onFeedPrice(tick.price, Math.min(tick.at, now));
    if (!this.automationsRun(ctx)) {
      this.wakeMonitor(`feed ${tick.price}`);
      return { evaluated: true };
    }
    if (this.market.tradesAt === 0) {
      // A cold DO has no positions in memory: one read, then the tick is evaluated on them.
      const started = Date.now();
      try {
        const client = await this.client();
        this.market.setTrades(await client.runningTrades(), Date.now(), started);
      } catch (e) {
        this.journal.logger.warn("feed.tick_positions_failed", { error: e });
      }
    }
    this.onTick(tick.price, "feed", Math.min(tick.at, now));
    this.ctx.waitUntil(this.syncFeed());
    return { evaluated: true };
  }

  /** Runs the monitor now (only it watches this account): it reads the positions and alerts on a new level. */
  private wakeMonitor(reason: string): void {
    const m = this.store.automation(MONITOR_ID);
    if (m && !this.runner.has(MONITOR_ID)) this.ctx.waitUntil(this.runner.trigger(m, reason).then(() => this.syncFeed()).then(() => this.journal.flush()));
  }

  /**
   * The market feed's wake-up after a funding settlement (issue 20): the charge moved the
   * liquidation price of every payer, which an account at rest (no private socket, no
   * `funding` event) would otherwise only see at its next re-sync. Positions are re-read by
   * REST, the levels re-registered, and everything evaluated at the current price at once: a
   * drop right after the charge is then judged on the new liquidation price.
   */
  async fundingSettled(settlement: FundingSettlement): Promise<{ evaluated: boolean }> {
    const ctx = await this.currentContext();
    if (!ctx || !this.watching(ctx) || !this.keys.usable(ctx)) return { evaluated: false };
    const started = Date.now();
    try {
      const client = await this.client();
      this.market.setTrades(await client.runningTrades(), Date.now(), started);
    } catch (e) {
      // The re-sync (at most restResyncMs away) re-reads them; the levels stay as they were.
      this.journal.logger.warn("feed.funding_positions_failed", { error: e });
      return { evaluated: false };
    }
    if (settlement.price !== null && settlement.priceAt > this.market.priceAt) this.market.onFeedPrice(settlement.price, Math.min(settlement.priceAt, Date.now()));
    this.journal.automation("debug", "feed.funding_settled", null, { rate: settlement.rate, trades: this.market.trades.size });
    await this.syncFeed();
    const price = this.market.price;
    if (price === null || !this.market.trades.size) return { evaluated: false };
    if (this.automationsRun(ctx)) {
      this.onTick(price, "feed", this.market.priceAt);
    } else {
      // Only the monitor watches: a trade the charge pushed past 0.8 or 0.9 alerts now.
      const m = this.store.automation(MONITOR_ID);
      if (m && !this.runner.has(MONITOR_ID) && monitorMargins(this.market.runningTrades(), price, undefined, monitorLevels(m)).escalated.length) {
        this.ctx.waitUntil(this.runner.trigger(m, `funding ${price}`).then(() => this.journal.flush()));
      }
    }
    return { evaluated: true };
  }

  // --- scheduling -------------------------------------------------------------------------------

  /** Enabled automations the owner's plan in force includes (a lapsed plan pauses the others). */
  private enabledAutomations(): AutomationRow[] {
    return this.store.automations().filter((a) => a.id !== MONITOR_ID && a.enabled && this.planAllows(a));
  }

  /** The owner's plan in force includes this automation's type (the dev-only test type always runs). */
  private planAllows(row: AutomationRow): boolean {
    const plan = this.context?.plan;
    return !plan || row.type === "noop" || plan.automationTypes.includes(row.type);
  }

  /** Enabled automations the plan in force pauses here (type not included, or the account over the plan's limit). */
  private pausedByPlan(ctx: AccountContext | null): AutomationRow[] {
    if (!ctx) return [];
    return this.store.automations().filter((a) => a.id !== MONITOR_ID && a.enabled && (!ctx.plan.withinAccountLimit || !this.planAllows(a)));
  }

  /**
   * The monitor watches every active account whose keys the exchange has not refused,
   * automations or not (liquidation alerts are never silently off). Keys not validated yet
   * are validated at its first run.
   */
  private watching(ctx: AccountContext | null): boolean {
    return !!ctx && ctx.status === "active" && !this.keys.rejected(ctx);
  }

  /** Automations run for an account in scope (scope, kill switch) with enabled ones and working keys. */
  private automationsRun(ctx: AccountContext | null): boolean {
    return this.watching(ctx) && ctx!.inScope && ctx!.plan.withinAccountLimit && this.enabledAutomations().length > 0;
  }

  /** Brings schedules, the monitor row and the socket in line with whether we should run. */
  private async reconcileRunning(): Promise<boolean> {
    const ctx = await this.loadContext();
    const watch = this.watching(ctx);
    const run = this.automationsRun(ctx);
    const now = Date.now();
    if (watch && !this.store.automation(MONITOR_ID)) {
      this.store.insertAutomation({ id: MONITOR_ID, type: "margin_monitor", name: "Margin monitor", config: "{}", schedule: null, enabled: 1, next_run_at: now, created_at: now, updated_at: now });
    }
    // Automations starting: the monitor leaves its idle cadence at once.
    const monitor = this.store.automation(MONITOR_ID);
    if (run && monitor?.next_run_at != null && monitor.next_run_at > now + SCHEDULE_DEFAULTS.margin_monitor.intervalMs) this.store.updateAutomation(MONITOR_ID, { next_run_at: now });
    for (const a of this.store.automations()) {
      const on = a.id === MONITOR_ID ? watch : run && this.planAllows(a);
      if (on && a.enabled && a.next_run_at === null) this.store.updateAutomation(a.id, { next_run_at: now, attempts: 0 });
      if (!on && a.next_run_at !== null) this.store.updateAutomation(a.id, { next_run_at: null, attempts: 0 });
    }
    // Runs that should not go on are stopped where they stand (kill switch, scope, keys).
    if (!run) this.runner.abortAll("automations stopped", (id) => id === MONITOR_ID && watch);
    else for (const a of this.pausedByPlan(ctx)) this.runner.abort(a.id, "paused by the plan in force");
    await notePlanPause(this.store, this.journal, ctx, this.pausedByPlan(ctx));
    if (!watch) this.runner.abort(MONITOR_ID, "monitor stopped");
    if (watch) await this.link.sync();
    else await this.link.clear();
    this.placeStream();
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
      if (ctx && this.watching(ctx)) await this.health.checkKeys(ctx);
      if (!ctx || !this.watching(ctx)) {
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
      if (!this.automationsRun(ctx) || this.pausedByPlan(ctx).map((a) => a.id).sort().join(",") !== (this.store.getMeta("planPaused") ?? "")) await this.reconcileRunning();
      if (this.store.unresolvedIntents().length) await this.executor.reconcilePending().catch(() => undefined);
      for (const due of dueRows(scheduled(this.store.automations()), Date.now())) {
        const row = this.store.automation(due.id);
        if (row) await this.runner.run(row);
      }
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

  // --- stream and ticks ----------------------------------------------------------------------------

  /**
   * A price tick: every enabled automation is evaluated in memory at once (pure, dry); one
   * that would act runs now instead of at its next alarm. Stored configs are parsed once per
   * change, not per tick.
   */
  private onTick(price: number, source: "stream" | "feed" = "stream", at?: number): void {
    const now = Date.now();
    if (source === "stream") this.market.onStreamPrice(price, now);
    // A feed price is as old as the feed's reading of it (a run re-reads the ticker past FEED_PRICE_FRESH_MS).
    else this.market.onFeedPrice(price, Math.min(at ?? now, now));
    // Leaving the hot zone closes the socket; levels moved by stream events are re-registered.
    if (source === "stream" && now - this.lastSyncAt > 5_000) this.ctx.waitUntil(this.syncFeed());
    if (!this.automationsRun(this.context)) {
      // Only the monitor watches: a crossing the feed reported (a wake-up, or one found at
      // registration) wakes its run, which reads the positions.
      if (source === "feed") this.wakeMonitor(`feed ${price}`);
      return;
    }
    const enabled = this.enabledAutomations();
    for (const a of enabled) {
      if (this.runner.has(a.id) || a.type === "noop") continue;
      const config = this.configs.get(a);
      if (!config) continue;
      let act = false;
      try {
        act = wouldAct(a, config, this.market, price, now, this.context!.pauseEntries, (state) => this.store.updateAutomation(a.id, { state: JSON.stringify(state) }));
      } catch (e) {
        this.journal.logger.warn("tick.evaluate_failed", { automationId: a.id, error: e });
      }
      // An action taken on a tick is logged at once: operators look for it right away.
      if (act) this.ctx.waitUntil(this.runner.trigger(a, `tick ${price}`).then(() => this.syncFeed()).then(() => this.journal.flush()));
    }
    // The monitor's check on every tick, for an account without a guard (a guard's own
    // evaluation above acts and alerts): a trade newly crossing into warning or critical
    // alerts now. The monitor's run is not started beside a guard: its reads would queue with
    // the guard's order.
    const trades = this.market.runningTrades();
    const m = trades.length && !enabled.some((a) => a.type === "margin_guard") && !this.runner.has(MONITOR_ID) ? this.store.automation(MONITOR_ID) : undefined;
    if (m && monitorMargins(trades, price, undefined, monitorLevels(m)).escalated.length) {
      this.ctx.waitUntil(this.runner.trigger(m, `tick ${price}`).then(() => this.journal.flush()));
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
    this.context = null;
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
    const now = Date.now();
    const ctx = await this.loadContext();
    const running = this.automationsRun(ctx);
    if (running) this.placeStream();
    const breaker = this.executor.breaker;
    const keys = this.keys.state();
    const keysState = !ctx ? "unknown" : keys?.version === ctx.credentialVersion ? keys.state : "unchecked";
    return {
      accountId: this.accountId,
      accountName: ctx?.name ?? null,
      running,
      /** The margin monitor's liquidation alerts: on for every active account with working keys. */
      watching: this.watching(ctx),
      /** Why automations are paused, when they are for a reason the trader must fix. */
      paused: keysState === "rejected" ? ("credentials_rejected" as const) : null,
      /** The owner's plan in force here: automations it pauses (a lapsed plan, an account beyond the limit). */
      plan: ctx ? { id: ctx.plan.id, withinAccountLimit: ctx.plan.withinAccountLimit, pausedAutomations: this.pausedByPlan(ctx).map((a) => a.id) } : null,
      credentials: { state: keysState, reason: keysState === "rejected" ? keys?.reason ?? null : null, checkedAt: keys?.at ?? null },
      feed: this.market.feed(now),
      stream: this.feed.snapshot(),
      /** The network's market feed: levels registered, hot zone or at rest. */
      marketFeed: this.link.snapshot(),
      // Open: entries wait; protective orders (add margin, close, stop loss) still go out.
      breaker: { state: breaker.stateAt(now), ...breaker.windowCounts(now), protectiveOrders: "allowed" as const },
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
}

