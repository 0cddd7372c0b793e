/**
 * Producer side: validate before sending (a bad body fails at the sender, not in a DLQ) and
 * count what was sent per queue, for the backlog metric (sent minus settled).
 */
import { sql } from "drizzle-orm";
import { getDb } from "../db/client";
import { queueCounters } from "../db/schema";
import type { NotificationEvent } from "./events";
import { LogMessage, NotificationMessage, PaymentMessage } from "./messages";

type Counted = "notifications" | "alerts" | "payments" | "logs";

export async function countQueue(env: Pick<Env, "DB">, queue: string, field: "sent" | "settled", by = 1): Promise<void> {
  if (by <= 0) return;
  const now = Date.now();
  const col = field === "sent" ? queueCounters.sent : queueCounters.settled;
  await getDb(env)
    .insert(queueCounters)
    .values({ queue, sent: field === "sent" ? by : 0, settled: field === "settled" ? by : 0, updatedAt: now })
    .onConflictDoUpdate({ target: queueCounters.queue, set: { [field]: sql`${col} + ${by}`, updatedAt: now } })
    .run();
}

async function sendCounted(env: Env, queue: Counted, binding: Queue, body: unknown, delaySeconds?: number) {
  await binding.send(body, delaySeconds ? { delaySeconds, contentType: "json" } : { contentType: "json" });
  await countQueue(env, queue, "sent");
}

/**
 * Critical messages go through ALERTS (small batches, no wait), others through NOTIFICATIONS;
 * `urgent` sends a non-critical one through ALERTS too (a liquidation warning cannot wait
 * behind a batch).
 */
export const sendNotification = (env: Env, msg: NotificationMessage & { event: NotificationEvent }, opts: { urgent?: boolean } = {}) => {
  const alerts = msg.severity === "critical" || opts.urgent === true;
  return sendCounted(env, alerts ? "alerts" : "notifications", alerts ? env.ALERTS : env.NOTIFICATIONS, NotificationMessage.parse(msg));
};

/**
 * Puts a notification back on the queue it came from, as a new message (its delivery attempts
 * start again) after `delaySeconds`: for a message only the channels' own pacing put off
 * (queues/notifications.ts), which must not spend the attempts that move it to the DLQ.
 * Delivery stays idempotent on the message id (src/notify/deliver.ts).
 */
export const requeueNotification = (env: Env, queue: "notifications" | "alerts", msg: NotificationMessage, delaySeconds: number) =>
  sendCounted(env, queue, queue === "alerts" ? env.ALERTS : env.NOTIFICATIONS, NotificationMessage.parse(msg), Math.max(1, Math.ceil(delaySeconds)));

export const sendPaymentCheck = (env: Env, msg: PaymentMessage, delaySeconds?: number) =>
  sendCounted(env, "payments", env.PAYMENTS, PaymentMessage.parse(msg), delaySeconds);

export const sendLogs = (env: Env, msg: LogMessage) => sendCounted(env, "logs", env.LOGS, LogMessage.parse(msg));
