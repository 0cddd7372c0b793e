/**
 * What D1 knows of the account DO: the hourly heartbeat the watchdog reads and the summary row
 * of its automations (listing, watchdog). Liveness costs at most one D1 write per account per
 * hour (issue 20): the beat is saved in the DO's own SQLite too, so an eviction between alarms
 * does not write again; the watchdog calls a beat stale after ALERT_THRESHOLDS.heartbeatStaleMs
 * (2 h 5 min: two beats missed). docs/OPERATIONS.md "Liveness" says what this can miss.
 */
import { eq } from "drizzle-orm";
import { getDb } from "../../src/db/client";
import { exchangeAccounts } from "../../src/db/schema";
import { flushAccountCounters, type CredentialCounters } from "./counters";
import type { Market } from "./market";
import { routineForBeat } from "./routine";
import { MONITOR_ID } from "./runner";
import type { AccountStore } from "./storage";

export const HEARTBEAT_EVERY_MS = 3_600_000;
/** Decrypted-key cache counters go to D1 with the beat (a miss or expiry waits for it). */
const COUNTERS_EVERY_MS = 3_600_000;

export interface LivenessHost {
  readonly env: Env;
  readonly store: AccountStore;
  readonly market: Market;
  accountId(): string;
}

export class Liveness {
  private lastHeartbeat = 0;
  private lastCountersAt = 0;
  private credCounters: CredentialCounters = { hit: 0, miss: 0, expiry: 0, sealed: 0 };

  constructor(private readonly h: LivenessHost) {}

  /** The decrypted-key cache's hits, misses and expiries (flushed with the beat). */
  count(what: keyof CredentialCounters): void {
    this.credCounters[what]++;
  }

  async heartbeat(force = false): Promise<void> {
    const now = Date.now();
    if (!this.lastHeartbeat) this.lastHeartbeat = Number(this.h.store.getMeta("heartbeatAt") ?? 0);
    if (!force && now - this.lastHeartbeat < HEARTBEAT_EVERY_MS) return;
    // D1 first: a beat counts as written only once the watchdog can see it (a failed write
    // would otherwise leave the account looking dead for up to an hour).
    // The routine runs since the last beat ride in the same row write (one D1 row an hour).
    const routine = routineForBeat(this.h.store, now);
    await getDb(this.h.env).update(exchangeAccounts).set({ lastHeartbeatAt: now, feed: this.h.market.feed(now), routineRuns: routine.json }).where(eq(exchangeAccounts.id, this.h.accountId())).run();
    routine.reset();
    this.lastHeartbeat = now;
    this.h.store.setMeta("heartbeatAt", String(now));
    if (await flushAccountCounters(this.h.env, this.credCounters, now, this.lastCountersAt, COUNTERS_EVERY_MS)) {
      this.lastCountersAt = now;
      this.credCounters = { hit: 0, miss: 0, expiry: 0, sealed: 0 };
    }
  }

  /** Keeps the D1 summary row (listing, watchdog) in step with the automations. */
  async syncSummary(): Promise<void> {
    const autos = this.h.store.automations().filter((a) => a.id !== MONITOR_ID);
    const byType: Record<string, number> = {};
    for (const a of autos) byType[a.type] = (byType[a.type] ?? 0) + 1;
    const enabled = autos.filter((a) => a.enabled).length;
    await getDb(this.h.env).update(exchangeAccounts)
      .set({ automationSummary: JSON.stringify({ total: autos.length, enabled, byType }), enabledAutomations: enabled, updatedAt: Date.now() })
      .where(eq(exchangeAccounts.id, this.h.accountId())).run();
  }
}
