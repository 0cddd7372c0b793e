/**
 * Alert rules, evaluated by the every-minute cron. Each rule turns the current metrics into a
 * set of firing (rule, subject) pairs; an alert row is opened for a new pair (the partial
 * unique index on (rule, subject) WHERE status = 'open' deduplicates, even between two
 * overlapping cron runs), kept open while it fires and resolved once it stops. Only a newly
 * opened alert is sent to operators, so a condition that lasts an hour pages once.
 *
 * The watchdog is part of the stale-heartbeat rule: every stale account's DO is woken.
 */
import { and, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { sendNotification } from "../messaging/send";
import { getDb } from "../db/client";
import { alerts } from "../db/schema";
import { newId } from "../lib/ids";
import { createLogger, type Logger } from "../lib/logger";
import { collectMetrics, type OpsMetrics } from "./metrics";

/** Thresholds; override any subset with the ALERT_THRESHOLDS JSON var. */
export const Thresholds = z.object({
  /** Queue backlog (sent minus settled) above which a queue alerts. */
  backlogMax: z.number().nonnegative().default(1000),
  /** Failure ratio of finished jobs above which a worker alerts… */
  failureRateMax: z.number().min(0).max(1).default(0.2),
  /** …once at least this many jobs finished in the window (one failure out of two is noise). */
  failureMinJobs: z.number().int().nonnegative().default(10),
  /** p95 job duration above which a worker alerts. */
  p95MaxMs: z.number().nonnegative().default(10_000),
  /** Minutes without any "account" job event, while accounts have enabled automations. */
  workerInactiveMinutes: z.number().positive().default(5),
  /** Open dead letters above which the DLQ alerts (0: any dead letter alerts). */
  deadLettersMax: z.number().int().nonnegative().default(0),
  /**
   * Heartbeat age (ms) after which an account with enabled automations is stale and woken. An
   * account beats at most once an hour (issue 20: one D1 write per account-hour): 2 h 5 min is
   * two beats missed.
   */
  heartbeatStaleMs: z.number().positive().default(7_500_000),
  /** Look-back of the failure-rate and p95 rules, in minutes. */
  windowMinutes: z.number().int().positive().default(5),
  /** At most this many stale accounts woken per run (the cron must stay short). */
  watchdogMaxPerRun: z.number().int().positive().default(50),
});
export type Thresholds = z.infer<typeof Thresholds>;

/** Parses ALERT_THRESHOLDS (JSON); a bad value falls back to the defaults and says so. */
export function loadThresholds(env: Partial<Pick<Env, "ALERT_THRESHOLDS">>, logger?: Logger): Thresholds {
  const raw = env.ALERT_THRESHOLDS;
  if (!raw) return Thresholds.parse({});
  try {
    return Thresholds.parse(JSON.parse(raw));
  } catch (e) {
    // A typo in a threshold must not switch alerting off: keep the defaults.
    logger?.error("alerts.bad_thresholds", { error: e });
    return Thresholds.parse({});
  }
}

/** A condition that holds right now. */
export interface Firing {
  rule: "queue_backlog" | "failure_rate" | "worker_inactive" | "processing_time" | "dead_letters" | "stale_heartbeat";
  subject: string;
  severity: "warning" | "critical";
  message: string;
  data: Record<string, unknown>;
}
/** Every rule name (a rule absent from a run's firings has all its open alerts resolved). */
export const RULES: Firing["rule"][] = ["queue_backlog", "failure_rate", "worker_inactive", "processing_time", "dead_letters", "stale_heartbeat"];

interface StaleAccount { id: string; name: string; lastHeartbeatAt: number | null }

/** The pure part: metrics and stale accounts in, firing conditions out. */
export function firingConditions(t: Thresholds, now: number, m: OpsMetrics, lastAccountEventAt: number | null, stale: StaleAccount[]): Firing[] {
  const out: Firing[] = [];
  for (const q of m.queues) {
    if (q.backlog > t.backlogMax) {
      out.push({ rule: "queue_backlog", subject: q.queue, severity: "warning", message: `Queue ${q.queue} backlog ${q.backlog} > ${t.backlogMax}`, data: { ...q, threshold: t.backlogMax } });
    }
  }
  for (const w of m.workers) {
    if (w.failureRate !== null && w.processed >= t.failureMinJobs && w.failureRate > t.failureRateMax) {
      out.push({ rule: "failure_rate", subject: w.worker, severity: "critical",
        message: `Worker ${w.worker} failure rate ${(w.failureRate * 100).toFixed(1)}% > ${(t.failureRateMax * 100).toFixed(1)}% (${w.events.fail}/${w.processed} in ${m.window.minutes} min)`,
        data: { failureRate: w.failureRate, processed: w.processed, fail: w.events.fail, threshold: t.failureRateMax } });
    }
    if (w.p95DurationMs !== null && w.p95DurationMs > t.p95MaxMs) {
      out.push({ rule: "processing_time", subject: w.worker, severity: "warning", message: `Worker ${w.worker} p95 ${w.p95DurationMs} ms > ${t.p95MaxMs} ms`,
        data: { p95DurationMs: w.p95DurationMs, avgDurationMs: w.avgDurationMs, threshold: t.p95MaxMs } });
    }
  }
  const inactiveMs = t.workerInactiveMinutes * 60_000;
  if (m.accounts.active > 0 && (lastAccountEventAt === null || now - lastAccountEventAt > inactiveMs)) {
    out.push({ rule: "worker_inactive", subject: "account", severity: "critical",
      message: `No account job event or heartbeat for ${t.workerInactiveMinutes} min while ${m.accounts.active} account(s) have enabled automations`,
      data: { lastEventAt: lastAccountEventAt, activeAccounts: m.accounts.active, thresholdMinutes: t.workerInactiveMinutes } });
  }
  if (m.deadLetters.open > t.deadLettersMax) {
    out.push({ rule: "dead_letters", subject: "dlq", severity: "warning", message: `${m.deadLetters.open} open dead letter(s)`, data: { open: m.deadLetters.open, threshold: t.deadLettersMax } });
  }
  for (const a of stale) {
    out.push({ rule: "stale_heartbeat", subject: a.id, severity: "critical",
      message: `Account ${a.name} (${a.id}) heartbeat stale since ${a.lastHeartbeatAt ? new Date(a.lastHeartbeatAt).toISOString() : "never"}; watchdog woke it`,
      data: { accountId: a.id, lastHeartbeatAt: a.lastHeartbeatAt, thresholdMs: t.heartbeatStaleMs } });
  }
  return out;
}

/** What one evaluation did. */
export interface EvaluationResult {
  firing: Firing[];
  opened: string[];
  resolved: string[];
  woken: { accountId: string; ok: boolean; alarm?: number | null; error?: string }[];
}

/** Runs every rule at `now`: stores, notifies, resolves, and wakes stale accounts. */
export async function evaluateAlertRules(env: Env, opts: { now?: number; thresholds?: Thresholds; logger?: Logger } = {}): Promise<EvaluationResult> {
  const now = opts.now ?? Date.now();
  const logger = opts.logger ?? createLogger({ level: env.LOG_LEVEL, base: { worker: "cron" } });
  const t = opts.thresholds ?? loadThresholds(env, logger);
  const db = getDb(env);

  const metrics = await collectMetrics(env, { now, minutes: t.windowMinutes });
  // An account shows it is alive by a job event or by its heartbeat, which carries its routine
  // runs at rest (durable-objects/account/routine.ts): at rest accounts write no job event.
  const last = await db.get<{ at: number | null }>(sql`
    SELECT max(at) AS at FROM (
      SELECT max(ts) AS at FROM job_events WHERE worker = 'account' AND ts <= ${now}
      UNION ALL SELECT max(last_heartbeat_at) AS at FROM exchange_accounts WHERE last_heartbeat_at <= ${now})`);
  // An account that never beat counts from its creation, so a brand-new account is not stale.
  const stale = await db.all<StaleAccount>(sql`
    SELECT id, name, last_heartbeat_at AS lastHeartbeatAt FROM exchange_accounts
    WHERE enabled_automations > 0 AND status = 'active' AND coalesce(last_heartbeat_at, created_at) < ${now - t.heartbeatStaleMs}
    ORDER BY coalesce(last_heartbeat_at, created_at) LIMIT ${sql.raw(String(t.watchdogMaxPerRun))}`);

  const woken: EvaluationResult["woken"] = [];
  for (const a of stale) {
    try {
      const r = await env.ACCOUNT.getByName(a.id).wake();
      woken.push({ accountId: a.id, ok: true, alarm: r.alarm });
      logger.warn("watchdog.woke", { accountId: a.id, accountName: a.name, lastHeartbeatAt: a.lastHeartbeatAt, running: r.running, alarm: r.alarm });
    } catch (e) {
      woken.push({ accountId: a.id, ok: false, error: e instanceof Error ? e.message : String(e) });
      logger.error("watchdog.wake_failed", { accountId: a.id, error: e });
    }
  }

  const firing = firingConditions(t, now, metrics, last?.at == null ? null : Number(last.at), stale);
  const opened: string[] = [];
  for (const f of firing) {
    const id = newId("alr");
    const res = await db.insert(alerts).values({
      id, rule: f.rule, subject: f.subject, severity: f.severity, status: "open", message: f.message, data: JSON.stringify(f.data), openedAt: now, lastSeenAt: now,
    }).onConflictDoNothing().run();
    if ((res.meta.changes ?? 0) > 0) {
      opened.push(id);
      logger.warn("alert.opened", { alertId: id, rule: f.rule, subject: f.subject, message: f.message });
      try {
        await sendNotification(env, {
          v: 1, id: newId("ntf"), kind: "notification", userId: "ops", event: `alert.${f.rule}`, severity: "critical",
          title: `[${f.severity}] ${f.rule}: ${f.subject}`.slice(0, 200), body: f.message.slice(0, 4000), data: { alertId: id, ...f.data },
        });
      } catch (e) {
        // The alert is stored and visible on the dashboard even if paging failed.
        logger.error("alert.notify_failed", { alertId: id, error: e });
      }
    } else {
      await db.update(alerts).set({ lastSeenAt: now, message: f.message, data: JSON.stringify(f.data) })
        .where(and(eq(alerts.rule, f.rule), eq(alerts.subject, f.subject), eq(alerts.status, "open"))).run();
    }
  }

  const firingKeys = new Set(firing.map((f) => `${f.rule}\u0000${f.subject}`));
  const open = await db.select({ id: alerts.id, rule: alerts.rule, subject: alerts.subject }).from(alerts).where(eq(alerts.status, "open")).all();
  const resolved: string[] = [];
  // With more stale accounts than one run wakes, the unseen ones are still stale: keep them open.
  const staleTruncated = stale.length >= t.watchdogMaxPerRun;
  for (const a of open) {
    if (firingKeys.has(`${a.rule}\u0000${a.subject}`)) continue;
    if (staleTruncated && a.rule === "stale_heartbeat") continue;
    await db.update(alerts).set({ status: "resolved", resolvedAt: now }).where(and(eq(alerts.id, a.id), eq(alerts.status, "open"))).run();
    resolved.push(a.id);
    logger.info("alert.resolved", { alertId: a.id, rule: a.rule, subject: a.subject });
  }
  return { firing, opened, resolved, woken };
}
