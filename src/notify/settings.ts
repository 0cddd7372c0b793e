/**
 * A user's notification channels and preferences (D1 `notification_channels`, one JSON row
 * per user). The webhook secret is sealed with AES-GCM (the credentials key ring, AAD = user
 * id) and never leaves this module in clear except to sign a delivery.
 *
 * Each channel also carries its verification (issue 22, item 5; src/notify/verification.ts):
 * `verifiedAt` once a code sent to it came back, and the pending code's hash. Both belong to
 * the target (URL, chat, address): saving the same target keeps them, a new target starts
 * unverified.
 */
import { z } from "@hono/zod-openapi";
import { eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client";
import { notificationChannels, users } from "../db/schema";
import { loadKeyRing, open, seal } from "../lib/credentials-crypto";
import { ValidationError } from "../lib/errors";
import { registerSecret } from "../lib/logger";
import { isRoutableEvent, ROUTABLE_EVENTS } from "../messaging/events";
import { Severity } from "../messaging/messages";
import { criticalRoutingIssues } from "./critical-routing";
import { checkWebhookUrl } from "./url-policy";

export const ChannelName = z.enum(["webhook", "telegram", "email"]);
export type ChannelName = z.infer<typeof ChannelName>;
export const CHANNELS: readonly ChannelName[] = ChannelName.options;

const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

const Rule = z.strictObject({
  channels: z.array(ChannelName).max(3).optional().openapi({ description: "Channels for these events (default: every configured channel); [] mutes" }),
  minSeverity: Severity.optional().openapi({ description: "Drop messages below this severity (default info)" }),
});
const EventName = z.string().regex(/^[a-z0-9_.:*-]{1,100}$/, "event names are lowercase letters, digits and _ . : -");
const EventRules = z.record(EventName, Rule).refine((r) => Object.keys(r).length <= 50, "at most 50 events");

/** As stored before event names were checked: a row saved then still loads (its unknown names match nothing). */
const StoredPreferences = z.strictObject({ default: Rule.optional(), events: EventRules.optional() });

export const Preferences = z.strictObject({
  default: Rule.optional(),
  // Exact names only: selectChannels looks a message's event up by name (no patterns).
  events: EventRules.superRefine((rules, ctx) => {
    for (const name of Object.keys(rules)) {
      if (!isRoutableEvent(name)) ctx.addIssue({ code: "custom", path: [name], message: `unknown event ${JSON.stringify(name)}; events are ${ROUTABLE_EVENTS.join(", ")}` });
    }
  }).optional().openapi({ description: `Rules by event name, one of: ${ROUTABLE_EVENTS.join(", ")}` }),
}).openapi("NotificationPreferences");
export type Preferences = z.infer<typeof Preferences>;

const removed = "null or left out: the channel is removed";
export const ChannelsInput = z.strictObject({
  webhook: z.strictObject({
    url: z.string().trim().min(1, "url is required").max(2048),
    secret: z.string().min(16, "secret must be at least 16 characters").max(256).optional()
      .openapi({ description: "HMAC key for x-lnma-signature; required the first time, kept when omitted" }),
  }).nullable().optional().openapi({ description: removed }),
  telegram: z.strictObject({
    chatId: z.union([z.string().trim(), z.number().int()]).transform(String)
      .pipe(z.string().regex(/^(-?\d{1,20}|@[A-Za-z0-9_]{5,32})$/, "chatId is a numeric chat id or @channelname")),
  }).nullable().optional().openapi({ description: removed }),
  email: z.strictObject({ address: z.email("address must be an email address").max(254) }).nullable().optional().openapi({ description: removed }),
  preferences: Preferences.optional(),
}).openapi("NotificationChannelsInput");
export type ChannelsInput = z.infer<typeof ChannelsInput>;

const verified = z.boolean().openapi({ description: "false until a code sent to it is submitted back (POST /v1/notifications/channels/{channel}/verification, then /verify): until then it gets only that code and throttled test messages" });
export const ChannelsView = z.object({
  webhook: z.object({ url: z.string(), hasSecret: z.boolean(), verified }).nullable(),
  telegram: z.object({ chatId: z.string(), verified }).nullable(),
  email: z.object({ address: z.string(), verified }).nullable(),
  preferences: Preferences,
  updatedAt: z.number().nullable(),
}).openapi("NotificationChannels");
export type ChannelsView = z.infer<typeof ChannelsView>;

/** A channel's verification state as stored (the code itself is never stored, only its HMAC). */
const Verification = {
  verifiedAt: z.number().optional(),
  pending: z.object({ codeHash: z.string(), expiresAt: z.number(), attempts: z.number() }).optional(),
};
export type ChannelVerification = { verifiedAt?: number; pending?: { codeHash: string; expiresAt: number; attempts: number } };

/** What is stored as JSON in `notification_channels.config`. */
const StoredConfig = z.object({
  webhook: z.object({ url: z.string(), secretEnc: z.string(), ...Verification }).optional(),
  telegram: z.object({ chatId: z.string(), ...Verification }).optional(),
  email: z.object({ address: z.string(), ...Verification }).optional(),
  preferences: StoredPreferences.optional(),
});
export type StoredConfig = z.infer<typeof StoredConfig>;

/** One user's channels, ready to send on (webhook secret decrypted). */
export interface ResolvedChannels {
  userId: string;
  webhook?: { url: string; secret: string; verified: boolean };
  telegram?: { chatId: string; verified: boolean };
  email?: { address: string; verified: boolean };
  preferences: Preferences;
}

/** Where a configured channel sends: the webhook URL, the chat id or the address. */
export function channelTarget(cfg: StoredConfig, channel: ChannelName): string | null {
  switch (channel) {
    case "webhook": return cfg.webhook?.url ?? null;
    case "telegram": return cfg.telegram?.chatId ?? null;
    case "email": return cfg.email?.address ?? null;
  }
}

/** The verification to keep when a channel is saved again: only for the same target. */
function kept(prev: ChannelVerification | undefined, sameTarget: boolean): ChannelVerification {
  if (!prev || !sameTarget) return {};
  return { ...(prev.verifiedAt ? { verifiedAt: prev.verifiedAt } : {}), ...(prev.pending ? { pending: prev.pending } : {}) };
}

export function parseStored(text: string | undefined): StoredConfig {
  if (!text) return {};
  const r = StoredConfig.safeParse(JSON.parse(text));
  return r.success ? r.data : {};
}

export function view(cfg: StoredConfig, updatedAt: number | null): ChannelsView {
  return {
    webhook: cfg.webhook ? { url: cfg.webhook.url, hasSecret: true, verified: cfg.webhook.verifiedAt !== undefined } : null,
    telegram: cfg.telegram ? { chatId: cfg.telegram.chatId, verified: cfg.telegram.verifiedAt !== undefined } : null,
    email: cfg.email ? { address: cfg.email.address, verified: cfg.email.verifiedAt !== undefined } : null,
    preferences: cfg.preferences ?? {},
    updatedAt,
  };
}

/** The user's channels as the API shows them (secrets never included). */
export async function getChannels(db: Db, userId: string): Promise<ChannelsView> {
  const row = await db.select().from(notificationChannels).where(eq(notificationChannels.userId, userId)).get();
  return view(parseStored(row?.config), row?.updatedAt ?? null);
}

/**
 * Replaces the user's channels (PUT semantics: a channel left out or null is removed). The
 * webhook secret may be omitted to keep the stored one. URLs are checked against the
 * environment's policy; a state that routes a critical event nowhere is refused
 * (src/notify/critical-routing.ts; `admin` adds the operator alerts). Refusals are 400s naming
 * the field, checked before anything is written.
 */
export async function putChannels(env: Env, db: Db, userId: string, input: ChannelsInput, opts: { admin?: boolean } = {}): Promise<ChannelsView> {
  const row = await db.select().from(notificationChannels).where(eq(notificationChannels.userId, userId)).get();
  const previous = parseStored(row?.config);
  const next: StoredConfig = {};
  if (input.webhook) {
    const mode = env.ENVIRONMENT === "development" || env.ENVIRONMENT === "test" ? "dev" : "strict";
    const reason = checkWebhookUrl(input.webhook.url, mode);
    if (reason) throw fieldError("webhook.url", `url ${reason}`);
    let secretEnc = previous.webhook?.secretEnc;
    if (input.webhook.secret !== undefined) secretEnc = (await seal(loadKeyRing(env.CREDENTIALS_KEYS), userId, input.webhook.secret)).value;
    if (!secretEnc) throw fieldError("webhook.secret", "secret is required when a webhook is first configured");
    next.webhook = { url: input.webhook.url, secretEnc, ...kept(previous.webhook, previous.webhook?.url === input.webhook.url) };
  }
  if (input.telegram) next.telegram = { chatId: input.telegram.chatId, ...kept(previous.telegram, previous.telegram?.chatId === input.telegram.chatId) };
  if (input.email) next.email = { address: input.email.address, ...kept(previous.email, previous.email?.address === input.email.address) };
  if (input.preferences) next.preferences = input.preferences;
  const unrouted = criticalRoutingIssues(next, previous, opts.admin === true);
  if (unrouted.length) throw new ValidationError(unrouted, `Not saved: ${unrouted[0]!.message}${unrouted.length > 1 ? ` (and ${unrouted.length - 1} more)` : ""}`);
  const now = Date.now();
  await db.insert(notificationChannels).values({ userId, config: JSON.stringify(next), updatedAt: now })
    .onConflictDoUpdate({ target: notificationChannels.userId, set: { config: JSON.stringify(next), updatedAt: now } }).run();
  return view(next, now);
}

/** Channels of these users, decrypted for sending. Users without a row are omitted. */
export async function resolveChannels(env: Env, db: Db, userIds: string[]): Promise<ResolvedChannels[]> {
  if (userIds.length === 0) return [];
  const rows = await db.select().from(notificationChannels).where(inArray(notificationChannels.userId, userIds)).all();
  const out: ResolvedChannels[] = [];
  for (const row of rows) {
    const cfg = parseStored(row.config);
    const resolved: ResolvedChannels = { userId: row.userId, preferences: cfg.preferences ?? {} };
    if (cfg.telegram) resolved.telegram = { chatId: cfg.telegram.chatId, verified: cfg.telegram.verifiedAt !== undefined };
    if (cfg.email) resolved.email = { address: cfg.email.address, verified: cfg.email.verifiedAt !== undefined };
    if (cfg.webhook) {
      const secret = (await open(loadKeyRing(env.CREDENTIALS_KEYS), row.userId, cfg.webhook.secretEnc)).plaintext;
      registerSecret(secret);
      resolved.webhook = { url: cfg.webhook.url, secret, verified: cfg.webhook.verifiedAt !== undefined };
    }
    out.push(resolved);
  }
  return out;
}

/** Operator alerts (userId "ops") go to every user with the admin role. */
export async function adminUserIds(db: Db): Promise<string[]> {
  return (await db.select({ id: users.id }).from(users).where(eq(users.role, "admin")).all()).map((r) => r.id);
}

/**
 * The channels a message goes to under the user's preferences: the rule for its event (or
 * the default rule), its minimum severity, its channel list, intersected with what is
 * configured. `force` (the test message) ignores preferences.
 */
export function selectChannels(ch: ResolvedChannels, event: string, severity: Severity, force = false): ChannelName[] {
  const configured = CHANNELS.filter((c) => ch[c] !== undefined);
  if (force) return configured;
  return routeEvent(configured, ch.preferences, event, severity);
}

/**
 * Routing under preferences, for delivery and for the critical-event check alike: the rule
 * for the event (else `default`, else send everywhere), its minimum severity, its channels
 * intersected with `configured`.
 */
export function routeEvent(configured: readonly ChannelName[], preferences: Preferences, event: string, severity: Severity): ChannelName[] {
  const rule = preferences.events?.[event] ?? preferences.default ?? {};
  if (SEVERITY_RANK[severity] < SEVERITY_RANK[rule.minSeverity ?? "info"]) return [];
  return rule.channels ? configured.filter((c) => rule.channels!.includes(c)) : [...configured];
}

function fieldError(path: string, message: string): ValidationError {
  return ValidationError.field(path, message);
}
