/**
 * The dead-letter store (D1 `dead_letters`), shared by the queue consumers that write to it
 * and the admin API that retries from it. The DLQ consumer is queues/dead-letters.ts.
 *
 * A DLQ message carries only the body: Queues does not say why it died. So consumers record
 * the error of each failed attempt with `recordMessageFailure` (D1 `queue_message_errors`,
 * keyed by source queue and the body's `id`) before calling `retry()`, and the DLQ consumer
 * reads the first and last error back from there. Poison messages (a body that fails
 * validation) skip the retry loop: their consumer calls `storeDeadLetter` directly and acks.
 *
 * Each new dead letter raises an operator alert through ALERTS, except for messages from the
 * `alerts` queue itself: an alert about a dead alert could die the same way and loop.
 */
import { and, eq, like, or, sql } from "drizzle-orm";
import { getDb } from "../db/client";
import { deadLetters, notificationDeliveries, queueMessageErrors } from "../db/schema";
import { newId } from "../lib/ids";
import { createLogger, type Logger } from "../lib/logger";
import type { NotificationEvent } from "./events";
import { NotificationMessage } from "./messages";
import { countQueue } from "./send";

export type SourceQueue = "notifications" | "alerts" | "payments" | "logs";
export const SOURCE_QUEUES: readonly SourceQueue[] = ["notifications", "alerts", "payments", "logs"];
const MAX_ERROR_CHARS = 1000;

export type DeadLetterRow = typeof deadLetters.$inferSelect;

export interface DeadLetterInput {
  /** Source queue name (`notifications`, not `notifications-dlq`). */
  queue: string;
  messageId: string;
  body: unknown;
  attempts: number;
  errorClass: string;
  firstError?: string | null;
  lastError?: string | null;
  receivedAt?: number;
}

/** The idempotency key of a queue message: the body's `id`, else the platform's message id. */
export function messageKey(msg: { id: string; body: unknown }): string {
  const body = msg.body as { id?: unknown } | null;
  return body && typeof body === "object" && typeof body.id === "string" && body.id.length > 0 ? body.id.slice(0, 200) : msg.id;
}

/**
 * Remembers why an attempt failed, before the consumer calls `retry()`: the first error is
 * kept, the last one replaced. Never throws (a failure to record must not change the retry).
 */
export async function recordMessageFailure(
  env: Pick<Env, "DB">, input: { queue: string; messageId: string; errorClass: string; error: string; attempts: number },
): Promise<void> {
  const error = input.error.slice(0, MAX_ERROR_CHARS);
  const now = Date.now();
  try {
    await getDb(env).insert(queueMessageErrors)
      .values({ queue: input.queue, messageId: input.messageId, errorClass: input.errorClass, firstError: error, lastError: error, attempts: input.attempts, updatedAt: now })
      .onConflictDoUpdate({ target: [queueMessageErrors.queue, queueMessageErrors.messageId], set: { errorClass: input.errorClass, lastError: error, attempts: input.attempts, updatedAt: now } })
      .run();
  } catch (e) {
    createLogger().error("queue.failure_record_failed", { queue: input.queue, messageId: input.messageId, error: e });
  }
}

/** Forgets the recorded errors of a message that settled. */
export async function clearMessageFailure(env: Pick<Env, "DB">, queue: string, messageId: string): Promise<void> {
  await getDb(env).delete(queueMessageErrors).where(and(eq(queueMessageErrors.queue, queue), eq(queueMessageErrors.messageId, messageId))).run();
}

/**
 * Stores a dead letter, idempotent on (queue, messageId): a redelivered DLQ message changes
 * nothing; a message that dies again after a manual retry reopens its row. Only a new or
 * reopened row marks a notification's pending deliveries failed and raises an operator
 * alert. The caller acks the message and counts it settled (`created` says whether to).
 */
export async function storeDeadLetter(env: Env, input: DeadLetterInput, logger: Logger = createLogger({ level: env.LOG_LEVEL })): Promise<{ row: DeadLetterRow; created: boolean }> {
  const db = getDb(env);
  const receivedAt = input.receivedAt ?? Date.now();
  const values = {
    queue: input.queue, messageId: input.messageId, body: JSON.stringify(input.body ?? null), attempts: input.attempts,
    errorClass: input.errorClass, firstError: input.firstError?.slice(0, MAX_ERROR_CHARS) ?? null,
    lastError: input.lastError?.slice(0, MAX_ERROR_CHARS) ?? null, receivedAt,
  };
  const written = await db.insert(deadLetters).values({ id: newId("dlq"), ...values, status: "open" })
    .onConflictDoUpdate({ target: [deadLetters.queue, deadLetters.messageId], set: { ...values, status: "open" }, setWhere: sql`${deadLetters.status} = 'retried'` })
    .returning().get();
  if (!written) {
    const existing = await db.select().from(deadLetters).where(and(eq(deadLetters.queue, input.queue), eq(deadLetters.messageId, input.messageId))).get();
    return { row: existing!, created: false };
  }
  logger.warn("dead_letter.stored", { deadLetterId: written.id, queue: input.queue, messageId: input.messageId, errorClass: input.errorClass, attempts: input.attempts });
  await clearMessageFailure(env, input.queue, input.messageId);
  if (input.queue === "notifications" || input.queue === "alerts") await failPendingDeliveries(env, input.messageId, input.lastError ?? "dead-lettered");
  if (input.queue !== "alerts") await raiseDeadLetterAlert(env, written, logger);
  return { row: written, created: true };
}

async function failPendingDeliveries(env: Env, notificationId: string, error: string) {
  const escaped = notificationId.replace(/[\\%_]/g, (c) => `\\${c}`);
  await getDb(env).update(notificationDeliveries)
    .set({ status: "failed", lastError: sql`coalesce(${notificationDeliveries.lastError}, ${error.slice(0, MAX_ERROR_CHARS)})`, updatedAt: Date.now() })
    .where(and(
      eq(notificationDeliveries.status, "pending"),
      // Operator alerts fan out as `{id}:{admin id}` (src/notify/deliver.ts).
      or(eq(notificationDeliveries.notificationId, notificationId), like(notificationDeliveries.notificationId, sql`${`${escaped}:%`} ESCAPE '\\'`)),
    )).run();
}

async function raiseDeadLetterAlert(env: Env, row: DeadLetterRow, logger: Logger) {
  try {
    const alert = NotificationMessage.parse({
      v: 1, id: `dlq-alert-${row.id}-${row.receivedAt}`, kind: "notification", userId: "ops", event: "ops.dead_letter" satisfies NotificationEvent, severity: "critical",
      title: `Dead letter on ${row.queue}`,
      body: `A ${row.queue} message (${row.messageId}) was dead-lettered after ${row.attempts} attempt(s): ${row.errorClass}${row.lastError ? `: ${row.lastError}` : ""}`.slice(0, 4000),
      data: { deadLetterId: row.id, queue: row.queue, messageId: row.messageId, errorClass: row.errorClass },
    });
    await env.ALERTS.send(alert, { contentType: "json" });
    await countQueue(env, "alerts", "sent");
  } catch (e) {
    // The row is stored and the DLQ-size alert rule will still see it: do not fail the store.
    logger.error("dead_letter.alert_failed", { deadLetterId: row.id, error: e });
  }
}

/**
 * Re-sends a stored body to its source queue and records who did it and when. The message
 * keeps its `id`, so consumers skip whatever it already achieved (a notification channel
 * already `sent` is not sent again).
 * @returns the updated row, or null when there is no such dead letter.
 */
export async function retryDeadLetter(env: Env, id: string, adminUserId: string): Promise<DeadLetterRow | null> {
  const db = getDb(env);
  const row = await db.select().from(deadLetters).where(eq(deadLetters.id, id)).get();
  if (!row) return null;
  const queue = row.queue as SourceQueue;
  const binding = { notifications: env.NOTIFICATIONS, alerts: env.ALERTS, payments: env.PAYMENTS, logs: env.LOGS }[queue];
  if (!binding) throw new Error(`dead letter ${id} has no known source queue`);
  await clearMessageFailure(env, queue, row.messageId);
  await binding.send(JSON.parse(row.body), { contentType: "json" });
  await countQueue(env, queue, "sent");
  const updated = await db.update(deadLetters).set({ status: "retried", retriedAt: Date.now(), retriedBy: adminUserId })
    .where(eq(deadLetters.id, id)).returning().get();
  createLogger({ level: env.LOG_LEVEL }).info("dead_letter.retried", { deadLetterId: id, queue, messageId: row.messageId, retriedBy: adminUserId });
  return updated ?? null;
}
