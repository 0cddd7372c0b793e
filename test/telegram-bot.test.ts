/**
 * The Telegram bot (issue 23): Updates POSTed to /v1/telegram/webhook with the secret token
 * header; replies land in the simulator's Telegram inbox (the Bot API in tests).
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import worker from "../src/index";
import { accountCleanup, automation, traderWithLong } from "./account-helpers";
import { api, BASE, captureLogs, registerUser } from "./helpers";
import { clearInbox, eventually, inbox, markChannelsVerified, userWithChannels, type InboxEntry } from "./notifications-helpers";

const cleanup = accountCleanup();
// A test binding (vitest.config.ts); optional secrets are not in the generated Env.
const SECRET = (env as unknown as { TELEGRAM_WEBHOOK_SECRET: string }).TELEGRAM_WEBHOOK_SECRET;
const PATH = "/v1/telegram/webhook";
let updateId = 1000;

beforeEach(async () => {
  await clearInbox();
});

const newChatId = () => String(1_000_000_000 + Math.floor(Math.random() * 1e9));

function update(chatId: string, text: string) {
  updateId += 1;
  return { update_id: updateId, message: { message_id: updateId, date: 1_700_000_000, chat: { id: Number(chatId), type: "private" }, from: { id: Number(chatId), is_bot: false, first_name: "T" }, text } };
}

/** What Telegram would POST; `secret` null sends no header. */
function post(chatId: string, text: string, secret: string | null = SECRET) {
  const headers: Record<string, string> = {};
  if (secret !== null) headers["x-telegram-bot-api-secret-token"] = secret;
  return api("POST", PATH, { body: update(chatId, text), headers });
}

const repliesTo = async (chatId: string): Promise<InboxEntry[]> =>
  (await inbox("telegram")).filter((e) => String(e.json?.chat_id) === chatId);

/** Sends a command and waits for the bot's reply (it answers after the 200). */
async function command(chatId: string, text: string): Promise<string> {
  const before = (await repliesTo(chatId)).length;
  const res = await post(chatId, text);
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ ok: true });
  const got = await eventually(async () => {
    const r = await repliesTo(chatId);
    return r.length > before ? r : null;
  }, 10_000);
  expect(got).toHaveLength(before + 1);
  return got[before]!.json.text as string;
}

/** Like captureLogs (test/helpers.ts), with the lines visible to `fn` while it runs. */
async function withLogs<T>(fn: (lines: string[]) => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  const orig = { log: console.log, warn: console.warn, error: console.error, info: console.info, debug: console.debug };
  const grab = (...args: unknown[]) => { lines.push(args.map(String).join(" ")); };
  console.log = console.warn = console.error = console.info = console.debug = grab;
  try {
    return { result: await fn(lines), lines };
  } finally {
    Object.assign(console, orig);
  }
}

const scheduling = async (token: string) => (await api("GET", "/v1/automations/status", { token })).body.schedulingEnabled as boolean;

/** A trader with a simulator account, a Margin Guard, a running 50x long and this chat verified. */
async function linkedTrader(label: string) {
  const t = await traderWithLong(label);
  cleanup.push(t.acc.id);
  await automation(t.u.token, t.acc.id, { type: "margin_guard", name: "Guard", config: { maxAddPerTradeSats: 1_000_000, maxAddPerDaySats: 1_000_000 } });
  const chatId = newChatId();
  const put = await api("PUT", "/v1/notifications/channels", { token: t.u.token, body: { telegram: { chatId } } });
  expect(put.status).toBe(200);
  await markChannelsVerified(t.u.userId);
  return { ...t, chatId };
}

describe("webhook secret", () => {
  it("refuses a missing or wrong X-Telegram-Bot-Api-Secret-Token and does nothing", async () => {
    const u = await userWithChannels("tg-secret");
    expect(await scheduling(u.token)).toBe(true);
    const { lines } = await captureLogs(async () => {
      for (const secret of [null, "", "wrong-secret-wrong-secret-wrong-secret", `${SECRET}x`, SECRET.slice(0, -1)]) {
        const res = await post(u.chatId, "/stop", secret);
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe("unauthenticated");
      }
    });
    expect(lines.filter((l) => l.includes("telegram.webhook_refused"))).toHaveLength(5);
    expect(lines.join("\n")).not.toContain(SECRET.slice(0, 20));
    await new Promise((r) => setTimeout(r, 300));
    expect(await scheduling(u.token)).toBe(true);
    expect(await repliesTo(u.chatId)).toEqual([]);
  });

  it("answers 404 and processes nothing when TELEGRAM_WEBHOOK_SECRET is not configured", async () => {
    const u = await userWithChannels("tg-nosecret");
    for (const value of [undefined, ""]) {
      const ctx = createExecutionContext();
      const req = new Request(`${BASE}${PATH}`, {
        method: "POST", headers: { "content-type": "application/json", "x-telegram-bot-api-secret-token": SECRET },
        body: JSON.stringify(update(u.chatId, "/stop")),
      });
      const res = await worker.fetch(req, { ...env, TELEGRAM_WEBHOOK_SECRET: value } as Env, ctx);
      await waitOnExecutionContext(ctx);
      expect(res.status).toBe(404);
    }
    expect(await scheduling(u.token)).toBe(true);
    expect(await repliesTo(u.chatId)).toEqual([]);
    // The same request to the worker as configured (the secret set) reaches the bot.
    const ctx = createExecutionContext();
    const ok = await worker.fetch(new Request(`${BASE}${PATH}`, {
      method: "POST", headers: { "content-type": "application/json", "x-telegram-bot-api-secret-token": SECRET },
      body: JSON.stringify(update(u.chatId, "/help")),
    }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(ok.status).toBe(200);
    expect(await repliesTo(u.chatId)).toHaveLength(1);
  });

  it("a malformed TELEGRAM_WEBHOOK_SECRET turns off the webhook only (500 misconfigured), not the API", async () => {
    const u = await userWithChannels("tg-badsecret");
    const bad = { ...env, TELEGRAM_WEBHOOK_SECRET: "too short" } as Env;
    const call = async (req: Request) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(req, bad, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    };
    const hook = await call(new Request(`${BASE}${PATH}`, {
      method: "POST", headers: { "content-type": "application/json", "x-telegram-bot-api-secret-token": "too short" },
      body: JSON.stringify(update(u.chatId, "/stop")),
    }));
    expect(hook.status).toBe(500);
    const body = await hook.json<{ error: { code: string; message: string } }>();
    expect(body.error.code).toBe("misconfigured");
    expect(JSON.stringify(body)).not.toContain("too short");
    expect(await scheduling(u.token)).toBe(true);
    // The rest of the API answers as usual on the same env.
    const me = await call(new Request(`${BASE}/v1/me`, { headers: { authorization: `Bearer ${u.token}` } }));
    expect(me.status).toBe(200);
  });

  it("limits commands per chat (RL_OUTBOUND, 10 a minute): over the limit, 200 and no reply", async () => {
    const chatId = newChatId();
    for (let i = 0; i < 21; i++) expect((await post(chatId, "/help")).status).toBe(200);
    await eventually(async () => (await repliesTo(chatId)).length >= 10, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    // The window is aligned to the clock: one rollover may let up to 20 through, never 21.
    const n = (await repliesTo(chatId)).length;
    expect(n).toBeGreaterThanOrEqual(10);
    expect(n).toBeLessThan(21);
  });

  it("acknowledges with 200 what it cannot act on: non-commands, other updates, unreadable bodies", async () => {
    const u = await userWithChannels("tg-ack");
    expect((await post(u.chatId, "hello there")).status).toBe(200);
    const edited = await api("POST", PATH, { headers: { "x-telegram-bot-api-secret-token": SECRET }, body: { update_id: 5, edited_message: { chat: { id: 1 }, text: "/stop" } } });
    expect(edited.status).toBe(200);
    const junk = await api("POST", PATH, { headers: { "x-telegram-bot-api-secret-token": SECRET }, rawBody: "{not json" });
    expect(junk.status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(await repliesTo(u.chatId)).toEqual([]);
    expect(await scheduling(u.token)).toBe(true);
  });
});

describe("chats that are not linked", () => {
  it("an unknown chat is told how to link it, and nothing else", async () => {
    const chatId = newChatId();
    const text = await command(chatId, "/status");
    expect(text).toContain("not linked");
    expect(text).toContain(chatId);
    expect(text).toContain("/v1/notifications/channels/telegram/verification");
    expect(text).not.toMatch(/Scheduling|price/);
  });

  it("an unverified chat is not linked: /stop changes nothing", async () => {
    const u = await userWithChannels("tg-unverified", {}, { verified: false });
    const text = await command(u.chatId, "/stop");
    expect(text).toContain("not linked");
    expect(await scheduling(u.token)).toBe(true);
  });

  it("a chat verified by several users is refused: /stop stops no one", async () => {
    const a = await userWithChannels("tg-shared-a");
    const b = await registerUser("tg-shared-b");
    expect((await api("PUT", "/v1/notifications/channels", { token: b.token, body: { telegram: { chatId: a.chatId } } })).status).toBe(200);
    await markChannelsVerified(b.userId);
    const text = await command(a.chatId, "/stop");
    expect(text).toContain("linked to several accounts");
    expect(await scheduling(a.token)).toBe(true);
    expect(await scheduling(b.token)).toBe(true);
  });
});

describe("a linked chat", () => {
  it("/status: scheduling, the account and its automation", async () => {
    const t = await linkedTrader("tg-status");
    const text = await command(t.chatId, "/status");
    expect(text).toMatch(/^Scheduling: ON/);
    expect(text).toContain("tg-status: running, 1 open trade(s)");
    expect(text).toMatch(/margin_guard "Guard": enabled, last (run \d+ (s|min) ago: .+|never run)$/m);
    expect(text.length).toBeLessThanOrEqual(4096);
  });

  it("/positions: the running trade with side, quantity, leverage, entry, liquidation, margin and risk", async () => {
    const t = await linkedTrader("tg-positions");
    const pos = await api("GET", `/v1/accounts/${t.acc.id}/positions`, { token: t.u.token });
    expect(pos.status).toBe(200);
    const tr = pos.body.trades[0];
    const text = await command(t.chatId, "/positions@LnmAutomationBot");
    const n = (x: number) => new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 }).format(x);
    expect(text).toContain("tg-positions: price");
    expect(text).toContain("1 running trade(s)");
    expect(text).toContain(`LONG 1,000 USD x50, entry ${n(tr.entryPrice)}, liq ${n(tr.liquidation)}, margin ${n(tr.margin)} sats, risk ${(tr.risk * 100).toFixed(1)}%`);
  });

  it("/stop turns scheduling off, /start turns it back on", async () => {
    const t = await linkedTrader("tg-kill");
    expect(await scheduling(t.u.token)).toBe(true);
    // The command is logged once its reply is sent, after the 200: wait for the line.
    const { result: stopped, lines } = await withLogs(async (lines) => {
      const text = await command(t.chatId, "/stop");
      await eventually(async () => lines.some((l) => l.includes('"telegram.command"')), 5_000);
      return text;
    });
    expect(stopped).toContain("Scheduling stopped");
    const logged = JSON.parse(lines.find((l) => l.includes('"telegram.command"'))!);
    expect(logged).toMatchObject({ chatId: t.chatId, command: "stop", outcome: "done:stop" });
    expect(lines.join("\n")).not.toContain(SECRET);
    expect(await scheduling(t.u.token)).toBe(false);
    const st = await api("GET", "/v1/automations/status", { token: t.u.token });
    expect(st.body.accounts[0].running).toBe(false);
    expect(await command(t.chatId, "/status")).toMatch(/^Scheduling: OFF/);
    expect(await command(t.chatId, "/start")).toContain("Scheduling started");
    expect(await scheduling(t.u.token)).toBe(true);
  });

  it("an unknown command gets the list of commands", async () => {
    const u = await userWithChannels("tg-unknown");
    const text = await command(u.chatId, "/frobnicate");
    expect(text).toContain("Unknown command /frobnicate");
    expect(text).toContain("/positions");
  });
});
