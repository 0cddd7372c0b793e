/**
 * Client-side rate limiting for LN Markets calls: a token bucket the account DO owns and
 * passes to its REST client, so an automation storm queues locally instead of earning 429s
 * (and, if persistent, an IP ban). LN Markets allows about 5 requests/s authenticated and
 * 1/s public (lnmarkets-v3.md).
 */
import { LNM_AUTHENTICATED_RATE, TokenBucket } from "../domain/token-bucket.js";

export { LNM_AUTHENTICATED_RATE, LNM_PUBLIC_RATE, TokenBucket } from "../domain/token-bucket.js";

/** What the REST client awaits before every attempt. */
export interface RateLimiter {
  /** Resolves when the call may go; rejects with the signal's reason if aborted first. */
  acquire(signal?: AbortSignal): Promise<void>;
}

export interface TokenBucketLimiterOptions {
  /** The bucket (pure, serialisable: the DO may persist `bucket.toJSON()`). */
  bucket?: TokenBucket;
  now?: () => number;
}

/**
 * Async adapter around the domain {@link TokenBucket}. Waiters are served in FIFO order so no
 * caller starves; no timer runs while the bucket is idle, so it never keeps a DO awake.
 */
export class TokenBucketLimiter implements RateLimiter {
  readonly bucket: TokenBucket;
  readonly #now: () => number;
  // Chain of waiters: each acquire() waits for the previous one, which keeps FIFO order.
  #tail: Promise<void> = Promise.resolve();

  constructor(opts: TokenBucketLimiterOptions = {}) {
    this.bucket = opts.bucket ?? new TokenBucket(LNM_AUTHENTICATED_RATE);
    this.#now = opts.now ?? Date.now;
  }

  /** Waits for a token (FIFO), honouring `signal`. */
  acquire(signal?: AbortSignal): Promise<void> {
    const turn = this.#tail.then(() => this.#waitForToken(signal));
    // A rejected waiter must not block the ones behind it.
    this.#tail = turn.catch(() => undefined);
    return turn;
  }

  async #waitForToken(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const r = this.bucket.take(this.#now());
      if (r.ok) return;
      await sleep(r.waitMs, signal);
    }
  }
}

/**
 * setTimeout as a promise that rejects with the signal's reason when aborted.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
