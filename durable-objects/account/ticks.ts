/**
 * What a price does to the account: a tick from its own socket (hot zone), a wake-up from the
 * network's market feed (a tick crossed one of its levels, issue 20), or a funding settlement.
 * Every enabled automation is evaluated in memory at once (pure, dry); one that would act runs
 * now instead of at its next alarm. When only the margin monitor watches (no automation), a
 * crossing wakes the monitor's run, which reads the positions and alerts on a new level.
 */
import { monitorMargins } from "../../src/domain/margin-monitor";
import type { LnMarketsRestClient } from "../../src/lnmarkets/rest-client";
import type { FundingSettlement, MarketTick } from "../market-feed";
import type { AccountContext } from "./context";
import { wouldAct } from "./jobs";
import { monitorLevels } from "./monitor-run";
import type { Journal } from "./journal";
import type { Keys } from "./keys";
import type { Market } from "./market";
import { MONITOR_ID, type Runner } from "./runner";
import type { AccountStore, AutomationRow } from "./storage";
import type { ParsedConfigs } from "./views";

export interface TicksHost {
  readonly store: AccountStore;
  readonly journal: Journal;
  readonly market: Market;
  readonly runner: Runner;
  readonly keys: Keys;
  readonly configs: ParsedConfigs;
  context(): AccountContext | null;
  /** The cached context, refreshed in the background past its TTL (never a D1 read on the order path). */
  currentContext(): Promise<AccountContext | null>;
  client(): Promise<LnMarketsRestClient>;
  watching(ctx: AccountContext | null): boolean;
  automationsRun(ctx: AccountContext | null): boolean;
  enabledAutomations(): AutomationRow[];
  /** Re-registers the levels when they moved and places the socket. */
  syncFeed(): Promise<void>;
  /** When the levels were last synced (a stream tick re-syncs at most every 5 s). */
  lastSyncAt(): number;
  waitUntil(p: Promise<unknown>): void;
}

export class Ticks {
  constructor(private readonly h: TicksHost) {}

  /**
   * The market feed's wake-up: a tick crossed one of this account's levels (or the edge of its
   * hot zone). Evaluated at once, as a stream tick; the monitor runs when only it watches.
   */
  async marketTick(tick: MarketTick): Promise<{ evaluated: boolean }> {
    const { market } = this.h;
    const ctx = await this.h.currentContext();
    if (!ctx || !this.h.watching(ctx) || !this.h.keys.usable(ctx)) return { evaluated: false };
    const now = Date.now();
    market.onFeedPrice(tick.price, Math.min(tick.at, now));
    if (!this.h.automationsRun(ctx)) {
      this.wakeMonitor(`feed ${tick.price}`);
      return { evaluated: true };
    }
    if (market.tradesAt === 0) {
      // A cold DO has no positions in memory: one read, then the tick is evaluated on them.
      const started = Date.now();
      try {
        const client = await this.h.client();
        market.setTrades(await client.runningTrades(), Date.now(), started);
      } catch (e) {
        this.h.journal.logger.warn("feed.tick_positions_failed", { error: e });
      }
    }
    this.onTick(tick.price, "feed", Math.min(tick.at, now));
    this.h.waitUntil(this.h.syncFeed());
    return { evaluated: true };
  }

  /**
   * The market feed's wake-up after a funding settlement (issue 20): the charge moved the
   * liquidation price of every payer, which an account at rest (no private socket, no
   * `funding` event) would otherwise only see at its next re-sync. Positions are re-read by
   * REST, the levels re-registered, and everything evaluated at the current price at once: a
   * drop right after the charge is then judged on the new liquidation price.
   */
  async fundingSettled(settlement: FundingSettlement): Promise<{ evaluated: boolean }> {
    const { market, journal } = this.h;
    const ctx = await this.h.currentContext();
    if (!ctx || !this.h.watching(ctx) || !this.h.keys.usable(ctx)) return { evaluated: false };
    const started = Date.now();
    try {
      const client = await this.h.client();
      market.setTrades(await client.runningTrades(), Date.now(), started);
    } catch (e) {
      // The re-sync (at most restResyncMs away) re-reads them; the levels stay as they were.
      journal.logger.warn("feed.funding_positions_failed", { error: e });
      return { evaluated: false };
    }
    if (settlement.price !== null && settlement.priceAt > market.priceAt) market.onFeedPrice(settlement.price, Math.min(settlement.priceAt, Date.now()));
    journal.automation("debug", "feed.funding_settled", null, { rate: settlement.rate, trades: market.trades.size });
    await this.h.syncFeed();
    const price = market.price;
    if (price === null || !market.trades.size) return { evaluated: false };
    if (this.h.automationsRun(ctx)) {
      this.onTick(price, "feed", market.priceAt);
    } else {
      // Only the monitor watches: a trade the charge pushed past 0.8 or 0.9 alerts now.
      const m = this.h.store.automation(MONITOR_ID);
      if (m && !this.h.runner.has(MONITOR_ID) && monitorMargins(market.runningTrades(), price, undefined, monitorLevels(m)).escalated.length) {
        this.h.waitUntil(this.h.runner.trigger(m, `funding ${price}`).then(() => journal.flush()));
      }
    }
    return { evaluated: true };
  }

  /**
   * A price tick: every enabled automation is evaluated in memory at once (pure, dry); one
   * that would act runs now instead of at its next alarm. Stored configs are parsed once per
   * change, not per tick.
   */
  onTick(price: number, source: "stream" | "feed" = "stream", at?: number): void {
    const { market, store, runner, journal } = this.h;
    const now = Date.now();
    if (source === "stream") market.onStreamPrice(price, now);
    // A feed price is as old as the feed's reading of it (a run re-reads the ticker past FEED_PRICE_FRESH_MS).
    else market.onFeedPrice(price, Math.min(at ?? now, now));
    // Leaving the hot zone closes the socket; levels moved by stream events are re-registered.
    if (source === "stream" && now - this.h.lastSyncAt() > 5_000) this.h.waitUntil(this.h.syncFeed());
    const ctx = this.h.context();
    if (!this.h.automationsRun(ctx)) {
      // Only the monitor watches: a crossing the feed reported (a wake-up, or one found at
      // registration) wakes its run, which reads the positions.
      if (source === "feed") this.wakeMonitor(`feed ${price}`);
      return;
    }
    const enabled = this.h.enabledAutomations();
    for (const a of enabled) {
      if (runner.has(a.id) || a.type === "noop") continue;
      const config = this.h.configs.get(a);
      if (!config) continue;
      let act = false;
      try {
        act = wouldAct(a, config, market, price, now, ctx!.pauseEntries, (state) => store.updateAutomation(a.id, { state: JSON.stringify(state) }));
      } catch (e) {
        journal.logger.warn("tick.evaluate_failed", { automationId: a.id, error: e });
      }
      // An action taken on a tick is logged at once: operators look for it right away.
      if (act) this.h.waitUntil(runner.trigger(a, `tick ${price}`).then(() => this.h.syncFeed()).then(() => journal.flush()));
    }
    // The monitor's check on every tick, for an account without a guard (a guard's own
    // evaluation above acts and alerts): a trade newly crossing into warning or critical
    // alerts now. The monitor's run is not started beside a guard: its reads would queue with
    // the guard's order.
    const trades = market.runningTrades();
    const m = trades.length && !enabled.some((a) => a.type === "margin_guard") && !runner.has(MONITOR_ID) ? store.automation(MONITOR_ID) : undefined;
    if (m && monitorMargins(trades, price, undefined, monitorLevels(m)).escalated.length) {
      this.h.waitUntil(runner.trigger(m, `tick ${price}`).then(() => journal.flush()));
    }
  }

  /** Runs the monitor now (only it watches this account): it reads the positions and alerts on a new level. */
  private wakeMonitor(reason: string): void {
    const m = this.h.store.automation(MONITOR_ID);
    if (m && !this.h.runner.has(MONITOR_ID)) this.h.waitUntil(this.h.runner.trigger(m, reason).then(() => this.h.syncFeed()).then(() => this.h.journal.flush()));
  }
}
