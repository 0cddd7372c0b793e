/** Operator routes (admin role). Mounted behind requireAuth + requireAdmin. */
import { createRoute } from "@hono/zod-openapi";
import { ne } from "drizzle-orm";
import { decryptAccountCredentials, getCacheStats } from "../../accounts/credentials";
import { getDb } from "../../db/client";
import { exchangeAccounts } from "../../db/schema";
import { loadKeyRing } from "../../lib/credentials-crypto";
import { commonErrors, errorResponses, json, router, z } from "../openapi";

const tags = ["admin"];
const security = [{ bearer: [] as string[] }];
const forbidden = { 403: errorResponses[403] };

export const adminRoutes = router()
  .openapi(
    createRoute({ method: "get", path: "/credentials/cache-stats", tags, security, summary: "Credential cache hit/miss/expiry counters",
      responses: { 200: json(z.object({ validation: z.record(z.string(), z.unknown()), decrypted: z.record(z.string(), z.unknown()) }), "Stats"), ...forbidden, ...commonErrors } }),
    async (c) => c.json(await getCacheStats(c.env), 200),
  )
  .openapi(
    createRoute({ method: "post", path: "/credentials/rotate", tags, security, summary: "Re-encrypt credentials still under an old key (bounded batch; call until remaining is 0)",
      request: { query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }) },
      responses: { 200: json(z.object({ currentKeyId: z.string(), rotated: z.number(), remaining: z.number() }), "Rotation progress"), ...forbidden, ...commonErrors } }),
    async (c) => {
      const ring = loadKeyRing(c.env.CREDENTIALS_KEYS);
      const db = getDb(c.env);
      const { limit } = c.req.valid("query");
      const stale = await db.select().from(exchangeAccounts).where(ne(exchangeAccounts.credentialsKeyId, ring.currentId)).limit(limit).all();
      // Decrypting re-encrypts with the current key (rotation on read).
      for (const row of stale) await decryptAccountCredentials(c.env, row, db);
      const remaining = (await db.select({ id: exchangeAccounts.id }).from(exchangeAccounts).where(ne(exchangeAccounts.credentialsKeyId, ring.currentId)).all()).length;
      c.get("logger").info("credentials.rotated", { rotated: stale.length, remaining, currentKeyId: ring.currentId });
      return c.json({ currentKeyId: ring.currentId, rotated: stale.length, remaining }, 200);
    },
  );
