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
