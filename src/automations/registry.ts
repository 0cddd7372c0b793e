/**
 * Automation types: their config schema (strict, bounds enforced, errors naming the field)
 * and their schedule kind. `noop` exists for tests of the scheduler only and is refused
 * outside development and test.
 */
import { z } from "zod";
import { AutoEntryConfig } from "../domain/auto-entry";
import { MarginGuardConfig } from "../domain/margin-guard";
import { ScheduleOverride, type ScheduleKind } from "../domain/schedule";
import { TpSlConfig } from "../domain/tp-sl";

export const NoopConfig = z.strictObject({
  /** Fail this many runs first (to exercise retries). */
  failTimes: z.number().int().min(0).max(100).default(0),
  /** Take this long per run (to exercise timeouts). */
  sleepMs: z.number().int().min(0).max(600_000).default(0),
});
export type NoopConfig = z.infer<typeof NoopConfig>;

export const AUTOMATION_TYPES = ["margin_guard", "tp_sl", "auto_entry", "noop"] as const;
export type AutomationType = (typeof AUTOMATION_TYPES)[number];

const schemas: Record<AutomationType, z.ZodType> = {
  margin_guard: MarginGuardConfig,
  tp_sl: TpSlConfig,
  auto_entry: AutoEntryConfig,
  noop: NoopConfig,
};

export function scheduleKindOf(type: AutomationType): ScheduleKind {
  return type === "noop" ? "margin_guard" : type;
}

export interface Issue {
  path: string;
  message: string;
  code: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; issues: Issue[] };

const toIssues = (prefix: string, err: z.ZodError): Issue[] =>
  err.issues.map((i) => ({ path: [prefix, ...i.path.map(String)].filter(Boolean).join("."), message: i.message, code: i.code }));

/** Validates `{type, config}` for a type; unknown types name `type`. */
export function parseAutomationConfig(type: string, config: unknown, opts: { allowTestTypes: boolean }): ParseResult<{ type: AutomationType; config: unknown }> {
  const known = (AUTOMATION_TYPES as readonly string[]).includes(type) && (type !== "noop" || opts.allowTestTypes);
  const schema = known ? schemas[type as AutomationType] : undefined;
  if (!schema) return { ok: false, issues: [{ path: "type", message: `unknown automation type ${JSON.stringify(type).slice(0, 40)}`, code: "invalid_value" }] };
  const parsed = schema.safeParse(config ?? {});
  if (!parsed.success) return { ok: false, issues: toIssues("config", parsed.error) };
  return { ok: true, value: { type: type as AutomationType, config: parsed.data } };
}

export function parseScheduleOverride(schedule: unknown): ParseResult<ScheduleOverride | null> {
  if (schedule === undefined || schedule === null) return { ok: true, value: null };
  const parsed = ScheduleOverride.safeParse(schedule);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, issues: toIssues("schedule", parsed.error) };
}
