/** What the route hands to SimulationDO.begin, and what the DO reports back. */
import type { SimAutomations, SimPosition, SimSummary } from "../../src/domain/simulate-step";
import type { ScenarioName } from "../../src/domain/scenarios";

export type SimulationStatus = "running" | "completed" | "canceled" | "failed";
export type SimulationSpeed = "fast" | "realtime";

/** Validated parameters of one run (automations already parsed by the domain schemas). */
export interface SimulationParams {
  id: string;
  userId: string;
  scenario: ScenarioName;
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
}

/** The summary of the domain plus wall-clock time spent. */
export type RunSummary = SimSummary & { durationMs: number };

export interface SimulationInfo {
  id: string;
  status: SimulationStatus;
  scenario: ScenarioName;
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
