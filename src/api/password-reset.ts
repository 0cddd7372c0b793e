/**
 * Password reset by email (issue 22, item 6). A request mails a single-use token valid
 * RESET_TTL_MS to the account's email through the notification email transport (src/notify);
 * only its SHA-256 is stored (`password_resets.id`), and a new request replaces any earlier
 * token of that user. Using it deletes the row in the same statement that reads it, so two
 * concurrent confirms cannot both succeed.
 *
 * Whether the email has an account is never said: the route answers 202 at once and does the
 * lookup and the send after the response (waitUntil), so neither the body nor the timing tells.
 */
import { and, eq, gt } from "drizzle-orm";
import type { Db } from "../db/client";
import { getDb } from "../db/client";
import { passwordResets } from "../db/schema";
import { findUserByEmail } from "../db/users";
import { randomSecret, sha256Hex } from "../lib/crypto";
import { newId } from "../lib/ids";
import type { Logger } from "../lib/logger";
import { sendEmail } from "../notify/channels";
import { createNotifyTransport, type NotifyFetch } from "../notify/transport";

export const RESET_TTL_MS = 30 * 60_000;
export const RESET_TOKEN_PATTERN = /^pwr_[A-Za-z0-9_-]{43}$/;

/**
 * The console page that sets the new password: the token rides in the fragment, which the
 * browser never sends to a server (nor in a Referer), so it stays out of request logs.
 */
export function resetLink(origin: string, token: string): string {
  return `${origin}/app#/reset?token=${token}`;
}

/**
 * Looks `email` up and, when it is an account, mails it a fresh token and a link to the
 * console at `origin` (where the request came in: the API and the console share it). Never throws.
 */
export async function requestPasswordReset(
  env: Env, email: string, logger: Logger, origin: string | null = null, fetcher: NotifyFetch = createNotifyTransport(env),
): Promise<void> {
  try {
    const db = getDb(env);
    const user = await findUserByEmail(db, email);
    if (!user) {
      logger.info("auth.password_reset_requested", { known: false });
      return;
    }
    const token = `pwr_${randomSecret(32)}`;
    const now = Date.now();
    await db.batch([
      db.delete(passwordResets).where(eq(passwordResets.userId, user.id)),
      db.insert(passwordResets).values({ id: await sha256Hex(token), userId: user.id, expiresAt: now + RESET_TTL_MS, createdAt: now }),
    ]);
    const result = await sendEmail(fetcher, env, user.email, {
      id: newId("ntf"), event: "auth.password_reset", severity: "info", title: "Password reset", traceId: null, createdAt: now, data: null,
      body: [
        "Someone, hopefully you, asked to reset the password of this account.",
        "",
        ...(origin ? [`Choose a new password here: ${resetLink(origin, token)}`, ""] : []),
        `Reset token: ${token}`,
        "",
        `It works once, within ${RESET_TTL_MS / 60_000} minutes${origin ? " (the link, or with the API:" : ":"} POST /v1/auth/password-reset/confirm {"token": "<the token>", "password": "<new password>"}${origin ? ")" : ""}.`,
        "Every session is logged out when it is used. If you did not ask for it, ignore this email: your password is unchanged.",
      ].join("\n"),
    });
    if (result.ok) logger.info("auth.password_reset_requested", { known: true, userId: user.id });
    else logger.warn("auth.password_reset_undeliverable", { userId: user.id, errorClass: result.errorClass, error: result.error });
  } catch (e) {
    logger.error("auth.password_reset_failed", { error: e });
  }
}

/** Uses up `token`: its user id, or null when it is unknown, used or expired. */
export async function consumePasswordReset(db: Db, token: string, now = Date.now()): Promise<string | null> {
  const row = await db.delete(passwordResets)
    .where(and(eq(passwordResets.id, await sha256Hex(token)), gt(passwordResets.expiresAt, now)))
    .returning({ userId: passwordResets.userId }).get();
  return row?.userId ?? null;
}

/** Whether `token` would be accepted now (checked before spending a password hash on it). */
export async function passwordResetValid(db: Db, token: string, now = Date.now()): Promise<boolean> {
  const row = await db.select({ id: passwordResets.id }).from(passwordResets)
    .where(and(eq(passwordResets.id, await sha256Hex(token)), gt(passwordResets.expiresAt, now))).get();
  return row !== undefined;
}
