/**
 * POST /v1/telegram/webhook: where Telegram delivers the bot's Updates (not behind user auth;
 * the commands are in src/notify/telegram-bot.ts).
 *
 * Authentication is the secret token of setWebhook: "If you'd like to make sure that the
 * webhook was set by you, you can specify secret data in the parameter secret_token. If
 * specified, the request will contain a header X-Telegram-Bot-Api-Secret-Token with the secret
 * token as content." (Telegram Bot API, https://core.telegram.org/bots/api#setwebhook).
 * It is compared in constant time (SHA-256 of both sides, so lengths do not leak either).
 *
 * - TELEGRAM_WEBHOOK_SECRET unset: 404, as if the route did not exist; nothing is read.
 * - TELEGRAM_WEBHOOK_SECRET malformed: 500 `misconfigured` on this route only (logged as
 *   `telegram.webhook_misconfigured`); every other route works.
 * - header missing or wrong: 401, nothing is processed.
 * - otherwise 200 at once, whatever the update (Telegram repeats a delivery answered with
 *   anything but 2XX): the command runs and replies after the response (waitUntil).
 *
 * Commands are limited per chat (RL_OUTBOUND, key `telegram-chat:<id>`, 10 a minute): each may
 * reach the exchange and always sends a message. Over the limit the update is dropped (200).
 */
import { telegramWebhookSecret } from "../../config";
import { sha256Hex, timingSafeEqual } from "../../lib/crypto";
import { utf8 } from "../../lib/encoding";
import { handleUpdate, TelegramUpdate } from "../../notify/telegram-bot";
import { ApiError } from "../errors";
import { router } from "../openapi";
import { takeToken } from "../rate-limit";

export const TELEGRAM_SECRET_HEADER = "x-telegram-bot-api-secret-token";

/** Constant-time equality of the header and the configured secret. */
export async function sameSecret(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([sha256Hex(given), sha256Hex(expected)]);
  return timingSafeEqual(utf8(a), utf8(b));
}

export const telegramRoutes = router().post("/webhook", async (c) => {
  const logger = c.get("logger");
  const { secret, problem } = telegramWebhookSecret(c.env);
  if (problem) {
    logger.error("telegram.webhook_misconfigured", { problem });
    throw new ApiError("misconfigured", "The Telegram webhook is misconfigured: the operator must fix TELEGRAM_WEBHOOK_SECRET");
  }
  if (!secret) throw new ApiError("not_found", "Route not found");
  const given = c.req.header(TELEGRAM_SECRET_HEADER);
  if (!given || !(await sameSecret(given, secret))) {
    logger.warn("telegram.webhook_refused", { reason: given ? "wrong_secret" : "missing_secret" });
    throw new ApiError("unauthenticated", "Missing or wrong X-Telegram-Bot-Api-Secret-Token");
  }

  let update: TelegramUpdate;
  try {
    const parsed = TelegramUpdate.safeParse(JSON.parse(await c.req.text()));
    if (!parsed.success) throw new Error("not an Update");
    update = parsed.data;
  } catch {
    // A retry would bring the same bytes: acknowledge and drop.
    logger.warn("telegram.update_unreadable");
    return c.json({ ok: true }, 200);
  }

  const allow = async (chatId: string) => {
    try {
      await takeToken(c.env, "RL_OUTBOUND", `telegram-chat:${chatId}`, "bot commands");
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.code === "rate_limited") return false;
      throw e;
    }
  };
  const work = handleUpdate(c.env, update, { logger, allow }).then(
    (r) => logger.info("telegram.command", {
      updateId: update.update_id, chatId: r.chatId, command: r.command, outcome: r.outcome,
      ...(r.reply && !r.reply.ok ? { replyError: r.reply.error } : {}),
    }),
    (e: unknown) => logger.error("telegram.command_error", { updateId: update.update_id, error: e }),
  );
  c.executionCtx.waitUntil(work);
  return c.json({ ok: true }, 200);
});
