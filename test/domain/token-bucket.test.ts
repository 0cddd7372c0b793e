import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LNM_AUTHENTICATED_RATE, TokenBucket } from "../../src/domain/token-bucket";

describe("TokenBucket", () => {
  it("allows a burst of 5 then asks to wait 200 ms for the next token", () => {
    const b = new TokenBucket(LNM_AUTHENTICATED_RATE);
    for (let i = 0; i < 5; i++) expect(b.take(1_000)).toEqual({ ok: true });
    expect(b.take(1_000)).toEqual({ ok: false, waitMs: 200 });
    expect(b.take(1_100)).toEqual({ ok: false, waitMs: 100 });
    expect(b.take(1_200)).toEqual({ ok: true });
  });

  it("refills at the rate, never above capacity", () => {
    const b = new TokenBucket({ capacity: 5, refillPerSecond: 5 });
    for (let i = 0; i < 5; i++) b.take(0);
    expect(b.available(400)).toBeCloseTo(2, 9);
    expect(b.available(100_000)).toBe(5);
  });

  it("supports a cost above one and refuses one above capacity", () => {
    const b = new TokenBucket({ capacity: 10, refillPerSecond: 2 });
    expect(b.take(0, 8)).toEqual({ ok: true });
    expect(b.take(0, 4)).toEqual({ ok: false, waitMs: 1_000 });
    expect(() => b.take(0, 11)).toThrow(RangeError);
    expect(() => b.take(0, 0)).toThrow(RangeError);
  });

  it("earns nothing when the clock steps back", () => {
    const b = new TokenBucket({ capacity: 1, refillPerSecond: 1 });
    expect(b.take(10_000).ok).toBe(true);
    expect(b.take(5_000)).toEqual({ ok: false, waitMs: 1_000 });
    expect(b.take(10_999).ok).toBe(false);
    expect(b.take(11_000).ok).toBe(true);
  });

  it("persists as JSON and resumes where it was", () => {
    const b = new TokenBucket();
    b.take(0);
    b.take(0);
    b.take(0);
    const restored = TokenBucket.fromJSON(JSON.parse(JSON.stringify(b)));
    expect(restored.toJSON()).toEqual({ tokens: 2, updatedAt: 0 });
    expect(restored.take(0).ok).toBe(true);
    expect(restored.take(0).ok).toBe(true);
    expect(restored.take(0).ok).toBe(false);
    expect(TokenBucket.fromJSON({ tokens: -1 }).available(0)).toBe(5);
  });

  it("never admits more than capacity + rate * seconds over any run", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 200 }), (gaps) => {
        const b = new TokenBucket(LNM_AUTHENTICATED_RATE);
        let now = 0, admitted = 0;
        for (const g of gaps) {
          now += g;
          if (b.take(now).ok) admitted++;
        }
        return admitted <= 5 + (now / 1000) * 5 + 1e-9;
      }),
    );
  });

  it("waitMs is enough: taking after waiting succeeds", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 5_000 }), (burst, start) => {
        const b = new TokenBucket(LNM_AUTHENTICATED_RATE);
        let r = b.take(start);
        for (let i = 0; i < burst && r.ok; i++) r = b.take(start);
        if (r.ok) return true;
        return b.take(start + r.waitMs).ok;
      }),
    );
  });
});
