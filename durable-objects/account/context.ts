/**
 * What the account DO needs to know about its account and owner, read from D1: whether it
 * should run at all (DESIGN.md "Scope": the user's active account, or every account with
 * scheduleScope "all"; scheduling started; account enabled) and which keys to use.
 */
import { and, eq, lt, or, sql } from "drizzle-orm";
import { getDb } from "../../src/db/client";
import { listPlans } from "../../src/db/plans";
import { exchangeAccounts, users } from "../../src/db/schema";

/**
 * The owner's plan as it stands now (issue 22: plans are enforced at run time, not only when an
 * automation is created). A paid plan past its expiry is the free plan: automation types it
 * does not include pause, and accounts beyond its `maxAccounts` (the newest first) stop
 * running automations; their data is kept and renewal resumes them. The margin monitor keeps
 * watching every account whatever the plan (liquidation alerts are never off).
 */
export interface PlanInForce {
  id: string;
  automationTypes: string[];
  /** This account is among the owner's first `maxAccounts` (by creation). */
  withinAccountLimit: boolean;
  maxAccounts: number;
  /** A socket of its own in the hot zone (durable-objects/account/hot-zone.ts). */
  dedicatedSocket: boolean;
}

export interface AccountContext {
  accountId: string;
  userId: string;
  name: string;
  network: "mainnet" | "testnet" | "simulator";
  status: "active" | "disabled";
  credentialVersion: number;
  /** Whether this account's automations should be scheduled (before looking at them). */
  inScope: boolean;
  pauseEntries: boolean;
  plan: PlanInForce;
  loadedAt: number;
}

export async function loadAccountContext(env: Env, accountId: string): Promise<AccountContext | null> {
  const row = await getDb(env)
    .select({
      accountId: exchangeAccounts.id, userId: exchangeAccounts.userId, name: exchangeAccounts.name, network: exchangeAccounts.network,
      status: exchangeAccounts.status, credentialVersion: exchangeAccounts.credentialVersion,
      activeAccountId: users.activeAccountId, scheduleScope: users.scheduleScope, schedulingEnabled: users.schedulingEnabled, pauseEntries: users.pauseEntries,
      planId: users.planId, planExpiresAt: users.planExpiresAt, createdAt: exchangeAccounts.createdAt,
    })
    .from(exchangeAccounts)
    .innerJoin(users, eq(users.id, exchangeAccounts.userId))
    .where(eq(exchangeAccounts.id, accountId))
    .get();
  if (!row) return null;
  const now = Date.now();
  const plans = await listPlans(getDb(env));
  const lapsed = row.planExpiresAt != null && row.planExpiresAt <= now;
  const plan = plans.find((p) => p.id === (lapsed ? "free" : row.planId)) ?? plans.find((p) => p.id === "free");
  // Older accounts first: the ones created before this one (ties by id).
  const older = await getDb(env)
    .select({ n: sql<number>`count(*)` })
    .from(exchangeAccounts)
    .where(and(eq(exchangeAccounts.userId, row.userId), or(lt(exchangeAccounts.createdAt, row.createdAt), and(eq(exchangeAccounts.createdAt, row.createdAt), lt(exchangeAccounts.id, row.accountId)))))
    .get();
  const maxAccounts = plan?.limits.maxAccounts ?? 1;
  const inScope = row.status === "active" && row.schedulingEnabled && (row.scheduleScope === "all" || row.activeAccountId === accountId);
  return {
    accountId: row.accountId, userId: row.userId, name: row.name, network: row.network, status: row.status,
    credentialVersion: row.credentialVersion, inScope, pauseEntries: row.pauseEntries,
    plan: { id: plan?.id ?? "free", automationTypes: plan?.limits.automationTypes ?? [], withinAccountLimit: (older?.n ?? 0) < maxAccounts, maxAccounts, dedicatedSocket: plan?.limits.dedicatedSocket ?? false },
    loadedAt: now,
  };
}

/** Where the cache keeps the last context it read (the object's own SQLite, `meta`). */
const SAVED_KEY = "context";

export interface ContextCacheHost {
  env: Env;
  accountId(): string;
  getMeta(key: string): string | null;
  setMeta(key: string, value: string): void;
  waitUntil(p: Promise<unknown>): void;
  /** A context was read from D1 (journal identity, account id kept). */
  onLoaded(ctx: AccountContext): void;
  onRefreshFailed(e: unknown): void;
}

/**
 * The account's context, read from D1 and cached in memory for `ttlMs`. The order path
 * (`current`) never waits on D1 when it has a context: past its TTL it is re-read in the
 * background, and an object woken cold by a tick starts from the last context it read, saved
 * in its own SQLite, while D1 is read beside the order. Every RPC that changes scope, keys or
 * status reads D1 afresh (`load(true)`) and so updates the saved copy; what changes without one
 * (a plan reaching its expiry) is seen at that background read. The copy is written only when
 * its content changed (a SQLite row write is billed), not at every read.
 */
export class ContextCache {
  value: AccountContext | null = null;
  private refresh: Promise<unknown> | null = null;

  constructor(private readonly h: ContextCacheHost, private readonly ttlMs: number) {}

  /** From memory within its TTL (unless `force`), else from D1. */
  async load(force = false): Promise<AccountContext | null> {
    if (!force && this.value && Date.now() - this.value.loadedAt < this.ttlMs) return this.value;
    this.value = await loadAccountContext(this.h.env, this.h.accountId());
    if (this.value) this.h.onLoaded(this.value);
    this.save(this.value);
    return this.value;
  }

  /** For the order path: a context at once when there is one (memory, else the saved copy), refreshed in the background. */
  async current(): Promise<AccountContext | null> {
    if (!this.value) {
      const saved = this.saved();
      if (!saved) return this.load();
      // As old as it may be: re-read from D1 now, beside whatever the caller does. Known at
      // once all the same: without it the journal would not know whose account this is, and
      // would drop the run's trade logs and notifications (critical alerts included) and write
      // its job events under no account until D1 answered.
      this.value = { ...saved, loadedAt: 0 };
      this.h.onLoaded(this.value);
    }
    if (Date.now() - this.value.loadedAt >= this.ttlMs && !this.refresh) {
      this.refresh = this.load(true)
        .catch((e) => this.h.onRefreshFailed(e))
        .finally(() => (this.refresh = null));
      this.h.waitUntil(this.refresh);
    }
    return this.value;
  }

  /** Forgets the context (new keys, a deleted account): the next use reads D1. */
  clear(): void {
    this.value = null;
    this.save(null);
  }

  private saved(): AccountContext | null {
    try {
      const raw = this.h.getMeta(SAVED_KEY);
      return raw ? (JSON.parse(raw) as AccountContext) : null;
    } catch {
      return null;
    }
  }

  private save(ctx: AccountContext | null): void {
    const next = ctx ? JSON.stringify({ ...ctx, loadedAt: 0 }) : "";
    if ((this.h.getMeta(SAVED_KEY) ?? "") !== next) this.h.setMeta(SAVED_KEY, next);
  }
}
