/**
 * `payments` consumer: checks one invoice per message with the Lightning provider.
 *
 * - unpaid, not expired: a new check in 30 s (a new message; this one is acked);
 * - paid: mark paid and activate or extend the plan once (one D1 batch), then notify;
 * - unpaid past expiry: mark expired;
 * - provider down (temporary): retry with 10 s * 2^(attempts-1); after the 5th attempt
 *   (wrangler.toml: max_retries = 4) the platform moves it to payments-dlq, whose consumer
 *   (dead-letters.ts) stores it with the errors recorded here and counts it settled;
 * - malformed body or permanent provider error: dead letter at once (retrying cannot help).
 */
import { and, eq } from "drizzle-orm";
import { refreshUserAccounts } from "../src/accounts/service";
import { getDb } from "../src/db/client";
import { queueMessageErrors } from "../src/db/schema";
import { createLogger, type Logger } from "../src/lib/logger";
import { lightningProviderFromEnv } from "../src/lightning/lnbits";
import { activatePayment, CHECK_DELAY_S, claimNextCheck, expirePayment, loadPayment, recordCheck, type Activation, type PaymentRow } from "../src/lightning/payments";
import { isLightningError, type LightningProvider } from "../src/lightning/provider";
import { clearMessageFailure, messageKey, recordMessageFailure, storeDeadLetter } from "../src/messaging/dead-letters";
import { PaymentMessage } from "../src/messaging/messages";
import { countQueue, sendNotification, sendPaymentCheck } from "../src/messaging/send";

export const QUEUE = "payments";
/** Attempts a message gets before the platform dead-letters it (max_retries = 4, plus the first). */
export const MAX_ATTEMPTS = 5;

/** Delay before retry `attempts + 1`: 10, 20, 40, 80 s. */
export const retryDelaySeconds = (attempts: number) => 10 * 2 ** (Math.max(1, attempts) - 1);

export type CheckOutcome = "activated" | "already_paid" | "unpaid" | "unpaid_not_owner" | "expired" | "still_expired" | "missing";

export interface PaymentCheckDeps {
  provider?: LightningProvider;
  /** Clock of the check (tests move it; production uses Date.now()). */
  now?: number;
  logger?: Logger;
}

/**
 * Checks one payment. Throws the provider's `LightningError` when it cannot answer; every
 * other outcome is final for this message.
 */
export async function checkPayment(env: Env, msg: PaymentMessage, attempts: number, deps: PaymentCheckDeps = {}): Promise<CheckOutcome> {
  const db = getDb(env);
  const now = deps.now ?? Date.now();
  const p = await loadPayment(db, msg.paymentId);
  if (!p) return "missing"; // the user was deleted (payments cascade)
  if (p.status === "paid") {
    // A retry may follow a failed notification send after activation: send it again (same
    // id, so the notifications consumer drops a duplicate). Plain duplicates stay silent.
    if (attempts > 1 && p.activatedAt !== null) await notifyConfirmed(env, p, { activated: true, planId: p.planId, planExpiresAt: null }, msg.traceId);
    return "already_paid";
  }

  let paid: boolean;
  try {
    paid = (await (deps.provider ?? lightningProviderFromEnv(env)).checkInvoice(p.paymentHash)).paid;
  } catch (e) {
    await recordCheck(db, p.id, now);
    throw e;
  }

  if (paid) {
    await recordCheck(db, p.id, now);
    const activation = await activatePayment(db, p, now);
    if (!activation.activated) return "already_paid";
    deps.logger?.info("payment.activated", { paymentId: p.id, userId: p.userId, planId: activation.planId, planExpiresAt: activation.planExpiresAt });
    await notifyConfirmed(env, p, activation, msg.traceId);
    // Automations a lapsed plan paused resume now (else at each account's next re-sync, within a minute).
    await refreshUserAccounts(env, p.userId).catch((e: unknown) => deps.logger?.warn("payment.accounts_refresh_failed", { userId: p.userId, error: e }));
    return "activated";
  }
  if (p.status === "expired") {
    // A late message (a chain still alive when the sweeper expired it, a dead-letter retry):
    // the invoice was checked once more, and stays expired.
    await recordCheck(db, p.id, now);
    return "still_expired";
  }
  if (now >= p.expiresAt) {
    await recordCheck(db, p.id, now);
    await expirePayment(db, p.id);
    deps.logger?.info("payment.expired", { paymentId: p.id, userId: p.userId });
    return "expired";
  }
  await recordCheck(db, p.id, now);
  const next = await claimNextCheck(db, p.id, msg.id, now);
  if (next === null) return "unpaid_not_owner";
  // If this send fails the message is retried, but no longer owns the chain: the sweeper
  // restarts it after STALE_AFTER_MS.
  await sendPaymentCheck(env, { v: 1, id: next, kind: "payment", paymentId: p.id, ...(msg.traceId ? { traceId: msg.traceId } : {}) }, CHECK_DELAY_S);
  return "unpaid";
}

async function notifyConfirmed(env: Env, p: PaymentRow, a: Activation, traceId: string | undefined): Promise<void> {
  const until = a.planExpiresAt === null ? "" : ` until ${new Date(a.planExpiresAt).toISOString()}`;
  await sendNotification(env, {
    v: 1,
    // Derived from the payment: a re-send after a retry is recognisably the same notification.
    id: `payment.confirmed:${p.id}`,
    ...(traceId ? { traceId } : {}),
    kind: "notification",
    userId: p.userId,
    event: "payment.confirmed",
    severity: "info",
    title: "Payment received",
    body: `We received ${p.amountSats} sats: your ${p.planId} plan is active${until}.`,
    data: { paymentId: p.id, planId: a.planId, amountSats: p.amountSats, planExpiresAt: a.planExpiresAt },
  });
}

const errorText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/** Consumer for the `payments` queue: each message is acked or retried on its own. */
export async function handlePaymentBatch(batch: MessageBatch<unknown>, env: Env, _ctx?: ExecutionContext, deps: PaymentCheckDeps = {}): Promise<void> {
  const logger = deps.logger ?? createLogger({ level: env.LOG_LEVEL, base: { worker: "payments" } });
  // Every acked message leaves the queue, dead-lettered ones included (storeDeadLetter leaves
  // counting to its caller); a retried one is counted by the DLQ consumer if it dies.
  let acked = 0;
  for (const msg of batch.messages) {
    const parsed = PaymentMessage.safeParse(msg.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const error = `malformed body: ${issue?.path.join(".") || "(body)"}: ${issue?.message ?? "invalid"}`;
      logger.error("payment.malformed", { messageId: msg.id, error });
      await storeDeadLetter(env, { queue: QUEUE, messageId: messageKey(msg), body: msg.body, attempts: msg.attempts, errorClass: "validation", firstError: error, lastError: error }, logger);
      msg.ack();
      acked += 1;
      continue;
    }
    const body = parsed.data;
    try {
      const outcome = await checkPayment(env, body, msg.attempts, { ...deps, logger });
      logger.debug("payment.checked", { paymentId: body.paymentId, messageId: body.id, attempts: msg.attempts, outcome });
      if (msg.attempts > 1) await clearMessageFailure(env, QUEUE, body.id);
      msg.ack();
      acked += 1;
    } catch (e) {
      const errorClass = isLightningError(e) ? `provider_${e.kind}` : "internal";
      const error = errorText(e);
      if (isLightningError(e) && !e.retryable) {
        logger.error("payment.check_failed", { paymentId: body.paymentId, messageId: body.id, attempts: msg.attempts, errorClass, error });
        const firstError = (await firstRecordedError(env, body.id)) ?? error;
        await storeDeadLetter(env, { queue: QUEUE, messageId: body.id, body, attempts: msg.attempts, errorClass, firstError, lastError: error }, logger);
        await clearMessageFailure(env, QUEUE, body.id);
        msg.ack();
        acked += 1;
        continue;
      }
      await recordMessageFailure(env, { queue: QUEUE, messageId: body.id, errorClass, error, attempts: msg.attempts });
      // Temporary provider errors and our own hiccups (D1, queue send) are retried alike.
      const delaySeconds = retryDelaySeconds(msg.attempts);
      logger.warn("payment.check_retry", { paymentId: body.paymentId, messageId: body.id, attempts: msg.attempts, delaySeconds, errorClass, error });
      msg.retry({ delaySeconds });
    }
  }
  await countQueue(env, QUEUE, "settled", acked);
}

async function firstRecordedError(env: Env, messageId: string): Promise<string | undefined> {
  const row = await getDb(env).select({ firstError: queueMessageErrors.firstError }).from(queueMessageErrors)
    .where(and(eq(queueMessageErrors.queue, QUEUE), eq(queueMessageErrors.messageId, messageId))).get();
  return row?.firstError;
}
