/**
 * Notification providers behind a breaker and a rate limit (issue 19): a provider that keeps
 * failing is left alone for 30 s instead of every message piling onto it.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../src/lib/logger";
import { deliverNotification, resetChannelGuards } from "../src/notify/deliver";
import { message, userWithChannels } from "./notifications-helpers";

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
});
