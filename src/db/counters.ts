import { sql } from "drizzle-orm";
import type { Db } from "./client";
import { counters } from "./schema";

/** Adds `by` to each named counter (one upsert per name, in one batch). */
export async function incrementCounters(db: Db, deltas: Record<string, number>): Promise<void> {
  const now = Date.now();
  const stmts = Object.entries(deltas)
    .filter(([, by]) => by !== 0)
    .map(([name, by]) =>
      db.insert(counters).values({ name, value: by, updatedAt: now })
        .onConflictDoUpdate({ target: counters.name, set: { value: sql`${counters.value} + ${by}`, updatedAt: now } }),
    );
  if (stmts.length) await db.batch(stmts as [typeof stmts[number], ...typeof stmts]);
}

export async function readCounters(db: Db, prefix: string): Promise<Record<string, number>> {
  const rows = await db.select().from(counters).where(sql`${counters.name} LIKE ${prefix + "%"}`).all();
  return Object.fromEntries(rows.map((r) => [r.name.slice(prefix.length), r.value]));
}
