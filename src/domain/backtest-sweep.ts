/**
 * Parameter sweeps (issue 24): a grid of automation settings (e.g. Margin Guard `actAt` x
 * `targetRisk`), one backtest per cell on the same history, and a table of the cells sorted
 * by the objective the trader picks. Pure: no runtime imports.
 */
import { z } from "zod";

/** A grid axis: `marginGuard.<field>`, `tpSl.<field>` or `autoEntry.<field>` (dots into nested fields). */
export const GridKey = z.string().regex(/^(marginGuard|tpSl|autoEntry)(\.[A-Za-z][A-Za-z0-9]*)+$/, "a path such as marginGuard.actAt");
export const GridValues = z.array(z.union([z.number(), z.string().max(100), z.boolean()])).min(1).max(100);
export const Grid = z.record(GridKey, GridValues).refine((g) => Object.keys(g).length >= 1 && Object.keys(g).length <= 3, "1 to 3 axes");
export type Grid = z.infer<typeof Grid>;

export const SweepObjective = z.enum(["liquidations_avoided_per_sat", "final_equity", "max_drawdown"]);
export type SweepObjective = z.infer<typeof SweepObjective>;

export type CellValues = Record<string, number | string | boolean>;

/** Number of cells of a grid: the product of the axes' lengths. */
export function gridSize(grid: Grid): number {
  return Object.values(grid).reduce((n, v) => n * v.length, 1);
}

/** Every combination, the first axis varying slowest. */
export function expandGrid(grid: Grid): CellValues[] {
  let cells: CellValues[] = [{}];
  for (const [key, values] of Object.entries(grid)) cells = cells.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  return cells;
}

/** `automations` with a cell's values set at their paths (a copy; the input is not changed). */
export function applyCell(automations: Record<string, unknown>, cell: CellValues): Record<string, unknown> {
  const out = structuredClone(automations);
  for (const [path, value] of Object.entries(cell)) {
    const keys = path.split(".");
    let node: Record<string, unknown> = out;
    for (const k of keys.slice(0, -1)) {
      const next = node[k];
      node = (node[k] = next && typeof next === "object" && !Array.isArray(next) ? (next as Record<string, unknown>) : {}) as Record<string, unknown>;
    }
    node[keys[keys.length - 1]!] = value;
  }
  return out;
}

/** One row of the sweep's table. */
export interface SweepRow {
  cellId: string;
  values: CellValues;
  status: string;
  finalEquitySats: number | null;
  finalPnlSats: number | null;
  maxDrawdownSats: number | null;
  liquidations: number | null;
  baselineLiquidations: number | null;
  liquidationsAvoided: number | null;
  marginAddedSats: number | null;
  /** Liquidations avoided per sat added (per 1,000,000 sats, for a readable number). */
  avoidedPerMillionSats: number | null;
}

interface CellSummary {
  finalEquitySats: number;
  finalPnlSats: number;
  maxDrawdownSats: number;
  automated: { liquidations: number; marginAddedSats: number };
  baseline: { liquidations: number };
}

/** A cell's row from its backtest summary (null figures while it runs or when it failed). */
export function sweepRow(cellId: string, values: CellValues, status: string, summary: CellSummary | null): SweepRow {
  if (!summary || !summary.automated) {
    return { cellId, values, status, finalEquitySats: null, finalPnlSats: null, maxDrawdownSats: null, liquidations: null, baselineLiquidations: null, liquidationsAvoided: null, marginAddedSats: null, avoidedPerMillionSats: null };
  }
  const avoided = Math.max(0, summary.baseline.liquidations - summary.automated.liquidations);
  const added = summary.automated.marginAddedSats;
  return {
    cellId, values, status,
    finalEquitySats: summary.finalEquitySats,
    finalPnlSats: summary.finalPnlSats,
    maxDrawdownSats: summary.maxDrawdownSats,
    liquidations: summary.automated.liquidations,
    baselineLiquidations: summary.baseline.liquidations,
    liquidationsAvoided: avoided,
    marginAddedSats: added,
    // Avoiding a liquidation for nothing beats any price; avoiding none is worth 0.
    avoidedPerMillionSats: avoided === 0 ? 0 : added === 0 ? Number.MAX_SAFE_INTEGER : (avoided * 1_000_000) / added,
  };
}

/**
 * Rows best first for `objective`: most liquidations avoided per sat, highest final equity, or
 * smallest max drawdown. Ties fall to final equity, then grid order; unfinished rows go last.
 */
export function sortRows(rows: SweepRow[], objective: SweepObjective): SweepRow[] {
  const key = (r: SweepRow): number | null =>
    objective === "final_equity" ? r.finalEquitySats : objective === "max_drawdown" ? (r.maxDrawdownSats === null ? null : -r.maxDrawdownSats) : r.avoidedPerMillionSats;
  return rows
    .map((r, i) => ({ r, i }))
    .sort((a, b) => {
      const ka = key(a.r);
      const kb = key(b.r);
      if (ka === null || kb === null) return ka === kb ? a.i - b.i : ka === null ? 1 : -1;
      if (kb !== ka) return kb - ka;
      const ea = a.r.finalEquitySats ?? 0;
      const eb = b.r.finalEquitySats ?? 0;
      return eb !== ea ? eb - ea : a.i - b.i;
    })
    .map((x) => x.r);
}
