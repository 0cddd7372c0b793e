/**
 * A user's scheduling switch (the kill switch) and the status of their automations: one
 * implementation for every way in (the API's POST /v1/automations/start|stop and
 * GET /v1/automations/status, and the Telegram bot's /start, /stop and /status).
 */
import { eq } from "drizzle-orm";
import { getDb } from "../db/client";
import { exchangeAccounts, users } from "../db/schema";
import type { accountStatus } from "../../durable-objects/account/status";
import { refreshUserAccounts } from "./service";

/** One account's status (AccountDO.status()); typed here, the RPC stub's type is too deep to infer. */
export type AccountStatus = ReturnType<typeof accountStatus>;

async function setScheduling(env: Env, userId: string, enabled: boolean): Promise<void> {
  await getDb(env).update(users).set({ schedulingEnabled: enabled, updatedAt: Date.now() }).where(eq(users.id, userId)).run();
  await refreshUserAccounts(env, userId);
}

/** Resumes scheduling of every automation of the user (each account re-reads whether it runs). */
export function startUserAutomationScheduling(env: Env, userId: string): Promise<void> {
  return setScheduling(env, userId, true);
}

/** The kill switch: no automation of the user runs until scheduling is started again. */
export function stopUserAutomationScheduling(env: Env, userId: string): Promise<void> {
  return setScheduling(env, userId, false);
}

/** Per account (AccountDO.status()): schedules, last results, feed, breaker; and the user's switch. */
export async function getAutomationScheduleStatus(env: Env, userId: string): Promise<{ schedulingEnabled: boolean; scheduleScope: string; accounts: AccountStatus[] }> {
  const db = getDb(env);
  const user = await db.select({ schedulingEnabled: users.schedulingEnabled, scheduleScope: users.scheduleScope }).from(users).where(eq(users.id, userId)).get();
  const accounts = await db.select({ id: exchangeAccounts.id }).from(exchangeAccounts).where(eq(exchangeAccounts.userId, userId)).all();
  const statuses = (await Promise.all(accounts.map((a) => env.ACCOUNT.getByName(a.id).status()))) as AccountStatus[];
  return { schedulingEnabled: user?.schedulingEnabled ?? false, scheduleScope: user?.scheduleScope ?? "active", accounts: statuses };
}
