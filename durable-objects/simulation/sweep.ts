/**
 * The SimulationDO's sweep mode (issue 24): the DO named by the sweep's id starts one
 * SimulationDO per grid cell (each a backtest on the same history, running in parallel on
 * their own alarms), polls them on its alarm until all have ended, then keeps the table and
 * writes it to the sweep's D1 row. Polling, not a callback, so a lost message cannot leave
 * the sweep running forever.
 */
import { sortRows, sweepRow, type CellValues, type SweepObjective, type SweepRow } from "../../src/domain/backtest-sweep";
import type { SimResult, SimulationParams } from "./types";

export interface SweepSpec {
  id: string;
  objective: SweepObjective;
  cells: Array<{ id: string; values: CellValues; params: SimulationParams }>;
}

export interface SweepCell {
  id: string;
  values: CellValues;
  status: string;
  summary: Parameters<typeof sweepRow>[3];
  error: string | null;
  progress: { step: number; steps: number } | null;
}

export interface SweepMeta {
  id: string;
  objective: SweepObjective;
  status: "running" | "completed" | "canceled" | "failed";
  startedAt: number;
  finishedAt: number | null;
  cells: SweepCell[];
  d1Synced: boolean;
}

export interface SweepView {
  id: string;
  status: SweepMeta["status"];
  objective: SweepObjective;
  progress: { done: number; cells: number };
  startedAt: number;
  finishedAt: number | null;
  /** Best first for the objective; unfinished cells last. */
  table: SweepRow[];
}

/** How often the sweep looks at its cells. */
export const SWEEP_POLL_MS = 500;

export type CellStub = {
  begin(p: SimulationParams): Promise<SimResult<{ status: string }>>;
  info(): Promise<SimResult<{ status: string; summary: unknown; error: string | null; progress: { step: number; steps: number } }>>;
  cancel(): Promise<unknown>;
};

/**
 * Start every cell: the first alone (it loads and caches the history the others then read
 * from R2), the rest in parallel. A cell that cannot start fails the sweep with its error.
 */
export async function startCells(spec: SweepSpec, stub: (id: string) => CellStub): Promise<SimResult<SweepCell[]>> {
  const cells: SweepCell[] = spec.cells.map((c) => ({ id: c.id, values: c.values, status: "running", summary: null, error: null, progress: null }));
  const begin = async (i: number) => {
    try {
      return await stub(spec.cells[i]!.id).begin(spec.cells[i]!.params);
    } catch (e) {
      return { ok: false as const, code: "conflict" as const, message: e instanceof Error ? e.message : String(e) };
    }
  };
  const first = await begin(0);
  if (!first.ok) return first.code === "validation_error" ? first : { ok: false, code: "conflict", message: first.message };
  const rest = await Promise.all(spec.cells.slice(1).map((_, i) => begin(i + 1)));
  rest.forEach((r, i) => {
    if (!r.ok) Object.assign(cells[i + 1]!, { status: "failed", error: r.message });
  });
  return { ok: true, value: cells };
}

/** Refresh the cells still running; true when every cell has ended. */
export async function pollCells(meta: SweepMeta, stub: (id: string) => CellStub): Promise<boolean> {
  await Promise.all(meta.cells.filter((c) => c.status === "running").map(async (c) => {
    try {
      const r = await stub(c.id).info();
      if (!r.ok) return;
      c.status = r.value.status;
      c.progress = r.value.progress;
      c.error = r.value.error;
      if (r.value.status !== "running") c.summary = r.value.summary as SweepCell["summary"];
    } catch {
      /* a cell busy or restarting: next poll */
    }
  }));
  return meta.cells.every((c) => c.status !== "running");
}

export function sweepView(meta: SweepMeta): SweepView {
  const rows = meta.cells.map((c) => sweepRow(c.id, c.values, c.status, c.status === "completed" ? c.summary : null));
  return {
    id: meta.id,
    status: meta.status,
    objective: meta.objective,
    progress: { done: meta.cells.filter((c) => c.status !== "running").length, cells: meta.cells.length },
    startedAt: meta.startedAt,
    finishedAt: meta.finishedAt,
    table: sortRows(rows, meta.objective),
  };
}
