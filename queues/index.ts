/**
 * Queue dispatch by queue name. Each consumer acks or retries each message on its own.
 * A queue without a consumer yet fails loudly: its messages are retried (then land in its
 * DLQ), never silently acked.
 */
import { createLogger } from "../src/lib/logger";
import { handleDeadLetterBatch } from "./dead-letters";
import { handleLogBatch } from "./logs";
import { handleNotificationBatch } from "./notifications";
import { handlePaymentBatch } from "./payments";

export type QueueName =
  | "notifications" | "alerts" | "payments" | "logs"
  | "notifications-dlq" | "alerts-dlq" | "payments-dlq" | "logs-dlq";

type Consumer = (batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext) => Promise<void>;

const consumers: Partial<Record<QueueName, Consumer>> = {
  notifications: handleNotificationBatch,
  alerts: handleNotificationBatch,
  payments: handlePaymentBatch,
  logs: handleLogBatch,
  "notifications-dlq": handleDeadLetterBatch,
  "alerts-dlq": handleDeadLetterBatch,
  "payments-dlq": handleDeadLetterBatch,
  "logs-dlq": handleDeadLetterBatch,
};

/** Strip an environment suffix (`notifications-staging`) so dispatch works in every env. */
export function baseQueueName(queue: string): string {
  return queue.replace(/-(staging|production|development)$/, "");
}

export async function handleQueue(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  const name = baseQueueName(batch.queue) as QueueName;
  const consumer = consumers[name];
  if (!consumer) {
    createLogger({ level: env.LOG_LEVEL }).error("queue.no_consumer", { queue: batch.queue, messages: batch.messages.length });
    batch.retryAll();
    return;
  }
  await consumer(batch, env, ctx);
}
