import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { signWebhook, verifyWebhookSignature } from "../src/notify/signature";
import { checkWebhookUrl } from "../src/notify/url-policy";
import { api, captureLogs, registerUser } from "./helpers";
import {
  clearInbox, deliveries, eventually, failChannel, message, okCount, received, runQueue, userWithChannels,
} from "./notifications-helpers";

beforeEach(async () => {
  await clearInbox();
});

async function hex(key: string, text: string): Promise<string> {
  const k = await crypto.subtle.importKey("raw", new TextEncoder().encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const sig = await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(text));
  return [...new Uint8Array(sig)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("delivery", () => {
  it("reaches every channel and records one delivery row per channel", async () => {
    const u = await userWithChannels("all");
    const msg = message(u.userId);
    const result = await runQueue("notifications", [{ body: msg }]);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(1);

    const got = await received(u);
    expect([okCount(got.webhook), okCount(got.telegram), okCount(got.email)]).toEqual([1, 1, 1]);
    expect(got.telegram[0]!.json.text).toContain("Risk at 82 %");
    // The Bot API path carries the token from TELEGRAM_BOT_TOKEN (recorded as a fingerprint).
    const tokenFp = [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(env.TELEGRAM_BOT_TOKEN)))]
      .map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, 16);
    expect(got.telegram[0]!.target).toBe(tokenFp);
    expect(got.email[0]!.json).toMatchObject({ to: u.address, subject: "[warning] Risk at 82 %" });
    expect(JSON.parse(got.webhook[0]!.raw)).toMatchObject({ id: msg.id, event: msg.event, severity: "warning", data: msg.data, traceId: msg.traceId });

    const rows = await deliveries(msg.id);
    expect(rows.map((r) => [r.channel, r.status, r.attempts, r.trace_id])).toEqual([
      ["email", "sent", 1, msg.traceId], ["telegram", "sent", 1, msg.traceId], ["webhook", "sent", 1, msg.traceId],
    ]);
    expect(rows.every((r) => typeof r.latency_ms === "number")).toBe(true);

    const history = await api("GET", "/v1/notifications", { token: u.token });
    expect(history.status).toBe(200);
    expect(history.body.data[0]).toMatchObject({ id: msg.id, title: msg.title, traceId: msg.traceId });
    expect(history.body.data[0].deliveries.map((d: any) => `${d.channel}:${d.status}`)).toEqual(["email:sent", "telegram:sent", "webhook:sent"]);
  });

  it("retries only the failing channel, with exponential backoff, without resending the others", async () => {
    const u = await userWithChannels("retry");
    const msg = message(u.userId);
    await failChannel("telegram", { count: 1 });

    const first = await runQueue("notifications", [{ body: msg, attempts: 1 }]);
    expect(first.explicitAcks).toEqual([]);
    expect(first.retryMessages).toHaveLength(1);
    expect(first.delays).toEqual([2]);
    let rows = await deliveries(msg.id);
    expect(rows.find((r) => r.channel === "telegram")).toMatchObject({ status: "pending", attempts: 1, last_error: "telegram: HTTP 500 (Simulated failure)" });
    expect(rows.filter((r) => r.status === "sent").map((r) => r.channel)).toEqual(["email", "webhook"]);

    const second = await runQueue("notifications", [{ body: msg, attempts: 2 }]);
    expect(second.explicitAcks).toHaveLength(1);
    const got = await received(u);
    expect(got.webhook).toHaveLength(1);
    expect(got.email).toHaveLength(1);
    expect(got.telegram.map((e) => e.status)).toEqual([500, 200]);
    rows = await deliveries(msg.id);
    expect(rows.find((r) => r.channel === "telegram")).toMatchObject({ status: "sent", attempts: 2 });
    // Settled: the recorded error of the retried attempt is forgotten.
    const left = await env.DB.prepare("SELECT count(*) AS n FROM queue_message_errors WHERE message_id = ?").bind(msg.id).first<{ n: number }>();
    expect(left!.n).toBe(0);
  });

  it("backs off 2 s, 4 s, then marks the channel failed on the last attempt", async () => {
    const u = await userWithChannels("backoff");
    const msg = message(u.userId);
    await failChannel("email", { always: true, status: 503 });
    const delays: (number | undefined)[] = [];
    for (const attempts of [1, 2, 3]) delays.push((await runQueue("notifications", [{ body: msg, attempts }])).delays[0]);
    expect(delays).toEqual([2, 4, 8]);
    const email = (await deliveries(msg.id)).find((r) => r.channel === "email");
    expect(email).toMatchObject({ status: "failed", attempts: 3, last_error: "email: HTTP 503" });
    expect(okCount((await received(u)).webhook)).toBe(1);
  });

  it("does not send twice when a message is redelivered", async () => {
    const u = await userWithChannels("dup");
    const msg = message(u.userId);
    await runQueue("notifications", [{ body: msg, attempts: 1 }]);
    const again = await runQueue("notifications", [{ body: msg, attempts: 2 }, { body: msg, attempts: 1 }]);
    expect(again.explicitAcks).toHaveLength(2);
    const got = await received(u);
    expect([got.webhook.length, got.telegram.length, got.email.length]).toEqual([1, 1, 1]);
    expect((await deliveries(msg.id)).map((r) => r.attempts)).toEqual([1, 1, 1]);
  });

  it("does not retry a channel that refuses for good (4xx)", async () => {
    const u = await userWithChannels("perm");
    const msg = message(u.userId);
    await failChannel("telegram", { always: true, status: 400 });
    const r = await runQueue("notifications", [{ body: msg }]);
    expect(r.explicitAcks).toHaveLength(1);
    expect((await deliveries(msg.id)).find((d) => d.channel === "telegram")).toMatchObject({ status: "failed", last_error: "telegram: HTTP 400 (Simulated failure)" });
  });

  it("applies per-event preferences: channels and minimum severity", async () => {
    const u = await userWithChannels("prefs", {
      preferences: { default: { minSeverity: "warning" }, events: { "auto_entry.opened": { channels: ["telegram"] }, "margin.critical": { channels: ["email", "webhook"], minSeverity: "critical" } } },
    });
    const quiet = message(u.userId, { event: "margin.action", severity: "info" });
    const opened = message(u.userId, { event: "auto_entry.opened", severity: "info" });
    const crit = message(u.userId, { event: "margin.critical", severity: "critical" });
    const r = await runQueue("notifications", [{ body: quiet }, { body: opened }, { body: crit }]);
    expect(r.explicitAcks).toHaveLength(3);
    expect(await deliveries(quiet.id)).toEqual([]);
    expect((await deliveries(opened.id)).map((d) => d.channel)).toEqual(["telegram"]);
    expect((await deliveries(crit.id)).map((d) => d.channel)).toEqual(["email", "webhook"]);
  });

  it("sends operator alerts (userId ops) to every admin's channels", async () => {
    const admin = await userWithChannels("admin");
    await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.userId).run();
    const msg = message("ops", { event: "alert.queue_backlog", severity: "critical", title: "Backlog too high" });
    expect((await runQueue("alerts", [{ body: msg }])).explicitAcks).toHaveLength(1);
    expect(okCount((await received(admin)).webhook)).toBe(1);
    const history = await api("GET", "/v1/notifications", { token: admin.token });
    expect(history.body.data[0]).toMatchObject({ id: `${msg.id}:${admin.userId}`, event: "alert.queue_backlog" });
  });
});

describe("webhook signature", () => {
  it("verifies with the documented scheme and fails when tampered", async () => {
    const u = await userWithChannels("sig");
    await runQueue("notifications", [{ body: message(u.userId) }]);
    const [hook] = (await received(u)).webhook;
    const ts = hook!.headers["x-lnma-timestamp"]!;
    const sig = hook!.headers["x-lnma-signature"]!;
    // The README's scheme, recomputed independently: v1=hex(HMAC-SHA256(secret, ts + "." + body)).
    expect(sig).toBe(`v1=${await hex(u.secret, `${ts}.${hook!.raw}`)}`);
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(60);
    expect(await verifyWebhookSignature(u.secret, { body: hook!.raw, timestamp: ts, signature: sig })).toEqual({ ok: true });

    const tampered = hook!.raw.replace("82 %", "12 %");
    expect(tampered).not.toBe(hook!.raw);
    expect(await verifyWebhookSignature(u.secret, { body: tampered, timestamp: ts, signature: sig })).toEqual({ ok: false, reason: "mismatch" });
    expect(await verifyWebhookSignature("another-secret-value", { body: hook!.raw, timestamp: ts, signature: sig })).toEqual({ ok: false, reason: "mismatch" });
    expect(await verifyWebhookSignature(u.secret, { body: hook!.raw, timestamp: String(Number(ts) + 1), signature: sig })).toEqual({ ok: false, reason: "mismatch" });
    expect(await verifyWebhookSignature(u.secret, { body: hook!.raw, timestamp: ts, signature: sig }, { nowSeconds: Number(ts) + 3600 })).toEqual({ ok: false, reason: "stale" });
    expect(await verifyWebhookSignature(u.secret, { body: hook!.raw, timestamp: null, signature: sig })).toEqual({ ok: false, reason: "missing_headers" });
    const resigned = await signWebhook(u.secret, hook!.raw, Number(ts));
    expect(resigned["x-lnma-signature"]).toBe(sig);
  });
});

describe("channels API", () => {
  it("stores the webhook secret encrypted and never returns or logs it", async () => {
    const { result: u, lines } = await captureLogs(() => userWithChannels("secret"));
    const got = await api("GET", "/v1/notifications/channels", { token: u.token });
    expect(got.status).toBe(200);
    expect(got.body.webhook).toEqual({ url: expect.stringContaining(u.hook), hasSecret: true, verified: true });
    expect(got.body).toMatchObject({ telegram: { chatId: u.chatId }, email: { address: u.address } });
    expect(JSON.stringify(got.body)).not.toContain(u.secret);
    const row = await env.DB.prepare("SELECT config FROM notification_channels WHERE user_id = ?").bind(u.userId).first<{ config: string }>();
    expect(row!.config).not.toContain(u.secret);

    // Omitting the secret keeps it: deliveries still verify with the original one.
    const put = await api("PUT", "/v1/notifications/channels", { token: u.token, body: { webhook: { url: got.body.webhook.url } } });
    expect(put.body).toMatchObject({ webhook: { hasSecret: true }, telegram: null, email: null });
    const { lines: sendLines } = await captureLogs(() => runQueue("notifications", [{ body: message(u.userId) }]));
    const [hook] = (await received(u)).webhook;
    expect(await verifyWebhookSignature(u.secret, { body: hook!.raw, timestamp: hook!.headers["x-lnma-timestamp"], signature: hook!.headers["x-lnma-signature"] })).toEqual({ ok: true });
    for (const line of [...lines, ...sendLines]) {
      expect(line).not.toContain(u.secret);
      expect(line).not.toContain(env.TELEGRAM_BOT_TOKEN);
    }
    expect(sendLines.some((l) => l.includes("notify.delivery"))).toBe(true);
  });

  it("answers 400 naming the field for invalid channels", async () => {
    const u = await registerUser("bad-ch");
    const url = `${env.LNM_SIMULATOR_URL}/__sim/inbox/webhook/x`;
    const cases: [unknown, string][] = [
      [{ webhook: { url: "ftp://example.com/hook", secret: "s".repeat(20) } }, "webhook.url"],
      [{ webhook: { url: "not a url", secret: "s".repeat(20) } }, "webhook.url"],
      [{ webhook: { url: "https://user:pw@example.com/h", secret: "s".repeat(20) } }, "webhook.url"],
      [{ webhook: { url } }, "webhook.secret"],
      [{ webhook: { url, secret: "short" } }, "webhook.secret"],
      [{ telegram: { chatId: "not-a-chat" } }, "telegram.chatId"],
      [{ email: { address: "nope" } }, "email.address"],
      [{ preferences: { events: { "margin.warning": { channels: ["pigeon"] } } } }, "preferences.events.margin.warning.channels.0"],
      // Event names are the platform's list (src/messaging/events.ts), not free text.
      [{ preferences: { events: { "margin_guard.critical": { channels: ["telegram"] } } } }, "preferences.events.margin_guard.critical"],
      [{ preferences: { events: { "trade.opened": { channels: [] } } } }, "preferences.events.trade.opened"],
      [{ preferences: { events: { "margin.*": { channels: [] } } } }, "preferences.events.margin.*"],
      [{ preferences: { default: { minSeverity: "loud" } } }, "preferences.default.minSeverity"],
      [{ sms: { number: "123" } }, "(body)"],
    ];
    for (const [body, field] of cases) {
      const r = await api("PUT", "/v1/notifications/channels", { token: u.token, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe("validation_error");
      expect(r.body.error.details.map((d: { path: string }) => d.path), JSON.stringify(body)).toContain(field);
    }
    expect((await api("PUT", "/v1/notifications/channels", { token: u.token, rawBody: "{bad" })).status).toBe(400);
    expect((await api("GET", "/v1/notifications/channels")).status).toBe(401);
  });

  it("refuses http and private addresses outside development and test", () => {
    for (const bad of ["http://example.com/h", "https://localhost/h", "https://127.0.0.1/h", "https://10.1.2.3/h", "https://192.168.1.1/h",
      "https://172.20.0.1/h", "https://169.254.169.254/latest", "https://[::1]/h", "https://[fd00::1]/h", "https://[::ffff:10.0.0.1]/h",
      "https://printer.local/h", "https://intranet/h", "https://0.0.0.0/h", "https://2130706433/h"]) {
      expect(checkWebhookUrl(bad, "strict"), bad).not.toBeNull();
    }
    expect(checkWebhookUrl("https://hooks.example.com/lnm?x=1", "strict")).toBeNull();
    expect(checkWebhookUrl("http://127.0.0.1:8788/__sim/inbox/webhook/a", "dev")).toBeNull();
  });

  it("POST /v1/notifications/test goes through the queue to every channel", async () => {
    const u = await userWithChannels("test-route");
    const r = await api("POST", "/v1/notifications/test", { token: u.token, headers: { "x-request-id": "trace-test-route" } });
    expect(r.status).toBe(202);
    expect(r.body.channels).toEqual(["webhook", "telegram", "email"]);
    const got = await eventually(async () => {
      const g = await received(u);
      return okCount(g.webhook) && okCount(g.telegram) && okCount(g.email) ? g : null;
    });
    expect(JSON.parse(got.webhook[0]!.raw)).toMatchObject({ id: r.body.id, event: "notification.test", traceId: "trace-test-route" });
    const history = await eventually(async () => {
      const h = await api("GET", "/v1/notifications", { token: u.token });
      return h.body.data[0]?.deliveries.every((d: any) => d.status === "sent") ? h : null;
    });
    expect(history.body.data[0].id).toBe(r.body.id);
    // The request's trace id follows the message to every delivery row.
    expect((await deliveries(r.body.id)).map((d) => d.trace_id)).toEqual(["trace-test-route", "trace-test-route", "trace-test-route"]);

    const none = await registerUser("no-ch");
    const refused = await api("POST", "/v1/notifications/test", { token: none.token });
    expect(refused.status).toBe(400);
    expect(refused.body.error.details[0].path).toBe("channels");
  }, 30_000);
});

describe("history", () => {
  it("is private to its user and cursor paged", async () => {
    const a = await userWithChannels("hist-a");
    const b = await registerUser("hist-b");
    const msgs = [message(a.userId, { title: "one" }), message(a.userId, { title: "two" }), message(a.userId, { title: "three" })];
    for (const m of msgs) await runQueue("notifications", [{ body: m }]);

    const other = await api("GET", "/v1/notifications", { token: b.token });
    expect(other.status).toBe(200);
    expect(other.body.data).toEqual([]);

    const p1 = await api("GET", "/v1/notifications?limit=2", { token: a.token });
    expect(p1.body.data).toHaveLength(2);
    expect(p1.body.nextCursor).toEqual(expect.any(String));
    const p2 = await api("GET", `/v1/notifications?limit=2&cursor=${encodeURIComponent(p1.body.nextCursor)}`, { token: a.token });
    expect(p2.body.data).toHaveLength(1);
    expect(p2.body.nextCursor).toBeNull();
    const ids = [...p1.body.data, ...p2.body.data].map((n: { id: string }) => n.id).sort();
    expect(ids).toEqual(msgs.map((m) => m.id).sort());

    const bad = await api("GET", "/v1/notifications?cursor=%%%", { token: a.token });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe("cursor");
  });
});
