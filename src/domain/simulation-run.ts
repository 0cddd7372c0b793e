/**
 * A whole simulation in one call: scenario prices fed through {@link simulateStep}. The
 * SimulationDO steps one at a time (to save and stream each step); tests, the fast mode and
 * the benchmark can use this loop.
 */
import { createPriceScenario, type PriceScenarioOptions } from "./scenarios";
import {
  accumulateSummary,
  createSimulation,
  initialSummary,
  simulateStep,
  type CreateSimulationInput,
  type SimState,
  type SimSummary,
  type StepRecord,
} from "./simulate-step";

export interface RunSimulationInput extends Omit<CreateSimulationInput, "initialPrice"> {
  scenario: PriceScenarioOptions;
  steps: number;
  /** Keep every step record in the result (default true); off for long benchmark runs. */
  keepRecords?: boolean;
}

/** Run `steps` steps of a scenario; deterministic for a given input. */
export function runSimulation(input: RunSimulationInput): { state: SimState; summary: SimSummary; records: StepRecord[] } {
  const prices = createPriceScenario(input.scenario);
  let state = createSimulation({ ...input, initialPrice: input.scenario.initialPrice });
  let summary = initialSummary(state);
  const records: StepRecord[] = [];
  for (let i = 0; i < input.steps; i++) {
    const r = simulateStep(state, prices.next());
    state = r.state;
    summary = accumulateSummary(summary, r.record);
    if (input.keepRecords !== false) records.push(r.record);
  }
  return { state, summary, records };
}
