/**
 * The account DO's counters flushed to D1 `counters` at its heartbeat: decrypted-key cache
 * hits, misses and expiries, and the exchange schema drifts this isolate saw (src/lnmarkets/
 * drift.ts; shown in /metrics as `lnma_schema_drift_total`).
 */
import { DECRYPTED_COUNTER } from "../../src/accounts/credentials";
import { getDb } from "../../src/db/client";
import { incrementCounters } from "../../src/db/counters";
import { restoreDriftCounters, takeDriftCounters } from "../../src/lnmarkets/drift";

export interface CredentialCounters {
  hit: number;
  miss: number;
  expiry: number;
  /** Opened from the object's saved ciphertext (no D1 read): a cold object, a memory expiry. */
  sealed: number;
}

/**
 * Writes the counters when there is something worth a D1 write: a miss, an expiry or a drift
 * at once, hits alone every `hitsEveryMs`. Returns whether it wrote (the caller resets its
 * credential counters then). Drifts not written are kept for the next beat.
 */
export async function flushAccountCounters(env: Env, c: CredentialCounters, now: number, lastAt: number, hitsEveryMs: number): Promise<boolean> {
  const drift = takeDriftCounters();
  if (!(c.miss || c.expiry || c.sealed || Object.keys(drift).length || (c.hit && now - lastAt >= hitsEveryMs))) return false;
  try {
    await incrementCounters(getDb(env), { [DECRYPTED_COUNTER("hit")]: c.hit, [DECRYPTED_COUNTER("miss")]: c.miss, [DECRYPTED_COUNTER("expiry")]: c.expiry, [DECRYPTED_COUNTER("sealed")]: c.sealed, ...drift });
  } catch (e) {
    restoreDriftCounters(drift);
    throw e;
  }
  return true;
}
