/** User and API-token queries. Everything that reads a user's data filters by its id. */
import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "./client";
import { apiTokens, users } from "./schema";

export type UserRow = typeof users.$inferSelect;

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  return db.select().from(users).where(eq(users.email, email)).get();
}

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  return db.select().from(users).where(eq(users.id, id)).get();
}

export async function findActiveToken(db: Db, tokenId: string) {
  return db
    .select({ id: apiTokens.id, userId: apiTokens.userId, secretHash: apiTokens.secretHash, scopes: apiTokens.scopes, expiresAt: apiTokens.expiresAt, lastUsedAt: apiTokens.lastUsedAt })
    .from(apiTokens)
    .where(and(eq(apiTokens.id, tokenId), isNull(apiTokens.revokedAt)))
    .get();
}

/**
 * Public view of a user (`GET /v1/me`). `plan` is the plan in force (as effectivePlan): a paid
 * plan past its expiry shows as `free`, with no expiry.
 */
export function publicUser(u: UserRow, now = Date.now()) {
  const lapsed = u.planExpiresAt != null && u.planExpiresAt <= now;
  return {
    id: u.id,
    email: u.email,
    role: u.role,
    plan: lapsed ? "free" : u.planId,
    planExpiresAt: lapsed ? null : u.planExpiresAt ?? null,
    activeAccountId: u.activeAccountId ?? null,
    scheduleScope: u.scheduleScope,
    schedulingEnabled: u.schedulingEnabled,
    pauseEntries: u.pauseEntries,
    createdAt: u.createdAt,
  };
}
