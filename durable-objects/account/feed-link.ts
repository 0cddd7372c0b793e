/**
 * The account's side of the market feed (issue 20): it derives the account's trigger levels
 * (src/domain/trigger-levels.ts) from its running trades and enabled automations, registers
 * them with its network's MarketFeedDO whenever they change, and decides whether the account
 * is in its hot zone (a level within `distancePct` of the price: its own socket is open) or at
 * rest (no socket; the alarm re-syncs positions by REST every `restResyncMs`).
 */
import { z } from "zod";
import { deriveTriggerLevels, isHot, levelsKey, withHotZone, type LevelAutomation, type TriggerLevel } from "../../src/domain/trigger-levels";
import type { AccountContext } from "./context";
import type { Journal } from "./journal";
import type { Market } from "./market";
import type { AutomationRow } from "./storage";

export const HotZoneConfig = z.object({
  /** Distance (percent of the price) from a level within which the account holds its socket. */
  distancePct: z.number().min(0).max(50).default(1),
  /** The alarm's re-sync cadence at rest (positions by REST, manual trades seen). */
  restResyncMs: z.number().int().min(5_000).max(3_600_000).default(60_000),
});
export type HotZoneConfig = z.infer<typeof HotZoneConfig>;

/** The HOT_ZONE var (JSON); missing or invalid keys keep their defaults. */
export function parseHotZone(raw: string | undefined): HotZoneConfig {
  try {
    const r = HotZoneConfig.safeParse(raw ? JSON.parse(raw) : {});
    if (r.success) return r.data;
  } catch {
    // Not JSON: defaults.
  }
  return HotZoneConfig.parse({});
}

/** Types whose triggers are in the index: at rest their schedules slow to the re-sync cadence. */
export const INDEXED_TYPES = new Set(["margin_guard", "tp_sl", "auto_entry", "margin_monitor"]);

export interface FeedLinkSnapshot {
  levels: number;
  hot: boolean;
  registeredAt: number | null;
  registrations: number;
  failed: boolean;
  distancePct: number;
  restResyncMs: number;
}

export interface FeedLinkHost {
  readonly env: Env;
  readonly market: Market;
  readonly journal: Journal;
  accountId(): string;
  context(): AccountContext | null;
  /** Enabled automations whose levels count (empty when automations do not run). */
  automations(): AutomationRow[];
  parsedConfig(row: AutomationRow): unknown;
  /** The feed reported a crossing the account has not evaluated yet. */
  onMissedCrossing(price: number, at: number): void;
}

export class FeedLink {
  readonly config: HotZoneConfig;
  private levels: TriggerLevel[] = [];
  private key: string | null = null;
  private network: string | null = null;
  private syncing: Promise<void> | null = null;
  /** Registrations sent to the feed (each one RPC), for status and the bench. */
  registrations = 0;
  registeredAt = 0;
  /** The last registration failed: the feed may not know the levels, so the account must not rest. */
  failed = false;

  constructor(private readonly h: FeedLinkHost) {
    this.config = parseHotZone(h.env.HOT_ZONE);
  }

  /** Whether the account is in its hot zone at the last known price. */
  hot(): boolean {
    return isHot(this.levels, this.h.market.price, this.config.distancePct / 100);
  }

  snapshot(): FeedLinkSnapshot {
    const { distancePct, restResyncMs } = this.config;
    return { levels: this.levels.filter((l) => l.kind !== "hot_zone").length, hot: this.hot(), registeredAt: this.registeredAt || null, registrations: this.registrations, failed: this.failed, distancePct, restResyncMs };
  }

  /** The levels as they stand now (trades and automations in memory). */
  derive(): TriggerLevel[] {
    const automations: LevelAutomation[] = [];
    for (const row of this.h.automations()) {
      if (!INDEXED_TYPES.has(row.type)) continue;
      const config = this.h.parsedConfig(row);
      if (!config) continue;
      let state: unknown = null;
      try {
        state = JSON.parse(row.state || "{}");
      } catch {
        state = null;
      }
      automations.push({ type: row.type, config, state: state && Object.keys(state as object).length ? state : null });
    }
    const levels = deriveTriggerLevels({ trades: this.h.market.runningTrades(), automations, price: this.h.market.price });
    return withHotZone(levels, this.config.distancePct / 100);
  }

  /**
   * Re-derives the levels and registers them when they changed (or on `force`, e.g. after the
   * feed restarted). Positions never read (a cold DO) are not registered as "no levels".
   * Concurrent calls share one registration.
   */
  sync(force = false): Promise<void> {
    if (this.syncing) return this.syncing;
    this.syncing = this.doSync(force).finally(() => (this.syncing = null));
    return this.syncing;
  }

  /** Leaves the index (account deleted, keys refused, not watching). */
  async clear(): Promise<void> {
    const ctx = this.h.context();
    if (this.key === null && !ctx) return;
    this.levels = [];
    this.key = "";
    if (ctx) await this.h.env.MARKET_FEED.getByName(ctx.network).register(this.h.accountId(), [], null).catch(() => undefined);
  }

  private async doSync(force: boolean): Promise<void> {
    const ctx = this.h.context();
    if (!ctx || this.h.market.tradesAt === 0 && this.key === null) return;
    const levels = this.derive();
    const key = levelsKey(levels);
    this.levels = levels;
    if (!force && key === this.key && ctx.network === this.network) return;
    try {
      const r = await this.h.env.MARKET_FEED.getByName(ctx.network).register(this.h.accountId(), levels, this.h.market.price);
      this.key = key;
      this.network = ctx.network;
      this.registrations++;
      this.registeredAt = Date.now();
      this.failed = false;
      this.h.journal.logger.debug("feed.registered", { levels: r.levels, price: r.price, crossed: r.crossed });
      // Only a feed price newer than the account's own read is news: an older one (the feed's
      // socket quiet since, the account having read the ticker after it) would have the account
      // decide on a price the market has left.
      if (r.crossed && r.price !== null && r.priceAt > this.h.market.priceAt) this.h.onMissedCrossing(r.price, r.priceAt);
    } catch (e) {
      // Registered at the next sync (the alarm's); meanwhile the re-sync cadence watches.
      this.failed = true;
      this.h.journal.logger.warn("feed.register_failed", { error: e });
    }
  }
}
