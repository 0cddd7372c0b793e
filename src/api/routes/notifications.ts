/**
 * The caller's notification channels, a test send and the delivery history. Mounted behind
 * requireAuth; everything is scoped to the caller's user id. Secrets are write-only.
 */
import { createRoute } from "@hono/zod-openapi";
import { sendNotification } from "../../messaging/send";
import { getDb } from "../../db/client";
import { newId } from "../../lib/ids";
import { TEST_EVENT } from "../../notify/deliver";
import { NotificationView, listNotifications } from "../../notify/history";
import { PageQuery } from "../pagination";
import { CHANNELS, ChannelsInput, ChannelsView, getChannels, putChannels } from "../../notify/settings";
import { ApiError } from "../errors";
import { commonErrors, json, jsonBody, router, security, z } from "../openapi";

const tags = ["notifications"];

const TestResult = z.object({
  id: z.string().openapi({ description: "The notification id: follow it in GET /v1/notifications" }),
  channels: z.array(z.enum(["webhook", "telegram", "email"])),
}).openapi("NotificationTestResult");

export const notificationRoutes = router()
  .openapi(
    createRoute({ method: "get", path: "/channels", tags, security, summary: "Your channels and preferences (the webhook secret shows as hasSecret)",
      responses: { 200: json(ChannelsView, "Channels"), ...commonErrors } }),
    async (c) => c.json(await getChannels(getDb(c.env), c.get("user").id), 200),
  )
  .openapi(
    createRoute({ method: "put", path: "/channels", tags, security,
      summary: "Replace your channels (a channel left out is removed; omit webhook.secret to keep the stored one)",
      request: jsonBody(ChannelsInput), responses: { 200: json(ChannelsView, "Saved"), ...commonErrors } }),
    async (c) => {
      const user = c.get("user");
      const saved = await putChannels(c.env, getDb(c.env), user.id, c.req.valid("json"));
      c.get("logger").info("notify.channels_updated", { channels: CHANNELS.filter((ch) => saved[ch] !== null) });
      return c.json(saved, 200);
    },
  )
  .openapi(
    createRoute({ method: "post", path: "/test", tags, security, summary: "Send a test message to every configured channel, through the queue",
      responses: { 202: json(TestResult, "Queued"), ...commonErrors } }),
    async (c) => {
      const user = c.get("user");
      const current = await getChannels(getDb(c.env), user.id);
      const channels = CHANNELS.filter((ch) => current[ch] !== null);
      if (channels.length === 0) {
        throw new ApiError("validation_error", "No notification channel is configured", [{ path: "channels", message: "configure a channel with PUT /v1/notifications/channels first", code: "custom" }]);
      }
      const id = newId("ntf");
      await sendNotification(c.env, {
        v: 1, id, traceId: c.get("requestId"), kind: "notification", userId: user.id, event: TEST_EVENT, severity: "info",
        title: "Test notification", body: "If you can read this, this channel works.", data: { test: true },
      });
      return c.json({ id, channels }, 202);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/", tags, security, summary: "Your notifications, newest first, with per-channel delivery status (cursor paged)",
      request: { query: PageQuery }, responses: { 200: json(z.object({ data: z.array(NotificationView), nextCursor: z.string().nullable() }), "History"), ...commonErrors } }),
    async (c) => c.json(await listNotifications(getDb(c.env), c.get("user").id, c.req.valid("query")), 200),
  );
