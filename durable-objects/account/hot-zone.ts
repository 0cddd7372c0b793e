/**
 * Where the account stands against its trigger levels (issue 20), and what that costs:
 *
 * - **At rest** (no level within `HOT_ZONE.distancePct` of the price, the feed holding the
 *   levels): no socket, no timer but the alarm, and every schedule on the account's re-sync
 *   slot every `HOT_ZONE.restResyncMs` (one alarm, one read of the exchange). The market feed
 *   wakes it when a tick crosses a level or the edge of a hot zone.
 * - **Hot** (a level within the distance, or left less than HOT_LINGER_MS ago): the schedules
 *   run at their own cadence (the monitor every 5 s over REST), pulled in at once on entering,
 *   so positions the trader changed by hand, or funding moved, are seen within seconds.
 * - **Hot with a dedicated socket** (the plan's `dedicatedSocket`, Pro): the account also holds
 *   its own authenticated stream (every tick, private trade events at once). A Durable Object
 *   holding an outbound socket can never hibernate, so it is billed every second it is open
 *   (~$4 a month all month hot, bench/RESULTS.md); without it the object sleeps between
 *   alarms and wake-ups and costs cents (docs/OPERATIONS.md "Cost").
 */
import { monitorSchedule, SCHEDULE_DEFAULTS, type ScheduleSettings } from "../../src/domain/schedule";
import type { AccountContext } from "./context";
import type { FeedLink } from "./feed-link";
import type { Market } from "./market";
import { MONITOR_ID } from "./runner";
import type { AccountStore } from "./storage";
import type { StreamFeed } from "./stream-feed";

/** After leaving the hot zone the account stays hot this long (no flapping at its edge). */
export const HOT_LINGER_MS = 30_000;

export interface HotZoneHost {
  readonly store: AccountStore;
  readonly link: FeedLink;
  readonly feed: StreamFeed;
  readonly market: Market;
  context(): AccountContext | null;
  /** Whether the account's automations run (in scope, enabled, working keys). */
  automationsRun(ctx: AccountContext | null): boolean;
  rearm(): Promise<void>;
}

export class HotZone {
  private lastHotAt = 0;
  private wasHot = false;

  constructor(private readonly h: HotZoneHost) {}

  /** A level near the price (or just left) while automations run. */
  hot(now = Date.now()): boolean {
    if (!this.h.automationsRun(this.h.context())) return false;
    if (this.h.link.hot()) this.lastHotAt = now;
    return this.lastHotAt > 0 && now - this.lastHotAt < HOT_LINGER_MS;
  }

  /** No level near the price, and the feed holds the levels: slow schedules on the re-sync slot. */
  atRest(): boolean {
    return !this.h.link.failed && !this.hot();
  }

  /** The account's own socket: hot, and the plan buys a dedicated socket. */
  socketWanted(): boolean {
    return this.hot() && (this.h.context()?.plan.dedicatedSocket ?? false);
  }

  /**
   * Opens or closes the socket for where the account stands; entering the hot zone brings the
   * monitor's re-sync forward to now (at rest it may be a whole cadence away).
   */
  async place(): Promise<void> {
    const hot = this.hot();
    if (this.socketWanted()) this.h.feed.ensure(this.h.context());
    else this.h.feed.stop(!this.h.automationsRun(this.h.context()) ? "not running" : hot ? "hot zone without a dedicated socket" : "at rest: no trigger near the price");
    const entered = hot && !this.wasHot;
    this.wasHot = hot;
    // Entering the hot zone: the monitor re-syncs now. The feed not holding the levels (a
    // registration failed): the monitor watches on its own, every 5 s, until it does.
    const now = Date.now();
    const soon = now + SCHEDULE_DEFAULTS.margin_monitor.intervalMs;
    const due = entered ? now : this.h.link.failed ? soon : null;
    const m = due === null ? undefined : this.h.store.automation(MONITOR_ID);
    if (due !== null && m?.next_run_at != null && m.next_run_at > soon) {
      this.h.store.updateAutomation(MONITOR_ID, { next_run_at: due });
      await this.h.rearm();
    }
  }

  /** The monitor's schedule: 5 s on REST, 30 s behind a healthy stream, the re-sync cadence at rest or with nothing to watch. */
  monitorSchedule(now: number): ScheduleSettings {
    const { market } = this.h;
    const s = monitorSchedule(market.feed(now));
    const idle = market.trades.size === 0 && market.tradesAt > 0 && !this.h.automationsRun(this.h.context());
    // At rest the feed watches the levels: the monitor is the slow REST re-sync.
    return idle || this.atRest() ? { ...s, intervalMs: Math.max(s.intervalMs, this.h.link.config.restResyncMs) } : s;
  }
}
