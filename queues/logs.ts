/**
 * `logs` consumer: batched inserts of automation logs, trade logs and job events into D1
 * (DESIGN.md: low priority, max batch 100). Inserts are idempotent on row id, so a
 * redelivered message writes nothing twice. A malformed body goes straight to dead letters.
 */
import { getDb } from "../src/db/client";
import { automationLogs, jobEvents, tradeLogs } from "../src/db/schema";
import { queueRetryDelaySeconds } from "../src/domain/backoff";
import { createLogger } from "../src/lib/logger";
import { messageKey, recordMessageFailure, storeDeadLetter } from "../src/messaging/dead-letters";
import { LogMessage, type LogEntry } from "../src/messaging/messages";
import { countQueue } from "../src/messaging/send";

const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));

function statementsFor(db: ReturnType<typeof getDb>, entries: LogEntry[]) {
  return entries.map((e) => {
    switch (e.type) {
      case "automation_log":
        return db.insert(automationLogs).values({
          id: e.id, userId: e.userId, accountId: e.accountId, accountName: e.accountName ?? null, automationId: e.automationId ?? null,
          level: e.level, event: e.event, message: e.message ?? null, data: json(e.data), traceId: e.traceId ?? null, createdAt: e.createdAt,
        }).onConflictDoNothing();
      case "trade_log":
        return db.insert(tradeLogs).values({
          id: e.id, userId: e.userId, accountId: e.accountId, automationId: e.automationId ?? null, clientId: e.clientId ?? null,
          action: e.action, request: json(e.request), outcome: e.outcome, errorKind: e.errorKind ?? null, error: e.error ?? null,
          latencyMs: e.latencyMs ?? null, tradeId: e.tradeId ?? null, traceId: e.traceId ?? null, createdAt: e.createdAt,
        }).onConflictDoNothing();
      case "job_event":
        return db.insert(jobEvents).values({
          id: e.id, ts: e.ts, worker: e.worker, jobId: e.jobId, event: e.event, durationMs: e.durationMs ?? null, error: e.error ?? null,
          metadata: json(e.metadata), accountId: e.accountId ?? null, traceId: e.traceId ?? null,
        }).onConflictDoNothing();
    }
  });
}

export async function handleLogBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const logger = createLogger({ level: env.LOG_LEVEL, base: { worker: "logs" } });
  const db = getDb(env);
  let settled = 0;
  for (const msg of batch.messages) {
    const parsed = LogMessage.safeParse(msg.body);
    if (!parsed.success) {
      await storeDeadLetter(env, { queue: "logs", messageId: messageKey(msg), body: msg.body, attempts: msg.attempts, errorClass: "validation", firstError: parsed.error.message, lastError: parsed.error.message }, logger);
      msg.ack();
      continue;
    }
    try {
      const stmts = statementsFor(db, parsed.data.entries);
      await db.batch(stmts as [(typeof stmts)[number], ...typeof stmts]);
      msg.ack();
      settled++;
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      logger.warn("logs.insert_failed", { messageId: parsed.data.id, attempts: msg.attempts, error });
      await recordMessageFailure(env, { queue: "logs", messageId: parsed.data.id, errorClass: "d1", error, attempts: msg.attempts });
      msg.retry({ delaySeconds: queueRetryDelaySeconds(msg.attempts, 2) });
    }
  }
  await countQueue(env, "logs", "settled", settled);
}
