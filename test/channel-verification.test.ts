/**
 * Issue 22, item 5: a channel gets real events only once verified (a code sent to it and
 * submitted back); until then only the code and throttled test messages reach it.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { MAX_CODE_ATTEMPTS, targetKey } from "../src/notify/verification";
import { verifyWebhookSignature } from "../src/notify/signature";
import { api, captureLogs, registerUser } from "./helpers";
import { freshRateWindow, rateWindow } from "./rate-window";
import {
  clearInbox, deliveries, eventually, inbox, markChannelsVerified, message, okCount, received, runQueue, userWithChannels, type ChannelUser,
} from "./notifications-helpers";

beforeEach(async () => {
  await clearInbox();
});

const CHANNELS = ["webhook", "telegram", "email"] as const;
type Channel = (typeof CHANNELS)[number];

/** Asks for a code on `channel` and reads it where the channel's owner would. */
async function codeFor(u: ChannelUser, channel: Channel): Promise<string> {
  const sent = await api("POST", `/v1/notifications/channels/${channel}/verification`, { token: u.token });
  expect(sent.status, JSON.stringify(sent.body)).toBe(202);
  expect(sent.body).toEqual({ channel, expiresAt: expect.any(Number) });
  const got = (await received(u))[channel];
  const last = got[got.length - 1]!;
  const text = channel === "webhook" ? String(last.json.data.code) : String(last.json.text);
  return /\b(\d{6})\b/.exec(text)![1]!;
}

const verify = (u: ChannelUser, channel: Channel, code: string) =>
  api("POST", `/v1/notifications/channels/${channel}/verify`, { token: u.token, body: { code } });

describe("unverified channels", () => {
  it("start unverified, and a real event skips them with the reason in the delivery rows and the history", async () => {
    const u = await userWithChannels("unverified", {}, { verified: false });
    const view = await api("GET", "/v1/notifications/channels", { token: u.token });
    expect([view.body.webhook.verified, view.body.telegram.verified, view.body.email.verified]).toEqual([false, false, false]);

    const msg = message(u.userId);
    const result = await runQueue("notifications", [{ body: msg }]);
    expect(result.retryMessages).toEqual([]); // nothing to retry: skipped is final
    const got = await received(u);
    expect([got.webhook.length, got.telegram.length, got.email.length]).toEqual([0, 0, 0]);
    const rows = await deliveries(msg.id);
    expect(rows.map((r) => [r.channel, r.status, r.attempts])).toEqual([["email", "skipped", 0], ["telegram", "skipped", 0], ["webhook", "skipped", 0]]);
    for (const r of rows) expect(r.last_error).toContain("not verified");

    const history = await api("GET", "/v1/notifications", { token: u.token });
    const entry = history.body.data.find((n: any) => n.id === msg.id);
    expect(entry.deliveries.map((d: any) => d.status)).toEqual(["skipped", "skipped", "skipped"]);
    expect(entry.deliveries[0].lastError).toContain("email: not sent, the channel is not verified");
  });

  it("a test message reaches them, 3 a minute per target, counted across users", async () => {
    const u = await registerUser("unv-test");
    const address = `unv-${crypto.randomUUID()}@mail.example.test`;
    expect((await api("PUT", "/v1/notifications/channels", { token: u.token, body: { email: { address } } })).status).toBe(200);
    const other = await registerUser("unv-test2");
    // The limiter's windows are fixed (test/rate-window.ts): the whole count happens in one.
    const started = await freshRateWindow(15);
    for (let i = 0; i < 3; i++) expect((await api("POST", "/v1/notifications/test", { token: u.token })).status).toBe(202);
    const refused = await api("POST", "/v1/notifications/test", { token: u.token });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("60");
    expect(refused.body.error).toMatchObject({ code: "rate_limited", message: expect.stringContaining("unverified email") });
    // Another user typing the same address does not get more messages through to it.
    expect((await api("PUT", "/v1/notifications/channels", { token: other.token, body: { email: { address } } })).status).toBe(200);
    expect((await api("POST", "/v1/notifications/test", { token: other.token })).status).toBe(429);
    expect(rateWindow(), "the count took longer than 15 s and crossed the limiter's window").toBe(started);

    const got = await eventually(async () => {
      const mails = (await inbox("email")).filter((e) => e.json?.to === address);
      return mails.length === 3 ? mails : null;
    });
    expect(got[0]!.json.subject).toContain("Test notification");
  }, 45_000);

  it("a test message reaches only the unverified target it was admitted for, not one saved since", async () => {
    const u = await registerUser("unv-retarget");
    const first = `first-${crypto.randomUUID()}@mail.example.test`;
    const second = `second-${crypto.randomUUID()}@mail.example.test`;
    expect((await api("PUT", "/v1/notifications/channels", { token: u.token, body: { email: { address: first } } })).status).toBe(200);
    const r = await api("POST", "/v1/notifications/test", { token: u.token });
    expect(r.status).toBe(202);
    const queued = await eventually(async () => (await api("GET", "/v1/notifications", { token: u.token })).body.data.find((n: any) => n.id === r.body.id));
    expect(queued.data).toEqual({ test: true, unverified: [await targetKey("email", first)] });

    // Saved again before the queue delivers: the message admitted for the first address skips the second.
    expect((await api("PUT", "/v1/notifications/channels", { token: u.token, body: { email: { address: second } } })).status).toBe(200);
    const late = message(u.userId, { event: "notification.test", severity: "info", data: { test: true, unverified: [await targetKey("email", first)] } });
    await runQueue("notifications", [{ body: late }]);
    expect((await deliveries(late.id)).map((d) => [d.channel, d.status])).toEqual([["email", "skipped"]]);
    const admitted = message(u.userId, { event: "notification.test", severity: "info", data: { test: true, unverified: [await targetKey("email", second)] } });
    await runQueue("notifications", [{ body: admitted }]);
    expect((await deliveries(admitted.id)).map((d) => [d.channel, d.status])).toEqual([["email", "sent"]]);
    expect((await inbox("email")).filter((e) => e.json?.to === second)).toHaveLength(1);
  }, 30_000);

  it("a verified channel's test messages are not held by the unverified limit", async () => {
    const u = await userWithChannels("ver-test");
    for (let i = 0; i < 5; i++) expect((await api("POST", "/v1/notifications/test", { token: u.token })).status).toBe(202);
  });
});

describe("verification flow", () => {
  it("is in the OpenAPI document", async () => {
    const doc = await api("GET", "/openapi.json");
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining([
      "/v1/notifications/channels/{channel}/verification", "/v1/notifications/channels/{channel}/verify",
    ]));
    expect(doc.body.components.schemas.NotificationDelivery.properties.status.enum).toContain("skipped");
  });

  it.each(CHANNELS)("%s: the code sent to the channel verifies it, then real events reach it", async (channel) => {
    const u = await userWithChannels(`flow-${channel}`, {}, { verified: false });
    const { result: code, lines } = await captureLogs(() => codeFor(u, channel));
    expect(lines.some((l) => l.includes("notify.verification_sent"))).toBe(true);
    // As a number of its own (a timestamp may hold the same six digits inside a longer run).
    for (const line of lines) expect(line).not.toMatch(new RegExp(`(^|\\D)${code}(\\D|$)`));
    if (channel === "webhook") {
      const [hook] = (await received(u)).webhook;
      expect(JSON.parse(hook!.raw)).toMatchObject({ event: "notification.verification", data: { channel: "webhook", code } });
      expect(await verifyWebhookSignature(u.secret, { body: hook!.raw, timestamp: hook!.headers["x-lnma-timestamp"], signature: hook!.headers["x-lnma-signature"] })).toEqual({ ok: true });
    }
    // Only the asked channel got it, and the code is nowhere in the API's history.
    const others = CHANNELS.filter((c) => c !== channel);
    for (const c of others) expect((await received(u))[c]).toHaveLength(0);
    const history = await api("GET", "/v1/notifications", { token: u.token });
    expect(JSON.stringify(history.body)).not.toContain(code);

    const ok = await verify(u, channel, code);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body[channel].verified).toBe(true);
    for (const c of others) expect(ok.body[c].verified).toBe(false);
    // Used up: verifying again answers the view, asking a code again is a conflict.
    expect((await verify(u, channel, code)).status).toBe(200);
    const again = await api("POST", `/v1/notifications/channels/${channel}/verification`, { token: u.token });
    expect(again.status).toBe(409);
    expect(again.body.error.details).toEqual({ field: "channel" });

    await clearInbox();
    const msg = message(u.userId);
    await runQueue("notifications", [{ body: msg }]);
    const rows = await deliveries(msg.id);
    expect(rows.find((r) => r.channel === channel).status).toBe("sent");
    for (const c of others) expect(rows.find((r) => r.channel === c).status).toBe("skipped");
    expect(okCount((await received(u))[channel])).toBe(1);
  }, 30_000);

  it("refuses wrong codes naming `code`, voids the code after 5 wrong tries, and refuses expired codes", async () => {
    const u = await userWithChannels("wrong", {}, { verified: false });
    const code = await codeFor(u, "email");
    const wrong = code === "000000" ? "000001" : "000000";
    for (let i = 1; i <= MAX_CODE_ATTEMPTS; i++) {
      const r = await verify(u, "email", wrong);
      expect(r.status).toBe(400);
      expect(r.body.error.details[0]).toMatchObject({ path: "code" });
      expect(r.body.error.details[0].message).toContain(i < MAX_CODE_ATTEMPTS ? `${MAX_CODE_ATTEMPTS - i} tries left` : "no tries left");
    }
    const voided = await verify(u, "email", code);
    expect(voided.status).toBe(400);
    expect(voided.body.error.details[0].path).toBe("code");

    // A new code works; an expired one does not.
    const code2 = await codeFor(u, "telegram");
    await env.DB.prepare("UPDATE notification_channels SET config = json_set(config, '$.telegram.pending.expiresAt', 1) WHERE user_id = ?").bind(u.userId).run();
    const expired = await verify(u, "telegram", code2);
    expect(expired.status).toBe(400);
    expect(expired.body.error.details[0].path).toBe("code");

    // The stored config holds a hash, never the code.
    const code3 = await codeFor(u, "webhook");
    const row = await env.DB.prepare("SELECT config FROM notification_channels WHERE user_id = ?").bind(u.userId).first<{ config: string }>();
    expect(row!.config).not.toContain(code3);
    expect(JSON.parse(row!.config).webhook.pending).toMatchObject({ codeHash: expect.stringMatching(/^[0-9a-f]{64}$/), attempts: 0 });
  }, 30_000);

  it("answers 400 naming the field for bad input, never a 500", async () => {
    const u = await registerUser("verify-bad");
    const notConfigured = await api("POST", "/v1/notifications/channels/email/verification", { token: u.token });
    expect(notConfigured.status).toBe(400);
    expect(notConfigured.body.error.details[0].path).toBe("channel");
    const badChannel = await api("POST", "/v1/notifications/channels/sms/verification", { token: u.token });
    expect(badChannel.status).toBe(400);
    expect(badChannel.body.error.details[0].path).toBe("channel");
    for (const body of [{ code: "12345" }, { code: "abcdef" }, {}, { code: "123456", extra: 1 }]) {
      const r = await api("POST", "/v1/notifications/channels/email/verify", { token: u.token, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    const noCode = await api("POST", "/v1/notifications/channels/email/verify", { token: u.token, body: { code: "123456" } });
    expect(noCode.body.error.details[0].path).toBe("channel");
    expect((await api("POST", "/v1/notifications/channels/email/verification")).status).toBe(401);
  });

  it("a channel refusing the code is a 400 naming `channel`", async () => {
    const u = await registerUser("verify-refused");
    const put = await api("PUT", "/v1/notifications/channels", {
      token: u.token, body: { webhook: { url: `${env.LNM_SIMULATOR_URL}/__sim/no-such-receiver-${crypto.randomUUID()}`, secret: "whsec-refused-0123456789" } },
    });
    expect(put.status).toBe(200);
    const r = await api("POST", "/v1/notifications/channels/webhook/verification", { token: u.token });
    expect(r.status).toBe(400);
    expect(r.body.error.details[0]).toMatchObject({ path: "channel", code: "delivery_failed" });
  });

  it("saving the same target keeps the verification, a new target starts unverified", async () => {
    const u = await userWithChannels("retarget");
    const same = await api("PUT", "/v1/notifications/channels", {
      token: u.token, body: { webhook: { url: `${env.LNM_SIMULATOR_URL}/__sim/inbox/webhook/${u.hook}` }, telegram: { chatId: u.chatId }, email: { address: `new-${u.address}` } },
    });
    expect(same.status).toBe(200);
    expect([same.body.webhook.verified, same.body.telegram.verified, same.body.email.verified]).toEqual([true, true, false]);
  });
});

describe("migration 0009", () => {
  it("marks channels that existed before it verified", async () => {
    const u = await registerUser("premigration");
    const legacy = { telegram: { chatId: "424242" }, email: { address: "legacy@mail.example.test" } };
    await env.DB.prepare("INSERT INTO notification_channels (user_id, config, updated_at) VALUES (?, ?, ?)").bind(u.userId, JSON.stringify(legacy), Date.now()).run();
    expect((await api("GET", "/v1/notifications/channels", { token: u.token })).body.email.verified).toBe(false);
    const migration = (env.TEST_MIGRATIONS as { name: string; queries: string[] }[]).find((m) => m.name.startsWith("0009_"))!;
    for (const q of migration.queries.filter((q) => /^\s*UPDATE/i.test(q.replace(/^--.*$/gm, "")))) await env.DB.prepare(q).run();
    const after = await api("GET", "/v1/notifications/channels", { token: u.token });
    expect(after.body).toMatchObject({ webhook: null, telegram: { chatId: "424242", verified: true }, email: { verified: true } });
  });

  it("the test helper marks channels as the migration does", async () => {
    const u = await userWithChannels("helper", {}, { verified: false });
    await markChannelsVerified(u.userId);
    const view = await api("GET", "/v1/notifications/channels", { token: u.token });
    expect([view.body.webhook.verified, view.body.telegram.verified, view.body.email.verified]).toEqual([true, true, true]);
  });
});
