/**
 * A scenario run's progress record and the views built from it (SimulationDO).
 */
import type { SavedStep, SimulationStore } from "./storage";
import type { RunSummary, SimulationInfo, SimulationParams, SimulationStatus } from "./types";

/** Steps per page of results (and per read of a WebSocket backlog). */
export const MAX_RESULTS_PAGE = 1_000;

export interface RunMeta {
  status: SimulationStatus;
  step: number;
  startedAt: number;
  finishedAt: number | null;
  error: string | null;
  /** False until the final row is in D1 (retried by the alarm). */
  d1Synced: boolean;
}

/** A run started at `now`, no step taken. */
export function startRun(now: number): RunMeta {
  return { status: "running", step: 0, startedAt: now, finishedAt: null, error: null, d1Synced: false };
}

/** What info() and the stream report for a run; the summary only once it has ended. */
export function runView(params: SimulationParams, run: RunMeta, final: RunSummary | null): SimulationInfo {
  return {
    id: params.id,
    status: run.status,
    scenario: params.scenario,
    speed: params.speed,
    progress: { step: run.step, steps: params.steps },
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    error: run.error,
    summary: run.status === "running" ? null : final,
  };
}

/** The options of the run's price scenario (a backtest has none). */
export function scenarioOptions(p: SimulationParams) {
  if (p.scenario === "backtest") throw new Error("a backtest has no scenario");
  return { name: p.scenario, initialPrice: p.initialPrice, seed: p.seed, dropPct: p.dropPct, prices: p.prices };
}

/**
 * One page of rows after a cursor: `read(after, n)` returns up to n rows after `after`; the
 * next cursor is the last row's key when there are more. `limit` is clamped to 1..MAX_RESULTS_PAGE.
 */
export function pageAfter<R, T>(
  cursor: number,
  limit: number,
  read: (after: number, n: number) => R[],
  key: (row: R) => number,
  item: (row: R) => T,
): { data: T[]; nextCursor: string | null } {
  const n = Math.min(Math.max(1, Math.trunc(limit)), MAX_RESULTS_PAGE);
  const rows = read(Math.max(0, Math.trunc(cursor)), n + 1);
  const data = rows.slice(0, n);
  const last = data[data.length - 1];
  return { data: data.map(item), nextCursor: rows.length > n && last ? String(key(last)) : null };
}

/** Sends `msg` to every socket, ignoring ones closing under us (webSocketClose follows). */
export function broadcast(sockets: readonly WebSocket[], msg: string): void {
  for (const ws of sockets) {
    try {
      ws.send(msg);
    } catch {
      /* closing: webSocketClose follows */
    }
  }
}

/** Sends every saved step after `after` to a newly connected socket, page by page. */
export function replaySteps(server: WebSocket, store: SimulationStore, after: number): void {
  let from = after;
  for (;;) {
    const rows: SavedStep[] = store.stepsAfter(from, MAX_RESULTS_PAGE);
    for (const r of rows) server.send(JSON.stringify({ type: "step", record: r }));
    if (rows.length < MAX_RESULTS_PAGE) break;
    from = rows[rows.length - 1]!.step;
  }
}
