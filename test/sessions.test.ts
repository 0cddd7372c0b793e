/** Issue 22, items 6 and 8: logout-all, password change with re-auth, capped API tokens. */
import { describe, expect, it } from "vitest";
import { MAX_API_TOKENS } from "../src/api/routes/auth";
import { api, registerUser } from "./helpers";

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
    const tok = await api("POST", "/v1/auth/tokens", { token: u.token, body: { name: "bot" } });
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
      const r = await api("POST", "/v1/auth/tokens", { token: u.token, body: { name: `t${i}` } });
      expect(r.status).toBe(201);
      ids.push(r.body.id);
    }
    const over = await api("POST", "/v1/auth/tokens", { token: u.token, body: { name: "one-too-many" } });
    expect(over.status).toBe(409);
    expect(over.body.error).toMatchObject({ code: "limit_reached", details: { limit: MAX_API_TOKENS } });
    expect((await api("DELETE", `/v1/auth/tokens/${ids[0]}`, { token: u.token })).status).toBe(204);
    expect((await api("POST", "/v1/auth/tokens", { token: u.token, body: { name: "room" } })).status).toBe(201);
  }, 60_000);
});
