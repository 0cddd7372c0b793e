/**
 * The dev seed of DESIGN.md (ENVIRONMENT=development only): a demo trader with an account on
 * the simulator, and an operator. Idempotent: a restart finds what the last run made.
 */
import { eq } from "drizzle-orm";
import { getConfig } from "./config";
import { getDb } from "./db/client";
import { users } from "./db/schema";
import { hashPassword } from "./lib/crypto";
import { newId } from "./lib/ids";

export const DEV_DEMO = { email: "demo@example.test", password: "demo-password" } as const;
export const DEV_ADMIN = { email: "admin@example.test", password: "admin-password" } as const;
export const DEV_METRICS_TOKEN = "dev-metrics-token";

async function ensureUser(env: Env, email: string, password: string, role: "user" | "admin"): Promise<string> {
  const db = getDb(env);
  const existing = await db.select({ id: users.id }).from(users).where(eq(users.email, email)).get();
  if (existing) return existing.id;
  const now = Date.now();
  const id = newId("usr");
  await db.insert(users).values({ id, email, passwordHash: await hashPassword(password, getConfig(env).PASSWORD_PEPPER), role, createdAt: now, updatedAt: now }).onConflictDoNothing().run();
  return (await db.select({ id: users.id }).from(users).where(eq(users.email, email)).get())!.id;
}

export interface SeedResult {
  demo: { email: string; password: string; userId: string; accountId: string | null };
  admin: { email: string; password: string; userId: string };
  metricsToken: string;
}

/** Extra seeding steps registered by features (the demo exchange account). */
export type SeedStep = (env: Env, result: SeedResult) => Promise<void>;

export async function runDevSeed(env: Env, steps: SeedStep[] = []): Promise<SeedResult> {
  const demoId = await ensureUser(env, DEV_DEMO.email, DEV_DEMO.password, "user");
  const adminId = await ensureUser(env, DEV_ADMIN.email, DEV_ADMIN.password, "admin");
  const result: SeedResult = {
    demo: { ...DEV_DEMO, userId: demoId, accountId: null },
    admin: { ...DEV_ADMIN, userId: adminId },
    metricsToken: DEV_METRICS_TOKEN,
  };
  for (const step of steps) await step(env, result);
  return result;
}
