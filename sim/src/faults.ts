/**
 * Injected faults: REST error storms, extra latency, 429s, socket drops, stream silence and a
 * Lightning outage. The config persists in SQLite; the random draws come from a seeded RNG so
 * the same seed and the same request sequence give the same failures.
 */
import { z } from "zod";
import { seededRng, type Rng } from "./random";

export const FaultsInput = z
  .object({
    /** Share of /v3 requests answered with `restErrorStatus` (0..1). */
    restErrorRate: z.number().min(0).max(1).optional(),
    restErrorStatus: z.number().int().min(500).max(599).optional(),
    /** Added to every /v3 response. */
    latencyMs: z.number().int().min(0).max(60_000).optional(),
    /** Requests per second per API key (or per client without one) before 429s; a number or an object. */
    rateLimit: z
      .union([
        z.number().int().min(0),
        z.object({ perSecond: z.number().int().min(0), retryAfterS: z.number().int().min(1).max(3600).optional() }),
      ])
      .nullable()
      .optional(),
    /** Close every stream socket (code 1012) this often. */
    dropSocketsEveryMs: z.number().int().min(10).nullable().optional(),
    /** The stream stays open but sends nothing at all: no pushes, no RPC responses. */
    silenceStream: z.boolean().optional(),
    /** The fake Lightning provider answers 503. */
    lightningDown: z.boolean().optional(),
    seed: z.number().int().optional(),
  })
  .strict();
export type FaultsInput = z.infer<typeof FaultsInput>;

export interface ActiveFaults {
  restErrorRate: number;
  restErrorStatus: number;
  latencyMs: number;
  rateLimit: { perSecond: number; retryAfterS: number } | null;
  dropSocketsEveryMs: number | null;
  silenceStream: boolean;
  lightningDown: boolean;
  seed: number;
}

export const NO_FAULTS: ActiveFaults = {
  restErrorRate: 0,
  restErrorStatus: 503,
  latencyMs: 0,
  rateLimit: null,
  dropSocketsEveryMs: null,
  silenceStream: false,
  lightningDown: false,
  seed: 1,
};

/** The full fault set a body describes: fields left out are off (POST replaces, it does not merge). */
export function normalizeFaults(input: FaultsInput): ActiveFaults {
  const rl = input.rateLimit;
  return {
    restErrorRate: input.restErrorRate ?? 0,
    restErrorStatus: input.restErrorStatus ?? 503,
    latencyMs: input.latencyMs ?? 0,
    rateLimit:
      rl === undefined || rl === null
        ? null
        : typeof rl === "number"
          ? { perSecond: rl, retryAfterS: 1 }
          : { perSecond: rl.perSecond, retryAfterS: rl.retryAfterS ?? 1 },
    dropSocketsEveryMs: input.dropSocketsEveryMs ?? null,
    silenceStream: input.silenceStream ?? false,
    lightningDown: input.lightningDown ?? false,
    seed: input.seed ?? 1,
  };
}

export type RestVerdict =
  | { kind: "pass" }
  | { kind: "rate-limited"; retryAfterS: number }
  | { kind: "error"; status: number };

export class Faults {
  #active: ActiveFaults;
  #rng: Rng;
  /** Fixed one-second windows per client for the rate-limit fault. */
  #windows = new Map<string, { start: number; count: number }>();

  constructor(active: ActiveFaults = NO_FAULTS) {
    this.#active = active;
    this.#rng = seededRng(active.seed);
  }

  get active(): ActiveFaults {
    return this.#active;
  }

  /** Replace the fault set; the RNG restarts from its seed so a test repeats exactly. */
  set(active: ActiveFaults): void {
    this.#active = active;
    this.#rng = seededRng(active.seed);
    this.#windows.clear();
  }

  /** Decide what a REST request gets, before authentication (as an edge rate limiter would). */
  judgeRest(client: string, now: number): RestVerdict {
    const f = this.#active;
    if (f.rateLimit) {
      const w = this.#windows.get(client);
      if (!w || now - w.start >= 1000) this.#windows.set(client, { start: now, count: 1 });
      else w.count += 1;
      const count = this.#windows.get(client)!.count;
      if (count > f.rateLimit.perSecond) return { kind: "rate-limited", retryAfterS: f.rateLimit.retryAfterS };
    }
    if (f.restErrorRate > 0 && this.#rng.next() < f.restErrorRate) {
      return { kind: "error", status: f.restErrorStatus };
    }
    return { kind: "pass" };
  }
}
