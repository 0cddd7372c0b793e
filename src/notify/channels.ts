/**
 * The three channels: a signed webhook, the Telegram Bot API and an HTTP email provider.
 * Each send returns a result (never throws) classified for the retry decision: timeouts,
 * network errors, 408/425/429 and 5xx are retryable; other 4xx and missing configuration are
 * permanent (retrying a bad chat id or a disabled channel cannot succeed).
 *
 * Error texts never contain a URL (the Telegram URL carries the bot token) nor a secret.
 */
import type { Severity } from "../messaging/messages";
import { REDACTED } from "../lib/logger";
import type { ChannelName, ResolvedChannels } from "./settings";
import { signWebhook } from "./signature";
import { RedirectRefusedError, SendTimeoutError, type NotifyFetch } from "./transport";

/** What a channel sends: the stored notification. */
export interface OutgoingNotification {
  id: string;
  event: string;
  severity: Severity;
  title: string;
  body: string;
  data: Record<string, unknown> | null;
  traceId: string | null;
  createdAt: number;
}

/** `throttled`: refused here by the channel's own rate limit (deliver.ts), not by the provider. */
export type ErrorClass = "timeout" | "network" | "http_4xx" | "http_5xx" | "rate_limited" | "throttled" | "config" | "redirect_refused";

export type SendResult =
  | { ok: true; latencyMs: number }
  | { ok: false; latencyMs: number; errorClass: ErrorClass; error: string; retryable: boolean };

/** The part of Env the channels read. EMAIL_API_KEY is an optional secret (bearer key). */
export interface ChannelEnv {
  TELEGRAM_API_URL?: string;
  TELEGRAM_BOT_TOKEN?: string;
  EMAIL_API_URL?: string;
  EMAIL_API_KEY?: string;
}

const USER_AGENT = "lnm-automation-notify/1";
export const TELEGRAM_MAX = 4096;

/** Sends `n` on one channel of a user. */
export async function sendOnChannel(
  channel: ChannelName, target: ResolvedChannels, n: OutgoingNotification, env: ChannelEnv, fetcher: NotifyFetch,
): Promise<SendResult> {
  switch (channel) {
    case "webhook":
      return target.webhook ? sendWebhook(fetcher, target.webhook, n) : configError("webhook is not configured");
    case "telegram":
      return target.telegram ? sendTelegram(fetcher, env, target.telegram.chatId, n) : configError("telegram is not configured");
    case "email":
      return target.email ? sendEmail(fetcher, env, target.email.address, n) : configError("email is not configured");
  }
}

/** The JSON a webhook receives (also what its signature covers, byte for byte). */
export function webhookPayload(n: OutgoingNotification): string {
  return JSON.stringify({
    id: n.id, event: n.event, severity: n.severity, title: n.title, body: n.body,
    data: n.data ?? {}, createdAt: n.createdAt, traceId: n.traceId,
  });
}

export async function sendWebhook(fetcher: NotifyFetch, hook: { url: string; secret: string }, n: OutgoingNotification): Promise<SendResult> {
  const body = webhookPayload(n);
  const signed = await signWebhook(hook.secret, body, Date.now() / 1000);
  return timed("webhook", () => fetcher(hook.url, {
    method: "POST",
    headers: { "content-type": "application/json", "user-agent": USER_AGENT, "x-lnma-event": n.event, "x-lnma-delivery": n.id, ...signed },
    body,
  }));
}

export async function sendTelegram(fetcher: NotifyFetch, env: ChannelEnv, chatId: string, n: OutgoingNotification): Promise<SendResult> {
  return sendTelegramText(fetcher, env, chatId, `${severityMark(n.severity)} ${n.title}\n\n${n.body}`);
}

/** Bot API sendMessage of plain text (cut at Telegram's 4096 characters): notifications and the bot's replies. */
export async function sendTelegramText(fetcher: NotifyFetch, env: ChannelEnv, chatId: string, message: string): Promise<SendResult> {
  const base = env.TELEGRAM_API_URL?.trim();
  const token = env.TELEGRAM_BOT_TOKEN?.trim();
  if (!base || !token) return configError("telegram is not configured in this deployment");
  const text = message.slice(0, TELEGRAM_MAX);
  const result = await timed("telegram", () => fetcher(`${base.replace(/\/+$/, "")}/bot${token}/sendMessage`, {
    method: "POST",
    headers: { "content-type": "application/json", "user-agent": USER_AGENT },
    body: JSON.stringify({ chat_id: chatId, text, disable_web_page_preview: true }),
  }), telegramDescription);
  // Belt and braces: an upstream description could in theory echo the URL.
  return result.ok ? result : { ...result, error: result.error.split(token).join(REDACTED) };
}

export async function sendEmail(fetcher: NotifyFetch, env: ChannelEnv, address: string, n: OutgoingNotification): Promise<SendResult> {
  const url = env.EMAIL_API_URL?.trim();
  if (!url) return configError("email is disabled in this deployment (EMAIL_API_URL is empty)");
  const headers: Record<string, string> = { "content-type": "application/json", "user-agent": USER_AGENT };
  if (env.EMAIL_API_KEY) headers.authorization = `Bearer ${env.EMAIL_API_KEY}`;
  return timed("email", () => fetcher(url, {
    method: "POST",
    headers,
    body: JSON.stringify({ to: address, subject: `[${n.severity}] ${n.title}`, text: `${n.body}\n\n-- \nevent: ${n.event}\nid: ${n.id}` }),
  }));
}

async function timed(
  channel: ChannelName, send: () => Promise<Response>, describe?: (res: Response) => Promise<string | null>,
): Promise<SendResult> {
  const started = Date.now();
  let res: Response;
  try {
    res = await send();
  } catch (e) {
    const latencyMs = Date.now() - started;
    if (e instanceof SendTimeoutError) return { ok: false, latencyMs, errorClass: "timeout", error: `${channel}: ${e.message}`, retryable: true };
    if (e instanceof RedirectRefusedError) return { ok: false, latencyMs, errorClass: "redirect_refused", error: `${channel}: ${e.message}`, retryable: false };
    return { ok: false, latencyMs, errorClass: "network", error: `${channel}: network error (${e instanceof Error ? e.name : "unknown"})`, retryable: true };
  }
  const latencyMs = Date.now() - started;
  if (res.ok) {
    await res.body?.cancel();
    return { ok: true, latencyMs };
  }
  const detail = describe ? await describe(res).catch(() => null) : null;
  if (!describe) await res.body?.cancel();
  const error = `${channel}: HTTP ${res.status}${detail ? ` ${detail}` : ""}`;
  if (res.status === 429) return { ok: false, latencyMs, errorClass: "rate_limited", error, retryable: true };
  if (res.status >= 500 || res.status === 408 || res.status === 425) return { ok: false, latencyMs, errorClass: "http_5xx", error, retryable: true };
  return { ok: false, latencyMs, errorClass: "http_4xx", error, retryable: false };
}

/** Telegram explains refusals in `description` ("chat not found"): worth keeping, short. */
async function telegramDescription(res: Response): Promise<string | null> {
  const body = (await res.json()) as { description?: unknown };
  return typeof body.description === "string" ? `(${body.description.slice(0, 200)})` : null;
}

function configError(message: string): SendResult {
  return { ok: false, latencyMs: 0, errorClass: "config", error: message, retryable: false };
}

function severityMark(s: Severity): string {
  return s === "critical" ? "[CRITICAL]" : s === "warning" ? "[warning]" : "[info]";
}
