/**
 * What the account may run, from its context (scope, kill switch, keys) and its owner's plan in
 * force (issue 22: plans are enforced at run time): the monitor watches every active account
 * whose keys work; automations run only in scope, within the plan's account limit, and only the
 * types the plan includes.
 */
import type { AccountContext } from "./context";
import type { Keys } from "./keys";
import { MONITOR_ID } from "./runner";
import type { AccountStore, AutomationRow } from "./storage";

export interface RunPolicyHost {
  readonly store: AccountStore;
  readonly keys: Keys;
  context(): AccountContext | null;
}

export class RunPolicy {
  constructor(private readonly h: RunPolicyHost) {}

  /** Enabled automations the owner's plan in force includes (a lapsed plan pauses the others). */
  enabledAutomations(): AutomationRow[] {
    return this.h.store.automations().filter((a) => a.id !== MONITOR_ID && a.enabled && this.planAllows(a));
  }

  /** The owner's plan in force includes this automation's type (the dev-only test type always runs). */
  planAllows(row: AutomationRow): boolean {
    const plan = this.h.context()?.plan;
    return !plan || row.type === "noop" || plan.automationTypes.includes(row.type);
  }

  /** Enabled automations the plan in force pauses here (type not included, or the account over the plan's limit). */
  pausedByPlan(ctx: AccountContext | null): AutomationRow[] {
    if (!ctx) return [];
    return this.h.store.automations().filter((a) => a.id !== MONITOR_ID && a.enabled && (!ctx.plan.withinAccountLimit || !this.planAllows(a)));
  }

  /**
   * The monitor watches every active account whose keys the exchange has not refused,
   * automations or not (liquidation alerts are never silently off). Keys not validated yet
   * are validated at its first run.
   */
  watching(ctx: AccountContext | null): boolean {
    return !!ctx && ctx.status === "active" && !this.h.keys.rejected(ctx);
  }

  /** Automations run for an account in scope (scope, kill switch) with enabled ones and working keys. */
  automationsRun(ctx: AccountContext | null): boolean {
    return this.watching(ctx) && ctx!.inScope && ctx!.plan.withinAccountLimit && this.enabledAutomations().length > 0;
  }
}
