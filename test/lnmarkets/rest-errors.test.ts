/**
 * Error classification against the simulator's real failure modes (faults injected through
 * its control API), plus the pure classifier on bodies the simulator does not produce.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { classifyHttpError, LnMarketsError, parseRetryAfter, TokenBucket, TokenBucketLimiter } from "../../src/lnmarkets/index.js";
import { rejection, restClient, type SimKeys, sim } from "./helpers.js";

let keys: SimKeys;

beforeAll(async () => {
  await sim.reset();
  await sim.price(100_000);
  keys = await sim.keys(5_000_000);
});
afterEach(async () => {
  await sim.clearFaults();
});

function expectNoSecrets(e: unknown, secrets: string[]): void {
  const text = `${String(e)} ${JSON.stringify(e)} ${(e as Error).stack ?? ""}`;
  for (const s of secrets) expect(text).not.toContain(s);
}

describe("permanent", () => {
  it("a bad key is permanent (401) and no secret leaks into the error", async () => {
    const bad = { key: "not-a-key", secret: "wrong-secret-value-123", passphrase: "wrong-passphrase" };
    const e = (await rejection(restClient(bad).account())) as LnMarketsError;
    expect(e).toBeInstanceOf(LnMarketsError);
    expect(e).toMatchObject({ kind: "permanent", code: "unauthorized", status: 401, retryable: false });
    expectNoSecrets(e, [bad.secret, bad.passphrase]);
  });

  it("a wrong secret for a real key is permanent, and the secret never appears", async () => {
    const wrong = { ...keys, secret: "f".repeat(64) };
    const e = (await rejection(restClient(wrong).runningTrades())) as LnMarketsError;
    expect(e).toMatchObject({ kind: "permanent", code: "unauthorized" });
    expectNoSecrets(e, [keys.secret, keys.passphrase, wrong.secret]);
  });

  it("an unknown trade id is permanent (not retryable)", async () => {
    const e = (await rejection(restClient(keys).close({ id: "00000000-0000-4000-8000-000000000000" }))) as LnMarketsError;
    expect(e.kind).toBe("permanent");
    expect(e.status).toBeGreaterThanOrEqual(400);
    expect(e.status).toBeLessThan(500);
  });
});

describe("business", () => {
  it("insufficient balance is business", async () => {
    const poor = await sim.keys(1_000);
    const e = (await rejection(restClient(poor).newTrade({ type: "market", side: "buy", margin: 500_000, leverage: 10 }))) as LnMarketsError;
    expect(e).toMatchObject({ kind: "business", code: "insufficient_balance", status: 400 });
    expect(e.retryable).toBe(false);
  });

  it("limit violations reported by the exchange are business", () => {
    for (const message of ["Maximum number of open trades reached", "Quantity exceeds the maximum", "Daily limit exceeded"]) {
      const e = classifyHttpError({ status: 400, bodyText: JSON.stringify({ message }), retryAfter: null, method: "POST", path: "/futures/isolated/trade", nowMs: 0 });
      expect(e).toMatchObject({ kind: "business", code: "limit_violation" });
    }
    const validation = classifyHttpError({ status: 400, bodyText: '{"message":"leverage: Expected number","code":"VALIDATION_ERROR"}', retryAfter: null, method: "POST", path: "/x", nowMs: 0 });
    expect(validation).toMatchObject({ kind: "permanent", code: "invalid_request" });
  });
});

describe("the exchange's refusals (bodies as {message, code})", () => {
  const classify = (status: number, body: unknown, opts: { method?: string; retryAfter?: string | null } = {}) =>
    classifyHttpError({
      status,
      bodyText: typeof body === "string" ? body : JSON.stringify(body),
      retryAfter: opts.retryAfter ?? null,
      method: opts.method ?? "POST",
      path: "/futures/isolated/trade",
      nowMs: 0,
    });

  const cases: Array<[string, number, { message: string; code?: string }, Partial<LnMarketsError>]> = [
    ["a foreign trade id (400, not 404) reads as not found", 400, { message: "You do not own this trade", code: "NOT_YOUR_TRADE" }, { kind: "permanent", code: "not_found", rule: "not_your_trade" }],
    ["a trade no longer running reads as not found", 400, { message: "Trade is not running", code: "TRADE_NOT_RUNNING" }, { kind: "permanent", code: "not_found", rule: "trade_not_running" }],
    ["a stop loss beyond liquidation", 400, { message: "Stoploss is beyond the liquidation price", code: "STOPLOSS_BEYOND_LIQUIDATION" }, { kind: "permanent", code: "invalid_request", rule: "stoploss_beyond_liquidation" }],
    ["a take profit on the wrong side", 400, { message: "Takeprofit must be above the entry price", code: "TAKEPROFIT_WRONG_SIDE" }, { kind: "permanent", code: "invalid_request", rule: "takeprofit_wrong_side" }],
    ["a price off the 0.5 tick", 400, { message: "Price must be a multiple of 0.5", code: "PRICE_OFF_TICK" }, { kind: "permanent", code: "invalid_request", rule: "price_off_tick" }],
    ["a quantity out of range", 400, { message: "Quantity must be between 1 and 500000", code: "QUANTITY_OUT_OF_RANGE" }, { kind: "business", code: "limit_violation", rule: "quantity_out_of_range" }],
    ["a leverage out of range", 400, { message: "Leverage must be between 1 and 100", code: "LEVERAGE_OUT_OF_RANGE" }, { kind: "business", code: "limit_violation", rule: "leverage_out_of_range" }],
    ["margin used over 0.1 BTC", 400, { message: "Margin used would exceed 0.1 BTC", code: "MARGIN_USED_LIMIT" }, { kind: "business", code: "limit_violation", rule: "margin_used_limit" }],
    ["a stop loss on the wrong side of the bid", 400, { message: "stoploss must be below the bid 99997.5", code: "STOPLOSS_WRONG_SIDE" }, { kind: "permanent", code: "invalid_request", rule: "stoploss_wrong_side" }],
    ["a trailing distance out of range", 400, { message: "value must be between 0.001 and 10 for a trailing stop (a fraction of price)", code: "TRAILING_DISTANCE_OUT_OF_RANGE" }, { kind: "permanent", code: "invalid_request", rule: "trailing_distance_out_of_range" }],
    ["a closed trade", 400, { message: "Trade is not open or running", code: "TRADE_CLOSED" }, { kind: "permanent", code: "not_found", rule: "trade_not_running" }],
    ["a margin that buys too little", 400, { message: "margin must be at least 1 sat", code: "MARGIN_OUT_OF_RANGE" }, { kind: "business", code: "limit_violation", rule: "margin_out_of_range" }],
    ["a cash-in that would liquidate", 400, { message: "amount: cash-in would liquidate the trade", code: "CASH_IN_WOULD_LIQUIDATE" }, { kind: "permanent", code: "invalid_request", rule: "cash_in_refused" }],
    ["insufficient balance", 400, { message: "Insufficient balance", code: "INSUFFICIENT_BALANCE" }, { kind: "business", code: "insufficient_balance", rule: "insufficient_balance" }],
  ];

  for (const [name, status, body, expected] of cases) {
    it(`${name}: by code and by message alone`, () => {
      const e = classify(status, body);
      expect(e).toMatchObject({ ...expected, status, retryable: false });
      // The real exchange may send another code or none: the message decides then.
      expect(classify(status, { message: body.message })).toMatchObject(expected);
      expect(classify(status, { message: body.message, code: "SOMETHING_ELSE" })).toMatchObject(expected);
      expect(classify(status, body.message)).toMatchObject(expected);
    });
  }

  it("a code alone (empty message) is enough", () => {
    expect(classify(400, { message: "", code: "NOT_YOUR_TRADE" })).toMatchObject({ code: "not_found", rule: "not_your_trade" });
    expect(classify(400, { message: "Bad request", code: "stoploss_beyond_liquidation" })).toMatchObject({ rule: "stoploss_beyond_liquidation" });
  });

  it("a plain validation error stays permanent invalid_request without a rule", () => {
    const e = classify(400, { message: "leverage: Expected number", code: "VALIDATION_ERROR" });
    expect(e).toMatchObject({ kind: "permanent", code: "invalid_request", rule: undefined });
  });

  it("429 is retryable after retry-after; 5xx and 408 retryable, uncertain for mutations", () => {
    expect(classify(429, { message: "Too many requests", code: "RATE_LIMITED" }, { retryAfter: "3" })).toMatchObject({ kind: "temporary", code: "rate_limited", retryAfterMs: 3_000, retryable: true });
    expect(classify(429, "")).toMatchObject({ kind: "temporary", code: "rate_limited", retryAfterMs: undefined });
    for (const status of [500, 502, 503, 504, 408]) {
      expect(classify(status, { message: "Internal error" })).toMatchObject({ kind: "temporary", code: "server_error", uncertain: true, retryable: true });
      expect(classify(status, { message: "Internal error" }, { method: "GET" })).toMatchObject({ kind: "temporary", uncertain: false });
    }
    // A 5xx whose message happens to mention a rule is still the exchange being unwell.
    expect(classify(503, { message: "Insufficient balance service unavailable" })).toMatchObject({ kind: "temporary" });
  });

  it("auth failures stay unauthorized/forbidden whatever the message", () => {
    expect(classify(401, { message: "You do not own this trade" })).toMatchObject({ code: "unauthorized" });
    expect(classify(403, { message: "Insufficient permissions" })).toMatchObject({ code: "forbidden" });
  });
});

describe("temporary", () => {
  it("a 500 storm is temporary; GETs are certain, mutations uncertain", async () => {
    await sim.faults({ restErrorRate: 1, restErrorStatus: 500 });
    const c = restClient(keys);
    for (const p of [c.ticker(), c.account(), c.runningTrades()]) {
      const e = (await rejection(p)) as LnMarketsError;
      expect(e).toMatchObject({ kind: "temporary", code: "server_error", status: 500, uncertain: false });
    }
    const post = (await rejection(c.newTrade({ type: "market", side: "buy", quantity: 10, leverage: 5, clientId: "storm-1" }))) as LnMarketsError;
    expect(post).toMatchObject({ kind: "temporary", code: "server_error", uncertain: true });
    await sim.faults({ restErrorRate: 1, restErrorStatus: 503 });
    expect(await rejection(c.ticker())).toMatchObject({ kind: "temporary", status: 503 });
  });

  it("a 429 carries retry-after and is temporary when not waited out", async () => {
    await sim.faults({ rateLimit: { perSecond: 1, retryAfterS: 2 } });
    const c = restClient(keys);
    await c.account();
    const e = (await rejection(c.account())) as LnMarketsError;
    expect(e).toMatchObject({ kind: "temporary", code: "rate_limited", status: 429, retryAfterMs: 2_000 });
  });

  it("a 429 with retry-after within the cap is waited out once, then succeeds", async () => {
    await sim.faults({ rateLimit: { perSecond: 1, retryAfterS: 1 } });
    const attempts: number[] = [];
    const c = restClient(keys, { rateLimitRetry: { maxWaitMs: 2_000 }, onCall: (i) => attempts.push(i.status ?? 0) });
    await c.account();
    const started = Date.now();
    const a = await c.account();
    expect(a.balance).toBeGreaterThan(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(attempts).toEqual([200, 429, 200]);
  });

  it("a retry-after above the cap is not waited", async () => {
    await sim.faults({ rateLimit: { perSecond: 1, retryAfterS: 5 } });
    const c = restClient(keys, { rateLimitRetry: { maxWaitMs: 1_000 } });
    await c.account();
    const started = Date.now();
    expect(await rejection(c.account())).toMatchObject({ code: "rate_limited", retryAfterMs: 5_000 });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("a slow exchange times out (temporary; uncertain for mutations)", async () => {
    await sim.faults({ latencyMs: 400 });
    const c = restClient(keys, { timeoutMs: 100 });
    expect(await rejection(c.ticker())).toMatchObject({ kind: "temporary", code: "timeout", uncertain: false });
    expect(await rejection(c.newTrade({ type: "market", side: "buy", quantity: 10, leverage: 5 }, { timeoutMs: 50 }))).toMatchObject({
      kind: "temporary",
      code: "timeout",
      uncertain: true,
    });
    // A per-call timeout above the latency succeeds.
    expect((await c.ticker({ timeoutMs: 2_000 })).lastPrice).toBe(100_000);
  });

  it("a caller abort is reported as aborted, not as a timeout", async () => {
    await sim.faults({ latencyMs: 300 });
    const ac = new AbortController();
    const p = restClient(keys).account({ signal: ac.signal });
    setTimeout(() => ac.abort(new Error("run timeout")), 20);
    expect(await rejection(p)).toMatchObject({ kind: "temporary", code: "aborted" });
  });

  it("a network failure is temporary", async () => {
    // The transport failing (not the exchange answering): what fetch does when a link drops.
    const broken = async () => Promise.reject(new TypeError("Network connection lost."));
    const c = restClient(keys, { endpoints: { restBase: "http://sim/v3", fetch: broken } });
    expect(await rejection(c.ticker())).toMatchObject({ kind: "temporary", code: "network" });
  });
});

describe("rate limiter hook", () => {
  it("the token bucket spaces calls beyond its burst", async () => {
    const limiter = new TokenBucketLimiter({ bucket: new TokenBucket({ capacity: 2, refillPerSecond: 4 }) });
    const queued: number[] = [];
    const c = restClient(keys, { rateLimiter: limiter, onCall: (i) => queued.push(i.queuedMs) });
    const started = Date.now();
    await Promise.all([c.ticker(), c.ticker(), c.ticker(), c.ticker()]);
    // 2 immediately, then one every 250 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(Math.max(...queued)).toBeGreaterThanOrEqual(400);
  });
});

describe("pure helpers", () => {
  it("parseRetryAfter reads seconds and HTTP dates", () => {
    expect(parseRetryAfter("3", 0)).toBe(3_000);
    expect(parseRetryAfter("0.5", 0)).toBe(500);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter(null, 0)).toBeUndefined();
    expect(parseRetryAfter("soon", 0)).toBeUndefined();
  });

  it("an echoed passphrase is redacted from the exchange message", () => {
    const e = classifyHttpError({
      status: 401,
      bodyText: JSON.stringify({ message: "bad passphrase my-pass-phrase-1" }),
      retryAfter: null,
      method: "GET",
      path: "/account",
      nowMs: 0,
      redact: ["my-pass-phrase-1"],
    });
    expect(e.message).not.toContain("my-pass-phrase-1");
    expect(e.message).toContain("[redacted]");
  });
});
