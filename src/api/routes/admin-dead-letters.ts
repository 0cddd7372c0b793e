/**
 * Operator routes for the dead-letter store (mounted under /v1/admin behind requireAuth +
 * requireAdmin): list (filter by queue and status, cursor paged), the error-pattern summary
 * and a manual retry that re-sends the stored body to its source queue.
 */
import { createRoute } from "@hono/zod-openapi";
import { and, desc, eq, gte, sql } from "drizzle-orm";
import { retryDeadLetter, type DeadLetterRow } from "../../messaging/dead-letters";
import { getDb } from "../../db/client";
import { deadLetters } from "../../db/schema";
import { isId } from "../../lib/ids";
import { decodeCursor, olderThan, page, PageQuery } from "../pagination";
import { notFound } from "../errors";
import { commonErrors, errorResponses, json, router, security, z } from "../openapi";

const tags = ["admin"];
const forbidden = { 403: errorResponses[403] };
const Queue = z.enum(["notifications", "alerts", "payments", "logs"]);
const Params = z.object({ id: z.string().max(100).openapi({ param: { name: "id", in: "path" } }) });

const DeadLetter = z.object({
  id: z.string(),
  queue: Queue.or(z.string()).openapi({ description: "Source queue (where a retry re-sends the body)" }),
  messageId: z.string(),
  body: z.unknown(),
  attempts: z.number().int(),
  errorClass: z.string().openapi({ example: "http_5xx" }),
  firstError: z.string().nullable(),
  lastError: z.string().nullable(),
  receivedAt: z.number(),
  status: z.enum(["open", "retried"]),
  retriedAt: z.number().nullable(),
  retriedBy: z.string().nullable(),
}).openapi("DeadLetter");

const WINDOWS = { "1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000 } as const;
const Counts = z.object({ "1h": z.number().int(), "24h": z.number().int(), "7d": z.number().int() });
const Summary = z.object({
  generatedAt: z.number(),
  open: z.number().int().openapi({ description: "Dead letters not retried yet, any age" }),
  totals: Counts,
  groups: z.array(z.object({ queue: z.string(), errorClass: z.string(), counts: Counts, open: z.number().int(), lastReceivedAt: z.number() })),
}).openapi("DeadLetterSummary");

function view(r: DeadLetterRow): z.infer<typeof DeadLetter> {
  let body: unknown = r.body;
  try {
    body = JSON.parse(r.body);
  } catch {
    /* stored as text */
  }
  return { ...r, body };
}

export const adminDeadLetterRoutes = router()
  .openapi(
    createRoute({ method: "get", path: "/dead-letters", tags, security, summary: "Dead letters, newest first (filter by source queue and status; cursor paged)",
      request: { query: PageQuery.extend({ queue: Queue.optional(), status: z.enum(["open", "retried"]).optional() }) },
      responses: { 200: json(z.object({ data: z.array(DeadLetter), nextCursor: z.string().nullable() }), "Dead letters"), ...forbidden, ...commonErrors } }),
    async (c) => {
      const q = c.req.valid("query");
      const after = decodeCursor(q.cursor);
      const rows = await getDb(c.env).select().from(deadLetters).where(and(
        q.queue ? eq(deadLetters.queue, q.queue) : undefined,
        q.status ? eq(deadLetters.status, q.status) : undefined,
        olderThan(deadLetters.receivedAt, deadLetters.id, after),
      )).orderBy(desc(deadLetters.receivedAt), desc(deadLetters.id)).limit(q.limit + 1).all();
      const p = page(rows, q.limit, (r) => r.receivedAt);
      return c.json({ data: p.data.map(view), nextCursor: p.nextCursor }, 200);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/dead-letters/summary", tags, security, summary: "Dead letters grouped by queue and error class over the last 1 h, 24 h and 7 d",
      responses: { 200: json(Summary, "Summary"), ...forbidden, ...commonErrors } }),
    async (c) => {
      const now = Date.now();
      const since = (w: keyof typeof WINDOWS) => now - WINDOWS[w];
      const rows = await getDb(c.env).select({
        queue: deadLetters.queue,
        errorClass: deadLetters.errorClass,
        h1: sql<number>`sum(case when ${deadLetters.receivedAt} >= ${since("1h")} then 1 else 0 end)`,
        h24: sql<number>`sum(case when ${deadLetters.receivedAt} >= ${since("24h")} then 1 else 0 end)`,
        d7: sql<number>`count(*)`,
        open: sql<number>`sum(case when ${deadLetters.status} = 'open' then 1 else 0 end)`,
        lastReceivedAt: sql<number>`max(${deadLetters.receivedAt})`,
      }).from(deadLetters).where(gte(deadLetters.receivedAt, since("7d")))
        .groupBy(deadLetters.queue, deadLetters.errorClass).orderBy(desc(sql`count(*)`)).all();
      const open = await getDb(c.env).select({ n: sql<number>`count(*)` }).from(deadLetters).where(eq(deadLetters.status, "open")).get();
      const groups = rows.map((r) => ({
        queue: r.queue, errorClass: r.errorClass, counts: { "1h": Number(r.h1), "24h": Number(r.h24), "7d": Number(r.d7) },
        open: Number(r.open), lastReceivedAt: Number(r.lastReceivedAt),
      }));
      const sum = (k: keyof typeof WINDOWS) => groups.reduce((s, g) => s + g.counts[k], 0);
      return c.json({ generatedAt: now, open: Number(open?.n ?? 0), totals: { "1h": sum("1h"), "24h": sum("24h"), "7d": sum("7d") }, groups }, 200);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/dead-letters/{id}", tags, security, summary: "One dead letter", request: { params: Params },
      responses: { 200: json(DeadLetter, "Dead letter"), ...forbidden, ...commonErrors } }),
    async (c) => {
      const { id } = c.req.valid("param");
      const row = isId("dlq", id) ? await getDb(c.env).select().from(deadLetters).where(eq(deadLetters.id, id)).get() : undefined;
      if (!row) throw notFound("Dead letter");
      return c.json(view(row), 200);
    },
  )
  .openapi(
    createRoute({ method: "post", path: "/dead-letters/{id}/retry", tags, security,
      summary: "Re-send the stored body to its source queue (records who and when; consumers skip what already succeeded)",
      request: { params: Params }, responses: { 200: json(DeadLetter, "Re-sent"), ...forbidden, ...commonErrors } }),
    async (c) => {
      const { id } = c.req.valid("param");
      const row = isId("dlq", id) ? await retryDeadLetter(c.env, id, c.get("user").id) : null;
      if (!row) throw notFound("Dead letter");
      return c.json(view(row), 200);
    },
  );
