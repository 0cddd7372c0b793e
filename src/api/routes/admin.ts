/** Operator routes (admin role). Mounted behind requireAuth + requireAdmin. */
import { createRoute } from "@hono/zod-openapi";
import { getCacheStats } from "../../accounts/credentials";
import { rotateSecrets } from "../../accounts/key-rotation";
import { getDb } from "../../db/client";
import { commonErrors, errorResponses, json, router, z } from "../openapi";

const tags = ["admin"];
const security = [{ bearer: [] as string[] }];
const forbidden = { 403: errorResponses[403] };
const Counts = z.object({ accounts: z.number(), webhookSecrets: z.number() });
const RotationResult = z.object({
  currentKeyId: z.string(),
  rotated: Counts,
  remaining: Counts.openapi({ description: "Still under an old key (failed rows included)" }),
  failed: z.array(z.object({ kind: z.enum(["account", "webhook"]), id: z.string() })).openapi({ description: "Rows that could not be opened: their key is gone or they were tampered with" }),
  cursor: z.string().nullable().openapi({ description: "Pass back as ?cursor= to continue; null when the walk is complete" }),
  done: z.boolean(),
}).openapi("RotationResult");

export const adminRoutes = router()
  .openapi(
    createRoute({ method: "get", path: "/credentials/cache-stats", tags, security, summary: "Credential cache hit/miss/expiry counters",
      responses: { 200: json(z.object({ validation: z.record(z.string(), z.unknown()), decrypted: z.record(z.string(), z.unknown()) }), "Stats"), ...forbidden, ...commonErrors } }),
    async (c) => c.json(await getCacheStats(c.env), 200),
  )
  .openapi(
    createRoute({ method: "post", path: "/credentials/rotate", tags, security,
      summary: "Re-encrypt every secret at rest (exchange credentials and webhook secrets) under the current key; bounded and resumable: call with the returned cursor until done",
      request: { query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100), cursor: z.string().max(200).optional() }) },
      responses: { 200: json(RotationResult, "Rotation progress"), ...forbidden, ...commonErrors } }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const report = await rotateSecrets(c.env, getDb(c.env), { limit, cursor: cursor ?? null });
      c.get("logger").info("credentials.rotated", { ...report, failed: report.failed.length });
      return c.json(report, 200);
    },
  );
