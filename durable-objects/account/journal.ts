/**
 * Everything the account DO writes down: JSON log lines (account id and name, automation id
 * in every automation line), and rows for D1 (automation logs, trade logs, job events) kept
 * in the DO's outbox until the LOGS queue has them, so nothing is lost if a send fails.
 */
import { sendLogs, sendNotification } from "../../src/messaging/send";
import type { NotificationEvent } from "../../src/messaging/events";
import type { Severity } from "../../src/messaging/messages";
import { newId } from "../../src/lib/ids";
import { createLogger, type LogFields, type Logger } from "../../src/lib/logger";
import type { TradeLog } from "./executor";
import type { AccountStore } from "./storage";

const FLUSH_BATCH = 100;
/** Log rows wait in the outbox at most this long (fewer, fuller LOGS messages). */
export const FLUSH_EVERY_MS = 30_000;

export class Journal {
  private log: Logger;
  private lastFlush = 0;
  private who: { accountId: string; accountName: string | null; userId: string | null } = { accountId: "", accountName: null, userId: null };

  constructor(private readonly env: Env, private readonly store: AccountStore) {
    this.log = createLogger({ level: env.LOG_LEVEL, base: { worker: "account" } });
  }

  identify(accountId: string, accountName: string | null, userId: string | null): void {
    this.who = { accountId, accountName, userId };
    this.log = createLogger({ level: this.env.LOG_LEVEL, base: { worker: "account", accountId, accountName } });
  }

  get logger(): Logger {
    return this.log;
  }

  /** A decision or event of an automation: a log line and an automation_logs row. */
  automation(level: "debug" | "info" | "warn" | "error", event: string, automationId: string | null, data: LogFields = {}, message?: string, traceId?: string | null): void {
    this.log[level](event, { automationId, ...(traceId ? { traceId } : {}), ...data, ...(message ? { message } : {}) });
    if (level === "debug") return;
    const userId = this.owner("automation_log", event);
    if (!userId) return;
    this.store.pushOutbox([{
      type: "automation_log", id: newId("log"), userId, accountId: this.who.accountId, accountName: this.who.accountName,
      automationId, level, event, message: message ?? null, data, traceId: traceId ?? null, createdAt: Date.now(),
    }]);
  }

  trade(t: TradeLog): void {
    this.log[t.outcome === "ok" || t.outcome === "reconciled" ? "info" : "warn"]("trade.order", { ...t });
    const userId = this.owner("trade_log", t.action);
    if (!userId) return;
    this.store.pushOutbox([{
      type: "trade_log", id: newId("log"), userId, accountId: this.who.accountId, automationId: t.automationId,
      clientId: t.clientId, action: t.action, request: t.request, outcome: t.outcome, errorKind: t.errorKind ?? null,
      error: t.error ?? null, latencyMs: t.latencyMs ?? null, tradeId: t.tradeId ?? null, traceId: t.traceId ?? null, createdAt: Date.now(),
    }]);
  }

  job(jobId: string, event: "start" | "complete" | "fail" | "retry", fields: { durationMs?: number; error?: string; metadata?: unknown; traceId?: string | null } = {}): void {
    this.log[event === "fail" ? "warn" : "debug"](`job.${event}`, { jobId, ...fields });
    this.store.pushOutbox([{
      type: "job_event", id: newId("job"), ts: Date.now(), worker: "account", jobId, event,
      durationMs: fields.durationMs ?? null, error: fields.error ?? null, metadata: fields.metadata, accountId: this.who.accountId, traceId: fields.traceId ?? null,
    }]);
  }

  /** A message to the account's owner (critical, or `urgent`, goes through ALERTS). Never throws. */
  async notify(event: NotificationEvent, severity: Severity, title: string, body: string, data: Record<string, unknown> = {}, traceId?: string | null, opts: { urgent?: boolean } = {}): Promise<void> {
    const userId = this.owner("notification", event);
    if (!userId) return;
    try {
      await sendNotification(this.env, {
        v: 1, id: newId("ntf"), kind: "notification", userId, event, severity, title, body, ...(traceId ? { traceId } : {}),
        data: { accountId: this.who.accountId, accountName: this.who.accountName, ...data },
      }, opts);
    } catch (e) {
      this.log.error("notify.failed", { event, error: e });
    }
  }

  /**
   * The owner a row or a message goes to. Unknown only before the account's context was ever
   * read (ContextCache tells us from its saved copy or D1): the row cannot be written without
   * it, so it is not, and an error line says what was lost rather than nothing.
   */
  private owner(what: "automation_log" | "trade_log" | "notification", event: string): string | null {
    if (this.who.userId) return this.who.userId;
    this.log.error("journal.owner_unknown", { what, subject: event, message: `${what} not written: the account's owner is not known yet` });
    return null;
  }

  /** Flushes when a full batch is waiting or the oldest rows have waited long enough. */
  async flushIfDue(now = Date.now()): Promise<number> {
    if (now - this.lastFlush < FLUSH_EVERY_MS && this.store.outboxSize() < FLUSH_BATCH) return 0;
    return this.flush();
  }

  /** Sends the outbox to the LOGS queue in batches; what fails stays for the next flush. */
  async flush(): Promise<number> {
    this.lastFlush = Date.now();
    let sent = 0;
    for (;;) {
      const rows = this.store.peekOutbox(FLUSH_BATCH);
      if (!rows.length) return sent;
      try {
        await sendLogs(this.env, { v: 1, id: newId("log"), kind: "logs", entries: rows.map((r) => JSON.parse(r.entry)) });
      } catch (e) {
        this.log.error("logs.flush_failed", { pending: this.store.outboxSize(), error: e });
        return sent;
      }
      this.store.dropOutbox(rows[rows.length - 1]!.seq);
      sent += rows.length;
    }
  }
}
