/**
 * Retention, run by the cron: every growing table (automation and trade logs, job events,
 * notifications and deliveries, dead letters, resolved alerts, finished simulations, login
 * lockouts, unused WebSocket tickets and password reset tokens; issue 22) is pruned past its age in
 * bounded batches (a few hundred rows per statement, a few statements per table per run) so
 * one run never holds D1 for long; a backlog drains over successive minutes.
 */
import { sql } from "drizzle-orm";
import { z } from "zod";
import { getDb } from "../db/client";
import type { Logger } from "../lib/logger";

const DAY_MS = 86_400_000;

/** Ages in days; override any with the RETENTION_DAYS JSON var, e.g. {"logs":30,"jobEvents":7}. */
export const RetentionDays = z.object({
  /** automation_logs and trade_logs. */
  logs: z.number().positive().default(30),
  jobEvents: z.number().positive().default(7),
  /** notifications and their delivery rows. */
  notifications: z.number().positive().default(30),
  /** dead letters (open or retried): the operator has this long to look. */
  deadLetters: z.number().positive().default(30),
  /** resolved alerts (open ones are never deleted). */
  alerts: z.number().positive().default(30),
  /** finished simulations' summary rows (running ones are never deleted). */
  simulations: z.number().positive().default(30),
  /** login lockout rows, by last failure. */
  loginThrottle: z.number().positive().default(1),
});
export type RetentionDays = z.infer<typeof RetentionDays>;

/** Rows per DELETE and DELETEs per table per run. */
export const RETENTION_BATCH = 500;
export const RETENTION_MAX_BATCHES = 4;

/** Parses RETENTION_DAYS; a bad value keeps the defaults (never deletes more than intended). */
export function loadRetention(env: Partial<Pick<Env, "RETENTION_DAYS">>, logger?: Logger): RetentionDays {
  const raw = env.RETENTION_DAYS;
  if (!raw) return RetentionDays.parse({});
  try {
    return RetentionDays.parse(JSON.parse(raw));
  } catch (e) {
    logger?.error("retention.bad_config", { error: e });
    return RetentionDays.parse({});
  }
}

// Table and time column per target: fixed names, never user input.
const TARGETS = [
  { table: "automation_logs", column: "created_at", age: "logs" },
  { table: "trade_logs", column: "created_at", age: "logs" },
  { table: "job_events", column: "ts", age: "jobEvents" },
  { table: "notifications", column: "created_at", age: "notifications" },
  { table: "notification_deliveries", column: "updated_at", age: "notifications" },
  { table: "dead_letters", column: "received_at", age: "deadLetters" },
  { table: "alerts", column: "resolved_at", age: "alerts", where: "status = 'resolved'" },
  { table: "simulations", column: "finished_at", age: "simulations", where: "status <> 'running'" },
  { table: "login_throttle", column: "updated_at", age: "loginThrottle", key: "key" },
  // WebSocket tickets live 30 s; a used one is deleted at once, an unused one a day after expiry.
  { table: "ws_tickets", column: "expires_at", age: "loginThrottle" },
  // Password reset tokens live 30 min; a used one is deleted at once, an unused one a day after expiry.
  { table: "password_resets", column: "expires_at", age: "loginThrottle" },
] as const satisfies readonly { table: string; column: string; age: keyof RetentionDays; where?: string; key?: string }[];

/** Deletes what is older than its retention age; returns rows deleted per table. */
export async function runRetention(
  env: Pick<Env, "DB">,
  opts: { now?: number; days?: RetentionDays; batch?: number; maxBatches?: number; logger?: Logger } = {},
): Promise<Record<string, number>> {
  const now = opts.now ?? Date.now();
  const days = opts.days ?? RetentionDays.parse({});
  const batch = Math.max(1, Math.floor(opts.batch ?? RETENTION_BATCH));
  const maxBatches = Math.max(1, Math.floor(opts.maxBatches ?? RETENTION_MAX_BATCHES));
  const db = getDb(env);
  const deleted: Record<string, number> = {};
  for (const t of TARGETS) {
    const cutoff = now - days[t.age] * DAY_MS;
    const table = sql.raw(t.table);
    const column = sql.raw(t.column);
    const id = sql.raw("key" in t ? t.key : "id");
    const extra = sql.raw("where" in t ? ` AND ${t.where}` : "");
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const res = await db.run(sql`DELETE FROM ${table} WHERE ${id} IN (SELECT ${id} FROM ${table} WHERE ${column} < ${cutoff}${extra} LIMIT ${sql.raw(String(batch))})`);
      const n = res.meta.changes ?? 0;
      total += n;
      if (n < batch) break;
    }
    deleted[t.table] = total;
  }
  const sum = Object.values(deleted).reduce((a, b) => a + b, 0);
  if (sum > 0) opts.logger?.info("retention.deleted", { deleted, days });
  return deleted;
}
