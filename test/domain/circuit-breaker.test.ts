import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CircuitBreaker, DEFAULT_BREAKER_OPTIONS, initialBreakerState } from "../../src/domain/circuit-breaker";

function feed(b: CircuitBreaker, outcomes: boolean[], at: number): void {
  for (const ok of outcomes) (ok ? b.onSuccess(at) : b.onFailure(at));
}
const ok = (n: number) => Array<boolean>(n).fill(true);
const ko = (n: number) => Array<boolean>(n).fill(false);

describe("CircuitBreaker: closed", () => {
  it("stays closed below the minimum number of calls, even at 100 % failures", () => {
    const b = new CircuitBreaker();
    feed(b, ko(9), 1_000);
    expect(b.stateAt(1_000)).toBe("closed");
    expect(b.allow(1_000)).toEqual({ ok: true });
  });

  it("opens at exactly 50 % failures over 10 calls", () => {
    const b = new CircuitBreaker();
    feed(b, [...ok(5), ...ko(5)], 1_000);
    expect(b.stateAt(1_000)).toBe("open");
    expect(b.allow(1_000)).toEqual({ ok: false, retryAfterMs: 30_000 });
  });

  it("stays closed at 40 % failures", () => {
    const b = new CircuitBreaker();
    feed(b, [...ok(6), ...ko(4)], 1_000);
    expect(b.stateAt(1_000)).toBe("closed");
    expect(b.windowCounts(1_000)).toEqual({ calls: 10, failures: 4, failureRate: 0.4 });
  });

  it("forgets calls older than the window", () => {
    const b = new CircuitBreaker();
    feed(b, ko(9), 0);
    feed(b, ko(1), 60_000); // the t=0 bucket is exactly one window old: out
    expect(b.windowCounts(60_000).calls).toBe(1);
    expect(b.stateAt(60_000)).toBe("closed");
    feed(b, ko(9), 59_999 + 1_000);
    expect(b.stateAt(61_000)).toBe("open");
  });

  it("spreads a window across buckets", () => {
    const b = new CircuitBreaker();
    for (let i = 0; i < 9; i++) feed(b, [i % 2 === 0], i * 5_000);
    expect(b.windowCounts(40_000)).toEqual({ calls: 9, failures: 4, failureRate: 4 / 9 });
    b.onFailure(45_000);
    expect(b.stateAt(45_000)).toBe("open");
  });

  it("opens exactly when the model says so (calls within one window)", () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 40 }), (outcomes) => {
        const b = new CircuitBreaker();
        let calls = 0, failures = 0, expectOpen = false;
        for (const o of outcomes) {
          if (expectOpen) break;
          calls++;
          if (!o) failures++;
          o ? b.onSuccess(500) : b.onFailure(500);
          if (!o && calls >= 10 && failures / calls >= 0.5) expectOpen = true;
          if ((b.stateAt(500) === "open") !== expectOpen) return false;
        }
        return true;
      }),
    );
  });
});

describe("CircuitBreaker: open and half-open", () => {
  function opened(at = 0): CircuitBreaker {
    const b = new CircuitBreaker();
    feed(b, ko(10), at);
    return b;
  }

  it("refuses calls for 30 s, then lets exactly one probe through", () => {
    const b = opened(0);
    expect(b.allow(29_999)).toEqual({ ok: false, retryAfterMs: 1 });
    expect(b.stateAt(30_000)).toBe("half_open");
    expect(b.allow(30_000)).toEqual({ ok: true });
    expect(b.allow(30_001)).toEqual({ ok: false, retryAfterMs: 29_999 });
  });

  it("a probe success closes it with a clean window", () => {
    const b = opened(0);
    b.allow(30_000);
    b.onSuccess(30_100);
    expect(b.stateAt(30_100)).toBe("closed");
    expect(b.windowCounts(30_100).calls).toBe(0);
    expect(b.allow(30_100)).toEqual({ ok: true });
  });

  it("a probe failure re-opens it for another 30 s", () => {
    const b = opened(0);
    b.allow(30_000);
    b.onFailure(30_500);
    expect(b.stateAt(30_500)).toBe("open");
    expect(b.allow(60_000)).toEqual({ ok: false, retryAfterMs: 500 });
    expect(b.allow(60_500)).toEqual({ ok: true });
  });

  it("a lost probe does not wedge it: another probe after openMs", () => {
    const b = opened(0);
    expect(b.allow(30_000).ok).toBe(true);
    expect(b.allow(59_999).ok).toBe(false);
    expect(b.allow(60_000).ok).toBe(true);
  });

  it("ignores outcomes reported while open", () => {
    const b = opened(0);
    b.onSuccess(10);
    b.onFailure(20);
    expect(b.toJSON()).toEqual({ state: "open", buckets: [], openedAt: 0, probeAt: null });
  });
});

describe("CircuitBreaker: persistence", () => {
  it("round-trips through JSON text at every state", () => {
    const b = new CircuitBreaker();
    feed(b, [...ok(3), ...ko(2)], 2_500);
    const restored = CircuitBreaker.fromJSON(JSON.parse(JSON.stringify(b)));
    expect(restored.toJSON()).toEqual(b.toJSON());
    feed(restored, ko(5), 3_000);
    expect(restored.stateAt(3_000)).toBe("open");
    const again = CircuitBreaker.fromJSON(JSON.parse(JSON.stringify(restored.toJSON())));
    expect(again.allow(33_000)).toEqual({ ok: true });
  });

  it("restores a closed breaker from malformed JSON", () => {
    expect(CircuitBreaker.fromJSON({ state: "weird" }).toJSON()).toEqual(initialBreakerState());
    expect(CircuitBreaker.fromJSON(null).toJSON()).toEqual(initialBreakerState());
  });

  it("does not share state with the object it was built from", () => {
    const s = initialBreakerState();
    const b = new CircuitBreaker(DEFAULT_BREAKER_OPTIONS, s);
    b.onFailure(1);
    expect(s.buckets).toEqual([]);
  });
});
