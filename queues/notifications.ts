/**
 * Consumer of `notifications` and `alerts` (same logic; `alerts` is configured with the
 * smallest batch and no batching wait). Each message is settled on its own:
 *
 * - a body that fails validation goes straight to the dead-letter store and is acked: retrying
 *   it cannot make it valid;
 * - delivered on every channel it should reach (or refused for good by a channel) -> ack;
 * - put off only by the channels' own pacing (src/notify/deliver.ts, a burst beyond a
 *   provider's rate) -> sent again as a new message after its turn and acked, so a burst is
 *   late but never dead-lettered for it;
 * - otherwise -> the error is recorded for the DLQ consumer and the message is retried after
 *   2 s, 4 s (2 s * 2^(attempts-1)); after the 3rd attempt Queues moves it to its DLQ.
 */
import { createLogger } from "../src/lib/logger";
import { deliverNotification } from "../src/notify/deliver";
import { clearMessageFailure, messageKey, recordMessageFailure, storeDeadLetter } from "../src/messaging/dead-letters";
import { NotificationMessage } from "../src/messaging/messages";
import { countQueue, requeueNotification } from "../src/messaging/send";

const BASE_DELAY_SECONDS = 2;

/** The retry delay after attempt `attempts` (1-based). */
export function retryDelaySeconds(attempts: number): number {
  return BASE_DELAY_SECONDS * 2 ** (Math.max(1, attempts) - 1);
}

/** Handles a batch of `notifications` or `alerts`. */
export async function handleNotificationBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const queue = batch.queue.replace(/-(staging|production|development)$/, "");
  const base = createLogger({ level: env.LOG_LEVEL, base: { queue } });
  const settled = await Promise.all(batch.messages.map(async (msg): Promise<boolean> => {
    const messageId = messageKey(msg);
    const parsed = NotificationMessage.safeParse(msg.body);
    if (!parsed.success) {
      const error = `invalid message body: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; ")}`.slice(0, 1000);
      try {
        await storeDeadLetter(env, { queue, messageId, body: msg.body, attempts: msg.attempts, errorClass: "validation", firstError: error, lastError: error }, base);
        msg.ack();
        return true;
      } catch (e) {
        base.error("notify.dead_letter_failed", { messageId, error: e });
        msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) });
        return false;
      }
    }
    const m = parsed.data;
    const logger = base.child({ messageId: m.id, traceId: m.traceId, notificationEvent: m.event });
    try {
      const outcome = await deliverNotification(env, m, msg.attempts, logger);
      if (outcome.retryable.length === 0) {
        msg.ack();
        if (msg.attempts > 1) await clearMessageFailure(env, queue, m.id);
        return true;
      }
      if (outcome.retryable.every((f) => f.errorClass === "throttled") && (queue === "notifications" || queue === "alerts")) {
        // Only this isolate's pacing put it off (a burst to one provider): back on the queue as a
        // new message after its turn, so a burst is delivered late rather than dead-lettered.
        const delaySeconds = Math.max(...outcome.retryable.map((f) => (f.retryAfterMs ?? 1000) / 1000));
        try {
          await requeueNotification(env, queue, m, delaySeconds);
          // Best effort: the message is already back on the queue, so nothing here may retry it.
          if (msg.attempts > 1) await clearMessageFailure(env, queue, m.id).catch((e: unknown) => logger.warn("notify.clear_failure_failed", { error: e }));
          logger.info("notify.requeued", { attempts: msg.attempts, delaySeconds: Math.ceil(delaySeconds), channels: outcome.retryable.map((f) => f.channel) });
          msg.ack();
          return true;
        } catch (e) {
          logger.warn("notify.requeue_failed", { error: e });
        }
      }
      const errorClass = outcome.retryable[0]!.errorClass;
      const error = outcome.retryable.map((f) => f.error).join("; ");
      await recordMessageFailure(env, { queue, messageId: m.id, errorClass, error, attempts: msg.attempts });
      logger.warn("notify.retry", { attempts: msg.attempts, delaySeconds: retryDelaySeconds(msg.attempts), channels: outcome.retryable.map((f) => f.channel) });
      msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) });
      return false;
    } catch (e) {
      // D1 or the key ring failed: nothing says the next attempt will, so retry.
      logger.error("notify.failed", { attempts: msg.attempts, error: e });
      await recordMessageFailure(env, { queue, messageId: m.id, errorClass: "internal", error: e instanceof Error ? `${e.name}: ${e.message}` : "internal error", attempts: msg.attempts });
      msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) });
      return false;
    }
  }));
  await countQueue(env, queue, "settled", settled.filter(Boolean).length);
}
