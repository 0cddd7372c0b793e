/**
 * The Account Credentials Service: decrypts an account's LN Markets keys (re-encrypting with
 * the current key on read), validates them live against the exchange with a 5-minute KV
 * cache keyed by credential version, and keeps hit/miss/expiry counters.
 * Function names follow the original service.
 */
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Db } from "../db/client";
import { incrementCounters, readCounters } from "../db/counters";
import { exchangeAccounts, users } from "../db/schema";
import { loadKeyRing, open, seal } from "../lib/credentials-crypto";
import type { Logger } from "../lib/logger";
import { registerSecret } from "../lib/logger";
import { isLnMarketsError } from "../lnmarkets/errors";
import { LnMarketsRestClient, type LnMarketsCredentials } from "../lnmarkets/rest-client";
import { resolveEndpoints } from "../lnmarkets/transport";

export const CREDENTIAL_VALIDATION_TTL_SECONDS = 300;
const COUNTER_PREFIX = "cred_cache.";

/** What a trader submits. Plausible lengths: LN Markets keys are ~44 chars of base64. */
export const CredentialsInput = z.strictObject({
  key: z.string().trim().min(8, "key looks too short").max(256),
  secret: z.string().trim().min(8, "secret looks too short").max(256),
  passphrase: z.string().trim().min(1, "passphrase is required").max(256),
});
export type CredentialsInput = z.infer<typeof CredentialsInput>;

export type AccountRow = typeof exchangeAccounts.$inferSelect;

export const validationCacheKey = (accountId: string, version: number) => `cred-valid:${accountId}:${version}`;

export async function sealCredentials(env: Env, accountId: string, creds: LnMarketsCredentials) {
  return seal(loadKeyRing(env.CREDENTIALS_KEYS), accountId, JSON.stringify({ key: creds.key, secret: creds.secret, passphrase: creds.passphrase }));
}

/**
 * Opens credentials sealed for `accountId` (a copy of the row's ciphertext the account's
 * Durable Object keeps, durable-objects/account/keys.ts). Null when they were sealed under a
 * key that is no longer current: the caller reads the row instead, which re-seals it.
 */
export async function openSealedCredentials(env: Env, accountId: string, sealed: string): Promise<LnMarketsCredentials | null> {
  const { plaintext, stale } = await open(loadKeyRing(env.CREDENTIALS_KEYS), accountId, sealed);
  if (stale) return null;
  const creds = CredentialsInput.parse(JSON.parse(plaintext));
  registerSecret(creds.secret);
  registerSecret(creds.passphrase);
  return creds;
}

/** Decrypts an account row's credentials; rotates the ciphertext to the current key if stale. */
export async function decryptAccountCredentials(env: Env, row: AccountRow, db: Db = getDb(env)): Promise<LnMarketsCredentials> {
  const ring = loadKeyRing(env.CREDENTIALS_KEYS);
  const { plaintext, stale } = await open(ring, row.id, row.credentialsEnc);
  const creds = CredentialsInput.parse(JSON.parse(plaintext));
  registerSecret(creds.secret);
  registerSecret(creds.passphrase);
  if (stale) {
    const sealed = await seal(ring, row.id, plaintext);
    await db.update(exchangeAccounts).set({ credentialsEnc: sealed.value, credentialsKeyId: sealed.keyId })
      .where(and(eq(exchangeAccounts.id, row.id), eq(exchangeAccounts.credentialsEnc, row.credentialsEnc))).run();
  }
  return creds;
}

export async function findAccount(db: Db, userId: string, accountId: string): Promise<AccountRow | undefined> {
  return db.select().from(exchangeAccounts).where(and(eq(exchangeAccounts.id, accountId), eq(exchangeAccounts.userId, userId))).get();
}

/** An account's credentials, for its owner only (undefined when not found or not theirs). */
export async function getAccountCredentials(env: Env, userId: string, accountId: string) {
  const db = getDb(env);
  const row = await findAccount(db, userId, accountId);
  return row ? { account: row, credentials: await decryptAccountCredentials(env, row, db) } : undefined;
}

/** The user's active account and its credentials (undefined when the user has none). */
export async function getActiveAccountCredentials(env: Env, userId: string) {
  const db = getDb(env);
  const user = await db.select({ active: users.activeAccountId }).from(users).where(eq(users.id, userId)).get();
  return user?.active ? getAccountCredentials(env, userId, user.active) : undefined;
}

export const ValidationResult = z.object({
  valid: z.boolean(),
  reason: z.string().optional(),
  /** True when the exchange could not be reached: try again, nothing was cached. */
  retryable: z.boolean().optional(),
  cached: z.boolean(),
  checkedAt: z.number(),
  credentialVersion: z.number(),
});
export type ValidationResult = z.infer<typeof ValidationResult>;

const CachedValidation = z.object({ valid: z.boolean(), reason: z.string().optional(), checkedAt: z.number() });

/**
 * Validates an account's credentials: structure (zod, on decrypt), account status, then a
 * live `GET /v3/account`. The answer is cached in KV for 5 minutes under
 * `cred-valid:{accountId}:{version}`; a version bump makes the old entry unreachable.
 */
export async function validateCredentials(env: Env, row: AccountRow, logger: Logger, opts: { force?: boolean } = {}): Promise<ValidationResult> {
  const db = getDb(env);
  const key = validationCacheKey(row.id, row.credentialVersion);
  const log = logger.child({ accountId: row.id, accountName: row.name });
  if (!opts.force) {
    const hit = CachedValidation.safeParse(await env.CREDENTIAL_CACHE.get(key, "json"));
    if (hit.success) {
      await incrementCounters(db, { [`${COUNTER_PREFIX}validation.hit`]: 1 });
      return { ...hit.data, cached: true, credentialVersion: row.credentialVersion };
    }
    // A miss for a version we validated before, longer ago than the TTL, is an expiry.
    const expired = row.validatedVersion === row.credentialVersion && row.validatedAt != null;
    await incrementCounters(db, { [`${COUNTER_PREFIX}validation.${expired ? "expiry" : "miss"}`]: 1 });
  }
  const checkedAt = Date.now();
  let result: { valid: boolean; reason?: string; retryable?: boolean };
  if (row.status !== "active") {
    result = { valid: false, reason: "account is disabled" };
  } else {
    try {
      const credentials = await decryptAccountCredentials(env, row, db);
      const client = new LnMarketsRestClient({ endpoints: resolveEndpoints(env, row.network), credentials, timeoutMs: 10_000 });
      await client.account();
      result = { valid: true };
    } catch (e) {
      if (isLnMarketsError(e) && e.kind === "temporary") {
        result = { valid: false, reason: `exchange unavailable: ${e.message}`, retryable: true };
      } else if (isLnMarketsError(e)) {
        result = { valid: false, reason: e.message };
      } else {
        log.error("credentials.validate_error", { error: e });
        result = { valid: false, reason: "credentials could not be read", retryable: false };
      }
    }
  }
  if (!result.retryable) {
    await env.CREDENTIAL_CACHE.put(key, JSON.stringify({ valid: result.valid, reason: result.reason, checkedAt }), { expirationTtl: CREDENTIAL_VALIDATION_TTL_SECONDS });
    await db.update(exchangeAccounts).set({ validatedVersion: row.credentialVersion, validatedAt: checkedAt }).where(eq(exchangeAccounts.id, row.id)).run();
  }
  log.info("credentials.validated", { valid: result.valid, reason: result.reason, credentialVersion: row.credentialVersion });
  return { ...result, cached: false, checkedAt, credentialVersion: row.credentialVersion };
}

/** Forgets an account's cached validation and its DO's decrypted keys. */
export async function clearAccountCredentialsCache(env: Env, row: AccountRow): Promise<void> {
  await env.CREDENTIAL_CACHE.delete(validationCacheKey(row.id, row.credentialVersion));
  await env.ACCOUNT.getByName(row.id).clearCredentialsCache();
  await incrementCounters(getDb(env), { [`${COUNTER_PREFIX}validation.cleared`]: 1 });
}

/** The same for every account of a user; returns how many accounts were cleared. */
export async function clearUserCredentialsCache(env: Env, userId: string): Promise<number> {
  const rows = await getDb(env).select().from(exchangeAccounts).where(eq(exchangeAccounts.userId, userId)).all();
  for (const row of rows) await clearAccountCredentialsCache(env, row);
  return rows.length;
}

/** Hit/miss/expiry counters of the validation cache (KV) and the DOs' decrypted-key caches. */
export async function getCacheStats(env: Env) {
  const c = await readCounters(getDb(env), COUNTER_PREFIX);
  const block = (p: string) => {
    const hits = c[`${p}.hit`] ?? 0;
    const misses = c[`${p}.miss`] ?? 0;
    const expiries = c[`${p}.expiry`] ?? 0;
    const total = hits + misses + expiries;
    // decrypted.sealed: keys opened from the account object's saved ciphertext (no D1 read).
    return { hits, misses, expiries, cleared: c[`${p}.cleared`] ?? 0, ...(p === "decrypted" ? { sealed: c[`${p}.sealed`] ?? 0 } : {}), hitRate: total ? hits / total : null };
  };
  return { validation: { ...block("validation"), ttlSeconds: CREDENTIAL_VALIDATION_TTL_SECONDS }, decrypted: { ...block("decrypted"), ttlSeconds: 600 } };
}

export const DECRYPTED_COUNTER = (what: "hit" | "miss" | "expiry" | "sealed" | "cleared") => `${COUNTER_PREFIX}decrypted.${what}`;
