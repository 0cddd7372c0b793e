/**
 * Exponential backoff with jitter, after "Exponential Backoff And Jitter" (AWS Architecture
 * Blog, Marc Brooker, 2015). Jitter spreads reconnects of many sockets and retries of many
 * messages so they do not hit LN Markets in lockstep (which earns 429s and IP bans).
 * Randomness is passed in (a function returning [0, 1)) so callers and tests control it.
 */

/** Returns a uniform number in [0, 1): Math.random in production, a seeded RNG in tests. */
export type Random = () => number;

export interface BackoffPolicy {
  /** Delay of the first retry before jitter, ms. */
  readonly baseMs: number;
  /** Lower bound of any delay, ms (full jitter may otherwise return 0). */
  readonly minMs: number;
  /** Upper bound of any delay, ms. */
  readonly maxMs: number;
  /** Growth per attempt (2 = doubling). */
  readonly factor: number;
}

/** Stream v1 reconnects: 1 s to 30 s (lnmarkets-v3.md). */
export const STREAM_RECONNECT_BACKOFF: BackoffPolicy = { baseMs: 1_000, minMs: 1_000, maxMs: 30_000, factor: 2 };

/** Temporary REST failures inside a run (network, timeout, 429, 5xx). */
export const REST_RETRY_BACKOFF: BackoffPolicy = { baseMs: 250, minMs: 100, maxMs: 10_000, factor: 2 };

/** Cloudflare Queues refuse delaySeconds above 12 hours. */
export const MAX_QUEUE_DELAY_SECONDS = 43_200;

function checkPolicy(p: BackoffPolicy): void {
  if (!(p.baseMs > 0 && p.minMs >= 0 && p.maxMs >= p.minMs && p.factor >= 1)) {
    throw new RangeError("invalid backoff policy");
  }
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/**
 * Deterministic exponential delay: base * factor^attempt, clamped to [minMs, maxMs].
 * `attempt` counts retries already made: 0 for the first retry.
 */
export function exponentialDelay(attempt: number, policy: BackoffPolicy): number {
  checkPolicy(policy);
  const n = Math.max(0, Math.floor(attempt));
  // factor^n overflows to Infinity for large n, which the clamp turns into maxMs.
  return clamp(policy.baseMs * policy.factor ** n, policy.minMs, policy.maxMs);
}

/**
 * Full jitter: uniform in [minMs, exponentialDelay(attempt)]. Best at spreading a herd of
 * clients that failed together (e.g. every socket dropped by the same exchange restart).
 */
export function fullJitterDelay(attempt: number, policy: BackoffPolicy, random: Random): number {
  const cap = exponentialDelay(attempt, policy);
  return Math.round(policy.minMs + (cap - policy.minMs) * random());
}

/**
 * Decorrelated jitter: uniform in [baseMs, previousMs * 3], clamped to [minMs, maxMs]. Needs
 * only the previous delay as state (pass 0 or undefined the first time), so the DO can persist
 * it as a number.
 */
export function decorrelatedJitterDelay(
  previousMs: number | undefined,
  policy: BackoffPolicy,
  random: Random,
): number {
  checkPolicy(policy);
  const prev = Math.max(policy.baseMs, previousMs ?? 0);
  const upper = Math.max(policy.baseMs, prev * 3);
  return Math.round(clamp(policy.baseMs + (upper - policy.baseMs) * random(), policy.minMs, policy.maxMs));
}

/**
 * Delay for a Cloudflare Queues `retry({delaySeconds})`: baseSeconds * 2^(attempts - 1), where
 * `attempts` is `message.attempts` (1 on the first delivery). With the default base of 2 this
 * is the familiar `2 ** attempts` (2, 4, 8, ...). Whole seconds, capped at 12 h.
 */
export function queueRetryDelaySeconds(
  attempts: number,
  baseSeconds = 2,
  maxSeconds = MAX_QUEUE_DELAY_SECONDS,
): number {
  const n = Math.max(1, Math.floor(attempts));
  return Math.min(maxSeconds, MAX_QUEUE_DELAY_SECONDS, Math.ceil(baseSeconds * 2 ** (n - 1)));
}

/** A stateful reconnect helper around {@link fullJitterDelay}; `reset()` after a success. */
export interface Backoff {
  next(): number;
  reset(): void;
  readonly attempt: number;
}

/** Create a {@link Backoff} that counts attempts itself. */
export function createBackoff(policy: BackoffPolicy, random: Random): Backoff {
  checkPolicy(policy);
  let attempt = 0;
  return {
    next() {
      const d = fullJitterDelay(attempt, policy, random);
      attempt += 1;
      return d;
    },
    reset() {
      attempt = 0;
    },
    get attempt() {
      return attempt;
    },
  };
}
