/**
 * Schedule maths for the AccountDO's single multiplexed alarm (DESIGN.md "Automations and
 * their schedules"): per-type defaults, bounded per-automation overrides, what is due next
 * after a run, and the earliest due time among rows (overdue rows included, because a row
 * that was due while the DO was evicted must still run).
 */
import { z } from "zod";
import { exponentialDelay, type Random } from "./backoff";

export const ScheduleKind = z.enum(["margin_guard", "tp_sl", "auto_entry", "margin_monitor"]);
export type ScheduleKind = z.infer<typeof ScheduleKind>;

export const ScheduleSettings = z.object({
  intervalMs: z.number().int(),
  timeoutMs: z.number().int(),
  /** Retries after a failed run, before waiting for the next interval. */
  retryAttempts: z.number().int(),
  retryDelayMs: z.number().int(),
});
export type ScheduleSettings = z.infer<typeof ScheduleSettings>;

/**
 * How long one exchange request may live on our side: the REST client's per-request timeout,
 * and the executor's deadline for a whole order call (rate-limiter wait and one 429 retry
 * included). After it the client has given up: the order either reached the exchange or not,
 * and only the exchange can say which (see Executor).
 */
export const REQUEST_TIMEOUT_MS = 10_000;
/** Head room between the request lifetime and any run timeout (answer parsing, bookkeeping). */
export const RUN_TIMEOUT_MARGIN_MS = 2_000;
/**
 * No run may time out before an order it sent has had its full lifetime: a run that gave up
 * while its request was still live would leave an order in flight behind the next decision.
 * Every timeout, default or override, is at least this.
 */
export const MIN_RUN_TIMEOUT_MS = REQUEST_TIMEOUT_MS + RUN_TIMEOUT_MARGIN_MS;

/**
 * The defaults table of DESIGN.md, except the monitor's timeout: 5 s there, raised to
 * {@link MIN_RUN_TIMEOUT_MS} so that every run outlives its requests.
 */
export const SCHEDULE_DEFAULTS: Readonly<Record<ScheduleKind, ScheduleSettings>> = {
  margin_guard: { intervalMs: 30_000, timeoutMs: 60_000, retryAttempts: 3, retryDelayMs: 5_000 },
  tp_sl: { intervalMs: 15_000, timeoutMs: 30_000, retryAttempts: 2, retryDelayMs: 3_000 },
  auto_entry: { intervalMs: 10_000, timeoutMs: 20_000, retryAttempts: 2, retryDelayMs: 2_000 },
  margin_monitor: { intervalMs: 5_000, timeoutMs: MIN_RUN_TIMEOUT_MS, retryAttempts: 3, retryDelayMs: 1_000 },
};

/**
 * Sane bounds for overrides: below a second the alarm would hammer the 5 req/s budget; above
 * a day a protective automation is as good as off; a timeout is never shorter than a request
 * can live plus a margin ({@link MIN_RUN_TIMEOUT_MS}).
 */
export const SCHEDULE_BOUNDS = {
  intervalMs: { min: 1_000, max: 86_400_000 },
  timeoutMs: { min: MIN_RUN_TIMEOUT_MS, max: 300_000 },
  retryAttempts: { min: 0, max: 10 },
  retryDelayMs: { min: 500, max: 600_000 },
} as const satisfies Record<keyof ScheduleSettings, { min: number; max: number }>;

const bounded = (k: keyof typeof SCHEDULE_BOUNDS) =>
  z.number().int().min(SCHEDULE_BOUNDS[k].min).max(SCHEDULE_BOUNDS[k].max).optional();

/** Per-automation override of the defaults; unknown fields are rejected. */
export const ScheduleOverride = z.strictObject({
  intervalMs: bounded("intervalMs"),
  timeoutMs: z.number().int()
    .min(SCHEDULE_BOUNDS.timeoutMs.min, `timeoutMs must be at least ${MIN_RUN_TIMEOUT_MS} ms: the request timeout (${REQUEST_TIMEOUT_MS} ms) plus ${RUN_TIMEOUT_MARGIN_MS} ms`)
    .max(SCHEDULE_BOUNDS.timeoutMs.max).optional(),
  retryAttempts: bounded("retryAttempts"),
  retryDelayMs: bounded("retryDelayMs"),
});
export type ScheduleOverride = z.infer<typeof ScheduleOverride>;

/**
 * Defaults of `kind` with the override's fields on top. A timeout stored before the minimum
 * was raised is lifted to it: the rule holds for every run, not just for new overrides.
 */
export function resolveSchedule(kind: ScheduleKind, override?: ScheduleOverride | null): ScheduleSettings {
  const d = SCHEDULE_DEFAULTS[kind];
  return {
    intervalMs: override?.intervalMs ?? d.intervalMs,
    timeoutMs: Math.max(MIN_RUN_TIMEOUT_MS, override?.timeoutMs ?? d.timeoutMs),
    retryAttempts: override?.retryAttempts ?? d.retryAttempts,
    retryDelayMs: override?.retryDelayMs ?? d.retryDelayMs,
  };
}

export type RunOutcome = "success" | "failure";

export interface NextRun {
  /** When the row is due next (ms). */
  nextRunAt: number;
  /** Failed attempts in the current cycle; 0 after a success or after giving up. */
  attempts: number;
  /** What the scheduler should do about the outcome. */
  kind: "interval" | "retry" | "exhausted";
}

/**
 * The wait before retry number `attempts + 1` of a failed run: exponential from the job
 * type's `retryDelayMs` (x2 per failed attempt, capped at 8x and at the interval), plus up to
 * 50 % jitter so the accounts that failed together (an exchange outage) do not all come back
 * in the same second. Never shorter than `retryDelayMs`: DESIGN.md's "retry delay" column is
 * the first retry's lower bound.
 */
export function retryDelayMs(settings: ScheduleSettings, attempts: number, random: Random = Math.random): number {
  const base = settings.retryDelayMs;
  const maxMs = Math.max(base, Math.min(settings.intervalMs, base * 8));
  const exp = exponentialDelay(attempts, { baseMs: base, minMs: base, maxMs, factor: 2 });
  return Math.round(exp * (1 + RETRY_JITTER * random()));
}

/** Share of the backoff added at random on top of it. */
export const RETRY_JITTER = 0.5;

/**
 * Next due time after a run finished at `now`. `attempts` is the failed attempts so far in
 * this cycle (0 for a first try). Success -> now + interval. Failure with retries left ->
 * now + {@link retryDelayMs} (exponential backoff with jitter) and attempts + 1. Failure with
 * none left -> "exhausted": the caller logs and alerts, and the automation carries on at its
 * next interval with attempts reset.
 */
export function nextAfterRun(
  settings: ScheduleSettings,
  attempts: number,
  outcome: RunOutcome,
  now: number,
  random: Random = Math.random,
): NextRun {
  if (outcome === "success") return { nextRunAt: now + settings.intervalMs, attempts: 0, kind: "interval" };
  const failed = attempts + 1;
  if (failed <= settings.retryAttempts) {
    return { nextRunAt: now + retryDelayMs(settings, attempts, random), attempts: failed, kind: "retry" };
  }
  return { nextRunAt: now + settings.intervalMs, attempts: 0, kind: "exhausted" };
}

/**
 * While the stream delivers every tick to the account (each one is checked in memory at once),
 * the margin monitor's alarm is the backstop that re-syncs positions, the balance and the
 * heartbeat: it runs this often. On the REST feed it is the only detection, at its 5 s.
 */
export const MONITOR_STREAM_INTERVAL_MS = 30_000;

/** The margin monitor's schedule for the feed in use. */
export function monitorSchedule(feed: "stream" | "rest" | "none"): ScheduleSettings {
  const d = SCHEDULE_DEFAULTS.margin_monitor;
  return feed === "stream" ? { ...d, intervalMs: MONITOR_STREAM_INTERVAL_MS } : { ...d };
}

/** When a run that started at `startedAt` must be aborted and counted as a failure. */
export function runDeadline(settings: ScheduleSettings, startedAt: number): number {
  return startedAt + settings.timeoutMs;
}

/** A schedule row as far as due times go; null means not scheduled (disabled, stopped). */
export interface Dueable {
  readonly nextRunAt: number | null;
}

/** The earliest `nextRunAt` among rows, overdue ones included; null when nothing is scheduled. */
export function earliestDue(rows: Iterable<Dueable>): number | null {
  let min: number | null = null;
  for (const r of rows) {
    if (r.nextRunAt !== null && Number.isFinite(r.nextRunAt) && (min === null || r.nextRunAt < min)) {
      min = r.nextRunAt;
    }
  }
  return min;
}

/**
 * The time to arm the alarm for: the earliest due, but never in the past (an overdue row
 * makes the alarm fire now rather than being skipped).
 */
export function alarmTime(rows: Iterable<Dueable>, now: number): number | null {
  const due = earliestDue(rows);
  return due === null ? null : Math.max(due, now);
}

/** Rows due at `now`, most overdue first (ties keep their input order). */
export function dueRows<T extends Dueable>(rows: readonly T[], now: number): T[] {
  return rows
    .filter((r) => r.nextRunAt !== null && r.nextRunAt <= now)
    .sort((a, b) => (a.nextRunAt as number) - (b.nextRunAt as number));
}

/**
 * An account's re-sync slots at rest (issue 20): every `cadenceMs`, at an offset of its own
 * (`key`, its id, spreads accounts over the cadence so the platform's re-syncs do not all fall
 * on the same second). Every schedule row at rest is put on the slot nearest to its next run,
 * so the monitor and the automations of one account run in one alarm, behind one read of the
 * exchange, instead of one alarm and two reads each. The slot is never earlier than half a
 * cadence from `now` (a row does not run twice in a row) nor more than 1.5 cadences away.
 */
export function restSlot(at: number, now: number, cadenceMs: number, key: string): number {
  if (!(cadenceMs > 0)) return at;
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619) >>> 0;
  const offset = h % cadenceMs;
  const earliest = now + cadenceMs / 2;
  let slot = offset + Math.round((at - offset) / cadenceMs) * cadenceMs;
  while (slot < earliest) slot += cadenceMs;
  return slot;
}
