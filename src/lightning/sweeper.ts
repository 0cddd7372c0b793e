/**
 * The payment sweeper (every-minute cron): the backstop for check chains that broke (a lost
 * send, a message dead-lettered while the provider was down). Bounded per run so one slow
 * minute never holds the cron.
 */
import { and, asc, eq, inArray, lt, sql } from "drizzle-orm";
import { getDb } from "../db/client";
import { payments } from "../db/schema";
import { newId } from "../lib/ids";
import type { Logger } from "../lib/logger";
import { sendPaymentCheck } from "../messaging/send";
import { takeOverChecks } from "./payments";

/** A pending payment with no check and no message sent for this long has no chain alive. */
export const STALE_AFTER_MS = 2 * 60_000;
export const SWEEP_BATCH = 50;

export interface SweepResult {
  expired: number;
  requeued: number;
}

/**
 * Expires pending payments past their expiry and re-enqueues a check (no delay) for stale
 * pending ones. Expiring without a last check is safe: a late check that finds the invoice
 * paid still activates an expired payment (activatePayment).
 */
export async function sweepPayments(env: Env, opts: { now?: number; limit?: number; logger?: Logger } = {}): Promise<SweepResult> {
  const db = getDb(env);
  const now = opts.now ?? Date.now();
  const limit = opts.limit ?? SWEEP_BATCH;

  const due = db.select({ id: payments.id }).from(payments)
    .where(and(eq(payments.status, "pending"), lt(payments.expiresAt, now)))
    .orderBy(asc(payments.expiresAt)).limit(limit);
  const expired = await db.update(payments).set({ status: "expired" })
    .where(and(inArray(payments.id, due), eq(payments.status, "pending")))
    .returning({ id: payments.id });

  const lastActivity = sql`max(${payments.createdAt}, coalesce(${payments.lastCheckedAt}, 0), coalesce(${payments.lastEnqueuedAt}, 0))`;
  const stale = await db.select({ id: payments.id }).from(payments)
    .where(and(eq(payments.status, "pending"), lt(lastActivity, now - STALE_AFTER_MS)))
    .orderBy(asc(lastActivity)).limit(limit).all();
  let requeued = 0;
  for (const { id } of stale) {
    const messageId = newId("job");
    try {
      // Ownership first: the message may be delivered before this loop ends.
      await takeOverChecks(db, id, messageId, now);
      await sendPaymentCheck(env, { v: 1, id: messageId, kind: "payment", paymentId: id });
      requeued += 1;
    } catch (e) {
      // Left stale: the next minute tries again.
      opts.logger?.error("payment.sweep_enqueue_failed", { paymentId: id, error: e });
    }
  }

  const result = { expired: expired.length, requeued };
  if (result.expired || result.requeued) opts.logger?.info("payment.sweep", result);
  return result;
}
