import { env } from "cloudflare:workers";
import { afterEach, beforeAll, expect, it } from "vitest";
import { api, until } from "./helpers";
import { automation, proUser, quiesce, settle, simAccount } from "./account-helpers";
import { simPrice, simReset } from "./sim-helpers";

const cleanup: string[] = [];
afterEach(async () => {
  while (cleanup.length) await quiesce(cleanup.pop()!);
});
// Queue deliveries (logs, notifications) run on batch timers: allow them time under load.
const wait = <T>(what: string, fn: () => Promise<T | null | undefined>) => until(what, fn, 15_000, 100);

beforeAll(async () => {
  await simReset();
  await simPrice(100_000);
});


it("a trace id given in a request follows the action into DO logs, the order, the queue message and the delivery row", async () => {
  const traceId = `trace-${crypto.randomUUID()}`;
  const u = await proUser("trace");
  const acc = await simAccount(u.token, "Traced");
  cleanup.push(acc.id);
  const channels = await api("PUT", "/v1/notifications/channels", {
    token: u.token,
    body: { webhook: { url: `${env.LNM_SIMULATOR_URL}/__sim/inbox/webhook/trace-${u.userId}`, secret: "trace-webhook-secret-1" } },
  });
  expect(channels.status).toBe(200);
  const trade = await acc.client.newTrade({ type: "market", side: "buy", leverage: 50, quantity: 1_000 });

  const created = await api("POST", `/v1/accounts/${acc.id}/automations`, {
    token: u.token,
    headers: { "x-request-id": traceId },
    body: { type: "margin_guard", config: { maxAddPerTradeSats: 1_000_000, maxAddPerDaySats: 1_000_000 } },
  });
  expect(created.status).toBe(201);
  expect(created.headers.get("x-request-id")).toBe(traceId);
  await settle(acc.id);
  await simPrice(Math.round((100_000 - 0.93 * (100_000 - trade.liquidation)) * 2) / 2);

  // The DO's automation log of the creation and of the decision (flushed through LOGS into D1).
  await wait("automation logs with the trace id", async () => {
    const r = await env.DB.prepare("SELECT event FROM automation_logs WHERE account_id = ? AND trace_id = ?").bind(acc.id, traceId).all<{ event: string }>();
    const events = r.results.map((x) => x.event);
    return events.includes("automation.created") && events.includes("margin_guard.decision") ? events : null;
  });
  // The exchange order it sent.
  const order = await wait("trade log", () =>
    env.DB.prepare("SELECT action, outcome FROM trade_logs WHERE account_id = ? AND trace_id = ?").bind(acc.id, traceId).first<{ action: string; outcome: string }>(),
  );
  expect(order).toMatchObject({ action: "add_margin", outcome: "ok" });
  // The notification message and its delivery row.
  const n = await wait("notification", () =>
    env.DB.prepare("SELECT id, event FROM notifications WHERE user_id = ? AND trace_id = ? AND event = 'margin.action'").bind(u.userId, traceId).first<{ id: string; event: string }>(),
  );
  const delivery = await wait("delivery", () =>
    env.DB.prepare("SELECT channel, status, trace_id FROM notification_deliveries WHERE notification_id = ?").bind(n.id).first<{ channel: string; status: string; trace_id: string }>(),
  );
  expect(delivery).toMatchObject({ channel: "webhook", trace_id: traceId });
}, 40_000);
