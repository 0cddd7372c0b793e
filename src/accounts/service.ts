/** Exchange accounts: create, list, update, delete, activate; the scheduling they imply. */
import { and, asc, count, eq, isNull, ne } from "drizzle-orm";
import { getDb } from "../db/client";
import { exchangeAccounts, users } from "../db/schema";
import { ConflictError, NotFoundError, ValidationError } from "../lib/errors";
import { newId } from "../lib/ids";
import type { Logger } from "../lib/logger";
import { isLnMarketsError } from "../lnmarkets/errors";
import { resolveEndpoints } from "../lnmarkets/transport";
import { type AccountRow, type CredentialsInput, clearAccountCredentialsCache, findAccount, sealCredentials } from "./credentials";
import { requirePlan } from "./plans";

export type Network = AccountRow["network"];

/** What any route returns about an account: never the credentials. */
export function accountView(row: AccountRow, activeAccountId: string | null) {
  return {
    id: row.id,
    name: row.name,
    network: row.network,
    status: row.status,
    active: row.id === activeAccountId,
    credentialVersion: row.credentialVersion,
    automations: JSON.parse(row.automationSummary) as { total: number; enabled: number; byType: Record<string, number> },
    feed: row.feed ?? null,
    lastHeartbeatAt: row.lastHeartbeatAt ?? null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** A network is usable only where the worker has its endpoints (production has no simulator). */
function assertNetworkConfigured(env: Env, network: Network): void {
  try {
    resolveEndpoints(env, network);
  } catch (e) {
    if (isLnMarketsError(e)) throw new ValidationError([{ path: "network", message: "not configured on this deployment", code: "not_configured" }], `Network ${network} is not available here`);
    throw e;
  }
}

async function activeAccountIdOf(env: Env, userId: string): Promise<string | null> {
  const u = await getDb(env).select({ a: users.activeAccountId }).from(users).where(eq(users.id, userId)).get();
  return u?.a ?? null;
}

const isUniqueViolation = (e: unknown) => e instanceof Error && /UNIQUE constraint failed/i.test(`${e.message} ${String((e as { cause?: unknown }).cause ?? "")}`);
const nameConflict = () => new ConflictError("An account with this name already exists", { field: "name" });

export async function createAccount(env: Env, userId: string, input: { name: string; network: Network; credentials: CredentialsInput }, logger: Logger) {
  const db = getDb(env);
  assertNetworkConfigured(env, input.network);
  const [{ n } = { n: 0 }] = await db.select({ n: count() }).from(exchangeAccounts).where(eq(exchangeAccounts.userId, userId)).all();
  await requirePlan(db, userId, "maxAccounts", (l) => l.maxAccounts > n, `Account number ${n + 1}`);
  if (await db.select({ id: exchangeAccounts.id }).from(exchangeAccounts).where(and(eq(exchangeAccounts.userId, userId), eq(exchangeAccounts.name, input.name))).get()) throw nameConflict();
  const id = newId("acc");
  const sealed = await sealCredentials(env, id, input.credentials);
  const now = Date.now();
  try {
    await db.insert(exchangeAccounts).values({
      id, userId, name: input.name, network: input.network, credentialsEnc: sealed.value, credentialsKeyId: sealed.keyId, createdAt: now, updatedAt: now,
    }).run();
  } catch (e) {
    if (isUniqueViolation(e)) throw nameConflict();
    throw e;
  }
  // The first account becomes the active one.
  await db.update(users).set({ activeAccountId: id, updatedAt: now }).where(and(eq(users.id, userId), isNull(users.activeAccountId))).run();
  logger.info("account.created", { accountId: id, accountName: input.name, network: input.network });
  // Its margin monitor starts now, automations or not: liquidation alerts are never off.
  await env.ACCOUNT.getByName(id).refreshScheduling().catch((e: unknown) => logger.warn("account.monitor_start_failed", { accountId: id, error: e }));
  const row = (await findAccount(db, userId, id))!;
  return accountView(row, await activeAccountIdOf(env, userId));
}

export async function listAccounts(env: Env, userId: string) {
  const rows = await getDb(env).select().from(exchangeAccounts).where(eq(exchangeAccounts.userId, userId)).orderBy(asc(exchangeAccounts.createdAt)).all();
  const active = await activeAccountIdOf(env, userId);
  return rows.map((r) => accountView(r, active));
}

export async function getAccount(env: Env, userId: string, accountId: string): Promise<AccountRow> {
  const row = await findAccount(getDb(env), userId, accountId);
  if (!row) throw new NotFoundError("Account");
  return row;
}

export async function updateAccount(
  env: Env, userId: string, accountId: string,
  patch: { name?: string; credentials?: CredentialsInput; status?: "active" | "disabled" }, logger: Logger,
) {
  const db = getDb(env);
  const row = await getAccount(env, userId, accountId);
  const now = Date.now();
  const set: Partial<AccountRow> = { updatedAt: now };
  if (patch.name !== undefined && patch.name !== row.name) {
    if (await db.select({ id: exchangeAccounts.id }).from(exchangeAccounts).where(and(eq(exchangeAccounts.userId, userId), eq(exchangeAccounts.name, patch.name), ne(exchangeAccounts.id, accountId))).get()) throw nameConflict();
    set.name = patch.name;
  }
  if (patch.status !== undefined) set.status = patch.status;
  if (patch.credentials) {
    const sealed = await sealCredentials(env, accountId, patch.credentials);
    Object.assign(set, { credentialsEnc: sealed.value, credentialsKeyId: sealed.keyId, credentialVersion: row.credentialVersion + 1, validatedVersion: null, validatedAt: null });
  }
  try {
    await db.update(exchangeAccounts).set(set).where(eq(exchangeAccounts.id, accountId)).run();
  } catch (e) {
    if (isUniqueViolation(e)) throw nameConflict();
    throw e;
  }
  if (patch.credentials) await clearAccountCredentialsCache(env, row);
  if (patch.credentials || patch.status !== undefined || patch.name !== undefined) await env.ACCOUNT.getByName(accountId).refreshScheduling();
  logger.info("account.updated", { accountId, accountName: set.name ?? row.name, fields: Object.keys(patch), credentialVersion: set.credentialVersion ?? row.credentialVersion });
  return accountView((await findAccount(db, userId, accountId))!, await activeAccountIdOf(env, userId));
}

export async function deleteAccount(env: Env, userId: string, accountId: string, logger: Logger): Promise<void> {
  const db = getDb(env);
  const row = await getAccount(env, userId, accountId);
  // Stop everything first: a deleted account must not keep trading.
  await env.ACCOUNT.getByName(accountId).forget();
  await env.CREDENTIAL_CACHE.delete(`cred-valid:${accountId}:${row.credentialVersion}`);
  await db.delete(exchangeAccounts).where(eq(exchangeAccounts.id, accountId)).run();
  const active = await activeAccountIdOf(env, userId);
  if (active === accountId) {
    const next = await db.select({ id: exchangeAccounts.id }).from(exchangeAccounts).where(eq(exchangeAccounts.userId, userId)).orderBy(asc(exchangeAccounts.createdAt)).get();
    await db.update(users).set({ activeAccountId: next?.id ?? null, updatedAt: Date.now() }).where(eq(users.id, userId)).run();
    if (next) await env.ACCOUNT.getByName(next.id).refreshScheduling();
  }
  logger.info("account.deleted", { accountId, accountName: row.name });
}

/**
 * Switches the active account and moves the schedules with it
 * (updateAutomationScheduleForAccountChange): the old account's DO stops unless the user's
 * scope is "all", the new one starts. Each DO decides from D1 whether it should run.
 */
export async function activateAccount(env: Env, userId: string, accountId: string, logger: Logger) {
  const db = getDb(env);
  const row = await getAccount(env, userId, accountId);
  const previous = await activeAccountIdOf(env, userId);
  await db.update(users).set({ activeAccountId: accountId, updatedAt: Date.now() }).where(eq(users.id, userId)).run();
  await updateAutomationScheduleForAccountChange(env, previous, accountId);
  logger.info("account.activated", { accountId, accountName: row.name, previousAccountId: previous });
  return accountView(row, accountId);
}

export async function updateAutomationScheduleForAccountChange(env: Env, previous: string | null, next: string | null): Promise<void> {
  for (const id of new Set([previous, next])) if (id) await env.ACCOUNT.getByName(id).refreshScheduling();
}

/** Every account of a user re-reads whether it should run (scope or start/stop changed). */
export async function refreshUserAccounts(env: Env, userId: string): Promise<void> {
  const rows = await getDb(env).select({ id: exchangeAccounts.id }).from(exchangeAccounts).where(eq(exchangeAccounts.userId, userId)).all();
  for (const r of rows) await env.ACCOUNT.getByName(r.id).refreshScheduling();
}
