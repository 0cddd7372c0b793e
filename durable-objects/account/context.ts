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
