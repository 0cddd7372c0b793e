/**
 * Notification providers behind a breaker and a rate limit (issue 19): a provider that keeps
 * failing is left alone for 30 s instead of every message piling onto it; a burst beyond a
 * provider's rate is paced, never dead-lettered for it; a webhook is its own provider.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../src/lib/logger";
import { channelGuard, deliverNotification, PACE_MAX_MS, resetChannelGuards } from "../src/notify/deliver";
import { createNotifyTransport } from "../src/notify/transport";
import { clearInbox, deliveries, message, okCount, received, runQueue, userWithChannels } from "./notifications-helpers";

afterEach(() => resetChannelGuards());

describe("notification providers: breaker and rate limit", () => {
  it("after half of 10 sends fail, a channel's provider is not called for 30 s; the message stays retryable", async () => {
    // Defect: every message went to a failing provider, however long it kept failing.
    const u = await userWithChannels("notify-breaker");
    const logger = createLogger({ level: "error" });
    const calls: string[] = [];
    const failing = async (url: string) => {
      calls.push(url);
      return new Response("down", { status: 503 });
    };
    for (let i = 0; i < 10; i++) {
      const out = await deliverNotification(env, message(u.userId, { severity: "critical", event: "margin.critical" }), 1, logger, failing);
      expect(out.retryable.length).toBeGreaterThan(0);
    }
    const before = calls.length;
    expect(before).toBeGreaterThanOrEqual(10);
    const out = await deliverNotification(env, message(u.userId, { severity: "critical", event: "margin.critical" }), 1, logger, failing);
    expect(calls.length).toBe(before);
    expect(out.sent).toBe(0);
    expect(out.retryable.length).toBeGreaterThan(0);
    expect(out.retryable.every((f) => /circuit breaker/.test(f.error))).toBe(true);
  });

  it("a burst over every channel's rate is paced: 60 messages at once are all sent, none left to retry", async () => {
    // Defect (bench/RESULTS.md 2026-12-03, queue rows): past the bucket (webhook 50, Telegram
    // 30, email 20 at once) each send was refused as retryable, retried after 2 s and 4 s and
    // then dead-lettered: a burst of alerts lost about half of them.
    await clearInbox();
    const u = await userWithChannels("notify-burst");
    const logger = createLogger({ level: "error" });
    const outs = await Promise.all(Array.from({ length: 60 }, () => deliverNotification(env, message(u.userId), 1, logger)));
    expect(outs.flatMap((o) => o.retryable)).toEqual([]);
    expect(outs.reduce((n, o) => n + o.sent, 0)).toBe(180);
    const got = await received(u);
    expect([okCount(got.webhook), okCount(got.telegram), okCount(got.email)]).toEqual([60, 60, 60]);
  });

  it("one user's failing webhook opens its own breaker only: another user's webhook still receives", async () => {
    // Defect: one breaker for every webhook, so one receiver answering 503 paused all of them for 30 s.
    await clearInbox();
    const broken = await userWithChannels("notify-hook-down");
    const other = await userWithChannels("notify-hook-up");
    const logger = createLogger({ level: "error" });
    const real = createNotifyTransport(env);
    const fetcher: typeof real = async (url, init) => (String(url).includes(broken.hook) ? new Response("down", { status: 503 }) : real(url, init));
    for (let i = 0; i < 10; i++) await deliverNotification(env, message(broken.userId), 1, logger, fetcher);
    const stillDown = await deliverNotification(env, message(broken.userId), 1, logger, fetcher);
    expect(stillDown.retryable.map((f) => [f.channel, /circuit breaker/.test(f.error)])).toEqual([["webhook", true]]);
    const out = await deliverNotification(env, message(other.userId), 1, logger, fetcher);
    expect(out.retryable).toEqual([]);
    expect(okCount((await received(other)).webhook)).toBe(1);
  });

  it("a message put off only by the pacing goes back on its queue as a new message, even on its last attempt", async () => {
    // Defect: the queue retried it (2 s, 4 s) and moved it to the DLQ after the 3rd attempt.
    const u = await userWithChannels("notify-requeue");
    // Every channel's next turn beyond what a send may wait for.
    for (const channel of ["webhook", "telegram", "email"] as const) {
      const guard = channelGuard(channel, channel === "webhook" ? { userId: u.userId, preferences: {}, webhook: { url: `${env.LNM_SIMULATOR_URL}/__sim/inbox/webhook/${u.hook}`, secret: u.secret, verified: true } } : undefined);
      for (;;) {
        const turn = guard.admit(Date.now(), 60_000);
        if (!turn.ok || (turn.waitMs ?? 0) > PACE_MAX_MS) break;
      }
    }
    const sentBefore = (await env.DB.prepare("SELECT sent FROM queue_counters WHERE queue = 'notifications'").first<number>("sent")) ?? 0;
    const msg = message(u.userId);
    const r = await runQueue("notifications", [{ body: msg, attempts: 3 }]);
    expect(r.retryMessages).toEqual([]);
    expect(r.explicitAcks).toHaveLength(1);
    expect((await env.DB.prepare("SELECT sent FROM queue_counters WHERE queue = 'notifications'").first<number>("sent")) ?? 0).toBe(sentBefore + 1);
    // Nothing marked failed: the new message sends them (delivery is idempotent on the id).
    expect((await deliveries(msg.id)).map((d: { status: string }) => d.status)).toEqual(["pending", "pending", "pending"]);
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM queue_message_errors WHERE message_id = ?").bind(msg.id).first<number>("n")).toBe(0);
  });
});
