import { describe, expect, it } from "vitest";
import { CallGuard, LNBITS_GUARD, NOTIFY_GUARDS } from "../../src/domain/call-guard";

describe("CallGuard: breaker and rate limit around a provider", () => {
  it("refuses calls beyond the bucket, and lets them through as it refills", () => {
    const g = new CallGuard({ rate: { capacity: 2, refillPerSecond: 1 } });
    expect(g.admit(0)).toEqual({ ok: true });
    expect(g.admit(0)).toEqual({ ok: true });
    expect(g.admit(0)).toMatchObject({ ok: false, reason: "rate_limited" });
    expect(g.admit(1_000)).toEqual({ ok: true });
  });

  it("paces a caller that can wait: a turn ahead instead of a refusal, refused only past the wait", () => {
    const g = new CallGuard({ rate: { capacity: 1, refillPerSecond: 2 } });
    expect(g.admit(0, 1_000)).toEqual({ ok: true });
    expect(g.admit(0, 1_000)).toEqual({ ok: true, waitMs: 500 });
    expect(g.admit(0, 1_000)).toEqual({ ok: true, waitMs: 1_000 });
    expect(g.admit(0, 1_000)).toMatchObject({ ok: false, reason: "rate_limited", retryAfterMs: 1_500 });
  });

  it("opens after half the calls fail (10 at least), refuses for 30 s, then lets one probe through", () => {
    const g = new CallGuard({ rate: { capacity: 100, refillPerSecond: 100 } });
    for (let i = 0; i < 10; i++) {
      expect(g.admit(i)).toEqual({ ok: true });
      g.record(i % 2 ? "temporary_failure" : "ok", i);
    }
    expect(g.admit(100)).toMatchObject({ ok: false, reason: "breaker_open" });
    expect(g.admit(29_000)).toMatchObject({ ok: false, reason: "breaker_open" });
    // Half-open: one probe; a second caller waits for its outcome.
    expect(g.admit(30_010)).toEqual({ ok: true });
    expect(g.admit(30_020)).toMatchObject({ ok: false, reason: "breaker_open" });
    g.record("ok", 30_030);
    expect(g.admit(30_040)).toEqual({ ok: true });
  });

  it("counts only temporary failures: a provider refusing bad input is not unwell", () => {
    const g = new CallGuard({ rate: { capacity: 100, refillPerSecond: 100 } });
    for (let i = 0; i < 20; i++) {
      g.admit(i);
      g.record("other", i);
    }
    expect(g.admit(50)).toEqual({ ok: true });
  });

  it("has a guard for LNbits and each notification channel", () => {
    expect(LNBITS_GUARD.rate.capacity).toBeGreaterThan(0);
    expect(Object.keys(NOTIFY_GUARDS).sort()).toEqual(["email", "telegram", "webhook"]);
  });
});
