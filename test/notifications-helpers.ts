/** Helpers for the notification and dead-letter tests: the simulator inbox and queue batches. */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { handleQueue } from "../queues";
import type { NotificationMessage } from "../src/messaging/messages";
import { api, registerUser } from "./helpers";
import { sim } from "./sim-helpers";

export interface InboxEntry {
  seq: number;
  channel: "telegram" | "email" | "webhook";
  target: string | null;
  status: number;
  headers: Record<string, string>;
  raw: string;
  json: any;
}

export const inbox = async (channel?: string): Promise<InboxEntry[]> =>
  (await sim<{ data: InboxEntry[] }>("GET", `/__sim/inbox${channel ? `?channel=${channel}` : ""}`)).data;
export const clearInbox = () => sim("DELETE", "/__sim/inbox");
export const failChannel = (channel: string, opts: { count?: number; always?: boolean; status?: number }) =>
  sim("POST", "/__sim/inbox/fail", { channel, ...opts });

const rand = () => Math.random().toString(36).slice(2, 10);

/**
 * Marks every configured channel of `userId` verified, as migration 0009 did for channels that
 * existed then (test/channel-verification.test.ts covers the real flow).
 */
export async function markChannelsVerified(userId: string, at = Date.now()) {
  for (const ch of ["webhook", "telegram", "email"]) {
    await env.DB.prepare(`UPDATE notification_channels SET config = json_set(config, '$.${ch}.verifiedAt', ?) WHERE user_id = ? AND json_type(config, '$.${ch}') = 'object'`)
      .bind(at, userId).run();
  }
}

/**
 * A user with all three channels on the simulator's receivers, each target unique to it.
 * Verified unless `verified: false` (unverified channels get only test messages).
 */
export async function userWithChannels(tag: string, extra: Record<string, unknown> = {}, opts: { verified?: boolean } = {}) {
  const u = await registerUser(tag);
  const hook = `${tag}-${rand()}`;
  const chatId = String(Math.floor(Math.random() * 1e12));
  const address = `${tag}-${rand()}@mail.example.test`;
  const secret = `whsec-${rand()}-${rand()}-${rand()}`;
  const res = await api("PUT", "/v1/notifications/channels", {
    token: u.token,
    body: { webhook: { url: `${env.LNM_SIMULATOR_URL}/__sim/inbox/webhook/${hook}`, secret }, telegram: { chatId }, email: { address }, ...extra },
  });
  if (res.status !== 200) throw new Error(`PUT channels: ${res.status} ${JSON.stringify(res.body)}`);
  if (opts.verified !== false) await markChannelsVerified(u.userId);
  return { ...u, hook, chatId, address, secret };
}

export type ChannelUser = Awaited<ReturnType<typeof userWithChannels>>;

/** What each channel of `u` received (successful and refused requests). */
export async function received(u: ChannelUser) {
  const all = await inbox();
  return {
    webhook: all.filter((e) => e.channel === "webhook" && e.target === u.hook),
    telegram: all.filter((e) => e.channel === "telegram" && String(e.json?.chat_id) === u.chatId),
    email: all.filter((e) => e.channel === "email" && e.json?.to === u.address),
  };
}

export const okCount = (entries: InboxEntry[]) => entries.filter((e) => e.status === 200 || e.status === 202).length;

export function message(userId: string, over: Partial<NotificationMessage> = {}): NotificationMessage {
  return {
    v: 1, id: `ntf_test_${rand()}${rand()}`, traceId: `trace-${rand()}`, kind: "notification", userId,
    event: "margin.warning", severity: "warning", title: "Risk at 82 %", body: "Position abc is at 82 % of its liquidation distance.",
    data: { accountId: "acc_x", risk: 0.82 }, ...over,
  };
}

/** Runs one batch through the real dispatch (queues/index.ts) and returns what was acked/retried. */
export async function runQueue(queue: string, messages: { body: unknown; attempts?: number; id?: string }[]) {
  const batch = createMessageBatch(queue, messages.map((m, i) => ({ id: m.id ?? `qmsg-${i}-${rand()}`, timestamp: new Date(), attempts: m.attempts ?? 1, body: m.body })));
  // getQueueResult does not report retry delays: record them on the way.
  const delays: Record<string, number | undefined> = {};
  for (const m of batch.messages) {
    const retry = m.retry.bind(m);
    m.retry = (opts?: QueueRetryOptions) => {
      delays[m.id] = opts?.delaySeconds;
      retry(opts);
    };
  }
  const ctx = createExecutionContext();
  await handleQueue(batch, env, ctx);
  const result = await getQueueResult(batch, ctx);
  return { ...result, delays: result.retryMessages.map((r) => delays[r.msgId]) };
}

export async function deliveries(notificationId: string) {
  const { results } = await env.DB.prepare("SELECT * FROM notification_deliveries WHERE notification_id = ? ORDER BY channel").bind(notificationId).all<any>();
  return results;
}

export async function adminUser(tag = "ops") {
  const u = await registerUser(tag);
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(u.userId).run();
  return u;
}

/** Polls until `check` returns a truthy value (background queue consumers are asynchronous). */
export async function eventually<T>(check: () => Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 250));
  }
}
