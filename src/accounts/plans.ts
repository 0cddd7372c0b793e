import type { Db } from "../db/client";
import { effectivePlan, planThatLifts, type PlanLimits } from "../db/plans";
import { PlanLimitError } from "../lib/errors";

/** Throws PlanLimitError (402) naming the limit and the plan that lifts it when `ok(limits)` is false. */
export async function requirePlan(db: Db, userId: string, limit: string, ok: (l: PlanLimits) => boolean, what: string): Promise<void> {
  const plan = await effectivePlan(db, userId);
  if (ok(plan.limits)) return;
  const lifts = await planThatLifts(db, ok);
  throw new PlanLimitError(`${what} is not included in the ${plan.name} plan${lifts ? `; the ${lifts.name} plan includes it` : ""}`, {
    limit,
    plan: plan.id,
    upgradeTo: lifts?.id ?? null,
  });
}
