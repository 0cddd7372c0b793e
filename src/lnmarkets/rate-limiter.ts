/**
 * Client-side rate limiting for LN Markets calls: a token bucket the account DO owns and
 * passes to its REST client, so an automation storm queues locally instead of earning 429s
 * (and, if persistent, an IP ban). LN Markets allows about 5 requests/s authenticated and
 * 1/s public (lnmarkets-v3.md).
 */

/** What the REST client awaits before every attempt. */
export interface RateLimiter {
  /** Resolves when the call may go; rejects with the signal's reason if aborted first. */
  acquire(signal?: AbortSignal): Promise<void>;
}

export interface TokenBucketOptions {
  /** Burst size. Default 5. */
  capacity?: number;
  /** Sustained rate. Default 5 per second. */
  refillPerSecond?: number;
  now?: () => number;
}

/** Authenticated REST budget of LN Markets. */
export const LNM_AUTHENTICATED_RATE = { capacity: 5, refillPerSecond: 5 } as const;

/**
 * An async token bucket. Waiters are served in FIFO order so no caller starves; the refill is
 * computed from elapsed time, so no timer runs while the bucket is idle (a DO can hibernate).
 */
export class TokenBucketLimiter implements RateLimiter {
  readonly capacity: number;
  readonly refillPerSecond: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;
  // Chain of waiters: each acquire() waits for the previous one, which keeps FIFO order.
  #tail: Promise<void> = Promise.resolve();

  constructor(opts: TokenBucketOptions = {}) {
    this.capacity = opts.capacity ?? LNM_AUTHENTICATED_RATE.capacity;
    this.refillPerSecond = opts.refillPerSecond ?? LNM_AUTHENTICATED_RATE.refillPerSecond;
    if (!(this.capacity >= 1 && this.refillPerSecond > 0)) throw new RangeError("invalid token bucket");
    this.#now = opts.now ?? Date.now;
    this.#tokens = this.capacity;
    this.#last = this.#now();
  }

  /** Tokens available now (fractional). */
  get available(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Takes a token without waiting; false when none is available. */
  tryTake(): boolean {
    this.#refill();
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return true;
    }
    return false;
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
      if (this.tryTake()) return;
      const waitMs = Math.ceil(((1 - this.#tokens) / this.refillPerSecond) * 1000);
      await sleep(Math.max(1, waitMs), signal);
    }
  }

  #refill(): void {
    const now = this.#now();
    const elapsed = Math.max(0, now - this.#last) / 1000;
    this.#last = now;
    this.#tokens = Math.min(this.capacity, this.#tokens + elapsed * this.refillPerSecond);
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
