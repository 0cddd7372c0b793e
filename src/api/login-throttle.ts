/**
 * Progressive lockout per (email, client IP) (issue 22): after FREE_FAILURES consecutive
 * failures, each further failure locks that pair out for a doubling time, capped at
 * MAX_LOCK_MS. A locked pair is refused before any password hashing (no CPU spent). Keyed
 * with the IP so an attacker elsewhere cannot lock the owner out; the owner's own IP is only
 * locked by the owner's own failures, and never for more than MAX_LOCK_MS. Account-wide
 * guessing from many IPs is slowed by RL_AUTH_ACCOUNT (10 a minute), which blocks for at most
 * a minute at a time.
 */
import { eq, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { loginThrottle } from "../db/schema";
import { sha256Hex } from "../lib/crypto";

export const FREE_FAILURES = 5;
export const FIRST_LOCK_MS = 30_000;
export const MAX_LOCK_MS = 15 * 60_000;

/** Hashed so the table holds neither emails nor IPs in clear. */
export async function throttleKey(email: string, ip: string | null): Promise<string> {
  return (await sha256Hex(`${email}\n${ip ?? "-"}`)).slice(0, 40);
}

export function lockDuration(failures: number): number {
  if (failures < FREE_FAILURES) return 0;
  return Math.min(MAX_LOCK_MS, FIRST_LOCK_MS * 2 ** Math.min(20, failures - FREE_FAILURES));
}

/** Milliseconds the pair is still locked for (0 when it may try). */
export async function lockedFor(db: Db, key: string, now = Date.now()): Promise<number> {
  const row = await db.select({ lockedUntil: loginThrottle.lockedUntil }).from(loginThrottle).where(eq(loginThrottle.key, key)).get();
  return row?.lockedUntil && row.lockedUntil > now ? row.lockedUntil - now : 0;
}

/** Counts a failure; returns the lock it starts (0 if none yet). */
export async function recordFailure(db: Db, key: string, now = Date.now()): Promise<number> {
  const row = await db
    .insert(loginThrottle)
    .values({ key, failures: 1, lockedUntil: null, updatedAt: now })
    .onConflictDoUpdate({ target: loginThrottle.key, set: { failures: sql`${loginThrottle.failures} + 1`, updatedAt: now } })
    .returning({ failures: loginThrottle.failures })
    .get();
  const lock = lockDuration(row.failures);
  if (lock) await db.update(loginThrottle).set({ lockedUntil: now + lock }).where(eq(loginThrottle.key, key)).run();
  return lock;
}

export async function clearFailures(db: Db, key: string): Promise<void> {
  await db.delete(loginThrottle).where(eq(loginThrottle.key, key)).run();
}
