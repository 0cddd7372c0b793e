/**
 * Notification history (`GET /v1/notifications`) and the cursor both history and the
 * dead-letter list page with: (timestamp, id) descending, stable under inserts.
 */
import { z } from "@hono/zod-openapi";
import { and, desc, eq, inArray, lt, or } from "drizzle-orm";
import { ApiError } from "../api/errors";
import type { Db } from "../db/client";
import { notificationDeliveries, notifications } from "../db/schema";
import { fromBase64Url, toBase64Url, utf8 } from "../lib/encoding";

/** An opaque cursor for (at, id); ids may contain ':' so only the first one separates. */
export function encodeCursor(at: number, id: string): string {
  return toBase64Url(utf8(`${at}:${id}`));
}

/** @throws ApiError 400 naming `cursor` when it is not one this API returned. */
export function decodeCursor(cursor: string | undefined): { at: number; id: string } | null {
  if (!cursor) return null;
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(fromBase64Url(cursor));
    const sep = text.indexOf(":");
    const at = Number(text.slice(0, sep));
    const id = text.slice(sep + 1);
    if (sep < 1 || !Number.isSafeInteger(at) || !id) throw new Error("bad cursor");
    return { at, id };
  } catch {
    throw new ApiError("validation_error", "Invalid cursor", [{ path: "cursor", message: "not a cursor returned by this API", code: "invalid_cursor" }]);
  }
}

export const PageQuery = z.object({
  cursor: z.string().max(400).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

export const Delivery = z.object({
  channel: z.enum(["webhook", "telegram", "email"]),
  status: z.enum(["pending", "sent", "failed"]),
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
      after ? or(lt(notifications.createdAt, after.at), and(eq(notifications.createdAt, after.at), lt(notifications.id, after.id))) : undefined,
    ))
    .orderBy(desc(notifications.createdAt), desc(notifications.id))
    .limit(q.limit + 1).all();
  const pageRows = rows.slice(0, q.limit);
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
  const last = pageRows[pageRows.length - 1];
  return { data, nextCursor: rows.length > q.limit && last ? encodeCursor(last.createdAt, last.id) : null };
}
