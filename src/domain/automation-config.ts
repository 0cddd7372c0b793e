/**
 * One entry point to validate an automation's `{type, config}` (HTTP create/patch and the
 * AccountDO's stored rows), so every layer rejects the same bad configs with the same paths.
 */
import { z } from "zod";
import { AutoEntryConfig } from "./auto-entry";
import { MarginGuardConfig } from "./margin-guard";
import { TpSlConfig } from "./tp-sl";

export const AutomationType = z.enum(["margin_guard", "tp_sl", "auto_entry"]);
export type AutomationType = z.infer<typeof AutomationType>;

/** Config schema per automation type. */
export const AUTOMATION_CONFIG_SCHEMAS = {
  margin_guard: MarginGuardConfig,
  tp_sl: TpSlConfig,
  auto_entry: AutoEntryConfig,
} as const;

/** `{type, config}` as one zod schema (for OpenAPI); unknown fields around it are the caller's. */
export const AutomationConfig = z.discriminatedUnion("type", [
  z.object({ type: z.literal("margin_guard"), config: MarginGuardConfig }),
  z.object({ type: z.literal("tp_sl"), config: TpSlConfig }),
  z.object({ type: z.literal("auto_entry"), config: AutoEntryConfig }),
]);
export type AutomationConfig = z.infer<typeof AutomationConfig>;

/** A validation problem with the path of the offending field, e.g. ["config", "warnAt"]. */
export interface ConfigIssue {
  path: (string | number)[];
  code: string;
  message: string;
}

export type ParseAutomationResult = { ok: true; value: AutomationConfig } | { ok: false; issues: ConfigIssue[] };

const toIssues = (issues: readonly z.core.$ZodIssue[], prefix: (string | number)[]): ConfigIssue[] =>
  issues.map((i) => ({
    path: [...prefix, ...i.path.map((p) => (typeof p === "symbol" ? String(p) : p))],
    code: i.code,
    message: i.message,
  }));

/**
 * Validate `{type, config}` with the schema of `type`. Defaults are filled in the result.
 * An unknown or missing type is one issue at path ["type"]; config issues are prefixed with
 * "config" so an API error names e.g. `config.actAt`.
 */
export function parseAutomationConfig(input: unknown): ParseAutomationResult {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { ok: false, issues: [{ path: [], code: "invalid_type", message: "expected an object {type, config}" }] };
  }
  const { type, config } = input as { type?: unknown; config?: unknown };
  const t = AutomationType.safeParse(type);
  if (!t.success) {
    return {
      ok: false,
      issues: [{ path: ["type"], code: "invalid_value", message: `type must be one of ${AutomationType.options.join(", ")}` }],
    };
  }
  const parsed = AUTOMATION_CONFIG_SCHEMAS[t.data].safeParse(config);
  if (!parsed.success) return { ok: false, issues: toIssues(parsed.error.issues, ["config"]) };
  return { ok: true, value: { type: t.data, config: parsed.data } as AutomationConfig };
}
