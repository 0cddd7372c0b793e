/**
 * The price engine's scenario runner. A scenario is (name, seed, initial price, dropPct):
 * the same inputs give the same path (./random.ts, the simulator's own generator). Only that and the step index
 * are stored, so after an eviction the generator is rebuilt and fast-forwarded to where it was.
 */
import { z } from "zod";
import { pricePath, type PricePath } from "./random";

export const ScenarioInput = z
  .object({
    name: z.enum(["bull", "bear", "sideways", "volatile", "crash", "replay"]),
    stepMs: z.number().int().min(10).max(3_600_000),
    steps: z.number().int().min(1).optional(),
    seed: z.number().int().optional(),
    dropPct: z.number().gt(0).lt(100).optional(),
    /** replay only: the prices to play in order. */
    prices: z.array(z.number().positive()).min(1).max(100_000).optional(),
  })
  .strict()
  .refine((s) => s.name !== "replay" || s.prices !== undefined, { message: "replay needs prices", path: ["prices"] });
export type ScenarioInput = z.infer<typeof ScenarioInput>;

export interface ScenarioState {
  name: ScenarioInput["name"];
  seed: number;
  stepMs: number;
  steps: number | null;
  dropPct: number | null;
  prices: number[] | null;
  initialPrice: number;
  /** Steps taken so far. */
  stepIndex: number;
  /** When the next step is due (ms). */
  nextAt: number;
  startedAt: number;
}

export class ScenarioRunner {
  #state: ScenarioState | null;
  #gen: PricePath | null = null;

  constructor(state: ScenarioState | null) {
    this.#state = state;
  }

  get state(): ScenarioState | null {
    return this.#state;
  }

  start(input: ScenarioInput, initialPrice: number, now: number): ScenarioState {
    this.#state = {
      name: input.name,
      seed: input.seed ?? 1,
      stepMs: input.stepMs,
      steps: input.steps ?? null,
      dropPct: input.dropPct ?? null,
      prices: input.prices ?? null,
      initialPrice,
      stepIndex: 0,
      nextAt: now + input.stepMs,
      startedAt: now,
    };
    this.#gen = this.#build(this.#state);
    return this.#state;
  }

  stop(): void {
    this.#state = null;
    this.#gen = null;
  }

  /**
   * Take one step: the new price, or null when no scenario runs. The scenario stops by itself
   * after `steps` steps (the last price stays).
   */
  step(now: number): number | null {
    const s = this.#state;
    if (!s) return null;
    if (!this.#gen) {
      this.#gen = this.#build(s);
      for (let i = 0; i < s.stepIndex; i++) this.#gen.next();
    }
    const price = this.#gen.next();
    s.stepIndex += 1;
    s.nextAt = now + s.stepMs;
    if (s.steps !== null && s.stepIndex >= s.steps) this.stop();
    return price;
  }

  #build(s: ScenarioState): PricePath {
    return pricePath({
      name: s.name,
      initialPrice: s.initialPrice,
      seed: s.seed,
      ...(s.dropPct !== null ? { dropPct: s.dropPct } : {}),
      ...(s.prices !== null ? { prices: s.prices } : {}),
    });
  }
}
