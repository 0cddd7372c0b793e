/**
 * The account's LN Markets keys as the DO uses them: decrypted and cached in memory for 10
 * minutes per credential version, the REST client built on them, and whether they work.
 *
 * A cold object does not read D1 for its keys before its first order (issue 20): it keeps a
 * copy of the row's ciphertext (never the keys in the clear) in its SQLite, per credential
 * version, and opens that. A new version (the trader rotated the keys), a ciphertext sealed
 * under a retired key or one that does not open sends it back to the row.
 *
 * Keys are validated live (through the 5-minute KV cache of src/accounts/credentials.ts)
 * before the first run after they change, and any 401/403 the exchange answers marks them
 * rejected: the account's automations and monitor pause, its owner gets a critical alert,
 * and status shows why, until new keys validate.
 */
import { eq } from "drizzle-orm";
import { z } from "zod";
import { decryptAccountCredentials, openSealedCredentials, validateCredentials } from "../../src/accounts/credentials";
import { getDb } from "../../src/db/client";
import { exchangeAccounts } from "../../src/db/schema";
import type { Logger } from "../../src/lib/logger";
import { REST_RETRY_BACKOFF } from "../../src/domain/backoff";
import type { CallInfo, ReadRetryPolicy } from "../../src/lnmarkets/rest-http";
import { LnMarketsRestClient, type LnMarketsCredentials } from "../../src/lnmarkets/rest-client";
import type { TokenBucketLimiter } from "../../src/lnmarkets/rate-limiter";
import { resolveEndpoints } from "../../src/lnmarkets/transport";
import type { AccountContext } from "./context";
import type { AccountStore } from "./storage";

const CREDENTIALS_TTL_MS = 10 * 60_000;
/** Meta key of the saved ciphertext: { version, enc } as the row's credential_version and credentials_enc. */
const SEALED_META = "sealedKeys";
const Sealed = z.object({ version: z.number(), enc: z.string() });
/** An exchange that could not be reached to validate new keys is asked again after this. */
export const KEYS_RECHECK_MS = 30_000;
/**
 * The account's reads (positions, ticker, balance) retry a 5xx, network error or 429 up to
 * three times inside the call, 100 ms to 2 s apart with jitter: a run is not lost to one
 * failed read while the exchange is flaky (the soak in bench/soak.mjs, 40 % of answers 503,
 * lost liquidation alerts without it). Writes are never retried by the client.
 */
export const ACCOUNT_READ_RETRY: ReadRetryPolicy = { retries: 3, backoff: { ...REST_RETRY_BACKOFF, maxMs: 2_000 } };

export const KeyState = z.object({
  /** valid: validated for `version`; rejected: the exchange refused them (401/403, or validation); unavailable: could not ask. */
  state: z.enum(["valid", "rejected", "unavailable"]),
  version: z.number(),
  reason: z.string().optional(),
  at: z.number(),
});
export type KeyState = z.infer<typeof KeyState>;

export const isAuthFailure = (code: string | undefined) => code === "unauthorized" || code === "forbidden";

export class Keys {
  private creds: { value: LnMarketsCredentials; version: number; at: number } | null = null;
  private rest: { client: LnMarketsRestClient; version: number } | null = null;

  constructor(
    private readonly env: Env,
    private readonly store: AccountStore,
    private readonly limiter: TokenBucketLimiter,
    private readonly hooks: { count: (what: "hit" | "miss" | "expiry" | "sealed") => void; onCall: (info: CallInfo) => void },
  ) {}

  /** What is known of the keys (any version); null before the first validation. */
  state(): KeyState | null {
    const raw = this.store.getMeta("keys");
    const parsed = raw ? KeyState.safeParse(JSON.parse(raw)) : null;
    return parsed?.success ? parsed.data : null;
  }

  setState(s: KeyState): void {
    this.store.setMeta("keys", JSON.stringify(s));
  }

  /** The keys of this version were validated and not refused since. */
  usable(ctx: AccountContext): boolean {
    const s = this.state();
    return s?.version === ctx.credentialVersion && s.state === "valid";
  }

  /** The keys of this version were refused by the exchange: nothing runs on them. */
  rejected(ctx: AccountContext): boolean {
    const s = this.state();
    return s?.version === ctx.credentialVersion && s.state === "rejected";
  }

  /** Whether the keys of this version still need a live validation before anything runs on them. */
  needsCheck(ctx: AccountContext, now: number): boolean {
    const s = this.state();
    if (!s || s.version !== ctx.credentialVersion) return true;
    return s.state === "unavailable" && now - s.at >= KEYS_RECHECK_MS;
  }

  /** Validates the keys of `ctx` live (KV-cached 5 min). Returns the new state. */
  async validate(ctx: AccountContext, logger: Logger): Promise<KeyState> {
    const row = await getDb(this.env).select().from(exchangeAccounts).where(eq(exchangeAccounts.id, ctx.accountId)).get();
    if (!row) throw new Error("account not found");
    const r = await validateCredentials(this.env, row, logger);
    const s: KeyState = { state: r.valid ? "valid" : r.retryable ? "unavailable" : "rejected", version: row.credentialVersion, at: Date.now(), ...(r.reason ? { reason: r.reason } : {}) };
    this.setState(s);
    return s;
  }

  /** Decrypted keys cached in memory for 10 minutes, per credential version. */
  async credentials(ctx: AccountContext): Promise<LnMarketsCredentials> {
    const now = Date.now();
    if (this.creds && this.creds.version === ctx.credentialVersion && now - this.creds.at < CREDENTIALS_TTL_MS) {
      this.hooks.count("hit");
      return this.creds.value;
    }
    const saved = this.sealed();
    if (saved?.version === ctx.credentialVersion) {
      const value = await openSealedCredentials(this.env, ctx.accountId, saved.enc).catch(() => null);
      if (value) {
        this.hooks.count("sealed");
        this.creds = { value, version: saved.version, at: now };
        return value;
      }
    }
    this.hooks.count(this.creds ? "expiry" : "miss");
    const row = await getDb(this.env).select().from(exchangeAccounts).where(eq(exchangeAccounts.id, ctx.accountId)).get();
    if (!row) throw new Error("account not found");
    this.creds = { value: await decryptAccountCredentials(this.env, row), version: row.credentialVersion, at: now };
    // Saved as read: if it was sealed under a retired key, decrypting re-sealed the row and the
    // next cold wake reads it again (the copy does not open as current) and saves the new one.
    this.store.setMeta(SEALED_META, JSON.stringify({ version: row.credentialVersion, enc: row.credentialsEnc }));
    return this.creds.value;
  }

  /** The saved copy of the row's ciphertext, if any. */
  private sealed(): { version: number; enc: string } | null {
    const raw = this.store.getMeta(SEALED_META);
    const parsed = raw ? Sealed.safeParse(JSON.parse(raw)) : null;
    return parsed?.success ? parsed.data : null;
  }

  async client(ctx: AccountContext): Promise<LnMarketsRestClient> {
    const creds = await this.credentials(ctx);
    if (this.rest?.version !== ctx.credentialVersion) {
      this.rest = {
        version: ctx.credentialVersion,
        client: new LnMarketsRestClient({
          endpoints: resolveEndpoints(this.env, ctx.network), credentials: creds, rateLimiter: this.limiter, rateLimitRetry: { maxWaitMs: 2_000 }, readRetry: ACCOUNT_READ_RETRY,
          onCall: (info) => this.hooks.onCall(info),
        }),
      };
    }
    return this.rest.client;
  }

  /** Drops the decrypted keys, the client built on them and the saved ciphertext: the next use reads the row. */
  clear(): void {
    this.creds = null;
    this.rest = null;
    this.store.deleteMeta(SEALED_META);
  }
}
