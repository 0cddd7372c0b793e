import { createRoute } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { getDb } from "../../db/client";
import { users } from "../../db/schema";
import { findUserById, publicUser } from "../../db/users";
import { clearUserCredentialsCache } from "../../accounts/credentials";
import { refreshUserAccounts } from "../../accounts/service";
import { notFound } from "../errors";
import { commonErrors, json, jsonBody, router, security, z } from "../openapi";

export const PublicUser = z
  .object({
    id: z.string(),
    email: z.string(),
    role: z.enum(["user", "admin"]),
    plan: z.string(),
    planExpiresAt: z.number().nullable(),
    activeAccountId: z.string().nullable(),
    scheduleScope: z.enum(["active", "all"]),
    schedulingEnabled: z.boolean(),
    pauseEntries: z.boolean(),
    createdAt: z.number(),
  })
  .openapi("User");

const MePatch = z
  .strictObject({
    scheduleScope: z.enum(["active", "all"]).optional(),
    pauseEntries: z.boolean().optional(),
  })
  .openapi("UserPatch");

export const meRoutes = router()
  .openapi(
    createRoute({ method: "get", path: "/", tags: ["me"], summary: "The current user", security, responses: { 200: json(PublicUser, "Me"), ...commonErrors } }),
    async (c) => {
      const user = await findUserById(getDb(c.env), c.get("user").id);
      if (!user) throw notFound("User");
      return c.json(publicUser(user), 200);
    },
  )
  .openapi(
    createRoute({
      method: "patch", path: "/", tags: ["me"], summary: "Update settings", security,
      request: jsonBody(MePatch),
      responses: { 200: json(PublicUser, "Updated"), ...commonErrors },
    }),
    async (c) => {
      const patch = c.req.valid("json");
      const db = getDb(c.env);
      const userId = c.get("user").id;
      if (Object.keys(patch).length) {
        await db.update(users).set({ ...patch, updatedAt: Date.now() }).where(eq(users.id, userId)).run();
        // Scope decides which accounts run: every account re-reads it.
        if (patch.scheduleScope !== undefined || patch.pauseEntries !== undefined) await refreshUserAccounts(c.env, userId);
      }
      const user = await findUserById(db, userId);
      if (!user) throw notFound("User");
      return c.json(publicUser(user), 200);
    },
  )
  .openapi(
    createRoute({ method: "delete", path: "/credentials/cache", tags: ["me"], summary: "Forget cached validations and decrypted keys of all your accounts", security, responses: { 200: json(z.object({ cleared: z.number() }), "Cleared"), ...commonErrors } }),
    async (c) => c.json({ cleared: await clearUserCredentialsCache(c.env, c.get("user").id) }, 200),
  );
