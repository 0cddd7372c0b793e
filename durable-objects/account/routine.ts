/**
 * Routine runs are counted, not journaled one by one (issue 20). A routine run is a scheduled
 * first attempt that succeeded and logged nothing else (no decision, order or alert reached the
 * outbox while it ran): at rest, the REST re-sync of the monitor and of each automation on the
 * account's slot, whose start and complete job events were ~240 D1 rows per account-hour
 * through the LOGS queue. Such a run writes no job event; the account keeps a tally in its own
 * SQLite (an eviction does not lose it), and the hourly heartbeat carries it to D1 in the same
 * row write (`exchange_accounts.routine_runs`, durable-objects/account/liveness.ts): at rest an
 * account writes one D1 row an hour. Every other run (a tick's, a retry, a failure, a run that
 * decided or ordered something) keeps its start and end job events.
 */
import type { AccountStore } from "./storage";

const ROUTINE_META = "routineRuns";

export interface RoutineTally {
  since: number;
  runs: number;
  durationMs: number;
  maxDurationMs: number;
  byType: Record<string, number>;
}

function read(store: AccountStore, now: number): RoutineTally {
  try {
    const t = JSON.parse(store.getMeta(ROUTINE_META) ?? "null") as RoutineTally | null;
    if (t && typeof t.runs === "number") return t;
  } catch {
    // A damaged tally starts again.
  }
  return { since: now, runs: 0, durationMs: 0, maxDurationMs: 0, byType: {} };
}

/** Counts one routine run. */
export function tallyRoutine(store: AccountStore, type: string, durationMs: number, now: number): void {
  const t = read(store, now);
  t.runs++;
  t.durationMs += durationMs;
  t.maxDurationMs = Math.max(t.maxDurationMs, durationMs);
  t.byType[type] = (t.byType[type] ?? 0) + 1;
  store.setMeta(ROUTINE_META, JSON.stringify(t));
}

/** The tally as the heartbeat writes it (JSON for `routine_runs`), and how to start a new one once written. */
export function routineForBeat(store: AccountStore, now: number): { json: string; reset(): void } {
  const t = read(store, now);
  return {
    json: JSON.stringify({ since: t.since, until: now, runs: t.runs, totalDurationMs: t.durationMs, maxDurationMs: t.maxDurationMs, byType: t.byType }),
    reset: () => store.setMeta(ROUTINE_META, JSON.stringify({ since: now, runs: 0, durationMs: 0, maxDurationMs: 0, byType: {} })),
  };
}
