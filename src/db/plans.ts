/** Plans (seeded by migration 0001) and the limits they carry. */
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "./client";
import { plans, users } from "./schema";

export const PlanLimits = z.object({
  maxAccounts: z.number().int().min(0),
  automationTypes: z.array(z.string()),
  maxConcurrentSimulations: z.number().int().min(0),
  maxSimulationSteps: z.number().int().min(0),
  /** Cells of one backtest sweep; absent: {@link DEFAULT_SWEEP_CELLS} (free 4, paid 25). */
  maxSweepCells: z.number().int().min(0).optional(),
  /**
   * The account holds its own stream socket while in its hot zone (every tick and its private
   * trade events at once). Such an object never hibernates: ~$4 a month while hot (issue 20).
   */
  dedicatedSocket: z.boolean().optional(),
});
export type PlanLimits = z.infer<typeof PlanLimits>;

/** Sweep cells of a plan whose limits do not say: 4 on a free plan, 25 on a paid one. */
export const DEFAULT_SWEEP_CELLS = { free: 4, paid: 25 } as const;

/** The most cells one backtest sweep may have on `plan`. */
export function maxSweepCells(plan: Plan): number {
  return plan.limits.maxSweepCells ?? (plan.priceSats > 0 ? DEFAULT_SWEEP_CELLS.paid : DEFAULT_SWEEP_CELLS.free);
}

export interface Plan {
  id: string;
  name: string;
  priceSats: number;
  durationDays: number;
  limits: PlanLimits;
}

export async function listPlans(db: Db): Promise<Plan[]> {
  const rows = await db.select().from(plans).all();
  return rows.map((r) => ({ ...r, limits: PlanLimits.parse(JSON.parse(r.limits)) }));
}

/** The plan in force for a user: a paid plan past its expiry falls back to `free`. */
export async function effectivePlan(db: Db, userId: string, now = Date.now()): Promise<Plan> {
  const user = await db.select({ planId: users.planId, planExpiresAt: users.planExpiresAt }).from(users).where(eq(users.id, userId)).get();
  const all = await listPlans(db);
  const expired = user?.planExpiresAt != null && user.planExpiresAt <= now;
  const id = !user || expired ? "free" : user.planId;
  const plan = all.find((p) => p.id === id) ?? all.find((p) => p.id === "free");
  if (!plan) throw new Error("plans table is empty: migrations not applied");
  return plan;
}

/** The cheapest plan whose limits satisfy `ok`, to name in a 402. */
export async function planThatLifts(db: Db, ok: (l: PlanLimits) => boolean): Promise<Plan | undefined> {
  return (await listPlans(db)).filter((p) => ok(p.limits)).sort((a, b) => a.priceSats - b.priceSats)[0];
}

