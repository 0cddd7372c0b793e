/**
 * Notification history (`GET /v1/notifications`), paged by (createdAt, id) descending.
 */
import { z } from "@hono/zod-openapi";
import { and, desc, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client";
import { notificationDeliveries, notifications } from "../db/schema";
import { decodeCursor, olderThan, page } from "../lib/pagination";

export const Delivery = z.object({
  channel: z.enum(["webhook", "telegram", "email"]),
  status: z.enum(["pending", "sent", "failed", "skipped"]).openapi({ description: "skipped: not sent because the channel is not verified (lastError says so)" }),
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  latencyMs: z.number().nullable(),
  updatedAt: z.number(),
}).openapi("NotificationDelivery");

export const NotificationView = z.object({
  id: z.string(),
  event: z.string(),
  severity: z.enum(["info", "warning", "critical"]),
  title: z.string(),
  body: z.string(),
  data: z.record(z.string(), z.unknown()).nullable(),
  traceId: z.string().nullable(),
  createdAt: z.number(),
  deliveries: z.array(Delivery),
}).openapi("Notification");
export type NotificationView = z.infer<typeof NotificationView>;

/** One page of the user's notifications, newest first, each with its per-channel status. */
export async function listNotifications(db: Db, userId: string, q: { cursor?: string; limit: number }) {
  const after = decodeCursor(q.cursor);
  const rows = await db.select().from(notifications)
    .where(and(
      eq(notifications.userId, userId),
      olderThan(notifications.createdAt, notifications.id, after),
    ))
    .orderBy(desc(notifications.createdAt), desc(notifications.id))
    .limit(q.limit + 1).all();
  const { data: pageRows, nextCursor } = page(rows, q.limit, (r) => r.createdAt);
  const deliveries = pageRows.length
    ? await db.select().from(notificationDeliveries).where(inArray(notificationDeliveries.notificationId, pageRows.map((r) => r.id))).all()
    : [];
  const data: NotificationView[] = pageRows.map((n) => ({
    id: n.id, event: n.event, severity: n.severity, title: n.title, body: n.body,
    data: n.data ? (JSON.parse(n.data) as Record<string, unknown>) : null, traceId: n.traceId, createdAt: n.createdAt,
    deliveries: deliveries.filter((d) => d.notificationId === n.id).sort((a, b) => a.channel.localeCompare(b.channel)).map((d) => ({
      channel: d.channel, status: d.status, attempts: d.attempts, lastError: d.lastError, latencyMs: d.latencyMs, updatedAt: d.updatedAt,
    })),
  }));
  return { data, nextCursor };
}
