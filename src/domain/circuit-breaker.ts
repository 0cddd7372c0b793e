/**
 * Circuit breaker for the per-account executor (DESIGN.md "Execution"): opens when failures
 * reach 50 % of the calls in a rolling window (once a minimum number of calls was seen),
 * half-opens after 30 s to let one probe through, closes on its success, re-opens on failure.
 * Time is passed in; the whole state is plain JSON so the AccountDO can persist it and an
 * evicted DO resumes with the breaker as it left it.
 */
import { z } from "zod";

export const BreakerStateName = z.enum(["closed", "open", "half_open"]);
export type BreakerStateName = z.infer<typeof BreakerStateName>;

/** Calls grouped per time bucket: a fixed-size window regardless of call volume. */
export const BreakerBucket = z.object({
  start: z.number(),
  successes: z.number().int().nonnegative(),
  failures: z.number().int().nonnegative(),
});
export type BreakerBucket = z.infer<typeof BreakerBucket>;

export const CircuitBreakerState = z.object({
  state: BreakerStateName,
  buckets: z.array(BreakerBucket),
  /** When it last opened (ms); null while closed. */
  openedAt: z.number().nullable(),
  /** When the half-open probe was let through; null when none is in flight. */
  probeAt: z.number().nullable(),
});
export type CircuitBreakerState = z.infer<typeof CircuitBreakerState>;

export interface CircuitBreakerOptions {
  /** Failure share at or above which the breaker opens. */
  readonly failureRateThreshold: number;
  /** Length of the rolling window, ms. */
  readonly windowMs: number;
  /** Granularity of the window, ms. */
  readonly bucketMs: number;
  /** No decision on fewer calls than this: two failures out of three is noise. */
  readonly minimumCalls: number;
  /** How long it stays open before half-opening, ms. Also the probe's timeout. */
  readonly openMs: number;
}

export const DEFAULT_BREAKER_OPTIONS: CircuitBreakerOptions = {
  failureRateThreshold: 0.5,
  windowMs: 60_000,
  bucketMs: 1_000,
  minimumCalls: 10,
  openMs: 30_000,
};

export type BreakerDecision = { ok: true } | { ok: false; retryAfterMs: number };

/** A fresh, closed breaker state. */
export function initialBreakerState(): CircuitBreakerState {
  return { state: "closed", buckets: [], openedAt: null, probeAt: null };
}

/**
 * Circuit breaker over a {@link CircuitBreakerState}. Usage: `allow(now)` before a call; then
 * `onSuccess(now)` or `onFailure(now)` with the outcome (only temporary failures should count:
 * a 400 is the caller's fault, not the exchange's health).
 */
export class CircuitBreaker {
  private s: CircuitBreakerState;

  constructor(
    readonly options: CircuitBreakerOptions = DEFAULT_BREAKER_OPTIONS,
    state: CircuitBreakerState = initialBreakerState(),
  ) {
    this.s = structuredClone(state);
  }

  /** Restore from persisted JSON; anything malformed yields a closed breaker. */
  static fromJSON(json: unknown, options: CircuitBreakerOptions = DEFAULT_BREAKER_OPTIONS): CircuitBreaker {
    const parsed = CircuitBreakerState.safeParse(json);
    return new CircuitBreaker(options, parsed.success ? parsed.data : initialBreakerState());
  }

  /** Plain JSON state to persist. */
  toJSON(): CircuitBreakerState {
    return structuredClone(this.s);
  }

  /** The state at `now` (an open breaker whose wait elapsed reads as half_open). */
  stateAt(now: number): BreakerStateName {
    if (this.s.state === "open" && this.s.openedAt !== null && now - this.s.openedAt >= this.options.openMs) {
      return "half_open";
    }
    return this.s.state;
  }

  /** Whether a call may go out at `now`; in half-open only one probe at a time. */
  allow(now: number): BreakerDecision {
    const { openMs } = this.options;
    if (this.s.state === "closed") return { ok: true };
    if (this.s.state === "open") {
      const waited = now - (this.s.openedAt ?? now);
      if (waited < openMs) return { ok: false, retryAfterMs: openMs - waited };
      this.s = { ...this.s, state: "half_open", probeAt: null };
    }
    // A probe that never reported (crash, eviction) must not wedge the breaker half-open.
    if (this.s.probeAt !== null && now - this.s.probeAt < openMs) {
      return { ok: false, retryAfterMs: openMs - (now - this.s.probeAt) };
    }
    this.s = { ...this.s, probeAt: now };
    return { ok: true };
  }

  /** Record a successful call. */
  onSuccess(now: number): void {
    if (this.s.state === "half_open") {
      this.s = initialBreakerState();
      return;
    }
    if (this.s.state === "closed") this.count(now, true);
  }

  /** Record a failed call; may open the breaker. */
  onFailure(now: number): void {
    if (this.s.state === "half_open") {
      this.open(now);
      return;
    }
    // Late failures of calls started before it opened say nothing new.
    if (this.s.state !== "closed") return;
    this.count(now, false);
    const { calls, failures } = this.windowCounts(now);
    if (calls >= this.options.minimumCalls && failures / calls >= this.options.failureRateThreshold) {
      this.open(now);
    }
  }

  /** Counts over the rolling window ending at `now`, for status and metrics. */
  windowCounts(now: number): { calls: number; failures: number; failureRate: number } {
    let successes = 0;
    let failures = 0;
    for (const b of this.s.buckets) {
      if (b.start > now - this.options.windowMs) {
        successes += b.successes;
        failures += b.failures;
      }
    }
    const calls = successes + failures;
    return { calls, failures, failureRate: calls === 0 ? 0 : failures / calls };
  }

  private open(now: number): void {
    this.s = { state: "open", buckets: [], openedAt: now, probeAt: null };
  }

  private count(now: number, ok: boolean): void {
    const { bucketMs, windowMs } = this.options;
    const start = Math.floor(now / bucketMs) * bucketMs;
    const kept = this.s.buckets.filter((b) => b.start > now - windowMs && b.start !== start);
    const current = this.s.buckets.find((b) => b.start === start) ?? { start, successes: 0, failures: 0 };
    const updated = ok
      ? { ...current, successes: current.successes + 1 }
      : { ...current, failures: current.failures + 1 };
    this.s = { ...this.s, buckets: [...kept, updated] };
  }
}
