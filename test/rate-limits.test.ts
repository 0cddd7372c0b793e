/**
 * Issue 22, item 1: login and registration limited per IP and per email, a progressive
 * lockout per (email, IP) that an attacker elsewhere cannot use against the owner, and 429
 * with retry-after on routes that cost us or reach outside.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIRST_LOCK_MS, MAX_LOCK_MS, lockDuration } from "../src/api/login-throttle";
import { api, registerUser, uniqueEmail } from "./helpers";
import { freshRateWindow, rateWindow } from "./rate-window";

let ipSeq = 0;
/** A fresh public-looking client IP per call (TEST-NET-3 block). */
const freshIp = () => `203.0.113.${(++ipSeq % 250) + 1}`;
const fromIp = (ip: string) => ({ "cf-connecting-ip": ip });

function expect429(r: { status: number; headers: Headers; body: any }) {
  expect(r.status).toBe(429);
  expect(r.body.error.code).toBe("rate_limited");
  expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
}

describe("login and registration limits", () => {
  it("limits attempts per email (any IP) with 429 and retry-after", async () => {
    const u = await registerUser("rl-acct");
    let got: Awaited<ReturnType<typeof api>> | undefined;
    // 10 a minute; the window is aligned to the clock, so allow for one rollover.
    for (let i = 0; i < 21 && !got; i++) {
      const r = await api("POST", "/v1/auth/login", { headers: fromIp(`198.51.100.${i + 1}`), body: { email: u.email, password: "wrong-password" } });
      if (r.status === 429) got = r;
      else expect(r.status).toBe(401);
    }
    expect(got, "no 429 within 21 attempts").toBeDefined();
    expect429(got!);
  }, 60_000);

  it("limits attempts per IP across emails, before any hashing", async () => {
    const ip = freshIp();
    let got: Awaited<ReturnType<typeof api>> | undefined;
    let n = 0;
    for (; n < 61 && !got; n++) {
      const r = await api("POST", "/v1/auth/login", { headers: fromIp(ip), body: { email: uniqueEmail("rl-ip"), password: "whatever-pw" } });
      if (r.status === 429) got = r;
    }
    expect(got, "no 429 within 61 attempts").toBeDefined();
    expect429(got!);
    // Registration from that IP is refused too; another IP is not affected.
    const reg = await api("POST", "/v1/auth/register", { headers: fromIp(ip), body: { email: uniqueEmail("rl-ip"), password: "long-enough-pw" } });
    expect429(reg);
    const other = await api("POST", "/v1/auth/register", { headers: fromIp(freshIp()), body: { email: uniqueEmail("rl-ip"), password: "long-enough-pw" } });
    expect(other.status).toBe(201);
  }, 120_000);

  it("locks an (email, IP) pair out progressively, and not the owner on another IP", async () => {
    const u = await registerUser("rl-lock");
    const attacker = freshIp();
    for (let i = 0; i < 5; i++) {
      const r = await api("POST", "/v1/auth/login", { headers: fromIp(attacker), body: { email: u.email, password: `guess-${i}` } });
      expect(r.status).toBe(401);
    }
    // Locked now: even the right password is refused from that IP, without a hash.
    const locked = await api("POST", "/v1/auth/login", { headers: fromIp(attacker), body: { email: u.email, password: u.password } });
    expect429(locked);
    expect(Number(locked.headers.get("retry-after"))).toBeLessThanOrEqual(FIRST_LOCK_MS / 1000);
    // The owner elsewhere is not locked out.
    const owner = await api("POST", "/v1/auth/login", { headers: fromIp(freshIp()), body: { email: u.email, password: u.password } });
    expect(owner.status).toBe(200);
  }, 60_000);

  it("doubles the lock per further failure and caps it at 15 minutes", () => {
    expect(lockDuration(4)).toBe(0);
    expect(lockDuration(5)).toBe(FIRST_LOCK_MS);
    expect(lockDuration(6)).toBe(2 * FIRST_LOCK_MS);
    expect(lockDuration(1_000)).toBe(MAX_LOCK_MS);
    expect(MAX_LOCK_MS).toBe(15 * 60_000);
  });
});

describe("routes that cost us or reach outside", () => {
  // Exactly 10 a minute: both counts happen in one of the limiter's fixed windows (test/rate-window.ts).
  let started: number;
  // It may wait up to 20 s for the next window: longer than the default hook timeout.
  beforeAll(async () => {
    started = await freshRateWindow(20);
  }, 30_000);
  afterAll(() => {
    expect(rateWindow(), "the counts took longer than 20 s and crossed the limiter's window").toBe(started);
  });

  it("POST /v1/payments: 429 with retry-after past 10 a minute per user", async () => {
    const u = await registerUser("rl-pay");
    for (let i = 0; i < 10; i++) {
      expect((await api("POST", "/v1/payments", { token: u.token, body: { planId: "no-such-plan" } })).status).toBe(400);
    }
    expect429(await api("POST", "/v1/payments", { token: u.token, body: { planId: "no-such-plan" } }));
    // Per user: another user is not limited.
    const v = await registerUser("rl-pay");
    expect((await api("POST", "/v1/payments", { token: v.token, body: { planId: "no-such-plan" } })).status).toBe(400);
  }, 60_000);

  it("POST /v1/notifications/test: 429 with retry-after past 10 a minute per user", async () => {
    const u = await registerUser("rl-ntf");
    for (let i = 0; i < 10; i++) expect((await api("POST", "/v1/notifications/test", { token: u.token })).status).toBe(400);
    expect429(await api("POST", "/v1/notifications/test", { token: u.token }));
  }, 60_000);
});
