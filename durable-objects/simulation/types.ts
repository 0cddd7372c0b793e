/** What the route hands to SimulationDO.begin, and what the DO reports back. */
import type { BtCandle } from "../../src/domain/backtest-candles";
import type { SimAutomations, SimPosition, SimSummary } from "../../src/domain/simulate-step";
import type { ScenarioName } from "../../src/domain/scenarios";
import type { CandleSourceSpec } from "./candle-source";

/** A backtest's history: the exchange's candles (cached in R2) or an uploaded file. */
export type BacktestSource = CandleSourceSpec | { type: "upload"; candles: BtCandle[] };

export type SimulationStatus = "running" | "completed" | "canceled" | "failed";
export type SimulationSpeed = "fast" | "realtime";

/** Validated parameters of one run (automations already parsed by the domain schemas). */
export interface SimulationParams {
  id: string;
  userId: string;
  /** "backtest" when `source` is given. */
  scenario: ScenarioName | "backtest";
  automations: SimAutomations;
  position?: SimPosition;
  initialPrice: number;
  steps: number;
  stepMs: number;
  seed: number;
  speed: SimulationSpeed;
  prices?: number[];
  dropPct?: number;
  freeBalanceSats?: number;
  /** Offer minus bid, USD (default 5, as the simulator's). */
  spread?: number;
  /** Backtests (issue 24): the candle history; steps are candles. */
  source?: BacktestSource;
  /** Backtests: trading fee rate (default 0.001) and funding rate for slots without a settlement. */
  feeRate?: number;
  fundingRate?: number;
  /** A cell of a parameter sweep: the sweep's id, told when the cell ends. */
  sweepId?: string;
}

/** The summary of the domain plus wall-clock time spent. */
export type RunSummary = SimSummary & { durationMs: number };

export interface SimulationInfo {
  id: string;
  status: SimulationStatus;
  scenario: ScenarioName | "backtest" | "sweep";
  speed: SimulationSpeed;
  progress: { step: number; steps: number };
  startedAt: number;
  finishedAt: number | null;
  error: string | null;
  /** Present once the run has finished (completed, canceled or failed). */
  summary: RunSummary | null;
}

/** `field` names the offending input on a validation_error (e.g. "position", "prices"). */
export type SimResult<T> = { ok: true; value: T } | { ok: false; code: "validation_error" | "not_found" | "conflict"; message: string; field?: string };
