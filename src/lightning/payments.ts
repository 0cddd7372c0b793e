/**
 * Payments for plans: create an invoice, read payments, and the two state changes a check
 * can make (activate once, expire). Everything that reads a payment filters by user id.
 */
import { and, desc, eq, inArray, isNull, or, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { getDb } from "../db/client";
import { listPlans } from "../db/plans";
import { payments, users } from "../db/schema";
import { NotFoundError, UnavailableError, ValidationError } from "../lib/errors";
import { isId, newId } from "../lib/ids";
import type { Logger } from "../lib/logger";
import { decodeCursor, olderThan, page } from "../lib/pagination";
import { sendPaymentCheck } from "../messaging/send";
import { isLightningError, type LightningProvider } from "./provider";
import { lightningProviderFromEnv } from "./lnbits";

/** Invoices live one hour (DESIGN.md). */
export const INVOICE_EXPIRY_S = 3600;
/** Delay between two checks of an unpaid invoice. */
export const CHECK_DELAY_S = 30;
const DAY_MS = 86_400_000;

export type PaymentRow = typeof payments.$inferSelect;

/** What the API returns about a payment (the invoice is public by nature: it is meant to be paid). */
export function paymentView(p: PaymentRow) {
  return {
    id: p.id,
    planId: p.planId,
    status: p.status,
    amountSats: p.amountSats,
    paymentRequest: p.paymentRequest,
    paymentHash: p.paymentHash,
    expiresAt: p.expiresAt,
    paidAt: p.paidAt ?? null,
    activatedAt: p.activatedAt ?? null,
    lastCheckedAt: p.lastCheckedAt ?? null,
    checks: p.checks,
    createdAt: p.createdAt,
  };
}
export type PaymentView = ReturnType<typeof paymentView>;

const planIdError = (message: string) => new ValidationError([{ path: "planId", message, code: "invalid_plan" }], message);

/**
 * Creates an invoice for a paid plan and schedules its first check in 30 s.
 * @throws ValidationError naming planId (unknown or free plan), UnavailableError when the provider fails.
 */
export async function createPayment(
  env: Env,
  userId: string,
  planId: string,
  opts: { provider?: LightningProvider; logger?: Logger; now?: number } = {},
): Promise<PaymentRow> {
  const db = getDb(env);
  const plan = (await listPlans(db)).find((p) => p.id === planId);
  if (!plan) throw planIdError(`Unknown plan ${JSON.stringify(planId.slice(0, 64))}`);
  if (plan.priceSats <= 0) throw planIdError(`The ${plan.name} plan is free: there is nothing to pay`);

  let invoice;
  try {
    const provider = opts.provider ?? lightningProviderFromEnv(env);
    invoice = await provider.createInvoice({ amountSats: plan.priceSats, memo: `LN Markets automation: ${plan.name} plan, ${plan.durationDays} days`, expirySeconds: INVOICE_EXPIRY_S });
  } catch (e) {
    if (!isLightningError(e)) throw e;
    opts.logger?.error("payment.invoice_failed", { userId, planId, kind: e.kind, code: e.code, error: e.message });
    throw new UnavailableError("The Lightning provider is unavailable; try again shortly", e.retryable ? 30 : undefined);
  }

  const now = opts.now ?? Date.now();
  const row: PaymentRow = {
    id: newId("pay"), userId, planId: plan.id, paymentHash: invoice.paymentHash, paymentRequest: invoice.paymentRequest,
    amountSats: plan.priceSats, status: "pending", expiresAt: invoice.expiresAt, paidAt: null, activatedAt: null,
    lastCheckedAt: null, checks: 0, lastEnqueuedAt: now, checkMessageId: newId("job"), createdAt: now,
  };
  await db.insert(payments).values(row).run();
  try {
    await sendPaymentCheck(env, { v: 1, id: row.checkMessageId!, kind: "payment", paymentId: row.id }, CHECK_DELAY_S);
  } catch (e) {
    // The invoice exists and the user can pay it: the cron sweeper enqueues the check later.
    opts.logger?.error("payment.enqueue_failed", { paymentId: row.id, error: e });
  }
  opts.logger?.info("payment.created", { paymentId: row.id, userId, planId: plan.id, amountSats: plan.priceSats });
  return row;
}

/** One of the user's payments. @throws NotFoundError for a bad id or another user's payment. */
export async function getPayment(db: Db, userId: string, id: string): Promise<PaymentRow> {
  if (!isId("pay", id)) throw new NotFoundError("Payment");
  const row = await db.select().from(payments).where(and(eq(payments.id, id), eq(payments.userId, userId))).get();
  if (!row) throw new NotFoundError("Payment");
  return row;
}

/** The user's payments, newest first, `limit` per page. */
export async function listPayments(db: Db, userId: string, opts: { cursor?: string; limit: number }): Promise<{ data: PaymentRow[]; nextCursor: string | null }> {
  const after = decodeCursor(opts.cursor);
  const rows = await db.select().from(payments)
    .where(and(
      eq(payments.userId, userId),
      olderThan(payments.createdAt, payments.id, after),
    ))
    .orderBy(desc(payments.createdAt), desc(payments.id))
    .limit(opts.limit + 1)
    .all();
  return page(rows, opts.limit, (r) => r.createdAt);
}

/** A payment by id, whoever owns it (consumer and sweeper side). */
export async function loadPayment(db: Db, id: string): Promise<PaymentRow | undefined> {
  return db.select().from(payments).where(eq(payments.id, id)).get();
}

/** Records that a check happened (paid or not, provider up or down). */
export async function recordCheck(db: Db, id: string, now: number): Promise<void> {
  await db.update(payments).set({ lastCheckedAt: now, checks: sql`${payments.checks} + 1` }).where(eq(payments.id, id)).run();
}

/**
 * Hands the re-check chain from message `fromId` to a new message id, when `fromId` owns it
 * (or nobody does). Returns the new id, or null when another message owns the chain: an
 * at-least-once duplicate or a replayed dead letter then checks once and stops, so chains
 * never multiply.
 */
export async function claimNextCheck(db: Db, paymentId: string, fromId: string, now: number): Promise<string | null> {
  const next = newId("job");
  const rows = await db.update(payments).set({ checkMessageId: next, lastEnqueuedAt: now })
    .where(and(eq(payments.id, paymentId), eq(payments.status, "pending"), or(eq(payments.checkMessageId, fromId), isNull(payments.checkMessageId))))
    .returning({ id: payments.id });
  return rows.length === 1 ? next : null;
}

/** The sweeper's takeover: the new message owns the chain, whatever owned it before. */
export async function takeOverChecks(db: Db, paymentId: string, messageId: string, now: number): Promise<void> {
  await db.update(payments).set({ checkMessageId: messageId, lastEnqueuedAt: now }).where(eq(payments.id, paymentId)).run();
}

export interface Activation {
  /** False when the payment was already paid: someone else activated it. */
  activated: boolean;
  planId: string;
  planExpiresAt: number | null;
}

/**
 * Marks a paid payment paid and activates or extends the user's plan, exactly once.
 *
 * Both updates run in one D1 batch (one transaction, and D1 runs batches one at a time), and
 * both are conditioned on the payment not being `paid` yet: the user update first (it sees
 * the same payment status as the second one), then the payment update. So a second delivery,
 * a racing consumer or a replayed dead letter changes nothing. `expired` may still turn paid:
 * the provider is the authority, and a payment expired while the provider was unreachable
 * can have been paid in time. Extending adds the plan's duration to max(now, current expiry)
 * when the same plan is still active; a plan granted without expiry (null) stays without.
 */
export async function activatePayment(db: Db, p: PaymentRow, now: number): Promise<Activation> {
  const plan = (await listPlans(db)).find((x) => x.id === p.planId);
  if (!plan) throw new Error(`plan ${p.planId} of payment ${p.id} no longer exists`);
  const durationMs = plan.durationDays * DAY_MS;
  const stillOpen = sql`EXISTS (SELECT 1 FROM payments WHERE id = ${p.id} AND status IN ('pending', 'expired'))`;
  const [userRows, paymentRows] = await db.batch([
    db.update(users)
      .set({
        planId: plan.id,
        planExpiresAt: sql`CASE
          WHEN ${users.planId} = ${plan.id} AND ${users.planExpiresAt} IS NULL THEN NULL
          WHEN ${users.planId} = ${plan.id} AND ${users.planExpiresAt} > ${now} THEN ${users.planExpiresAt} + ${durationMs}
          ELSE ${now + durationMs} END`,
        updatedAt: now,
      })
      .where(and(eq(users.id, p.userId), stillOpen))
      .returning({ planExpiresAt: users.planExpiresAt }),
    db.update(payments)
      .set({ status: "paid", paidAt: now, activatedAt: now })
      .where(and(eq(payments.id, p.id), inArray(payments.status, ["pending", "expired"])))
      .returning({ id: payments.id }),
  ]);
  const activated = paymentRows.length === 1;
  return { activated, planId: plan.id, planExpiresAt: activated ? userRows[0]?.planExpiresAt ?? null : null };
}

/** Marks a pending payment expired; false when it was no longer pending. */
export async function expirePayment(db: Db, id: string): Promise<boolean> {
  const rows = await db.update(payments).set({ status: "expired" }).where(and(eq(payments.id, id), eq(payments.status, "pending"))).returning({ id: payments.id });
  return rows.length === 1;
}
