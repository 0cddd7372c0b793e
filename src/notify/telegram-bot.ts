/**
 * The Telegram bot's commands (issue 23): a chat linked to a user answers /status, /positions,
 * /stop (the kill switch) and /start (resume scheduling). Telegram POSTs each Update to our
 * webhook (src/api/routes/telegram.ts checks its secret token); replies go out through the same
 * Bot API sendMessage path as notifications (sendTelegramText, src/notify/transport.ts).
 *
 * Update format (Telegram Bot API, https://core.telegram.org/bots/api#update and
 * https://core.telegram.org/bots/api#message): `update_id`, and for a new message `message`
 * with `chat.id` (an integer) and `text`; commands are text starting with "/", in groups
 * possibly suffixed "@botname" (https://core.telegram.org/bots/features#commands). Other update
 * kinds (edited messages, channel posts, callbacks) are ignored.
 *
 * A chat is linked when it is exactly one user's VERIFIED Telegram channel (verification proves
 * the user reads the chat, src/notify/verification.ts). An unlinked or unverified chat gets only
 * how to link it, never data; a chat verified by several users is refused (nothing is done: a
 * /stop must not stop someone else's automations).
 */
import { eq, sql } from "drizzle-orm";
import { z } from "zod";
import type { DoResult } from "../../durable-objects/account";
import { getAutomationScheduleStatus, startUserAutomationScheduling, stopUserAutomationScheduling } from "../accounts/scheduling";
import { getDb, type Db } from "../db/client";
import { exchangeAccounts, notificationChannels } from "../db/schema";
import type { Logger } from "../lib/logger";
import { sendTelegramText, TELEGRAM_MAX, type SendResult } from "./channels";
import { parseStored } from "./settings";
import { createNotifyTransport, type NotifyFetch } from "./transport";

/** The part of an Update the bot reads; anything else is stripped. */
export const TelegramUpdate = z.object({
  update_id: z.number().int(),
  message: z.object({
    message_id: z.number().int().optional(),
    chat: z.object({ id: z.union([z.number().int(), z.string()]), type: z.string().optional() }),
    text: z.string().optional(),
  }).optional(),
});
export type TelegramUpdate = z.infer<typeof TelegramUpdate>;

export const COMMANDS = ["status", "positions", "stop", "start", "help"] as const;
export type Command = (typeof COMMANDS)[number];

/** What handling an update did (logged by the route; tests read it too). */
export type Outcome =
  | "ignored" | "rate_limited" | "unlinked" | "ambiguous" | "unknown_command"
  | `done:${Command}` | `failed:${Command}`;

export interface HandledUpdate {
  chatId: string | null;
  command: string | null;
  outcome: Outcome;
  reply: SendResult | null;
}

const HELP = [
  "/status - scheduling on/off, accounts and their automations",
  "/positions - running trades per account, with risk",
  "/stop - kill switch: stop scheduling every automation",
  "/start - resume scheduling",
].join("\n");

/** "/Status@MyBot now" -> "status"; null when the text is not a command. */
export function parseCommand(text: string | undefined): string | null {
  const m = /^\/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]{1,64})?(?:\s|$)/.exec(text?.trim() ?? "");
  return m ? m[1]!.toLowerCase() : null;
}

/** The users whose verified Telegram channel is this chat. */
export async function linkedUserIds(db: Db, chatId: string): Promise<string[]> {
  const t = notificationChannels;
  // The JSON path narrows in SQL; verification is read through the stored shape (parseStored).
  const rows = await db.select({ userId: t.userId, config: t.config }).from(t)
    .where(sql`json_extract(${t.config}, '$.telegram.chatId') = ${chatId}`).all();
  return rows.filter((r) => {
    const tg = parseStored(r.config).telegram;
    return tg?.chatId === chatId && tg.verifiedAt !== undefined;
  }).map((r) => r.userId);
}

export interface BotDeps {
  logger: Logger;
  fetcher?: NotifyFetch;
  /** Takes a token for the chat; false when the chat is over its limit. */
  allow?: (chatId: string) => Promise<boolean>;
}

/** Handles one Update: at most one reply to its chat. Never throws for a bad command. */
export async function handleUpdate(env: Env, update: TelegramUpdate, deps: BotDeps): Promise<HandledUpdate> {
  const msg = update.message;
  const command = parseCommand(msg?.text);
  if (!msg || command === null) return { chatId: msg ? String(msg.chat.id) : null, command: null, outcome: "ignored", reply: null };
  const chatId = String(msg.chat.id);
  if (deps.allow && !(await deps.allow(chatId))) return { chatId, command, outcome: "rate_limited", reply: null };

  const fetcher = deps.fetcher ?? createNotifyTransport(env);
  const reply = (text: string) => sendTelegramText(fetcher, env, chatId, text);
  const users = await linkedUserIds(getDb(env), chatId);
  if (users.length === 0) {
    return { chatId, command, outcome: "unlinked", reply: await reply(
      `This chat is not linked to an account. To link it: PUT /v1/notifications/channels with {"telegram":{"chatId":"${chatId}"}}, ` +
      "then POST /v1/notifications/channels/telegram/verification and submit the code sent here to /v1/notifications/channels/telegram/verify.",
    ) };
  }
  if (users.length > 1) {
    return { chatId, command, outcome: "ambiguous", reply: await reply(
      "This chat is linked to several accounts, so commands are refused here. Keep it verified on one account only.",
    ) };
  }
  const userId = users[0]!;
  if (!(COMMANDS as readonly string[]).includes(command)) {
    return { chatId, command, outcome: "unknown_command", reply: await reply(`Unknown command /${command}. Commands:\n${HELP}`) };
  }
  const cmd = command as Command;
  let text: string;
  try {
    text = await run(env, userId, cmd);
  } catch (e) {
    deps.logger.warn("telegram.command_failed", { command: cmd, userId, error: e });
    return { chatId, command, outcome: `failed:${cmd}`, reply: await reply(`/${cmd} failed; try again in a moment.`) };
  }
  return { chatId, command, outcome: `done:${cmd}`, reply: await reply(clip(text)) };
}

async function run(env: Env, userId: string, cmd: Command): Promise<string> {
  switch (cmd) {
    case "status": return statusText(await getAutomationScheduleStatus(env, userId));
    case "positions": return positionsText(env, userId);
    case "stop":
      await stopUserAutomationScheduling(env, userId);
      return "Scheduling stopped (kill switch): no automation runs until /start. Open positions stay open.";
    case "start":
      await startUserAutomationScheduling(env, userId);
      return "Scheduling started: enabled automations run again.";
    case "help": return `Commands:\n${HELP}`;
  }
}

const num = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
const fmt = (n: number | null | undefined) => (typeof n === "number" && Number.isFinite(n) ? num.format(n) : "-");

function ago(at: number | null | undefined, now = Date.now()): string {
  if (!at) return "";
  const s = Math.max(0, Math.round((now - at) / 1000));
  return s < 120 ? ` ${s} s ago` : s < 7200 ? ` ${Math.round(s / 60)} min ago` : ` ${Math.round(s / 3600)} h ago`;
}

type Status = Awaited<ReturnType<typeof getAutomationScheduleStatus>>;

export function statusText(s: Status): string {
  const lines = [`Scheduling: ${s.schedulingEnabled ? "ON" : "OFF (stopped)"}, scope ${s.scheduleScope}`];
  if (s.accounts.length === 0) lines.push("No exchange accounts.");
  for (const a of s.accounts) {
    const state = a.paused ? `paused (${a.paused})` : a.running ? "running" : "not running";
    lines.push(`${a.accountName ?? a.accountId}: ${state}, ${a.runningTrades} open trade(s), price ${fmt(a.price)}`);
    if (a.automations.length === 0) lines.push("  no automations");
    for (const au of a.automations) {
      const last = au.status.lastRunAt ? `run${ago(au.status.lastRunAt)}: ${au.status.lastResult ?? "-"}` : "never run";
      const err = au.status.lastError ? ` (${au.status.lastError.slice(0, 80)})` : "";
      lines.push(`  ${au.type}${au.name ? ` "${au.name}"` : ""}: ${au.enabled ? "enabled" : "disabled"}, last ${last}${err}`);
    }
  }
  return lines.join("\n");
}

interface PositionTrade {
  side: string; quantity: number; leverage?: number; entryPrice?: number | null; price?: number;
  liquidation: number; margin: number; risk: number; riskLevel?: string;
}

async function positionsText(env: Env, userId: string): Promise<string> {
  const accounts = await getDb(env).select({ id: exchangeAccounts.id, name: exchangeAccounts.name })
    .from(exchangeAccounts).where(eq(exchangeAccounts.userId, userId)).all();
  if (accounts.length === 0) return "No exchange accounts.";
  const parts: string[] = [];
  for (const a of accounts) {
    // The same AccountDO RPC as GET /v1/accounts/{id}/positions.
    let r: DoResult<{ price: number; trades: unknown[] }>;
    try {
      // Cast as the route does: the narrowed RPC stub type is too deep for inference here.
      r = (await env.ACCOUNT.getByName(a.id).positions()) as DoResult<{ price: number; trades: unknown[] }>;
    } catch {
      parts.push(`${a.name}: the exchange could not be reached`);
      continue;
    }
    if (!r.ok) {
      parts.push(`${a.name}: ${r.message}`);
      continue;
    }
    const trades = r.value.trades as PositionTrade[];
    const lines = [`${a.name}: price ${fmt(r.value.price)}, ${trades.length === 0 ? "no running trades" : `${trades.length} running trade(s)`}`];
    for (const t of trades) lines.push(`  ${tradeLine(t)}`);
    parts.push(lines.join("\n"));
  }
  return parts.join("\n");
}

export function tradeLine(t: PositionTrade): string {
  const side = t.side === "buy" ? "LONG" : "SHORT";
  const lev = t.leverage ? ` x${fmt(t.leverage)}` : "";
  const risk = `${(t.risk * 100).toFixed(1)}%${t.riskLevel && t.riskLevel !== "ok" ? ` ${t.riskLevel.toUpperCase()}` : ""}`;
  return `${side} ${fmt(t.quantity)} USD${lev}, entry ${fmt(t.entryPrice ?? t.price)}, liq ${fmt(t.liquidation)}, margin ${fmt(t.margin)} sats, risk ${risk}`;
}

/** Telegram refuses messages over 4096 characters: cut at a line, say so. */
export function clip(text: string): string {
  if (text.length <= TELEGRAM_MAX) return text;
  const cut = text.slice(0, TELEGRAM_MAX - 40);
  return `${cut.slice(0, Math.max(cut.lastIndexOf("\n"), 0))}\n... (cut; see the console)`;
}
