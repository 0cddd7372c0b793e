/**
 * The account's automations as the API sees them: create, list, read, update and delete, each
 * config validated by its type's strict schema. The DO's SQLite is the source of truth; every
 * change re-syncs the D1 summary and the schedules (`afterChange`). A disable or delete stops
 * a run in flight where it stands (an order it sent stays an intent until reconciled).
 */
import { parseAutomationConfig, parseScheduleOverride, type AutomationType, type Issue } from "../../src/automations/registry";
import type { ScheduleOverride } from "../../src/domain/schedule";
import { newId } from "../../src/lib/ids";
import type { AccountContext } from "./context";
import type { Journal } from "./journal";
import type { Market } from "./market";
import { MONITOR_ID, type Runner } from "./runner";
import type { AccountStore } from "./storage";
import { automationView, type AutomationView } from "./views";

export type DoResult<T> =
  | { ok: true; value: T }
  | { ok: false; code: "validation_error" | "not_found" | "no_account"; message: string; details?: Issue[] }
  /** A cap on how many (issue 22, bounded growth): `limit` is the cap, `name` names it. */
  | { ok: false; code: "limit_reached"; message: string; limit: number; name: string };

/** Automations per account, the monitor not counted (issue 22: bounded growth). */
export const MAX_AUTOMATIONS_PER_ACCOUNT = 20;

export interface AutomationInput {
  type: string;
  name?: string | null;
  config?: unknown;
  schedule?: unknown;
  enabled?: boolean;
}

export interface AutomationPatch {
  name?: string | null;
  config?: unknown;
  schedule?: unknown;
  enabled?: boolean;
}

export interface AutomationCrudHost {
  readonly env: Env;
  readonly store: AccountStore;
  readonly journal: Journal;
  readonly market: Market;
  readonly runner: Runner;
  loadContext(force: boolean): Promise<AccountContext | null>;
  afterChange(): Promise<void>;
}

export class AutomationCrud {
  constructor(private readonly h: AutomationCrudHost) {}

  private view(id: string): AutomationView {
    return automationView(this.h.store.automation(id)!, this.h.market.feed(Date.now()));
  }

  async create(input: AutomationInput, trace?: { traceId?: string }): Promise<DoResult<AutomationView>> {
    const parsed = this.validate(input.type, input.config, input.schedule);
    if (!parsed.ok) return parsed;
    const count = this.h.store.automations().filter((a) => a.id !== MONITOR_ID).length;
    if (count >= MAX_AUTOMATIONS_PER_ACCOUNT) {
      return { ok: false, code: "limit_reached", message: `At most ${MAX_AUTOMATIONS_PER_ACCOUNT} automations per account; delete one first`, limit: MAX_AUTOMATIONS_PER_ACCOUNT, name: "automationsPerAccount" };
    }
    const ctx = await this.h.loadContext(true);
    if (!ctx) return { ok: false, code: "no_account", message: "Account not found" };
    const now = Date.now();
    const id = newId("aut");
    this.h.store.insertAutomation({
      id, type: parsed.value.type, name: input.name ?? null, config: JSON.stringify(parsed.value.config),
      schedule: parsed.value.schedule ? JSON.stringify(parsed.value.schedule) : null, enabled: input.enabled === false ? 0 : 1,
      next_run_at: null, trace_id: trace?.traceId ?? null, created_at: now, updated_at: now,
    });
    this.h.journal.automation("info", "automation.created", id, { type: parsed.value.type, enabled: input.enabled !== false, config: parsed.value.config }, undefined, trace?.traceId);
    await this.h.afterChange();
    return { ok: true, value: this.view(id) };
  }

  list(): AutomationView[] {
    const feed = this.h.market.feed(Date.now());
    return this.h.store.automations().filter((a) => a.id !== MONITOR_ID).map((a) => automationView(a, feed));
  }

  get(id: string): DoResult<AutomationView> {
    const row = id === MONITOR_ID ? undefined : this.h.store.automation(id);
    return row ? { ok: true, value: this.view(id) } : { ok: false, code: "not_found", message: "Automation not found" };
  }

  /** Enable/disable, replace config or schedule, rename. */
  async update(id: string, patch: AutomationPatch, trace?: { traceId?: string }): Promise<DoResult<AutomationView>> {
    const { store, journal } = this.h;
    const row = id === MONITOR_ID ? undefined : store.automation(id);
    if (!row) return { ok: false, code: "not_found", message: "Automation not found" };
    const parsed = this.validate(row.type, patch.config === undefined ? JSON.parse(row.config) : patch.config, patch.schedule === undefined ? (row.schedule ? JSON.parse(row.schedule) : null) : patch.schedule);
    if (!parsed.ok) return parsed;
    const now = Date.now();
    const enabled = patch.enabled === undefined ? row.enabled : patch.enabled ? 1 : 0;
    store.updateAutomation(id, {
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      config: JSON.stringify(parsed.value.config),
      schedule: parsed.value.schedule ? JSON.stringify(parsed.value.schedule) : null,
      enabled,
      ...(enabled ? {} : { next_run_at: null, attempts: 0 }),
      // A new config starts with fresh decision state (cooldowns, trailing anchors).
      ...(patch.config !== undefined ? { state: "{}" } : {}),
      ...(trace?.traceId ? { trace_id: trace.traceId } : {}),
      updated_at: now,
    });
    journal.automation("info", "automation.updated", id, { fields: Object.keys(patch), enabled: !!enabled }, undefined, trace?.traceId);
    // Disabled: a run in flight stops where it stands (an order it sent stays an intent until reconciled).
    if (!enabled) this.h.runner.abort(id, "automation disabled");
    await this.h.afterChange();
    return { ok: true, value: this.view(id) };
  }

  async delete(id: string, trace?: { traceId?: string }): Promise<DoResult<null>> {
    if (id === MONITOR_ID || !this.h.store.automation(id)) return { ok: false, code: "not_found", message: "Automation not found" };
    this.h.runner.abort(id, "automation deleted");
    this.h.store.deleteAutomation(id);
    this.h.journal.automation("info", "automation.deleted", id, {}, undefined, trace?.traceId);
    await this.h.afterChange();
    return { ok: true, value: null };
  }

  private validate(type: string, config: unknown, schedule: unknown): DoResult<{ type: AutomationType; config: unknown; schedule: ScheduleOverride | null }> {
    const allowTestTypes = this.h.env.ENVIRONMENT === "development" || this.h.env.ENVIRONMENT === "test";
    const c = parseAutomationConfig(type, config, { allowTestTypes });
    const s = parseScheduleOverride(schedule);
    const issues = [...(c.ok ? [] : c.issues), ...(s.ok ? [] : s.issues)];
    if (!c.ok || !s.ok) return { ok: false, code: "validation_error", message: `Invalid ${issues[0]?.path}: ${issues[0]?.message}`, details: issues };
    return { ok: true, value: { ...c.value, schedule: s.value } };
  }
}
