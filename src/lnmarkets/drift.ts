/**
 * Schema drift (issue 18, "Tolerant reads"): the exchange's answers are parsed with lenient
 * schemas (only what the platform uses is required), and checked beside that against a
 * reference schema that mirrors the SDK's types field for field. A field missing or of an
 * unexpected type there is a drift: logged once per schema and field per isolate, and counted
 * (`lnm_schema_drift:<schema>:<field>` in D1 `counters`, flushed by the account DO's heartbeat,
 * exposed in `/metrics` as `lnma_schema_drift_total{schema,field}`). A drift never fails a
 * parse: it only says the exchange and the SDK we were built against disagree.
 */
import { z } from "zod";
import { createLogger, type Logger } from "../lib/logger.js";

export const DRIFT_COUNTER_PREFIX = "lnm_schema_drift:";

const seen = new Set<string>();
const pending = new Map<string, number>();
let logger: Logger = createLogger({ base: { component: "lnmarkets" } });

/** Sends drift lines to another logger (tests capture them). */
export function setDriftLogger(l: Logger): void {
  logger = l;
}

/** Compares `raw` with the reference schema and records each field that differs. */
export function checkDrift(schema: string, raw: unknown, reference: z.ZodType): void {
  if (raw === null || typeof raw !== "object") return;
  const r = reference.safeParse(raw);
  if (r.success) return;
  for (const issue of r.error.issues) {
    // Array indices are left out: prices.0.bidPrice and prices.1.bidPrice are one field.
    const field = issue.path.filter((p) => typeof p === "string").join(".") || "(root)";
    recordDrift(schema, field, issue.message);
  }
}

function recordDrift(schema: string, field: string, problem: string): void {
  const key = `${schema}:${field}`;
  if (seen.has(key)) return;
  seen.add(key);
  pending.set(key, (pending.get(key) ?? 0) + 1);
  logger.warn("lnm_schema_drift", { schema, field, problem: problem.slice(0, 200) });
}

/**
 * Wraps a lenient schema: every value it parses is first compared with `reference` (the SDK's
 * shape). The result is the lenient schema's output; unknown fields are stripped by it.
 */
export function tolerant<T extends z.ZodType>(name: string, reference: z.ZodType, lenient: T) {
  return z.preprocess((raw) => {
    checkDrift(name, raw, reference);
    return raw;
  }, lenient);
}

/** Counter deltas of the drifts seen since the last call (D1 counter names), then clears them. */
export function takeDriftCounters(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, n] of pending) out[`${DRIFT_COUNTER_PREFIX}${key}`] = n;
  pending.clear();
  return out;
}

/** Puts back counter deltas that could not be written (they go with the next flush). */
export function restoreDriftCounters(deltas: Record<string, number>): void {
  for (const [name, n] of Object.entries(deltas)) {
    const key = name.slice(DRIFT_COUNTER_PREFIX.length);
    pending.set(key, (pending.get(key) ?? 0) + n);
  }
}

/** The schema and field of every drift seen in this isolate (tests, status). */
export function driftsSeen(): { schema: string; field: string }[] {
  return [...seen].map((k) => {
    const i = k.indexOf(":");
    return { schema: k.slice(0, i), field: k.slice(i + 1) };
  });
}

/** Forgets every drift seen (tests only). */
export function resetDrift(): void {
  seen.clear();
  pending.clear();
}
