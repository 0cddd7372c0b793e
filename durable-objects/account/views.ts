import { parseAutomationConfig } from "../../src/automations/registry";
import type { AutomationRow } from "./storage";

/** The public shape of an automation and its schedule status. */
export function automationView(r: AutomationRow, feed: string) {
  return {
    id: r.id,
    type: r.type,
    name: r.name,
    enabled: !!r.enabled,
    config: JSON.parse(r.config) as unknown,
    schedule: r.schedule ? (JSON.parse(r.schedule) as unknown) : null,
    status: {
      nextRunAt: r.next_run_at,
      lastRunAt: r.last_run_at,
      lastResult: r.last_result,
      lastError: r.last_error,
      lastDurationMs: r.last_duration_ms,
      attempts: r.attempts,
      runs: r.runs,
      failures: r.failures,
      feed,
    },
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export type AutomationView = ReturnType<typeof automationView>;

/** Enabled rows as the schedule maths sees them. */
export function scheduled(rows: AutomationRow[]) {
  return rows.filter((a) => a.enabled).map((a) => ({ id: a.id, nextRunAt: a.next_run_at }));
}

/** Stored configs parsed once per change of their row (by `updated_at`), not on every tick; null when invalid. */
export class ParsedConfigs {
  private readonly cache = new Map<string, { updatedAt: number; config: unknown }>();

  get(row: AutomationRow): unknown {
    const hit = this.cache.get(row.id);
    if (hit && hit.updatedAt === row.updated_at) return hit.config;
    const parsed = parseAutomationConfig(row.type, JSON.parse(row.config), { allowTestTypes: true });
    const config = parsed.ok ? parsed.value.config : null;
    this.cache.set(row.id, { updatedAt: row.updated_at, config });
    return config;
  }
}
