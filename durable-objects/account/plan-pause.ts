/**
 * The owner is told once when the plan in force pauses automations on an account (issue 22: a
 * lapsed plan, or an account beyond the plan's limit); renewal resumes them (the payment
 * consumer refreshes the accounts). Moved out of account.ts to keep it small.
 */
import type { AccountContext } from "./context";
import type { Journal } from "./journal";
import type { AccountStore, AutomationRow } from "./storage";

/** Records which automations the plan pauses here; journals the change and notifies newly paused ones. */
export async function notePlanPause(store: AccountStore, journal: Journal, ctx: AccountContext | null, paused: AutomationRow[]): Promise<void> {
  if (!ctx) return;
  const key = paused.map((a) => a.id).sort().join(",");
  const before = store.getMeta("planPaused") ?? "";
  if (key === before) return;
  store.setMeta("planPaused", key);
  if (!key) {
    journal.automation("info", "plan.resumed", null, { plan: ctx.plan.id });
    return;
  }
  const fresh = paused.filter((a) => !before.split(",").includes(a.id));
  journal.automation("warn", "plan.paused", null, { plan: ctx.plan.id, automations: paused.map((a) => a.id), withinAccountLimit: ctx.plan.withinAccountLimit });
  if (!fresh.length) return;
  const why = ctx.plan.withinAccountLimit
    ? `the ${ctx.plan.id} plan does not include ${[...new Set(fresh.map((a) => a.type))].join(", ")}`
    : `the ${ctx.plan.id} plan allows ${ctx.plan.maxAccounts} account(s) and ${ctx.name} is beyond it`;
  await journal.notify("plan.paused", "warning", "Automations paused by your plan",
    `${fresh.length} automation(s) on ${ctx.name} are paused: ${why}. Their settings are kept; renewing the plan resumes them. Liquidation alerts continue.`,
    { plan: ctx.plan.id, automations: fresh.map((a) => a.id) });
}
