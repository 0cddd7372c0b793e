import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  STREAM_RECONNECT_BACKOFF,
  createBackoff,
  decorrelatedJitterDelay,
  exponentialDelay,
  fullJitterDelay,
  queueRetryDelaySeconds,
  type BackoffPolicy,
} from "../../src/domain/backoff";

const P = STREAM_RECONNECT_BACKOFF;

describe("exponentialDelay", () => {
  it("doubles from 1 s and caps at 30 s for stream reconnects", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 100, 5000].map((a) => exponentialDelay(a, P))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000,
    ]);
  });

  it("treats negative and fractional attempts as floors", () => {
    expect(exponentialDelay(-3, P)).toBe(1000);
    expect(exponentialDelay(1.9, P)).toBe(2000);
  });

  it("rejects an invalid policy", () => {
    expect(() => exponentialDelay(0, { ...P, maxMs: 10 })).toThrow(RangeError);
    expect(() => exponentialDelay(0, { ...P, baseMs: 0 })).toThrow(RangeError);
  });
});

describe("fullJitterDelay", () => {
  it("spans [min, cap] with random 0 and ~1", () => {
    expect(fullJitterDelay(3, P, () => 0)).toBe(1000);
    expect(fullJitterDelay(3, P, () => 0.5)).toBe(4500); // 1000 + 7000 * 0.5
    expect(fullJitterDelay(3, P, () => 0.999_999_9)).toBe(8000);
  });

  it("stays within bounds for any attempt and random", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), fc.double({ min: 0, max: 0.999_999, noNaN: true }), (a, r) => {
        const d = fullJitterDelay(a, P, () => r);
        return d >= P.minMs && d <= Math.min(P.maxMs, exponentialDelay(a, P));
      }),
    );
  });
});

describe("decorrelatedJitterDelay", () => {
  it("starts from base and grows up to 3x the previous delay", () => {
    expect(decorrelatedJitterDelay(undefined, P, () => 0)).toBe(1000);
    expect(decorrelatedJitterDelay(undefined, P, () => 0.5)).toBe(2000); // 1000 + (3000-1000)/2
    expect(decorrelatedJitterDelay(4000, P, () => 0.5)).toBe(6500); // 1000 + (12000-1000)/2
    expect(decorrelatedJitterDelay(20_000, P, () => 0.9)).toBe(30_000); // capped
  });

  it("stays within [min, max] along any chain", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 0.999_999, noNaN: true }), { minLength: 1, maxLength: 50 }), (rs) => {
        let prev: number | undefined;
        for (const r of rs) {
          const d = decorrelatedJitterDelay(prev, P, () => r);
          if (d < P.minMs || d > P.maxMs) return false;
          prev = d;
        }
        return true;
      }),
    );
  });

  it("honours a minimum above base", () => {
    const policy: BackoffPolicy = { baseMs: 100, minMs: 500, maxMs: 1000, factor: 2 };
    expect(decorrelatedJitterDelay(undefined, policy, () => 0)).toBe(500);
  });
});

describe("queueRetryDelaySeconds", () => {
  it("is 2 ** attempts by default", () => {
    expect([1, 2, 3, 4].map((a) => queueRetryDelaySeconds(a))).toEqual([2, 4, 8, 16]);
  });

  it("supports a base and caps at the given maximum and at 12 h", () => {
    expect(queueRetryDelaySeconds(3, 30)).toBe(120);
    expect(queueRetryDelaySeconds(10, 2, 60)).toBe(60);
    expect(queueRetryDelaySeconds(100)).toBe(43_200);
    expect(queueRetryDelaySeconds(0)).toBe(2);
  });
});

describe("createBackoff", () => {
  it("counts attempts and resets", () => {
    const b = createBackoff(P, () => 0.999_999_9);
    expect([b.next(), b.next(), b.next()]).toEqual([1000, 2000, 4000]);
    expect(b.attempt).toBe(3);
    b.reset();
    expect(b.attempt).toBe(0);
    expect(b.next()).toBe(1000);
  });
});
