import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { recordMessageFailure } from "../src/messaging/dead-letters";
import { api, registerUser } from "./helpers";
import {
  adminUser, clearInbox, deliveries, eventually, failChannel, message, okCount, received, runQueue, userWithChannels,
} from "./notifications-helpers";

beforeEach(async () => {
  await clearInbox();
});

const deadLetterRows = async (messageId: string) =>
  (await env.DB.prepare("SELECT * FROM dead_letters WHERE message_id = ?").bind(messageId).all<any>()).results;

describe("dead letters", () => {
  it("stores a message that exhausted its attempts, shows it to operators, and a retry re-sends only what failed", async () => {
    const ops = await userWithChannels("ops");
    await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(ops.userId).run();
    const u = await userWithChannels("dlq");
    const msg = message(u.userId);
    await failChannel("webhook", { always: true });
    for (const attempts of [1, 2, 3]) expect((await runQueue("notifications", [{ body: msg, attempts }])).retryMessages).toHaveLength(1);
    expect(okCount((await received(u)).telegram)).toBe(1);

    // Queues moves it to notifications-dlq; its consumer stores it (a redelivery changes nothing).
    const dlq = await runQueue("notifications-dlq", [{ body: msg }]);
    expect(dlq.explicitAcks).toHaveLength(1);
    await runQueue("notifications-dlq", [{ body: msg, attempts: 2 }]);
    const rows = await deadLetterRows(msg.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ queue: "notifications", attempts: 3, error_class: "http_5xx", status: "open" });
    expect(rows[0].first_error).toContain("webhook: HTTP 500");
    expect(rows[0].last_error).toContain("webhook: HTTP 500");
    expect((await deliveries(msg.id)).map((d) => `${d.channel}:${d.status}`)).toEqual(["email:sent", "telegram:sent", "webhook:failed"]);

    // Visible to operators only.
    const list = await api("GET", "/v1/admin/dead-letters?queue=notifications", { token: ops.token });
    expect(list.status).toBe(200);
    const dl = list.body.data.find((d: any) => d.messageId === msg.id);
    expect(dl).toMatchObject({ queue: "notifications", errorClass: "http_5xx", attempts: 3, status: "open", body: msg });
    expect((await api("GET", "/v1/admin/dead-letters", { token: u.token })).status).toBe(403);
    expect((await api("POST", `/v1/admin/dead-letters/${dl.id}/retry`, { token: u.token })).status).toBe(403);
    expect((await api("GET", "/v1/admin/dead-letters?queue=payments", { token: ops.token })).body.data.some((d: any) => d.messageId === msg.id)).toBe(false);

    const summary = await api("GET", "/v1/admin/dead-letters/summary", { token: ops.token });
    expect(summary.status).toBe(200);
    const group = summary.body.groups.find((g: any) => g.queue === "notifications" && g.errorClass === "http_5xx");
    expect(group.counts).toMatchObject({ "1h": expect.any(Number), "24h": expect.any(Number), "7d": expect.any(Number) });
    expect(group.counts["1h"]).toBeGreaterThanOrEqual(1);
    expect(summary.body.open).toBeGreaterThanOrEqual(1);

    // The operator alert went through ALERTS to the admin's channels.
    const alert = await eventually(async () => (await received(ops)).webhook.map((e) => JSON.parse(e.raw)).find((p) => p.data?.deadLetterId === dl.id));
    expect(alert).toMatchObject({ event: "ops.dead_letter", severity: "critical", title: "Dead letter on notifications" });

    // Fix the receiver, retry from the admin route: the real queue consumer re-sends the webhook only.
    await failChannel("webhook", { count: 0 });
    const retried = await api("POST", `/v1/admin/dead-letters/${dl.id}/retry`, { token: ops.token });
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ status: "retried", retriedBy: ops.userId, retriedAt: expect.any(Number) });
    await eventually(async () => okCount((await received(u)).webhook) === 1);
    const after = await eventually(async () => {
      const d = await deliveries(msg.id);
      return d.every((r) => r.status === "sent") ? d : null;
    });
    expect(after.map((d) => d.attempts)).toEqual([1, 1, 4]);
    const got = await received(u);
    expect([okCount(got.telegram), okCount(got.email)]).toEqual([1, 1]);
  }, 45_000);

  it("sends malformed bodies straight to dead letters with the validation error, without retrying", async () => {
    const ops = await adminUser("ops-malformed");
    const bad = { v: 1, id: `bad-${Date.now()}`, kind: "notification", event: "x", severity: "loud", title: "t", body: "b" };
    const settled = async () => (await env.DB.prepare("SELECT settled FROM queue_counters WHERE queue = 'notifications'").first<{ settled: number }>())?.settled ?? 0;
    const before = await settled();
    const result = await runQueue("notifications", [{ body: bad }, { body: "not an object", id: `raw-${Date.now()}` }]);
    expect(await settled()).toBe(before + 2); // settled once each, not again by the store
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(2);
    const [row] = await deadLetterRows(bad.id);
    expect(row).toMatchObject({ queue: "notifications", error_class: "validation", status: "open", attempts: 1 });
    expect(row.last_error).toContain("userId");
    expect(row.last_error).toContain("severity");
    const list = await api("GET", "/v1/admin/dead-letters?queue=notifications&status=open", { token: ops.token });
    expect(list.body.data.filter((d: any) => d.errorClass === "validation").map((d: any) => d.body)).toEqual(expect.arrayContaining([bad, "not an object"]));
  });

  it("stores other queues' dead letters with the error their consumer recorded", async () => {
    const ops = await adminUser("ops-pay");
    const body = { v: 1, id: `pay-msg-${Date.now()}`, kind: "payment", paymentId: "pay_x" };
    await recordMessageFailure(env, { queue: "payments", messageId: body.id, errorClass: "timeout", error: "lnbits: timed out", attempts: 1 });
    await recordMessageFailure(env, { queue: "payments", messageId: body.id, errorClass: "http_5xx", error: "lnbits: HTTP 502", attempts: 5 });
    expect((await runQueue("payments-dlq", [{ body }])).explicitAcks).toHaveLength(1);
    const [row] = await deadLetterRows(body.id);
    expect(row).toMatchObject({ queue: "payments", error_class: "http_5xx", first_error: "lnbits: timed out", last_error: "lnbits: HTTP 502", attempts: 5 });

    const logs = { v: 1, id: `logs-msg-${Date.now()}`, kind: "logs", entries: [] };
    await runQueue("logs-dlq", [{ body: logs, attempts: 1 }]);
    expect((await deadLetterRows(logs.id))[0]).toMatchObject({ queue: "logs", error_class: "unknown" });

    // Retrying re-sends to the source queue and records who did it.
    const retried = await api("POST", `/v1/admin/dead-letters/${row.id}/retry`, { token: ops.token });
    expect(retried.body).toMatchObject({ queue: "payments", status: "retried", retriedBy: ops.userId });
    const counters = await env.DB.prepare("SELECT sent, settled FROM queue_counters WHERE queue = 'payments'").first<{ sent: number; settled: number }>();
    expect(counters!.sent).toBeGreaterThanOrEqual(1);
    expect(counters!.settled).toBeGreaterThanOrEqual(1);
  });

  it("pages the list with a cursor and answers 404 for unknown ids", async () => {
    const ops = await adminUser("ops-page");
    for (let i = 0; i < 3; i++) await runQueue("logs-dlq", [{ body: { v: 1, id: `page-${i}-${Date.now()}`, kind: "logs", entries: [] } }]);
    const p1 = await api("GET", "/v1/admin/dead-letters?queue=logs&limit=2", { token: ops.token });
    expect(p1.body.data).toHaveLength(2);
    const p2 = await api("GET", `/v1/admin/dead-letters?queue=logs&limit=2&cursor=${p1.body.nextCursor}`, { token: ops.token });
    const ids = new Set([...p1.body.data, ...p2.body.data].map((d: any) => d.id));
    expect(ids.size).toBe(p1.body.data.length + p2.body.data.length);
    expect((await api("POST", "/v1/admin/dead-letters/dlq_00000000000000000000000000000000/retry", { token: ops.token })).status).toBe(404);
    expect((await api("POST", "/v1/admin/dead-letters/nope/retry", { token: ops.token })).status).toBe(404);
    expect((await api("GET", "/v1/admin/dead-letters?queue=moon", { token: ops.token })).status).toBe(400);
    const user = await registerUser("not-ops");
    expect((await api("GET", "/v1/admin/dead-letters/summary", { token: user.token })).status).toBe(403);
  });
});
