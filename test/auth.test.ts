import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { api, captureLogs, registerUser, uniqueEmail } from "./helpers";
import { parseApiToken } from "../src/lib/tokens";

describe("register and login", () => {
  it("registers, logs in and reads /v1/me", async () => {
    const email = uniqueEmail("reg");
    const reg = await api("POST", "/v1/auth/register", { body: { email: email.toUpperCase(), password: "correct-horse" } });
    expect(reg.status).toBe(201);
    expect(reg.body.user).toMatchObject({ email, role: "user", plan: "free", scheduleScope: "active", activeAccountId: null });
    expect(reg.body.user).not.toHaveProperty("passwordHash");
    expect(typeof reg.body.token).toBe("string");

    const login = await api("POST", "/v1/auth/login", { body: { email, password: "correct-horse" } });
    expect(login.status).toBe(200);
    expect(login.body.expiresAt).toBeGreaterThan(Date.now() + 11 * 3600_000);
    const me = await api("GET", "/v1/me", { token: login.body.token });
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(reg.body.user.id);
  });

  it("stores a PBKDF2 hash with a per-user salt, never the password", async () => {
    const a = await registerUser("salt");
    const b = await registerUser("salt");
    const rows = await env.DB.prepare("SELECT password_hash FROM users WHERE id IN (?, ?)").bind(a.userId, b.userId).all<{ password_hash: string }>();
    const hashes = rows.results.map((r) => r.password_hash);
    expect(hashes).toHaveLength(2);
    for (const h of hashes) {
      expect(h).toMatch(/^pbkdf2-sha256\$600000\$[^$]+\$[^$]+\$pepper$/);
      expect(h).not.toContain(a.password);
    }
    expect(hashes[0]!.split("$")[2]).not.toBe(hashes[1]!.split("$")[2]);
  });

  it("rejects a wrong password and an unknown email the same way", async () => {
    const u = await registerUser("wrong");
    const bad = await api("POST", "/v1/auth/login", { body: { email: u.email, password: "not-the-password" } });
    const unknown = await api("POST", "/v1/auth/login", { body: { email: uniqueEmail("nobody"), password: "whatever-pw" } });
    for (const r of [bad, unknown]) {
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe("invalid_credentials");
    }
    expect(bad.body).toEqual(unknown.body);
  });

  it("answers 409 on a duplicate email", async () => {
    const u = await registerUser("dup");
    const again = await api("POST", "/v1/auth/register", { body: { email: u.email, password: "another-password" } });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: "conflict", details: { field: "email" } });
  });
});

describe("input errors are 4xx with the field named, never 500", () => {
  it("malformed JSON", async () => {
    const r = await api("POST", "/v1/auth/register", { rawBody: '{"email": "a@b.c", "password": ' });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("malformed_json");
  });

  it("missing fields", async () => {
    const r = await api("POST", "/v1/auth/register", { body: { email: uniqueEmail() } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("validation_error");
    expect(r.body.error.details.map((d: { path: string }) => d.path)).toContain("password");
  });

  it("wrong types and bad email", async () => {
    const r = await api("POST", "/v1/auth/register", { body: { email: 42, password: ["x"] } });
    expect(r.status).toBe(400);
    const paths = r.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(["email", "password"]));
    const e = await api("POST", "/v1/auth/register", { body: { email: "not-an-email", password: "long-enough-pw" } });
    expect(e.status).toBe(400);
    expect(e.body.error.details[0].path).toBe("email");
  });

  it("unknown fields", async () => {
    const r = await api("POST", "/v1/auth/register", { body: { email: uniqueEmail(), password: "long-enough-pw", role: "admin" } });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body.error.details)).toContain("role");
  });

  it("an oversized body is 413", async () => {
    const r = await api("POST", "/v1/auth/register", { body: { email: uniqueEmail(), password: "x".repeat(300 * 1024) } });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe("payload_too_large");
  });

  it("an unknown route is a JSON 404", async () => {
    const r = await api("GET", "/v1/nope");
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe("not_found");
  });
});

describe("tokens", () => {
  it("rejects a missing, forged or expired JWT with 401", async () => {
    expect((await api("GET", "/v1/me")).status).toBe(401);
    const u = await registerUser("jwt");
    const forged = await sign({ sub: u.userId, role: "admin", iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 60 }, "some-other-secret-of-enough-length!!", "HS256");
    const expired = await sign({ sub: u.userId, role: "user", iat: 1_000, exp: 2_000 }, env.JWT_SECRET, "HS256");
    const none = `${btoa(JSON.stringify({ alg: "none", typ: "JWT" }))}.${btoa(JSON.stringify({ sub: u.userId, exp: 9e9 }))}.`;
    for (const t of [forged, expired, none, "garbage"]) {
      const r = await api("GET", "/v1/me", { token: t });
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe("unauthenticated");
    }
  });

  it("creates an API token shown once, uses it, lists it without its value, revokes it", async () => {
    const u = await registerUser("tok");
    const created = await api("POST", "/v1/auth/tokens", { token: u.token, body: { name: "bot", scopes: ["read", "trade"] } });
    expect(created.status).toBe(201);
    const apiToken: string = created.body.token;
    expect(apiToken).toMatch(/^lnma_/);

    const row = await env.DB.prepare("SELECT * FROM api_tokens WHERE id = ?").bind(created.body.id).first<Record<string, unknown>>();
    // The secret is everything after `lnma_<32 hex id>_` (base64url: it may itself hold "_").
    const secret = apiToken.slice("lnma_".length + 32 + 1);
    expect(secret).toHaveLength(43);
    expect(JSON.stringify(row)).not.toContain(secret);

    expect((await api("GET", "/v1/me", { token: apiToken })).body.id).toBe(u.userId);
    const list = await api("GET", "/v1/auth/tokens", { token: u.token });
    expect(list.body.data).toHaveLength(1);
    expect(JSON.stringify(list.body)).not.toContain(apiToken);

    const tampered = apiToken.slice(0, -2) + (apiToken.endsWith("AA") ? "BB" : "AA");
    expect((await api("GET", "/v1/me", { token: tampered })).status).toBe(401);

    expect((await api("DELETE", `/v1/auth/tokens/${created.body.id}`, { token: u.token })).status).toBe(204);
    const after = await api("GET", "/v1/me", { token: apiToken });
    expect(after.status).toBe(401);
  });

  it("a user cannot revoke another user's token (404, not 403)", async () => {
    const a = await registerUser("iso-a");
    const b = await registerUser("iso-b");
    const t = await api("POST", "/v1/auth/tokens", { token: a.token, body: { name: "a", scopes: ["read"] } });
    const r = await api("DELETE", `/v1/auth/tokens/${t.body.id}`, { token: b.token });
    expect(r.status).toBe(404);
    expect((await api("GET", "/v1/me", { token: t.body.token })).status).toBe(200);
  });
});

describe("me", () => {
  it("patches settings and rejects unknown fields", async () => {
    const u = await registerUser("patch");
    const r = await api("PATCH", "/v1/me", { token: u.token, body: { scheduleScope: "all", pauseEntries: true } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ scheduleScope: "all", pauseEntries: true });
    const bad = await api("PATCH", "/v1/me", { token: u.token, body: { role: "admin" } });
    expect(bad.status).toBe(400);
    const badScope = await api("PATCH", "/v1/me", { token: u.token, body: { scheduleScope: "some" } });
    expect(badScope.status).toBe(400);
    expect(badScope.body.error.details[0].path).toBe("scheduleScope");
    expect((await api("GET", "/v1/me", { token: u.token })).body.role).toBe("user");
  });
});

describe("conventions", () => {
  it("serves health, the OpenAPI document and docs with secure headers and request ids", async () => {
    const h = await api("GET", "/health");
    expect(h.status).toBe(200);
    expect(h.body.ok).toBe(true);
    expect(h.headers.get("x-request-id")).toBeTruthy();
    expect(h.headers.get("x-content-type-options")).toBe("nosniff");
    expect(h.headers.get("access-control-allow-origin")).toBeNull();
    const doc = await api("GET", "/openapi.json");
    expect(doc.body.openapi).toBe("3.1.0");
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(["/v1/auth/register", "/v1/auth/login", "/v1/me"]));
    const docs = await api("GET", "/docs");
    expect(docs.status).toBe(200);
  });
});

describe("secrets never reach a log line", () => {
  it("logs no password, JWT or API token during the auth flows", async () => {
    const email = uniqueEmail("logs");
    const password = "very-secret-password-123";
    const { lines, result } = await captureLogs(async () => {
      const reg = await api("POST", "/v1/auth/register", { body: { email, password } });
      await api("POST", "/v1/auth/login", { body: { email, password: "wrong-password-456" } });
      const login = await api("POST", "/v1/auth/login", { body: { email, password } });
      const tok = await api("POST", "/v1/auth/tokens", { token: login.body.token, body: { name: "logs", scopes: ["read"] } });
      await api("GET", "/v1/me", { token: tok.body.token });
      await api("GET", "/v1/me", { token: "lnma_0123456789abcdef0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" });
      return { jwt: login.body.token as string, apiToken: tok.body.token as string, regJwt: reg.body.token as string };
    });
    expect(lines.length).toBeGreaterThan(3);
    const all = lines.join("\n");
    // The token's secret part by the token's own grammar: it is base64url, so it may hold (or
    // start with) "_" and splitting on "_" once gave "" (which every string contains).
    const apiSecret = parseApiToken(result.apiToken)!.secret;
    expect(apiSecret).toHaveLength(43);
    for (const secret of [password, "wrong-password-456", result.jwt, result.regJwt, result.apiToken, apiSecret]) {
      expect(all).not.toContain(secret);
    }
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  });
});
