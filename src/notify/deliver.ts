/**
 * Delivery of one notification message to its recipients' channels, idempotent on the
 * message id: the `notifications` row and one `notification_deliveries` row per channel are
 * keyed by it, and a channel whose row says `sent` is never sent again (a redelivered or
 * manually retried message only re-sends what did not get through).
 *
 * A channel not yet verified (src/notify/verification.ts) gets only the test message: for any
 * other event its delivery row is written `skipped` with the reason in last_error, so the
 * history says why nothing arrived, and it is never retried.
 *
 * Operator messages (userId "ops") fan out to every admin, each with its own notification
 * row `{message id}:{admin id}`, so each operator sees the alert in their own history.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { NotificationEvent } from "../messaging/events";
import type { NotificationMessage } from "../messaging/messages";
import { CallGuard, NOTIFY_GUARDS } from "../domain/call-guard";
import { getDb } from "../db/client";
import { notificationDeliveries, notifications } from "../db/schema";
import type { Logger } from "../lib/logger";
import { newId } from "../lib/ids";
import { sendOnChannel, type ErrorClass, type OutgoingNotification, type SendResult } from "./channels";
import { adminUserIds, resolveChannels, selectChannels, type ChannelName, type ResolvedChannels } from "./settings";
import { targetKey } from "./verification";
import { createNotifyTransport, type NotifyFetch } from "./transport";

/** Attempts per message (DESIGN.md: 3 attempts, 2 s base); matches max_retries = 2 in wrangler.toml. */
export const MAX_ATTEMPTS = 3;
export const OPS_USER_ID = "ops";
/** The event of `POST /v1/notifications/test`: it goes to every configured channel, whatever the preferences. */
export const TEST_EVENT = "notification.test" satisfies NotificationEvent;

/** A failure this attempt that a later attempt may fix. */
export interface RetryableFailure {
  notificationId: string;
  channel: ChannelName;
  errorClass: ErrorClass;
  error: string;
  /** For `throttled`: when the channel's own rate limit has a turn for it. */
  retryAfterMs?: number;
}

export interface DeliveryOutcome {
  /** Retryable failures left: empty means the message can be acked. */
  retryable: RetryableFailure[];
  sent: number;
  failedPermanently: number;
  skippedAlreadySent: number;
  /** Channels not verified: recorded `skipped`, not sent. */
  skippedUnverified: number;
}

/** last_error of a delivery skipped because its channel is not verified. */
export function unverifiedReason(channel: ChannelName): string {
  return `${channel}: not sent, the channel is not verified (POST /v1/notifications/channels/${channel}/verification)`;
}

type DeliveryRow = typeof notificationDeliveries.$inferSelect;

/**
 * A breaker and a rate limit per channel provider and isolate (NOTIFY_GUARDS): a provider that
 * keeps failing is given 30 s to recover instead of every message piling onto it, and bursts
 * are paced at its rate. Telegram and email are one provider each; a webhook is keyed by its
 * URL, so one user's failing or slow receiver never pauses another's. At most GUARDS_KEPT are
 * kept (the oldest is forgotten first: its breaker starts closed again).
 */
const guards = new Map<string, CallGuard>();
const GUARDS_KEPT = 1_000;
/**
 * How long a send waits here for its turn under the channel's rate before it is put back on
 * the queue instead (a batch of 50 to one provider at 25/s waits at most 2 s).
 */
export const PACE_MAX_MS = 10_000;

export function channelGuard(channel: ChannelName, target?: ResolvedChannels): CallGuard {
  const key = channel === "webhook" && target?.webhook ? `webhook ${target.webhook.url}` : channel;
  let g = guards.get(key);
  if (g) return g;
  if (guards.size >= GUARDS_KEPT) guards.delete(guards.keys().next().value!);
  guards.set(key, (g = new CallGuard(NOTIFY_GUARDS[channel])));
  return g;
}

/** Forgets every channel's breaker and bucket (tests; an operator after fixing a provider). */
export function resetChannelGuards(): void {
  guards.clear();
}

async function guardedSend(channel: ChannelName, target: ResolvedChannels, payload: OutgoingNotification, env: Env, fetcher: NotifyFetch): Promise<SendResult & { retryAfterMs?: number }> {
  const guard = channelGuard(channel, target);
  const admitted = guard.admit(Date.now(), PACE_MAX_MS);
  if (!admitted.ok) {
    return admitted.reason === "rate_limited"
      ? { ok: false, latencyMs: 0, errorClass: "throttled", retryable: true, retryAfterMs: admitted.retryAfterMs, error: `${channel}: over this channel's send rate here, next turn in ${admitted.retryAfterMs} ms` }
      : { ok: false, latencyMs: 0, errorClass: "http_5xx", retryable: true, error: `${channel}: provider failing, sends paused for ${Math.ceil(admitted.retryAfterMs / 1000)} s (circuit breaker)` };
  }
  if (admitted.waitMs) await new Promise((resolve) => setTimeout(resolve, admitted.waitMs));
  const result = await sendOnChannel(channel, target, payload, env, fetcher);
  guard.record(result.ok ? "ok" : result.retryable ? "temporary_failure" : "other", Date.now());
  return result;
}

/**
 * Sends `msg` on every channel it should reach that has not already succeeded.
 * @param attempt the queue delivery attempt (1-based); on the last one, failures are final.
 */
export async function deliverNotification(
  env: Env, msg: NotificationMessage, attempt: number, logger: Logger, fetcher: NotifyFetch = createNotifyTransport(env),
): Promise<DeliveryOutcome> {
  const db = getDb(env);
  const now = Date.now();
  const recipients = msg.userId === OPS_USER_ID
    ? (await adminUserIds(db)).map((userId) => ({ userId, notificationId: `${msg.id}:${userId}` }))
    : [{ userId: msg.userId, notificationId: msg.id }];
  const outcome: DeliveryOutcome = { retryable: [], sent: 0, failedPermanently: 0, skippedAlreadySent: 0, skippedUnverified: 0 };
  if (recipients.length === 0) return outcome;

  const channels = new Map((await resolveChannels(env, db, recipients.map((r) => r.userId))).map((c) => [c.userId, c]));
  const ids = recipients.map((r) => r.notificationId);
  // Pending rows for the channels the preferences select now; rows from an earlier attempt stay.
  const test = msg.event === TEST_EVENT;
  const admitted = new Set(test && Array.isArray(msg.data?.unverified) ? (msg.data.unverified as unknown[]).map(String) : []);
  const fresh = (await Promise.all(recipients.map(async (r) => {
    const ch = channels.get(r.userId);
    if (!ch) return [];
    return Promise.all(selectChannels(ch, msg.event, msg.severity, test).map(async (channel) => {
      const c = ch[channel]!;
      // The test message reaches an unverified channel only at the target its request was
      // throttled for (RL_UNVERIFIED), not one saved since.
      const verified = c.verified || (test && admitted.has(await targetKey(channel, "url" in c ? c.url : "chatId" in c ? c.chatId : c.address)));
      return { r, channel, verified };
    }));
  }))).flat();
  // One D1 round trip (a batch is one transaction) writes the rows and reads them back as
  // stored: D1 write throughput is what bounds this consumer (bench/RESULTS.md, queues).
  const results = await db.batch([
    ...recipients.map((r) => db.insert(notifications).values({
      id: r.notificationId, userId: r.userId, event: msg.event, severity: msg.severity, title: msg.title, body: msg.body,
      data: msg.data ? JSON.stringify(msg.data) : null, traceId: msg.traceId ?? null, createdAt: now,
    }).onConflictDoNothing()),
    ...fresh.map(({ r, channel, verified }) => db.insert(notificationDeliveries).values({
      id: newId("ntf"), notificationId: r.notificationId, channel, status: verified ? "pending" : "skipped", attempts: 0,
      lastError: verified ? null : unverifiedReason(channel), traceId: msg.traceId ?? null, updatedAt: now,
    }).onConflictDoNothing()),
    db.select().from(notifications).where(inArray(notifications.id, ids)),
    db.select().from(notificationDeliveries).where(inArray(notificationDeliveries.notificationId, ids)),
  ] as unknown as [never, ...never[]]) as unknown[];
  const stored = new Map((results[results.length - 2] as (typeof notifications.$inferSelect)[]).map((n) => [n.id, n]));
  const rows = results[results.length - 1] as DeliveryRow[];
  const final = attempt >= MAX_ATTEMPTS;
  const work: { row: DeliveryRow; userId: string }[] = [];
  for (const row of rows) {
    if (row.status === "sent") {
      outcome.skippedAlreadySent += 1;
      continue;
    }
    if (row.status === "skipped") {
      outcome.skippedUnverified += 1;
      logger.info("notify.delivery_skipped", { notificationId: row.notificationId, channel: row.channel, reason: "unverified" });
      continue;
    }
    // A `failed` row is final for this message's retries; only a fresh send of the message
    // (attempt 1: a manual retry from the dead-letter store) tries it again.
    if (row.status === "failed" && attempt > 1) continue;
    const userId = recipients.find((r) => r.notificationId === row.notificationId)!.userId;
    work.push({ row, userId });
  }

  await Promise.all(work.map(async ({ row, userId }) => {
    const n = stored.get(row.notificationId)!;
    const payload: OutgoingNotification = {
      id: n.id, event: n.event, severity: n.severity, title: n.title, body: n.body,
      data: n.data ? (JSON.parse(n.data) as Record<string, unknown>) : null, traceId: n.traceId, createdAt: n.createdAt,
    };
    const target: ResolvedChannels = channels.get(userId) ?? { userId, preferences: {} };
    const result = await guardedSend(row.channel, target, payload, env, fetcher);
    // A send this channel's own pacing put off is not a failed attempt: it stays pending.
    const status = result.ok ? "sent" : !result.retryable || (final && result.errorClass !== "throttled") ? "failed" : "pending";
    await db.update(notificationDeliveries).set({
      status, attempts: row.attempts + 1, latencyMs: result.latencyMs, updatedAt: Date.now(),
      traceId: msg.traceId ?? row.traceId, ...(result.ok ? {} : { lastError: result.error }),
    }).where(and(eq(notificationDeliveries.id, row.id), eq(notificationDeliveries.status, row.status))).run();
    logDelivery(logger, row, result, status);
    if (result.ok) outcome.sent += 1;
    else if (result.retryable) outcome.retryable.push({ notificationId: row.notificationId, channel: row.channel, errorClass: result.errorClass, error: result.error, retryAfterMs: result.retryAfterMs });
    else outcome.failedPermanently += 1;
  }));
  return outcome;
}

function logDelivery(logger: Logger, row: DeliveryRow, result: SendResult, status: string) {
  const fields = { notificationId: row.notificationId, channel: row.channel, status, attempts: row.attempts + 1, latencyMs: result.latencyMs };
  if (result.ok) logger.info("notify.delivery", fields);
  else logger.warn("notify.delivery", { ...fields, errorClass: result.errorClass, error: result.error });
}
