/**
 * Plans and payments end to end: the API creates invoices on the simulator's fake LNbits, the
 * payments consumer checks them (called directly with a clock, or through the queue dispatch),
 * the sweeper catches broken chains. Queue sends are captured by wrapping `env`.
 */
import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { handleQueue } from "../queues";
import type { PaymentMessage } from "../src/messaging/messages";
import { handlePaymentBatch, MAX_ATTEMPTS, type PaymentCheckDeps } from "../queues/payments";
import { resetLnbitsGuards } from "../src/lightning/lnbits";
import { sweepPayments } from "../src/lightning/sweeper";
import { handleScheduled } from "../src/scheduled";
import { api, captureLogs, registerUser } from "./helpers";
import { sim, simFaults, simReset } from "./sim-helpers";

const DAY = 86_400_000;
const API_KEY = "test-lightning-key";

interface Sent { body: any; delaySeconds?: number }

/** `env` whose queues record what is sent instead of delivering it. */
function captureEnv() {
  const sent = { payments: [] as Sent[], notifications: [] as Sent[], alerts: [] as Sent[] };
  const queue = (list: Sent[]) => ({
    send: async (body: unknown, opts?: QueueSendOptions) => void list.push({ body, delaySeconds: opts?.delaySeconds }),
    sendBatch: async () => undefined,
  });
  const wrapped = Object.create(env, {
    PAYMENTS: { value: queue(sent.payments) },
    NOTIFICATIONS: { value: queue(sent.notifications) },
    ALERTS: { value: queue(sent.alerts) },
  }) as Env;
  return { env: wrapped, sent };
}

let msgSeq = 0;
const checkMsg = (paymentId: string, id = `job-test-${++msgSeq}`): PaymentMessage => ({ v: 1, id, kind: "payment", paymentId });
/** The check message the API sent for a payment (it owns the re-check chain). */
const sentMsg = async (paymentId: string) => checkMsg(paymentId, (await row(paymentId))!.check_message_id);

/**
 * Runs the consumer on one batch and returns the platform's view of acks and retries, plus
 * the retry delays (getQueueResult drops them, so `retry` is wrapped to see them).
 */
async function consume(e: Env, items: { body: unknown; attempts?: number }[], deps: PaymentCheckDeps = {}) {
  const batch = createMessageBatch("payments", items.map((m, i) => ({ id: `qm-${++msgSeq}-${i}`, timestamp: Date.now(), attempts: m.attempts ?? 1, body: m.body })));
  const retryDelays: (number | undefined)[] = [];
  for (const m of batch.messages) {
    const retry = m.retry.bind(m);
    Object.defineProperty(m, "retry", { value: (o?: QueueRetryOptions) => { retryDelays.push(o?.delaySeconds); retry(o); } });
  }
  const ctx = createExecutionContext();
  await handlePaymentBatch(batch, e, ctx, deps);
  return { ...(await getQueueResult(batch, ctx)), retryDelays };
}

async function buy(token: string, planId = "pro") {
  const res = await api("POST", "/v1/payments", { token, body: { planId } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; paymentHash: string; paymentRequest: string; amountSats: number; expiresAt: number; status: string };
}

const pay = (hash: string) => sim("POST", `/__sim/invoices/${hash}/pay`);
const me = async (token: string) => (await api("GET", "/v1/me", { token })).body as { plan: string; planExpiresAt: number | null };
const row = (id: string) => env.DB.prepare("SELECT * FROM payments WHERE id = ?").bind(id).first<Record<string, any>>();
const counter = async (queue: string) =>
  (await env.DB.prepare("SELECT sent, settled FROM queue_counters WHERE queue = ?").bind(queue).first<{ sent: number; settled: number }>()) ?? { sent: 0, settled: 0 };

beforeAll(async () => {
  await simReset();
});
beforeEach(async () => {
  await simFaults({});
  // The LNbits breaker and bucket live per isolate: each test starts with them fresh, as
  // calls made by earlier tests (a second or so before) would otherwise drain the bucket.
  resetLnbitsGuards();
});

describe("plans", () => {
  it("lists plans publicly, cheapest first", async () => {
    const res = await api("GET", "/v1/plans");
    expect(res.status).toBe(200);
    expect(res.body.data.map((p: { id: string }) => p.id)).toEqual(["free", "pro"]);
    expect(res.body.data[1]).toMatchObject({ name: "Pro", priceSats: 50_000, durationDays: 30, limits: { maxAccounts: 10 } });
  });

  it("refuses an unknown or free plan with a 400 naming planId, and anonymous buyers", async () => {
    const u = await registerUser("pay-bad");
    for (const body of [{ planId: "gold" }, { planId: "free" }, {}, { planId: "pro", extra: 1 }]) {
      const r = await api("POST", "/v1/payments", { token: u.token, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      if ("planId" in body && !("extra" in body)) expect(r.body.error.details[0].path).toBe("planId");
    }
    expect((await api("POST", "/v1/payments", { body: { planId: "pro" } })).status).toBe(401);
    expect((await api("GET", "/v1/payments")).status).toBe(401);
  });
});

describe("payment lifecycle", () => {
  it("invoice -> unpaid check re-enqueued in 30 s -> paid -> plan active, confirmation sent", async () => {
    const u = await registerUser("pay-happy");
    const sentBefore = await counter("payments");
    const p = await buy(u.token);
    expect(p).toMatchObject({ amountSats: 50_000, status: "pending" });
    expect(p.paymentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(p.paymentRequest).toMatch(/^lnbcrt/);
    expect(p.expiresAt - Date.now()).toBeGreaterThan(3590_000);
    expect(p.expiresAt - Date.now()).toBeLessThanOrEqual(3600_000);
    expect((await counter("payments")).sent).toBe(sentBefore.sent + 1);
    expect((await me(u.token)).plan).toBe("free");

    const cap = captureEnv();
    const t0 = Date.now();
    const first = await consume(cap.env, [{ body: await sentMsg(p.id) }], { now: t0 });
    expect(first.explicitAcks).toHaveLength(1);
    expect(cap.sent.payments).toEqual([{ body: expect.objectContaining({ kind: "payment", paymentId: p.id }), delaySeconds: 30 }]);
    expect(await row(p.id)).toMatchObject({ status: "pending", checks: 1, last_checked_at: t0 });

    await pay(p.paymentHash);
    const notifBefore = await counter("notifications");
    const t1 = t0 + 31_000;
    const second = await consume(cap.env, [{ body: cap.sent.payments[0]!.body }], { now: t1 });
    expect(second.explicitAcks).toHaveLength(1);
    expect(second.retryMessages).toEqual([]);

    const mine = await me(u.token);
    expect(mine.plan).toBe("pro");
    expect(mine.planExpiresAt).toBe(t1 + 30 * DAY);
    expect(await row(p.id)).toMatchObject({ status: "paid", paid_at: t1, activated_at: t1, checks: 2 });
    expect(cap.sent.notifications).toHaveLength(1);
    expect(cap.sent.notifications[0]!.body).toMatchObject({ kind: "notification", userId: u.userId, event: "payment.confirmed", severity: "info", data: { paymentId: p.id, planId: "pro" } });
    expect((await counter("notifications")).sent).toBe(notifBefore.sent + 1);
    expect((await api("GET", `/v1/payments/${p.id}`, { token: u.token })).body).toMatchObject({ id: p.id, status: "paid", paidAt: t1 });
  });

  it("a paid message delivered twice (same batch, then again through the queue dispatch) activates once", async () => {
    const u = await registerUser("pay-twice");
    const p = await buy(u.token);
    await pay(p.paymentHash);
    const cap = captureEnv();
    const msg = checkMsg(p.id);
    const res = await consume(cap.env, [{ body: msg }, { body: msg }]);
    expect(res.explicitAcks).toHaveLength(2);
    const after = await me(u.token);
    expect(after.plan).toBe("pro");

    const batch = createMessageBatch("payments", [{ id: "dup-1", timestamp: Date.now(), attempts: 1, body: msg }]);
    const ctx = createExecutionContext();
    await handleQueue(batch, cap.env, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["dup-1"]);

    expect((await me(u.token)).planExpiresAt).toBe(after.planExpiresAt);
    expect(after.planExpiresAt! - Date.now()).toBeLessThanOrEqual(30 * DAY);
    expect(cap.sent.notifications).toHaveLength(1);
  });

  it("a second pro payment extends from the current expiry, not from now", async () => {
    const u = await registerUser("pay-extend");
    const cap = captureEnv();
    const a = await buy(u.token);
    await pay(a.paymentHash);
    await consume(cap.env, [{ body: checkMsg(a.id) }]);
    const firstExpiry = (await me(u.token)).planExpiresAt!;
    const b = await buy(u.token);
    await pay(b.paymentHash);
    await consume(cap.env, [{ body: checkMsg(b.id) }]);
    expect((await me(u.token)).planExpiresAt).toBe(firstExpiry + 30 * DAY);
  });

  it("unpaid until expiry -> expired, no activation, no further check", async () => {
    const u = await registerUser("pay-expire");
    const p = await buy(u.token);
    const cap = captureEnv();
    const res = await consume(cap.env, [{ body: checkMsg(p.id) }], { now: p.expiresAt + 1 });
    expect(res.explicitAcks).toHaveLength(1);
    expect(cap.sent.payments).toEqual([]);
    expect((await row(p.id))!.status).toBe("expired");
    expect(await me(u.token)).toMatchObject({ plan: "free", planExpiresAt: null });
    expect(cap.sent.notifications).toEqual([]);
    expect((await api("GET", `/v1/payments/${p.id}`, { token: u.token })).body.status).toBe("expired");
  });

  it("shows a lapsed paid plan as free in /v1/me", async () => {
    const u = await registerUser("pay-lapsed");
    await env.DB.prepare("UPDATE users SET plan_id = 'pro', plan_expires_at = ? WHERE id = ?").bind(Date.now() - 1000, u.userId).run();
    expect(await me(u.token)).toMatchObject({ plan: "free", planExpiresAt: null });
  });
});

describe("provider outage", () => {
  it("retries with backoff, dead-letters after the last attempt, and a manual retry after recovery activates", async () => {
    const u = await registerUser("pay-down");
    const p = await buy(u.token);
    await pay(p.paymentHash);
    await simFaults({ lightningDown: true });
    const cap = captureEnv();
    const msg = await sentMsg(p.id);

    const { lines } = await captureLogs(async () => {
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        const res = await consume(cap.env, [{ body: msg, attempts: attempt }]);
        expect(res.explicitAcks).toEqual([]);
        expect(res.retryMessages).toHaveLength(1);
        expect(res.retryDelays).toEqual([10 * 2 ** (attempt - 1)]);
      }
    });
    expect(await row(p.id)).toMatchObject({ status: "pending", checks: MAX_ATTEMPTS });
    expect((await me(u.token)).plan).toBe("free");
    const recorded = await env.DB.prepare("SELECT * FROM queue_message_errors WHERE queue = 'payments' AND message_id = ?").bind(msg.id).first<Record<string, any>>();
    expect(recorded).toMatchObject({ error_class: "provider_temporary", attempts: MAX_ATTEMPTS });
    expect(recorded!.first_error).toMatch(/503/);

    // Retries exhausted: the platform moves the message to payments-dlq, whose consumer stores it.
    const dlq = createMessageBatch("payments-dlq", [{ id: "dlq-msg-1", timestamp: Date.now(), attempts: 1, body: msg }]);
    const dlqCtx = createExecutionContext();
    await handleQueue(dlq, cap.env, dlqCtx);
    expect((await getQueueResult(dlq, dlqCtx)).explicitAcks).toEqual(["dlq-msg-1"]);
    expect(cap.sent.alerts.map((a) => a.body.event)).toContain("ops.dead_letter");

    // The operator sees it, with the provider's error and without the key.
    const admin = await registerUser("pay-admin");
    await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.userId).run();
    const list = await api("GET", "/v1/admin/dead-letters?queue=payments&status=open", { token: admin.token });
    expect(list.status).toBe(200);
    const dead = list.body.data.find((d: { messageId: string }) => d.messageId === msg.id);
    expect(dead).toMatchObject({ queue: "payments", attempts: MAX_ATTEMPTS, errorClass: "provider_temporary", body: msg });
    expect(dead.lastError).toMatch(/503/);
    expect(JSON.stringify(list.body)).not.toContain(API_KEY);
    expect(lines.join("\n")).not.toContain(API_KEY);

    // The provider recovers; the operator retries; the re-sent body is delivered again.
    await simFaults({});
    const notifBefore = await counter("notifications");
    const retry = await api("POST", `/v1/admin/dead-letters/${dead.id}/retry`, { token: admin.token });
    expect(retry.body.status).toBe("retried");
    const redelivered = await consume(cap.env, [{ body: dead.body }]);
    expect(redelivered.explicitAcks).toHaveLength(1);
    expect((await me(u.token)).plan).toBe("pro");
    expect((await row(p.id))!.status).toBe("paid");
    // Exactly one confirmation, whichever delivery (this one or the real queue's) activated.
    expect((await counter("notifications")).sent).toBe(notifBefore.sent + 1);
  });

  it("answers 503 without leaking the key when the provider is down at purchase", async () => {
    const u = await registerUser("pay-down-create");
    await simFaults({ lightningDown: true });
    const { result: res, lines } = await captureLogs(() => api("POST", "/v1/payments", { token: u.token, body: { planId: "pro" } }));
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("upstream_unavailable");
    expect(JSON.stringify(res.body)).not.toContain(API_KEY);
    expect(lines.join("\n")).not.toContain(API_KEY);
    expect((await api("GET", "/v1/payments", { token: u.token })).body.data).toEqual([]);
  });

  it("dead-letters a malformed message at once", async () => {
    const before = await counter("payments");
    const res = await consume(env, [{ body: { v: 1, id: "bad-1", kind: "payment" } }]);
    expect(res.explicitAcks).toHaveLength(1);
    expect((await counter("payments")).settled).toBe(before.settled + 1);
    const dead = await env.DB.prepare("SELECT error_class, last_error FROM dead_letters WHERE queue = 'payments' AND body LIKE '%bad-1%'").first<Record<string, string>>();
    expect(dead).toMatchObject({ error_class: "validation" });
    expect(dead!.last_error).toContain("paymentId");
  });
});

describe("reading payments", () => {
  it("a user cannot read another user's payment", async () => {
    const a = await registerUser("pay-iso-a");
    const b = await registerUser("pay-iso-b");
    const p = await buy(a.token);
    expect((await api("GET", `/v1/payments/${p.id}`, { token: b.token })).status).toBe(404);
    expect((await api("GET", "/v1/payments", { token: b.token })).body.data).toEqual([]);
    expect((await api("GET", "/v1/payments/not-an-id", { token: a.token })).status).toBe(404);
    expect((await api("GET", `/v1/payments/${p.id}`, { token: a.token })).body.id).toBe(p.id);
  });

  it("pages with a cursor, newest first", async () => {
    const u = await registerUser("pay-page");
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await buy(u.token)).id);
    const one = await api("GET", "/v1/payments?limit=2", { token: u.token });
    expect(one.body.data).toHaveLength(2);
    expect(one.body.nextCursor).toBeTruthy();
    const two = await api("GET", `/v1/payments?limit=2&cursor=${encodeURIComponent(one.body.nextCursor)}`, { token: u.token });
    expect(two.body.nextCursor).toBeNull();
    const seen = [...one.body.data, ...two.body.data].map((p: { id: string }) => p.id);
    expect(seen.sort()).toEqual(ids.sort());
    expect((await api("GET", "/v1/payments?cursor=garbage", { token: u.token })).status).toBe(400);
    expect((await api("GET", "/v1/payments?limit=1000", { token: u.token })).status).toBe(400);
  });
});

describe("one re-check chain per payment", () => {
  it("a duplicate unpaid check does not start a second chain; the sweeper's message takes over", async () => {
    const u = await registerUser("pay-chain");
    const p = await buy(u.token);
    const cap = captureEnv();
    const owner = await sentMsg(p.id);
    await consume(cap.env, [{ body: owner }, { body: owner }]);
    expect(cap.sent.payments).toHaveLength(1); // the duplicate checked, then stopped
    const next = cap.sent.payments[0]!.body as PaymentMessage;
    expect((await row(p.id))!.check_message_id).toBe(next.id);

    const stray = await consume(cap.env, [{ body: checkMsg(p.id) }]);
    expect(stray.explicitAcks).toHaveLength(1);
    expect(cap.sent.payments).toHaveLength(1);
    expect((await row(p.id))!.checks).toBe(3);
  });
});

describe("sweeper", () => {
  it("re-enqueues a stale pending payment once, and expires pending payments past expiry", async () => {
    const u = await registerUser("pay-sweep");
    const stale = await buy(u.token);
    const old = await buy(u.token);
    const now = Date.now();
    await env.DB.prepare("UPDATE payments SET created_at = ?, last_enqueued_at = ? WHERE id = ?").bind(now - 180_000, now - 180_000, stale.id).run();
    await env.DB.prepare("UPDATE payments SET expires_at = ? WHERE id = ?").bind(now - 1, old.id).run();

    const cap = captureEnv();
    const result = await sweepPayments(cap.env, { now, limit: 500 });
    expect(result.expired).toBeGreaterThanOrEqual(1);
    expect((await row(old.id))!.status).toBe("expired");
    expect(cap.sent.payments.map((s) => s.body.paymentId)).toContain(stale.id);
    expect(cap.sent.payments.find((s) => s.body.paymentId === stale.id)!.delaySeconds).toBeUndefined();
    expect((await row(stale.id))!.last_enqueued_at).toBe(now);

    // A message is in flight now: the next sweep leaves it alone.
    const again = captureEnv();
    await sweepPayments(again.env, { now: now + 60_000, limit: 500 });
    expect(again.sent.payments.map((s) => s.body.paymentId)).not.toContain(stale.id);

    // The sweeper's message owns the chain: the original one, arriving late, stops.
    const swept = cap.sent.payments.find((s) => s.body.paymentId === stale.id)!.body as PaymentMessage;
    expect((await row(stale.id))!.check_message_id).toBe(swept.id);
    const late = captureEnv();
    await consume(late.env, [{ body: checkMsg(stale.id, "job-original") }]);
    expect(late.sent.payments).toEqual([]);
    await consume(late.env, [{ body: swept }]);
    expect(late.sent.payments.map((s) => s.delaySeconds)).toEqual([30]);
  });

  it("runs from the every-minute cron", async () => {
    const u = await registerUser("pay-cron");
    const p = await buy(u.token);
    const past = Date.now() - 180_000;
    await env.DB.prepare("UPDATE payments SET created_at = ?, last_enqueued_at = ? WHERE id = ?").bind(past, past, p.id).run();
    const cap = captureEnv();
    await handleScheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), cap.env, createExecutionContext());
    expect(cap.sent.payments.map((s) => s.body.paymentId)).toContain(p.id);
    expect((await row(p.id))!.last_enqueued_at).toBeGreaterThan(past);
  });
});
