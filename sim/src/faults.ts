/**
 * Injected faults: REST error storms, extra latency, 429s, answers held past the client's
 * timeout, orders applied after the client gave up, socket drops, stream silence and a
 * Lightning outage. The config persists in SQLite; the random draws come from a seeded RNG so
 * the same seed and the same request sequence give the same failures. Every fault injected is
 * counted by kind (`GET /__sim/faults/injected`), across fault sets, until a reset.
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
    /**
     * A share of /v3 requests is applied at once but answered only `ms` later: past the
     * client's request timeout, the client cannot know the order landed (a timeout).
     */
    answerDelay: z.object({ rate: z.number().min(0).max(1), ms: z.number().int().min(1).max(120_000) }).nullable().optional(),
    /**
     * A share of /v3 writes (non-GET) is held `minMs`..`maxMs` (uniform) before the exchange
     * applies it, then answered: with a hold past the client's timeout the order lands after
     * the client gave up.
     */
    lateLanding: z
      .object({ rate: z.number().min(0).max(1), minMs: z.number().int().min(1).max(120_000), maxMs: z.number().int().min(1).max(120_000).optional() })
      .refine((v) => v.maxMs === undefined || v.maxMs >= v.minMs, { message: "maxMs must be >= minMs", path: ["maxMs"] })
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
  answerDelay: { rate: number; ms: number } | null;
  lateLanding: { rate: number; minMs: number; maxMs: number } | null;
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
  answerDelay: null,
  lateLanding: null,
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
    answerDelay: input.answerDelay ?? null,
    lateLanding: input.lateLanding ? { rate: input.lateLanding.rate, minMs: input.lateLanding.minMs, maxMs: input.lateLanding.maxMs ?? input.lateLanding.minMs } : null,
    dropSocketsEveryMs: input.dropSocketsEveryMs ?? null,
    silenceStream: input.silenceStream ?? false,
    lightningDown: input.lightningDown ?? false,
    seed: input.seed ?? 1,
  };
}

export type RestVerdict =
  /** `holdBeforeMs`: wait before applying (a late landing); `holdAfterMs`: before answering. */
  | { kind: "pass"; holdBeforeMs: number; holdAfterMs: number }
  | { kind: "rate-limited"; retryAfterS: number }
  | { kind: "error"; status: number };

/**
 * What the simulator counts, one per fault met: REST answers replaced by a 5xx or a 429,
 * requests delayed by `latencyMs`, answers held (`answerDelay`), writes applied late
 * (`lateLanding`), stream sockets closed by the drop fault, funding settlements (on demand and
 * periodic), API keys revoked, and Lightning calls refused while `lightningDown`.
 */
export const FAULT_KINDS = [
  "rest_5xx",
  "rate_limited_429",
  "latency",
  "answer_delayed",
  "late_landing",
  "socket_drop",
  "stream_silenced",
  "funding_settlement",
  "key_revoked",
  "lightning_down",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type FaultCounts = Record<FaultKind, number>;

export const noCounts = (): FaultCounts => Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as FaultCounts;

export class Faults {
  #active: ActiveFaults;
  #rng: Rng;
  /** Fixed one-second windows per client for the rate-limit fault. */
  #windows = new Map<string, { start: number; count: number }>();
  #counts: FaultCounts;
  #onCount: (counts: FaultCounts) => void;

  constructor(active: ActiveFaults = NO_FAULTS, counts: Partial<FaultCounts> = {}, onCount: (counts: FaultCounts) => void = () => {}) {
    this.#active = { ...NO_FAULTS, ...active };
    this.#rng = seededRng(active.seed);
    this.#counts = { ...noCounts(), ...counts };
    this.#onCount = onCount;
  }

  get active(): ActiveFaults {
    return this.#active;
  }

  /** Faults injected so far, by kind (kept across fault sets; zeroed by resetCounts). */
  get injected(): FaultCounts & { total: number } {
    return { ...this.#counts, total: FAULT_KINDS.reduce((n, k) => n + this.#counts[k], 0) };
  }

  count(kind: FaultKind, n = 1): void {
    if (n <= 0) return;
    this.#counts[kind] += n;
    this.#onCount(this.#counts);
  }

  resetCounts(): void {
    this.#counts = noCounts();
    this.#onCount(this.#counts);
  }

  /** Replace the fault set; the RNG restarts from its seed so a test repeats exactly. */
  set(active: ActiveFaults): void {
    this.#active = active;
    this.#rng = seededRng(active.seed);
    this.#windows.clear();
  }

  /**
   * Decide what a REST request gets, before authentication (as an edge rate limiter would).
   * `write`: a non-GET request (only writes can land late). Counts what it injects.
   */
  judgeRest(client: string, now: number, write = false): RestVerdict {
    const f = this.#active;
    if (f.rateLimit) {
      const w = this.#windows.get(client);
      if (!w || now - w.start >= 1000) this.#windows.set(client, { start: now, count: 1 });
      else w.count += 1;
      const count = this.#windows.get(client)!.count;
      if (count > f.rateLimit.perSecond) {
        this.count("rate_limited_429");
        return { kind: "rate-limited", retryAfterS: f.rateLimit.retryAfterS };
      }
    }
    if (f.restErrorRate > 0 && this.#rng.next() < f.restErrorRate) {
      this.count("rest_5xx");
      return { kind: "error", status: f.restErrorStatus };
    }
    let holdBeforeMs = 0;
    let holdAfterMs = 0;
    if (write && f.lateLanding && f.lateLanding.rate > 0 && this.#rng.next() < f.lateLanding.rate) {
      const { minMs, maxMs } = f.lateLanding;
      holdBeforeMs = minMs + Math.floor(this.#rng.next() * (maxMs - minMs + 1));
      this.count("late_landing");
    } else if (f.answerDelay && f.answerDelay.rate > 0 && this.#rng.next() < f.answerDelay.rate) {
      holdAfterMs = f.answerDelay.ms;
      this.count("answer_delayed");
    }
    return { kind: "pass", holdBeforeMs, holdAfterMs };
  }
}
