/**
 * Queue message bodies: versioned, zod-validated at both ends (the generic type of a queue
 * is not validation), each with a unique `id` used as the idempotency key downstream and an
 * optional `traceId` that follows a trader's action across workers.
 */
import { z } from "zod";

const Envelope = { v: z.literal(1), id: z.string().min(1).max(100), traceId: z.string().max(100).optional() };

export const Severity = z.enum(["info", "warning", "critical"]);
export type Severity = z.infer<typeof Severity>;

/** `notifications` and `alerts`: a message for one user's channels, or for operators (userId "ops"). */
export const NotificationMessage = z.strictObject({
  ...Envelope,
  kind: z.literal("notification"),
  userId: z.string().min(1),
  event: z.string().min(1).max(100),
  severity: Severity,
  title: z.string().min(1).max(200),
  body: z.string().max(4000),
  data: z.record(z.string(), z.unknown()).optional(),
});
export type NotificationMessage = z.infer<typeof NotificationMessage>;

/** `payments`: check one payment's invoice. */
export const PaymentMessage = z.strictObject({ ...Envelope, kind: z.literal("payment"), paymentId: z.string().min(1) });
export type PaymentMessage = z.infer<typeof PaymentMessage>;

export const AutomationLogEntry = z.strictObject({
  type: z.literal("automation_log"),
  id: z.string(), userId: z.string(), accountId: z.string(), accountName: z.string().nullable().optional(),
  automationId: z.string().nullable().optional(), level: z.string(), event: z.string(),
  message: z.string().nullable().optional(), data: z.unknown().optional(), traceId: z.string().nullable().optional(), createdAt: z.number(),
});
export const TradeLogEntry = z.strictObject({
  type: z.literal("trade_log"),
  id: z.string(), userId: z.string(), accountId: z.string(), automationId: z.string().nullable().optional(),
  clientId: z.string().nullable().optional(), action: z.string(), request: z.unknown().optional(),
  outcome: z.enum(["ok", "error", "uncertain", "reconciled"]), errorKind: z.string().nullable().optional(),
  error: z.string().nullable().optional(), latencyMs: z.number().nullable().optional(), tradeId: z.string().nullable().optional(),
  traceId: z.string().nullable().optional(), createdAt: z.number(),
});
export const JobEventEntry = z.strictObject({
  type: z.literal("job_event"),
  id: z.string(), ts: z.number(), worker: z.string(), jobId: z.string(), event: z.enum(["start", "complete", "fail", "retry"]),
  durationMs: z.number().nullable().optional(), error: z.string().nullable().optional(), metadata: z.unknown().optional(),
  accountId: z.string().nullable().optional(), traceId: z.string().nullable().optional(),
});
export const LogEntry = z.discriminatedUnion("type", [AutomationLogEntry, TradeLogEntry, JobEventEntry]);
export type LogEntry = z.infer<typeof LogEntry>;

/** `logs`: a batch of log rows from one producer (the account DO flushes in batches). */
export const LogMessage = z.strictObject({ ...Envelope, kind: z.literal("logs"), entries: z.array(LogEntry).min(1).max(100) });
export type LogMessage = z.infer<typeof LogMessage>;
