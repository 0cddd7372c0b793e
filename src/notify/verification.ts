/**
 * Channel verification (issue 22, item 5). A webhook URL, a Telegram chat or an email address
 * typed into the API may belong to someone else: until the owner proves they read it (a code
 * sent to it and submitted back), the channel receives only that code and throttled test
 * messages; real events skip it (src/notify/deliver.ts records the delivery as `skipped`).
 *
 * Telegram goes through the same flow: the bot can only write to a chat that started it, but a
 * chat id is easy to guess or copy, so reading the code in the chat is the proof.
 *
 * The code is 6 digits, valid VERIFICATION_TTL_MS, at most MAX_CODE_ATTEMPTS wrong tries, and
 * stored only as an HMAC (JWT_SECRET) bound to the user, channel and target. It is sent
 * directly, not through the queue: a queued message lands in the notification history, which
 * the API shows, and a code readable there would prove nothing.
 */
import { and, eq } from "drizzle-orm";
import { getConfig } from "../config";
import type { Db } from "../db/client";
import { notificationChannels } from "../db/schema";
import { hmacSha256Hex, sha256Hex, timingSafeEqual } from "../lib/crypto";
import { utf8 } from "../lib/encoding";
import { ConflictError, ValidationError } from "../lib/errors";
import { newId } from "../lib/ids";
import type { Logger } from "../lib/logger";
import type { NotificationEvent } from "../messaging/events";
import { sendOnChannel, type OutgoingNotification } from "./channels";
import {
  channelTarget, parseStored, resolveChannels, view,
  type ChannelName, type ChannelsView, type ChannelVerification, type StoredConfig,
} from "./settings";
import { createNotifyTransport, type NotifyFetch } from "./transport";

export const VERIFICATION_TTL_MS = 30 * 60_000;
export const MAX_CODE_ATTEMPTS = 5;
export const VERIFICATION_EVENT = "notification.verification" satisfies NotificationEvent;

/**
 * What identifies an unverified target for throttling (RL_UNVERIFIED) and for the test message
 * that was admitted for it: the channel and the SHA-256 of its target, case-folded.
 */
export async function targetKey(channel: ChannelName, target: string): Promise<string> {
  return `${channel}:${await sha256Hex(target.toLowerCase())}`;
}

interface Loaded {
  raw: string;
  cfg: StoredConfig;
  ch: ChannelVerification;
  target: string;
}

async function load(db: Db, userId: string, channel: ChannelName): Promise<Loaded> {
  const row = await db.select().from(notificationChannels).where(eq(notificationChannels.userId, userId)).get();
  const cfg = parseStored(row?.config);
  const target = channelTarget(cfg, channel);
  if (!row || !target) throw ValidationError.field("channel", `no ${channel} channel is configured; PUT /v1/notifications/channels first`);
  return { raw: row.config, cfg, ch: cfg[channel]!, target };
}

/** Writes `cfg` only if the row is still what was read (a PUT meanwhile wins). */
async function save(db: Db, userId: string, before: string, cfg: StoredConfig, now: number): Promise<void> {
  const res = await db.update(notificationChannels).set({ config: JSON.stringify(cfg), updatedAt: now })
    .where(and(eq(notificationChannels.userId, userId), eq(notificationChannels.config, before))).run();
  if (!res.meta.changes) throw new ConflictError("The channels changed meanwhile; ask for a new code", { field: "channel" });
}

function codeHash(env: Env, userId: string, channel: ChannelName, target: string, code: string): Promise<string> {
  return hmacSha256Hex(getConfig(env).JWT_SECRET, `channel-verification\n${userId}\n${channel}\n${target}\n${code}`);
}

function newCode(): string {
  const n = crypto.getRandomValues(new Uint32Array(1))[0]! % 1_000_000;
  return String(n).padStart(6, "0");
}

/**
 * The target of a configured, not yet verified channel (what the caller throttles on before
 * sending). Throws 400 when the channel is not configured, 409 when it is already verified.
 */
export async function unverifiedTarget(db: Db, userId: string, channel: ChannelName): Promise<string> {
  const { ch, target } = await load(db, userId, channel);
  if (ch.verifiedAt !== undefined) throw new ConflictError(`The ${channel} channel is already verified`, { field: "channel" });
  return target;
}

/**
 * Sends a fresh code to the channel (any earlier code stops working) and returns when it
 * expires. A channel that refuses it is a 400 naming `channel` with the channel's error.
 */
export async function sendVerificationCode(
  env: Env, db: Db, userId: string, channel: ChannelName, logger: Logger, fetcher: NotifyFetch = createNotifyTransport(env),
): Promise<{ channel: ChannelName; expiresAt: number }> {
  const { raw, cfg, ch, target } = await load(db, userId, channel);
  if (ch.verifiedAt !== undefined) throw new ConflictError(`The ${channel} channel is already verified`, { field: "channel" });
  const code = newCode();
  const now = Date.now();
  const expiresAt = now + VERIFICATION_TTL_MS;
  // Stored before sending, so a code read at once is already known here.
  const pending = { codeHash: await codeHash(env, userId, channel, target, code), expiresAt, attempts: 0 };
  await save(db, userId, raw, { ...cfg, [channel]: { ...cfg[channel]!, pending } }, now);

  const [resolved] = await resolveChannels(env, db, [userId]);
  const n: OutgoingNotification = {
    id: newId("ntf"), event: VERIFICATION_EVENT, severity: "info", title: `Verification code: ${code}`,
    body: `Your verification code is ${code}. Submit it within ${VERIFICATION_TTL_MS / 60_000} minutes with POST /v1/notifications/channels/${channel}/verify {"code":"${code}"}. If you did not ask for it, ignore this message.`,
    data: { channel, code, expiresAt }, traceId: null, createdAt: now,
  };
  const result = await sendOnChannel(channel, resolved ?? { userId, preferences: {} }, n, env, fetcher);
  if (!result.ok) {
    logger.warn("notify.verification_failed", { channel, errorClass: result.errorClass, error: result.error });
    throw new ValidationError([{ path: "channel", message: `the ${channel} did not accept the code (${result.error})`, code: "delivery_failed" }]);
  }
  logger.info("notify.verification_sent", { channel, expiresAt });
  return { channel, expiresAt };
}

/**
 * Checks a submitted code: right -> the channel is verified (the code is used up); wrong -> a
 * 400 naming `code` with the tries left; after MAX_CODE_ATTEMPTS wrong tries or expiry the
 * code is void and a new one must be asked for. A verified channel answers its view as is.
 */
export async function confirmVerification(env: Env, db: Db, userId: string, channel: ChannelName, code: string): Promise<ChannelsView> {
  const row = await load(db, userId, channel);
  const { raw, cfg, ch, target } = row;
  const now = Date.now();
  if (ch.verifiedAt !== undefined) return view(cfg, now);
  const p = ch.pending;
  if (!p || p.expiresAt <= now || p.attempts >= MAX_CODE_ATTEMPTS) {
    throw ValidationError.field("code", `no valid code for this ${channel} (none asked for, expired or too many wrong tries); ask for a new one with POST /v1/notifications/channels/${channel}/verification`);
  }
  const given = await codeHash(env, userId, channel, target, code);
  if (!timingSafeEqual(utf8(given), utf8(p.codeHash))) {
    const attempts = p.attempts + 1;
    await save(db, userId, raw, { ...cfg, [channel]: { ...cfg[channel]!, pending: { ...p, attempts } } }, now);
    const left = MAX_CODE_ATTEMPTS - attempts;
    throw ValidationError.field("code", left > 0 ? `wrong code; ${left} tries left` : "wrong code; no tries left, ask for a new code");
  }
  const { pending: _used, ...rest } = cfg[channel]!;
  const next = { ...cfg, [channel]: { ...rest, verifiedAt: now } } as StoredConfig;
  await save(db, userId, raw, next, now);
  return view(next, now);
}
