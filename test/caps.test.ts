/** Issue 22, item 8: caps on automations per account, notification channels and stored simulations per user. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_AUTOMATIONS_PER_ACCOUNT } from "../durable-objects/account/automation-crud";
import { MAX_STORED_SIMULATIONS } from "../src/api/routes/simulations";
import { accountCleanup, simAccount } from "./account-helpers";
import { api, registerUser } from "./helpers";

const cleanup = accountCleanup();

describe("caps", () => {
  it(`refuses automation ${MAX_AUTOMATIONS_PER_ACCOUNT + 1} on an account with 409 limit_reached naming the limit; deleting one makes room`, async () => {
    const u = await registerUser("autcap");
    const acc = await simAccount(u.token, "autcap");
    cleanup.push(acc.id);
    const ids: string[] = [];
    for (let i = 0; i < MAX_AUTOMATIONS_PER_ACCOUNT; i++) {
      const r = await api("POST", `/v1/accounts/${acc.id}/automations`, { token: u.token, body: { type: "noop", name: `n${i}`, enabled: false } });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      ids.push(r.body.id);
    }
    const over = await api("POST", `/v1/accounts/${acc.id}/automations`, { token: u.token, body: { type: "noop", enabled: false } });
    expect(over.status).toBe(409);
    expect(over.body.error).toMatchObject({ code: "limit_reached", details: { limit: MAX_AUTOMATIONS_PER_ACCOUNT, name: "automationsPerAccount" } });
    expect((await api("GET", `/v1/accounts/${acc.id}/automations`, { token: u.token })).body.data).toHaveLength(MAX_AUTOMATIONS_PER_ACCOUNT);
    expect((await api("DELETE", `/v1/accounts/${acc.id}/automations/${ids[0]}`, { token: u.token })).status).toBe(204);
    expect((await api("POST", `/v1/accounts/${acc.id}/automations`, { token: u.token, body: { type: "noop", enabled: false } })).status).toBe(201);
  }, 60_000);

  it("notification channels are bounded by construction: one row per user, one channel of each kind, rules only for known events", async () => {
    const u = await registerUser("chcap");
    for (const chatId of ["123456", "654321"]) {
      expect((await api("PUT", "/v1/notifications/channels", { token: u.token, body: { telegram: { chatId }, email: { address: "a@example.test" } } })).status).toBe(200);
    }
    expect((await env.DB.prepare("SELECT count(*) AS n FROM notification_channels WHERE user_id = ?").bind(u.userId).first<{ n: number }>())!.n).toBe(1);
    for (const body of [{ slack: { url: "https://x.test" } }, { telegram: [{ chatId: "1" }, { chatId: "2" }] }, { preferences: { events: { "made.up": { channels: [] } } } }]) {
      expect((await api("PUT", "/v1/notifications/channels", { token: u.token, body })).status, JSON.stringify(body)).toBe(400);
    }
  });

  it(`keeps at most ${MAX_STORED_SIMULATIONS} simulations per user: a new run deletes the oldest finished ones, never a running one`, async () => {
    const u = await registerUser("simcap");
    const base = Date.now() - 86_400_000;
    const stmt = env.DB.prepare("INSERT INTO simulations (id, user_id, scenario, status, steps, params, created_at, finished_at) VALUES (?, ?, 'bull', ?, 1, '{}', ?, ?)");
    const rows = Array.from({ length: MAX_STORED_SIMULATIONS + 5 }, (_, i) => stmt.bind(`sim_cap${String(i).padStart(4, "0")}${crypto.randomUUID().replaceAll("-", "")}`, u.userId, i === 0 ? "running" : "completed", base + i * 1000, i === 0 ? null : base + i * 1000 + 1));
    await env.DB.batch(rows);
    const r = await api("POST", "/v1/simulations", { token: u.token, body: { scenario: "bull", initialPrice: 50_000, steps: 10, seed: 1, freeBalanceSats: 1_000_000, position: { side: "buy", quantity: 100, leverage: 10 } } });
    // The oldest row is "running" (stuck): it is kept and takes a slot; the plan allows two at a time.
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const n = async (sql: string) => (await env.DB.prepare(sql).bind(u.userId).first<{ n: number }>())!.n;
    expect(await n("SELECT count(*) AS n FROM simulations WHERE user_id = ? AND status <> 'running'")).toBeLessThanOrEqual(MAX_STORED_SIMULATIONS);
    expect(await n("SELECT count(*) AS n FROM simulations WHERE user_id = ?")).toBeLessThanOrEqual(MAX_STORED_SIMULATIONS + 1);
    expect(await n("SELECT count(*) AS n FROM simulations WHERE user_id = ? AND id LIKE 'sim_cap0000%'")).toBe(1); // the running one
    expect(await n("SELECT count(*) AS n FROM simulations WHERE user_id = ? AND id LIKE 'sim_cap0001%'")).toBe(0); // the oldest finished
    expect(await n(`SELECT count(*) AS n FROM simulations WHERE user_id = ? AND id LIKE 'sim_cap${String(MAX_STORED_SIMULATIONS + 4).padStart(4, "0")}%'`)).toBe(1); // the newest
    await api("DELETE", `/v1/simulations/${r.body.id}`, { token: u.token });
  }, 60_000);
});
