/**
 * A simulation's running summary: final and peak equity, drawdown, actions by type.
 */
import type { SimActionType, SimState, StepRecord } from "./simulate-types";

export interface SimSummary {
  steps: number;
  finalPrice: number | null;
  finalPnlSats: number;
  finalEquitySats: number;
  peakEquitySats: number;
  /** Largest fall of equity from a previous peak, sats and share of that peak. */
  maxDrawdownSats: number;
  maxDrawdownPct: number;
  actionsByType: Partial<Record<SimActionType, number>>;
  liquidated: boolean;
  liquidations: number;
}

/** The summary before any step. */
export function initialSummary(state: SimState): SimSummary {
  return {
    steps: 0,
    finalPrice: null,
    finalPnlSats: 0,
    finalEquitySats: state.initialEquitySats,
    peakEquitySats: state.initialEquitySats,
    maxDrawdownSats: 0,
    maxDrawdownPct: 0,
    actionsByType: {},
    liquidated: false,
    liquidations: 0,
  };
}

/** Fold one step record into the summary (pure: returns a new summary). */
export function accumulateSummary(s: SimSummary, r: StepRecord): SimSummary {
  const peak = Math.max(s.peakEquitySats, r.equitySats);
  const dd = peak - r.equitySats;
  const actionsByType = { ...s.actionsByType };
  let liquidations = s.liquidations;
  for (const a of r.actions) {
    actionsByType[a.type] = (actionsByType[a.type] ?? 0) + 1;
    if (a.type === "liquidation") liquidations += 1;
  }
  const worse = dd > s.maxDrawdownSats;
  return {
    steps: s.steps + 1,
    finalPrice: r.price,
    finalPnlSats: r.pnlSats,
    finalEquitySats: r.equitySats,
    peakEquitySats: peak,
    maxDrawdownSats: worse ? dd : s.maxDrawdownSats,
    maxDrawdownPct: worse ? (peak > 0 ? dd / peak : 0) : s.maxDrawdownPct,
    actionsByType,
    liquidated: liquidations > 0,
    liquidations,
  };
}
