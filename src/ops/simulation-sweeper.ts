/**
 * Frees concurrency slots held by simulation rows that say `running` in D1 while their
 * Durable Object never started (the worker died between the insert and `begin`) or already
 * ended. The DO itself retries its final D1 write; this catches what it cannot.
 */
import { and, eq, lt } from "drizzle-orm";
import { getDb } from "../db/client";
import { simulations } from "../db/schema";
import type { Logger } from "../lib/logger";

/** Only rows older than this are looked at: a run that is starting must not be touched. */
export const STUCK_AFTER_MS = 5 * 60_000;
const BATCH = 20;

export async function sweepSimulations(env: Env, opts: { now: number; logger: Logger }): Promise<{ checked: number; fixed: number }> {
  const db = getDb(env);
  const rows = await db.select({ id: simulations.id }).from(simulations)
    .where(and(eq(simulations.status, "running"), lt(simulations.createdAt, opts.now - STUCK_AFTER_MS)))
    .limit(BATCH).all();
  let fixed = 0;
  for (const { id } of rows) {
    const info = await env.SIMULATION.getByName(id).info();
    if (info.ok && info.value.status === "running") continue;
    const status = info.ok ? info.value.status : "failed";
    await db.update(simulations).set({ status, finishedAt: opts.now }).where(and(eq(simulations.id, id), eq(simulations.status, "running"))).run();
    opts.logger.warn("simulation.swept", { simulationId: id, status, reason: info.ok ? "ended without its D1 row" : "never started" });
    fixed++;
  }
  return { checked: rows.length, fixed };
}
