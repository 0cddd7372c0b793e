/**
 * The consumer of all four DLQs: stores each dead message through the dead-letter store
 * (src/messaging/dead-letters.ts) with the errors its consumer recorded.
 */
import { and, eq } from "drizzle-orm";
import { getDb } from "../src/db/client";
import { notificationDeliveries, queueMessageErrors } from "../src/db/schema";
import { createLogger } from "../src/lib/logger";
import { SOURCE_QUEUES, messageKey, storeDeadLetter } from "../src/messaging/dead-letters";
import { NotificationMessage } from "../src/messaging/messages";
import { countQueue } from "../src/messaging/send";

/** The consumer of `notifications-dlq`, `alerts-dlq`, `payments-dlq` and `logs-dlq`. */
export async function handleDeadLetterBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const source = sourceQueueOf(batch.queue);
  const logger = createLogger({ level: env.LOG_LEVEL, base: { queue: batch.queue } });
  const db = getDb(env);
  await Promise.all(batch.messages.map(async (msg) => {
    const messageId = messageKey(msg);
    try {
      const recorded = await db.select().from(queueMessageErrors)
        .where(and(eq(queueMessageErrors.queue, source), eq(queueMessageErrors.messageId, messageId))).get();
      const fallback = recorded ? null : await deliveryErrors(env, source, msg.body);
      const { created } = await storeDeadLetter(env, {
        queue: source, messageId, body: msg.body,
        attempts: recorded?.attempts ?? fallback?.attempts ?? msg.attempts,
        errorClass: recorded?.errorClass ?? "unknown",
        firstError: recorded?.firstError ?? fallback?.error ?? null,
        lastError: recorded?.lastError ?? fallback?.error ?? "retries exhausted; no error was recorded",
        receivedAt: Date.now(),
      }, logger);
      // It left its source queue without an ack there: settle it for the backlog metric.
      if (created && (SOURCE_QUEUES as readonly string[]).includes(source)) await countQueue(env, source, "settled");
      msg.ack();
    } catch (e) {
      logger.error("dead_letter.store_failed", { messageId, error: e });
      msg.retry({ delaySeconds: Math.min(60, 5 * 2 ** (msg.attempts - 1)) });
    }
  }));
}

/** `notifications-dlq-staging` -> `notifications` (same env-suffix rule as queues/index.ts, without importing it: no cycle). */
export function sourceQueueOf(dlq: string): string {
  return dlq.replace(/-(staging|production|development)$/, "").replace(/-dlq$/, "");
}

/** When nothing was recorded, a notification's delivery rows still say what went wrong. */
async function deliveryErrors(env: Env, source: string, body: unknown): Promise<{ error: string; attempts: number } | null> {
  if (source !== "notifications" && source !== "alerts") return null;
  const parsed = NotificationMessage.safeParse(body);
  if (!parsed.success) return null;
  const rows = await getDb(env).select().from(notificationDeliveries).where(eq(notificationDeliveries.notificationId, parsed.data.id)).all();
  const failing = rows.filter((r) => r.status !== "sent" && r.lastError);
  if (!failing.length) return null;
  return { error: failing.map((r) => r.lastError).join("; "), attempts: Math.max(...failing.map((r) => r.attempts)) };
}
