/** Issue 22, items 6 and 8: logout-all, password change with re-auth, capped API tokens with scopes and expiry, WebSocket tickets. */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_API_TOKENS, MAX_WS_TICKETS } from "../src/api/routes/auth";
import { runRetention } from "../src/ops/retention";
import { api, BASE, registerUser } from "./helpers";

describe("sessions", () => {
  it("logout-all ends every JWT of the user at once, not other users'", async () => {
    const u = await registerUser("sess");
    const v = await registerUser("sess");
    const second = await api("POST", "/v1/auth/login", { body: { email: u.email, password: u.password } });
    expect(second.status).toBe(200);
    expect((await api("POST", "/v1/auth/logout-all", { token: u.token })).status).toBe(204);
    for (const t of [u.token, second.body.token]) expect((await api("GET", "/v1/me", { token: t })).status).toBe(401);
    expect((await api("GET", "/v1/me", { token: v.token })).status).toBe(200);
    const fresh = await api("POST", "/v1/auth/login", { body: { email: u.email, password: u.password } });
    expect((await api("GET", "/v1/me", { token: fresh.body.token })).status).toBe(200);
  }, 60_000);

  it("changes the password only with the current one and from a login session; other sessions end", async () => {
    const u = await registerUser("pwchange");
    const tok = await api("POST", "/v1/auth/tokens", { token: u.token, body: { name: "bot", scopes: ["read", "trade"] } });
    const viaToken = await api("POST", "/v1/auth/password", { token: tok.body.token, body: { currentPassword: u.password, newPassword: "a-brand-new-password" } });
    expect(viaToken.status).toBe(403);
    const wrong = await api("POST", "/v1/auth/password", { token: u.token, body: { currentPassword: "not-it", newPassword: "a-brand-new-password" } });
    expect(wrong.status).toBe(401);
    const ok = await api("POST", "/v1/auth/password", { token: u.token, body: { currentPassword: u.password, newPassword: "a-brand-new-password" } });
    expect(ok.status).toBe(200);
    expect((await api("GET", "/v1/me", { token: u.token })).status).toBe(401);
    expect((await api("GET", "/v1/me", { token: ok.body.token })).status).toBe(200);
    expect((await api("POST", "/v1/auth/login", { body: { email: u.email, password: u.password } })).status).toBe(401);
    expect((await api("POST", "/v1/auth/login", { body: { email: u.email, password: "a-brand-new-password" } })).status).toBe(200);
  }, 60_000);
});

describe("caps", () => {
  it(`refuses one active API token more than ${MAX_API_TOKENS} with 409 limit_reached; revoking makes room`, async () => {
    const u = await registerUser("tokcap");
    const ids: string[] = [];
    for (let i = 0; i < MAX_API_TOKENS; i++) {
      const r = await api("POST", "/v1/auth/tokens", { token: u.token, body: { name: `t${i}`, scopes: ["read"] } });
      expect(r.status).toBe(201);
      ids.push(r.body.id);
    }
    const over = await api("POST", "/v1/auth/tokens", { token: u.token, body: { name: "one-too-many", scopes: ["read"] } });
    expect(over.status).toBe(409);
    expect(over.body.error).toMatchObject({ code: "limit_reached", details: { limit: MAX_API_TOKENS } });
    expect((await api("DELETE", `/v1/auth/tokens/${ids[0]}`, { token: u.token })).status).toBe(204);
    expect((await api("POST", "/v1/auth/tokens", { token: u.token, body: { name: "room", scopes: ["read"] } })).status).toBe(201);
  }, 60_000);
});

describe("API token scopes and expiry", () => {
  const create = (token: string, body: Record<string, unknown>) => api("POST", "/v1/auth/tokens", { token, body });

  it("a read token may GET but is refused a POST/PATCH with 403 insufficient_scope; a trade token may write but not reach admin routes", async () => {
    const u = await registerUser("scope");
    const read = await create(u.token, { name: "ro", scopes: ["read"] });
    expect(read.status).toBe(201);
    expect(read.body).toMatchObject({ scopes: ["read"], expiresAt: null });
    expect((await api("GET", "/v1/me", { token: read.body.token })).status).toBe(200);
    const refused = await api("PATCH", "/v1/me", { token: read.body.token, body: { pauseEntries: true } });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: "insufficient_scope", details: { needed: "trade", scopes: ["read"] } });
    expect((await api("POST", "/v1/notifications/test", { token: read.body.token, body: {} })).body.error.code).toBe("insufficient_scope");

    const trade = await create(u.token, { name: "bot", scopes: ["trade"] });
    expect((await api("PATCH", "/v1/me", { token: trade.body.token, body: { pauseEntries: true } })).status).toBe(200);
    expect((await api("GET", "/v1/me", { token: trade.body.token })).status).toBe(200); // trade includes read
    const admin = await api("GET", "/v1/admin/alerts", { token: trade.body.token });
    expect(admin.status).toBe(403);
    expect(admin.body.error.code).toBe("insufficient_scope");
    // A token cannot mint tokens (a stolen one would outlive its revocation through them).
    expect((await create(trade.body.token, { name: "child", scopes: ["read"] })).status).toBe(403);
  }, 60_000);

  it("the admin scope is for operators only, and an operator's admin token reaches /v1/admin", async () => {
    const u = await registerUser("scope-admin");
    const refused = await create(u.token, { name: "ops", scopes: ["admin"] });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("forbidden");
    await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(u.userId).run();
    const ops = await create(u.token, { name: "ops", scopes: ["admin"] });
    expect(ops.status).toBe(201);
    expect((await api("GET", "/v1/admin/alerts", { token: ops.body.token })).status).toBe(200);
    const trade = await create(u.token, { name: "bot", scopes: ["read", "trade"] });
    expect((await api("GET", "/v1/admin/alerts", { token: trade.body.token })).body.error.code).toBe("insufficient_scope");
    expect((await api("GET", "/v1/admin/alerts", { token: u.token })).status).toBe(200); // a login session is not scoped
  }, 60_000);

  it("rejects unknown scopes and bad expiries with 400", async () => {
    const u = await registerUser("scope-bad");
    for (const body of [{ name: "x", scopes: ["write"] }, { name: "x", scopes: [] }, { name: "x" }, { name: "x", scopes: ["read"], expiresInDays: 0 }]) {
      expect((await create(u.token, body)).status, JSON.stringify(body)).toBe(400);
    }
  });

  it("an expired token answers 401 with a JSON error; a revoked one too; the list shows scopes and expiry, never the secret", async () => {
    const u = await registerUser("expiry");
    const t = await create(u.token, { name: "short", scopes: ["read"], expiresInDays: 1 });
    expect(t.status).toBe(201);
    expect(t.body.expiresAt).toBeGreaterThan(Date.now() + 86_000_000);
    expect((await api("GET", "/v1/me", { token: t.body.token })).status).toBe(200);
    const list = await api("GET", "/v1/auth/tokens", { token: u.token });
    expect(list.body.data).toEqual([expect.objectContaining({ id: t.body.id, name: "short", scopes: ["read"], expiresAt: t.body.expiresAt })]);
    expect(JSON.stringify(list.body)).not.toContain(t.body.token);

    await env.DB.prepare("UPDATE api_tokens SET expires_at = ? WHERE id = ?").bind(Date.now() - 1, t.body.id).run();
    const expired = await api("GET", "/v1/me", { token: t.body.token });
    expect(expired.status).toBe(401);
    expect(expired.body.error).toMatchObject({ code: "unauthenticated", message: "API token expired" });

    const other = await create(u.token, { name: "gone", scopes: ["read"] });
    expect((await api("DELETE", `/v1/auth/tokens/${other.body.id}`, { token: u.token })).status).toBe(204);
    const revoked = await api("GET", "/v1/me", { token: other.body.token });
    expect(revoked.status).toBe(401);
    expect(revoked.body.error.code).toBe("unauthenticated");
    expect((await api("DELETE", `/v1/auth/tokens/${other.body.id}`, { token: u.token })).status).toBe(404);
  }, 60_000);
});

describe("WebSocket tickets", () => {
  const upgrade = (path: string) => exports.default.fetch(new Request(`${BASE}${path}`, { headers: { upgrade: "websocket" } }));
  const missing = "/v1/simulations/sim_00000000000000000000000000000000/stream";

  it("a ticket opens one upgrade, once, within 30 s; never a plain request; ?access_token= is refused", async () => {
    const u = await registerUser("ticket");
    const t = await api("POST", "/v1/auth/ws-ticket", { token: u.token });
    expect(t.status).toBe(201);
    expect(t.body.ticket).toMatch(/^wst_/);
    expect(t.body.expiresAt - Date.now()).toBeLessThanOrEqual(30_000);
    const row = await env.DB.prepare("SELECT * FROM ws_tickets WHERE user_id = ?").bind(u.userId).first<Record<string, unknown>>();
    expect(JSON.stringify(row)).not.toContain(t.body.ticket); // stored hashed

    // A plain GET with the ticket does not authenticate (and does not use it up).
    expect((await api("GET", `/v1/me?ticket=${t.body.ticket}`)).status).toBe(401);
    // First use: authenticated (the simulation is not found: 404, not 401).
    expect((await upgrade(`${missing}?ticket=${t.body.ticket}`)).status).toBe(404);
    // Second use: gone.
    const again = await upgrade(`${missing}?ticket=${t.body.ticket}`);
    expect(again.status).toBe(401);
    expect((await again.json() as any).error.code).toBe("unauthenticated");

    const late = await api("POST", "/v1/auth/ws-ticket", { token: u.token });
    await env.DB.prepare("UPDATE ws_tickets SET expires_at = ? WHERE user_id = ?").bind(Date.now() - 1, u.userId).run();
    expect((await upgrade(`${missing}?ticket=${late.body.ticket}`)).status).toBe(401);

    expect((await upgrade(`${missing}?access_token=${encodeURIComponent(u.token)}`)).status).toBe(401);

    // An unused ticket is pruned by retention a day after it expired.
    await env.DB.prepare("INSERT INTO ws_tickets (id, user_id, expires_at, created_at) VALUES (?, ?, ?, ?)").bind(`old-${crypto.randomUUID()}`, u.userId, Date.now() - 2 * 86_400_000, Date.now() - 2 * 86_400_000).run();
    expect((await runRetention(env)).ws_tickets).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it(`a read token may ask for a ticket; at most ${MAX_WS_TICKETS} unused at a time (429 with retry-after)`, async () => {
    const u = await registerUser("ticket-cap");
    const read = await api("POST", "/v1/auth/tokens", { token: u.token, body: { name: "ro", scopes: ["read"] } });
    for (let i = 0; i < MAX_WS_TICKETS; i++) expect((await api("POST", "/v1/auth/ws-ticket", { token: read.body.token })).status).toBe(201);
    const over = await api("POST", "/v1/auth/ws-ticket", { token: read.body.token });
    expect(over.status).toBe(429);
    expect(over.headers.get("retry-after")).toBe("30");
    expect(over.body.error.code).toBe("rate_limited");
  }, 60_000);
});
