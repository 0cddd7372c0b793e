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
import { CHANNELS, ChannelName, ChannelsInput, ChannelsView, getChannels, putChannels } from "../../notify/settings";
import { confirmVerification, sendVerificationCode, targetKey, unverifiedTarget } from "../../notify/verification";
import { ApiError } from "../errors";
import { takeToken } from "../rate-limit";
import { commonErrors, errorResponses, json, jsonBody, router, security, z } from "../openapi";

const tags = ["notifications"];

const TestResult = z.object({
  id: z.string().openapi({ description: "The notification id: follow it in GET /v1/notifications" }),
  channels: z.array(z.enum(["webhook", "telegram", "email"])),
}).openapi("NotificationTestResult");

const ChannelParam = z.object({ channel: ChannelName.openapi({ param: { name: "channel", in: "path" }, example: "email" }) });
const VerificationSent = z.object({
  channel: ChannelName,
  expiresAt: z.number().int().openapi({ description: "The code stops working at this time (ms); asking again sends a new one" }),
}).openapi("ChannelVerificationSent");
const VerificationCode = z.strictObject({ code: z.string().trim().regex(/^\d{6}$/, "code is the 6 digits sent to the channel") }).openapi("ChannelVerificationCode");

/**
 * One token of RL_UNVERIFIED (3 a minute) per message to an unverified target, keyed by the
 * target itself (hashed) so that no number of users or re-saves sends more to someone else's
 * address, URL or chat.
 */
async function limitUnverified(env: Env, channel: ChannelName, target: string): Promise<string> {
  const key = await targetKey(channel, target);
  await takeToken(env, "RL_UNVERIFIED", key, `messages to this unverified ${channel}; verify it to lift the limit`);
  return key;
}

const targetOf = (v: ChannelsView, ch: ChannelName): { target: string; verified: boolean } | null =>
  ch === "webhook" ? v.webhook && { target: v.webhook.url, verified: v.webhook.verified }
    : ch === "telegram" ? v.telegram && { target: v.telegram.chatId, verified: v.telegram.verified }
      : v.email && { target: v.email.address, verified: v.email.verified };

export const notificationRoutes = router()
  .openapi(
    createRoute({ method: "get", path: "/channels", tags, security, summary: "Your channels and preferences (the webhook secret shows as hasSecret)",
      responses: { 200: json(ChannelsView, "Channels"), ...commonErrors } }),
    async (c) => c.json(await getChannels(getDb(c.env), c.get("user").id), 200),
  )
  .openapi(
    createRoute({ method: "put", path: "/channels", tags, security,
      summary: "Replace your channels (a channel left out or null is removed; omit webhook.secret to keep the stored one). A new URL, chat or address starts unverified",
      description: "400 `validation_error` naming the rule (`preferences.events.<event>` or `preferences.default`, and the channel being removed) when a critical event would reach no configured channel: muted, or routed only to channels not configured. Nothing is saved then. No channel at all is allowed (notifications off).",
      request: jsonBody(ChannelsInput), responses: { 200: json(ChannelsView, "Saved"), ...commonErrors } }),
    async (c) => {
      const user = c.get("user");
      const saved = await putChannels(c.env, getDb(c.env), user.id, c.req.valid("json"), { admin: user.role === "admin" });
      c.get("logger").info("notify.channels_updated", { channels: CHANNELS.filter((ch) => saved[ch] !== null) });
      return c.json(saved, 200);
    },
  )
  .openapi(
    createRoute({ method: "post", path: "/test", tags, security, summary: "Send a test message to every configured channel, through the queue",
      description: "Verified or not. 429 `rate_limited` with `retry-after`: 10 a minute per user, and 3 a minute per unverified channel's target.",
      responses: { 202: json(TestResult, "Queued"), 429: errorResponses[429], ...commonErrors } }),
    async (c) => {
      const user = c.get("user");
      const current = await getChannels(getDb(c.env), user.id);
      const channels = CHANNELS.filter((ch) => current[ch] !== null);
      if (channels.length === 0) {
        throw new ApiError("validation_error", "No notification channel is configured", [{ path: "channels", message: "configure a channel with PUT /v1/notifications/channels first", code: "custom" }]);
      }
      // The message names the unverified targets it was admitted for: one saved after this
      // request (before the queue delivers) is not sent to, so re-saving cannot dodge the limit.
      const unverified: string[] = [];
      for (const ch of channels) {
        const t = targetOf(current, ch)!;
        if (!t.verified) unverified.push(await limitUnverified(c.env, ch, t.target));
      }
      const id = newId("ntf");
      await sendNotification(c.env, {
        v: 1, id, traceId: c.get("requestId"), kind: "notification", userId: user.id, event: TEST_EVENT, severity: "info",
        title: "Test notification", body: "If you can read this, this channel works.", data: { test: true, ...(unverified.length ? { unverified } : {}) },
      });
      return c.json({ id, channels }, 202);
    },
  )
  .openapi(
    createRoute({ method: "post", path: "/channels/{channel}/verification", tags, security,
      summary: "Send a verification code to a configured channel (valid 30 min; a new request replaces the previous code)",
      description: "The code goes to the channel only (webhook: `data.code`, signed as usual; Telegram and email: in the text) and never to the history. 400 naming `channel` when it is not configured or refused the message; 409 when already verified; 429 `rate_limited` with `retry-after` (10 a minute per user, 3 a minute per target).",
      request: { params: ChannelParam },
      responses: { 202: json(VerificationSent, "Sent"), 409: errorResponses[409], 429: errorResponses[429], ...commonErrors } }),
    async (c) => {
      const { channel } = c.req.valid("param");
      const user = c.get("user");
      const db = getDb(c.env);
      await limitUnverified(c.env, channel, await unverifiedTarget(db, user.id, channel));
      return c.json(await sendVerificationCode(c.env, db, user.id, channel, c.get("logger")), 202);
    },
  )
  .openapi(
    createRoute({ method: "post", path: "/channels/{channel}/verify", tags, security,
      summary: "Submit the code a channel received: the channel is verified and gets every event from now on",
      description: "400 naming `code` when it is wrong (5 tries per code), expired or none was sent; answers the channels as saved.",
      request: { params: ChannelParam, ...jsonBody(VerificationCode) },
      responses: { 200: json(ChannelsView, "Verified"), ...commonErrors } }),
    async (c) => {
      const { channel } = c.req.valid("param");
      const view = await confirmVerification(c.env, getDb(c.env), c.get("user").id, channel, c.req.valid("json").code);
      c.get("logger").info("notify.channel_verified", { channel });
      return c.json(view, 200);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/", tags, security, summary: "Your notifications, newest first, with per-channel delivery status (cursor paged)",
      request: { query: PageQuery }, responses: { 200: json(z.object({ data: z.array(NotificationView), nextCursor: z.string().nullable() }), "History"), ...commonErrors } }),
    async (c) => c.json(await listNotifications(getDb(c.env), c.get("user").id, c.req.valid("query")), 200),
  );
