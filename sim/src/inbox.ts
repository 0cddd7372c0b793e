/**
 * Local receivers for the platform's notification channels (dev and tests have no internet):
 *
 * - `POST /__sim/inbox/telegram/bot{token}/sendMessage` acts as the Telegram Bot API,
 * - `POST /__sim/inbox/email` acts as the HTTP email provider,
 * - `POST /__sim/inbox/webhook/{name}` is any trader's webhook endpoint,
 * - `POST /__sim/inbox/redirect/{301|302|303|307|308}?to=URL` answers with that redirect,
 * - `GET /__sim/inbox?channel=` lists what was received, `DELETE /__sim/inbox` clears it
 *   (entries and faults),
 * - `POST /__sim/inbox/fail {channel, count?|always?, status?}` makes a receiver answer with
 *   an error (default 500) for the next `count` requests, or until cleared.
 *
 * State lives in this isolate's memory, not in the ExchangeDO: it is a test fixture, it must
 * not survive `POST /__sim/reset` semantics of the exchange, and losing it on a restart is fine.
 * Bot tokens are recorded as a SHA-256 fingerprint only, never echoed.
 */
import { z } from "zod";

export const InboxChannel = z.enum(["telegram", "email", "webhook"]);
export type InboxChannel = z.infer<typeof InboxChannel>;

/** One request a receiver got (failed ones too, with the status it answered). */
export interface InboxEntry {
  seq: number;
  at: number;
  channel: InboxChannel;
  /** Webhook name from the path; for Telegram, the first 16 hex of SHA-256(token). */
  target: string | null;
  status: number;
  headers: Record<string, string>;
  /** The raw request body, byte for byte (webhook signatures are checked against it). */
  raw: string;
  json: unknown;
}

const FailInput = z.strictObject({
  channel: InboxChannel,
  count: z.number().int().min(0).max(1000).optional(),
  always: z.boolean().optional(),
  status: z.number().int().min(400).max(599).optional(),
});

interface Fault {
  remaining: number | "always";
  status: number;
}

const MAX_ENTRIES = 1000;
// Headers worth keeping: the signature scheme and content type. Authorization is reduced to
// a flag so a provider key never shows up in a listing.
const KEPT_HEADERS = /^(content-type|user-agent|x-lnma-.*)$/i;

const entries: InboxEntry[] = [];
const faults = new Map<InboxChannel, Fault>();
let seq = 0;

const PREFIX = "/__sim/inbox";

/** True when the path belongs to the inbox (the caller applies the dev/test mode guard). */
export function isInboxPath(pathname: string): boolean {
  return pathname === PREFIX || pathname.startsWith(`${PREFIX}/`);
}

/** Handles every `/__sim/inbox` request. */
export async function handleInbox(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const rest = url.pathname.slice(PREFIX.length);
  const method = request.method.toUpperCase();

  if (rest === "" || rest === "/") {
    if (method === "GET") {
      const channel = url.searchParams.get("channel");
      const target = url.searchParams.get("target");
      const list = entries.filter((e) => (!channel || e.channel === channel) && (!target || e.target === target));
      return Response.json({ data: list, faults: Object.fromEntries(faults) });
    }
    if (method === "DELETE") {
      entries.length = 0;
      faults.clear();
      return Response.json({ cleared: true });
    }
    return notFound();
  }
  if (rest === "/fail" && method === "POST") return setFault(request);
  if (method !== "POST") return notFound();

  const telegram = /^\/telegram\/bot([^/]+)\/sendMessage$/.exec(rest);
  if (telegram) return receive(request, "telegram", await fingerprint(decodeURIComponent(telegram[1]!)));
  if (rest === "/email") return receive(request, "email", null);
  // A webhook endpoint that answers with a redirect (301, 302, 303, 307 or 308) to `?to=`.
  const redirect = /^\/redirect\/(301|302|303|307|308)$/.exec(rest);
  if (redirect) {
    const to = url.searchParams.get("to");
    if (!to) return Response.json({ message: "Invalid to: required", code: "VALIDATION_ERROR" }, { status: 400 });
    return new Response(null, { status: Number(redirect[1]), headers: { location: to } });
  }
  const webhook = /^\/webhook\/([A-Za-z0-9_.-]{1,64})$/.exec(rest);
  if (webhook) return receive(request, "webhook", webhook[1]!);
  return notFound();
}

async function setFault(request: Request): Promise<Response> {
  let data: unknown;
  try {
    data = await request.json();
  } catch {
    return Response.json({ message: "Invalid JSON body", code: "INVALID_JSON" }, { status: 400 });
  }
  const parsed = FailInput.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return Response.json({ message: `Invalid ${issue?.path.join(".") || "body"}: ${issue?.message}`, code: "VALIDATION_ERROR" }, { status: 400 });
  }
  const { channel, count, always, status } = parsed.data;
  if (!always && !count) faults.delete(channel);
  else faults.set(channel, { remaining: always ? "always" : count!, status: status ?? 500 });
  return Response.json({ faults: Object.fromEntries(faults) });
}

async function receive(request: Request, channel: InboxChannel, target: string | null): Promise<Response> {
  const raw = await request.text();
  let json: unknown = null;
  try {
    json = JSON.parse(raw);
  } catch {
    /* recorded as raw text */
  }
  const headers: Record<string, string> = {};
  request.headers.forEach((v, k) => {
    if (KEPT_HEADERS.test(k)) headers[k] = v;
  });
  if (request.headers.has("authorization")) headers["x-sim-authorized"] = /^Bearer\s+\S+/i.test(request.headers.get("authorization")!) ? "bearer" : "other";

  const status = takeFault(channel);
  seq += 1;
  entries.push({ seq, at: Date.now(), channel, target, status, headers, raw, json });
  if (entries.length > MAX_ENTRIES) entries.splice(0, entries.length - MAX_ENTRIES);

  if (status !== 200) {
    // Telegram's error shape, so the platform's error text matches what the real API gives.
    const body = channel === "telegram" ? { ok: false, error_code: status, description: "Simulated failure" } : { error: "simulated failure" };
    return Response.json(body, { status });
  }
  if (channel === "telegram") return Response.json({ ok: true, result: { message_id: seq, date: Math.floor(Date.now() / 1000) } });
  if (channel === "email") return Response.json({ id: `sim-mail-${seq}` }, { status: 202 });
  return Response.json({ ok: true });
}

function takeFault(channel: InboxChannel): number {
  const f = faults.get(channel);
  if (!f) return 200;
  if (f.remaining !== "always") {
    f.remaining -= 1;
    if (f.remaining <= 0) faults.delete(channel);
  }
  return f.status;
}

async function fingerprint(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, 16);
}

function notFound(): Response {
  return Response.json({ message: "Not found", code: "NOT_FOUND" }, { status: 404 });
}
