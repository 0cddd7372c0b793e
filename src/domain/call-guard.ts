/**
 * A circuit breaker and a token bucket around one outside provider (LNbits, a notification
 * channel), built from the same pieces as the exchange executor's (circuit-breaker.ts,
 * token-bucket.ts). Before a call, `admit`: refused while the breaker is open (the provider is
 * failing: let it recover) or the bucket is empty (do not hammer it); after the call, `record`
 * its outcome. Only temporary failures (timeouts, network, 5xx, 429) count against the
 * provider. Pure: time is passed in.
 */
import { CircuitBreaker, DEFAULT_BREAKER_OPTIONS, type CircuitBreakerOptions } from "./circuit-breaker";
import { TokenBucket, type TokenBucketOptions } from "./token-bucket";

/** `waitMs` (only with `admit`'s `maxWaitMs`): how long the caller waits for its turn before calling. */
export type Admission = { ok: true; waitMs?: number } | { ok: false; reason: "breaker_open" | "rate_limited"; retryAfterMs: number };

export interface CallGuardOptions {
  readonly rate: TokenBucketOptions;
  readonly breaker?: CircuitBreakerOptions;
}

/** LNbits: a handful of calls per second is far more than payments need. */
export const LNBITS_GUARD: CallGuardOptions = { rate: { capacity: 10, refillPerSecond: 5 } };
/**
 * Per isolate: Telegram and email per provider (Telegram allows about 30 messages a second per
 * bot), webhooks per target URL (each is its own receiver: one user's failing or slow webhook
 * must not pause anyone else's). src/notify/deliver.ts keys them.
 */
export const NOTIFY_GUARDS: Readonly<Record<"webhook" | "telegram" | "email", CallGuardOptions>> = {
  webhook: { rate: { capacity: 50, refillPerSecond: 25 } },
  telegram: { rate: { capacity: 30, refillPerSecond: 25 } },
  email: { rate: { capacity: 20, refillPerSecond: 10 } },
};

export class CallGuard {
  readonly breaker: CircuitBreaker;
  readonly bucket: TokenBucket;

  constructor(readonly options: CallGuardOptions) {
    this.breaker = new CircuitBreaker(options.breaker ?? DEFAULT_BREAKER_OPTIONS);
    this.bucket = new TokenBucket(options.rate);
  }

  /**
   * Whether a call may go out at `now` (takes a token and, half-open, the breaker's probe).
   * With `maxWaitMs`, a caller that can wait is paced instead of refused: it gets a turn
   * `waitMs` ahead (TokenBucket.reserve) and is refused only when its turn is further away.
   */
  admit(now: number, maxWaitMs = 0): Admission {
    const open = this.breaker.stateAt(now) === "open";
    if (open) {
      const gate = this.breaker.allow(now);
      if (!gate.ok) return { ok: false, reason: "breaker_open", retryAfterMs: gate.retryAfterMs };
    }
    const token = this.bucket.reserve(now, maxWaitMs);
    if (!token.ok) return { ok: false, reason: "rate_limited", retryAfterMs: token.waitMs };
    if (!open) {
      const gate = this.breaker.allow(now);
      if (!gate.ok) return { ok: false, reason: "breaker_open", retryAfterMs: gate.retryAfterMs };
    }
    return token.waitMs > 0 ? { ok: true, waitMs: token.waitMs } : { ok: true };
  }

  /** The outcome of an admitted call: success, a temporary failure, or neither (a 4xx says nothing of the provider's health). */
  record(outcome: "ok" | "temporary_failure" | "other", now: number): void {
    if (outcome === "ok") this.breaker.onSuccess(now);
    else if (outcome === "temporary_failure") this.breaker.onFailure(now);
  }
}
