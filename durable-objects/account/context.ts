/**
 * What the account DO needs to know about its account and owner, read from D1: whether it
 * should run at all (DESIGN.md "Scope": the user's active account, or every account with
 * scheduleScope "all"; scheduling started; account enabled) and which keys to use.
 */
import { eq } from "drizzle-orm";
import { getDb } from "../../src/db/client";
import { exchangeAccounts, users } from "../../src/db/schema";

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
  loadedAt: number;
}

export async function loadAccountContext(env: Env, accountId: string): Promise<AccountContext | null> {
  const row = await getDb(env)
    .select({
      accountId: exchangeAccounts.id, userId: exchangeAccounts.userId, name: exchangeAccounts.name, network: exchangeAccounts.network,
      status: exchangeAccounts.status, credentialVersion: exchangeAccounts.credentialVersion,
      activeAccountId: users.activeAccountId, scheduleScope: users.scheduleScope, schedulingEnabled: users.schedulingEnabled, pauseEntries: users.pauseEntries,
    })
    .from(exchangeAccounts)
    .innerJoin(users, eq(users.id, exchangeAccounts.userId))
    .where(eq(exchangeAccounts.id, accountId))
    .get();
  if (!row) return null;
  const inScope = row.status === "active" && row.schedulingEnabled && (row.scheduleScope === "all" || row.activeAccountId === accountId);
  return {
    accountId: row.accountId, userId: row.userId, name: row.name, network: row.network, status: row.status,
    credentialVersion: row.credentialVersion, inScope, pauseEntries: row.pauseEntries, loadedAt: Date.now(),
  };
}
