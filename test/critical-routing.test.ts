/**
 * Issue 23: a PUT of channels and preferences under which a critical event would reach no
 * configured channel is refused (400 naming the rule, and the channel being removed), and
 * nothing of it is saved.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, registerUser } from "./helpers";
import { userWithChannels, type ChannelUser } from "./notifications-helpers";

const row = (userId: string) =>
  env.DB.prepare("SELECT config, updated_at FROM notification_channels WHERE user_id = ?").bind(userId).first<{ config: string; updated_at: number }>();

/** The user's three channels as a PUT body (the secret is kept when omitted). */
const all = (u: ChannelUser) => ({
  webhook: { url: `${env.LNM_SIMULATOR_URL}/__sim/inbox/webhook/${u.hook}` }, telegram: { chatId: u.chatId }, email: { address: u.address },
});

async function refused(u: { token: string; userId: string }, body: unknown, paths: string[]) {
  const before = await row(u.userId);
  const r = await api("PUT", "/v1/notifications/channels", { token: u.token, body });
  expect(r.status, JSON.stringify(r.body)).toBe(400);
  expect(r.body.error.code).toBe("validation_error");
  expect(r.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual([...paths].sort());
  expect(r.body.error.message).toMatch(/^Not saved: .*would reach no channel/);
  // Nothing half-written: the stored row is as it was.
  expect(await row(u.userId)).toEqual(before);
  return r.body.error;
}

async function saved(u: { token: string }, body: unknown) {
  const r = await api("PUT", "/v1/notifications/channels", { token: u.token, body });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

describe("a critical event routed nowhere", () => {
  it("is refused when its rule mutes it, naming the rule", async () => {
    const u = await userWithChannels("crit-mute");
    const err = await refused(u, { ...all(u), preferences: { events: { "margin.critical": { channels: [] } } } }, ["preferences.events.margin.critical"]);
    expect(err.details[0]).toMatchObject({ code: "critical_unrouted", message: expect.stringContaining("margin.critical is critical and would reach no channel: its channels are [] (muted)") });
    // Two muted critical events: one detail each.
    await refused(u, { ...all(u), preferences: { events: { "trade.liquidated": { channels: [] }, "credentials.rejected": { channels: [], minSeverity: "critical" } } } },
      ["preferences.events.trade.liquidated", "preferences.events.credentials.rejected"]);
  });

  it("is refused when the default mutes every critical event without its own rule", async () => {
    const u = await userWithChannels("crit-default");
    const err = await refused(u, { ...all(u), preferences: { default: { channels: [] }, events: { "margin.critical": { channels: ["email"] } } } }, ["preferences.default"]);
    expect(err.details[0].message).toContain("margin.insufficient, trade.liquidated, credentials.rejected, exchange.breaker_open");
    expect(err.details[0].message).not.toContain("margin.critical");
  });

  it("is refused when routed only to channels that are not configured", async () => {
    const u = await registerUser("crit-unconf");
    const url = `${env.LNM_SIMULATOR_URL}/__sim/inbox/webhook/crit-${crypto.randomUUID()}`;
    const err = await refused(u, { webhook: { url, secret: "s".repeat(20) }, preferences: { events: { "margin.critical": { channels: ["telegram", "email"] } } } },
      ["preferences.events.margin.critical"]);
    expect(err.details[0].message).toContain("it goes only to telegram, email, not configured (configured: webhook)");
    expect(await row(u.userId)).toBeNull();
  });

  it("refuses removing the channel a critical rule relies on (left out or null), naming the channel too", async () => {
    const u = await userWithChannels("crit-remove");
    const prefs = { events: { "margin.critical": { channels: ["telegram"] }, "margin.action": { channels: [] } } };
    await saved(u, { ...all(u), preferences: prefs });
    const { telegram: _t, ...rest } = all(u);
    for (const body of [{ ...rest, preferences: prefs }, { ...rest, telegram: null, preferences: prefs }]) {
      const err = await refused(u, body, ["preferences.events.margin.critical", "telegram"]);
      expect(err.details.find((d: any) => d.path === "telegram").message)
        .toBe("removing the telegram channel would leave critical events routed nowhere (margin.critical); route them to another channel first, or keep it");
    }
    // Routing it elsewhere in the same PUT is fine; null removes the channel.
    const ok = await saved(u, { ...rest, telegram: null, preferences: { events: { "margin.critical": { channels: ["telegram", "email"] } } } });
    expect(ok.telegram).toBeNull();
    expect(ok.email).toMatchObject({ address: u.address, verified: true });
  });

  it("allows what still reaches a channel: critical-only filters, muted non-critical events, unverified channels, no channel at all", async () => {
    const u = await userWithChannels("crit-ok", {}, { verified: false });
    await saved(u, { ...all(u), preferences: { default: { minSeverity: "critical" }, events: { "margin.action": { channels: [] }, "margin.critical": { channels: ["webhook"] } } } });
    // Every channel removed: notifications off, whatever the rules say (a new account's state).
    const off = await saved(u, { preferences: { events: { "margin.critical": { channels: [] } } } });
    expect([off.webhook, off.telegram, off.email]).toEqual([null, null, null]);
  });

  it("counts operator alerts only for admins", async () => {
    const u = await userWithChannels("crit-ops");
    const body = { ...all(u), preferences: { events: { "alert.queue_backlog": { channels: [] } } } };
    await saved(u, body); // a trader never receives operator alerts
    await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(u.userId).run();
    const login = await api("POST", "/v1/auth/login", { body: { email: u.email, password: u.password } });
    expect(login.status).toBe(200);
    await refused({ token: login.body.token, userId: u.userId }, body, ["preferences.events.alert.queue_backlog"]);
  });
});
