/**
 * Token bucket that keeps one account's REST calls under LN Markets' rate limit (about
 * 5 requests/s authenticated, lnmarkets-v3.md). Time is passed in; the state is plain JSON
 * so the AccountDO can persist it across eviction.
 */
import { z } from "zod";

export const TokenBucketState = z.object({
  tokens: z.number().nonnegative(),
  /** Time of the last refill (ms); null for a bucket never used (full). */
  updatedAt: z.number().nullable(),
});
export type TokenBucketState = z.infer<typeof TokenBucketState>;

export interface TokenBucketOptions {
  /** Largest burst. */
  readonly capacity: number;
  /** Sustained rate, tokens per second. */
  readonly refillPerSecond: number;
}

/**
 * LN Markets authenticated REST: 5 req/s. The burst stays at the rate so a full bucket never
 * lets more than 5 calls land within any one second.
 */
export const LNM_AUTHENTICATED_RATE: TokenBucketOptions = { capacity: 5, refillPerSecond: 5 };
/** LN Markets public REST: 1 req/s. */
export const LNM_PUBLIC_RATE: TokenBucketOptions = { capacity: 1, refillPerSecond: 1 };

export type TakeResult = { ok: true } | { ok: false; waitMs: number };

/** A token bucket; `take(now)` spends tokens or says how long to wait for them. */
export class TokenBucket {
  private s: TokenBucketState;

  constructor(
    readonly options: TokenBucketOptions = LNM_AUTHENTICATED_RATE,
    state: TokenBucketState = { tokens: options.capacity, updatedAt: null },
  ) {
    if (!(options.capacity > 0 && options.refillPerSecond > 0)) {
      throw new RangeError("capacity and refillPerSecond must be positive");
    }
    this.s = { tokens: Math.min(state.tokens, options.capacity), updatedAt: state.updatedAt };
  }

  /** Restore from persisted JSON; anything malformed yields a full bucket. */
  static fromJSON(json: unknown, options: TokenBucketOptions = LNM_AUTHENTICATED_RATE): TokenBucket {
    const parsed = TokenBucketState.safeParse(json);
    return new TokenBucket(options, parsed.success ? parsed.data : undefined);
  }

  /** The state to persist; a reservation's debt (see `reserve`) is not kept. */
  toJSON(): TokenBucketState {
    return { ...this.s, tokens: Math.max(0, this.s.tokens) };
  }

  /** Tokens available at `now` (fractional). */
  available(now: number): number {
    this.refill(now);
    return this.s.tokens;
  }

  /**
   * Take `cost` tokens at `now`. On refusal nothing is spent and `waitMs` is the time until
   * enough tokens exist (assuming no one else takes them first).
   * @throws RangeError when cost exceeds the capacity (it could never succeed).
   */
  take(now: number, cost = 1): TakeResult {
    if (!(cost > 0 && cost <= this.options.capacity)) throw new RangeError("cost must be in (0, capacity]");
    this.refill(now);
    // Float dust (4.999999 tokens after refills) must not cost a whole extra wait.
    if (this.s.tokens + 1e-9 >= cost) {
      this.s = { ...this.s, tokens: Math.max(0, this.s.tokens - cost) };
      return { ok: true };
    }
    const missing = cost - this.s.tokens;
    return { ok: false, waitMs: Math.max(1, Math.ceil((missing / this.options.refillPerSecond) * 1000)) };
  }

  /**
   * Reserve `cost` tokens at `now` for a caller willing to wait up to `maxWaitMs`: granted with
   * the wait before its call (0 when tokens are there), or refused with the wait it would
   * need. Granted reservations queue behind one another (the bucket goes into debt), so callers
   * that reserve together are paced at the sustained rate instead of all waking for the same
   * next token. In memory only: `toJSON` drops the debt.
   */
  reserve(now: number, maxWaitMs: number, cost = 1): { ok: boolean; waitMs: number } {
    const taken = this.take(now, cost);
    if (taken.ok) return { ok: true, waitMs: 0 };
    if (taken.waitMs > maxWaitMs) return { ok: false, waitMs: taken.waitMs };
    this.s = { ...this.s, tokens: this.s.tokens - cost };
    return { ok: true, waitMs: taken.waitMs };
  }

  private refill(now: number): void {
    const last = this.s.updatedAt;
    // A clock that steps backwards (another isolate, NTP) earns nothing rather than negative.
    const elapsed = last === null ? 0 : Math.max(0, now - last);
    const tokens = Math.min(this.options.capacity, this.s.tokens + (elapsed / 1000) * this.options.refillPerSecond);
    this.s = { tokens, updatedAt: last === null ? now : Math.max(last, now) };
  }
}
