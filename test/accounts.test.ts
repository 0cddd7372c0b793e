import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { api, captureLogs, registerUser } from "./helpers";
import { simKeys, simReset } from "./sim-helpers";

const creds = (k: { key: string; secret: string; passphrase: string }) => ({ key: k.key, secret: k.secret, passphrase: k.passphrase });
const fakeCreds = { key: "unknown-key-123456", secret: "unknown-secret-123456", passphrase: "pass" };

async function proUser(tag: string) {
  const u = await registerUser(tag);
  await env.DB.prepare("UPDATE users SET plan_id = 'pro', plan_expires_at = ? WHERE id = ?").bind(Date.now() + 86_400_000, u.userId).run();
  return u;
}

beforeAll(async () => {
  await simReset();
});

describe("accounts CRUD", () => {
  it("creates, lists, gets, renames and deletes; credentials never returned", async () => {
    const u = await proUser("crud");
    const keys = await simKeys();
    const created = await api("POST", "/v1/accounts", { token: u.token, body: { name: "Main", network: "simulator", credentials: creds(keys) } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "Main", network: "simulator", active: true, credentialVersion: 1 });
    expect(JSON.stringify(created.body)).not.toContain(keys.secret);

    const row = await env.DB.prepare("SELECT credentials_enc FROM exchange_accounts WHERE id = ?").bind(created.body.id).first<{ credentials_enc: string }>();
    expect(row!.credentials_enc).toMatch(/^v1:k1:/);
    expect(row!.credentials_enc).not.toContain(keys.secret);

    const second = await api("POST", "/v1/accounts", { token: u.token, body: { name: "Second", network: "simulator", credentials: creds(await simKeys()) } });
    expect(second.body.active).toBe(false);
    const list = await api("GET", "/v1/accounts", { token: u.token });
    expect(list.body.data.map((a: { name: string }) => a.name)).toEqual(["Main", "Second"]);
    expect(JSON.stringify(list.body)).not.toMatch(/secret|passphrase/i);

    const renamed = await api("PATCH", `/v1/accounts/${second.body.id}`, { token: u.token, body: { name: "Renamed" } });
    expect(renamed.body.name).toBe("Renamed");
    const dup = await api("PATCH", `/v1/accounts/${second.body.id}`, { token: u.token, body: { name: "Main" } });
    expect(dup.status).toBe(409);

    expect((await api("DELETE", `/v1/accounts/${created.body.id}`, { token: u.token })).status).toBe(204);
    expect((await api("GET", `/v1/accounts/${created.body.id}`, { token: u.token })).status).toBe(404);
    // The active account was deleted: the remaining one becomes active.
    expect((await api("GET", "/v1/me", { token: u.token })).body.activeAccountId).toBe(second.body.id);
  });

  it("isolates users: another user's account is a 404 on every route", async () => {
    const a = await proUser("iso-a");
    const b = await proUser("iso-b");
    const acc = await api("POST", "/v1/accounts", { token: a.token, body: { name: "A", network: "simulator", credentials: fakeCreds } });
    const id = acc.body.id;
    const calls: [string, string, unknown?][] = [
      ["GET", `/v1/accounts/${id}`], ["PATCH", `/v1/accounts/${id}`, { name: "x" }], ["DELETE", `/v1/accounts/${id}`],
      ["POST", `/v1/accounts/${id}/activate`], ["POST", `/v1/accounts/${id}/credentials/validate`], ["DELETE", `/v1/accounts/${id}/credentials/cache`],
    ];
    for (const [m, p, body] of calls) {
      const r = await api(m, p, { token: b.token, body });
      expect(r.status, `${m} ${p}`).toBe(404);
    }
    expect((await api("GET", "/v1/accounts", { token: b.token })).body.data).toEqual([]);
    expect((await api("GET", `/v1/accounts/${id}`, { token: a.token })).status).toBe(200);
  });

  it("rejects bad inputs with 400 naming the field", async () => {
    const u = await proUser("bad");
    const cases: [unknown, string][] = [
      [{ name: "x", network: "simulator" }, "credentials"],
      [{ name: "x", network: "simulator", credentials: { key: "", secret: "s".repeat(20), passphrase: "p" } }, "credentials.key"],
      [{ name: "x", network: "simulator", credentials: { key: "k".repeat(20), secret: "   ", passphrase: "p" } }, "credentials.secret"],
      [{ name: "x", network: "moonnet", credentials: fakeCreds }, "network"],
      [{ name: "n".repeat(10_000), network: "simulator", credentials: fakeCreds }, "name"],
      [{ name: "", network: "simulator", credentials: fakeCreds }, "name"],
      [{ name: "x", network: "simulator", credentials: { ...fakeCreds, extra: 1 } }, "credentials"],
    ];
    for (const [body, field] of cases) {
      const r = await api("POST", "/v1/accounts", { token: u.token, body });
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(r.body.error.details.map((d: { path: string }) => d.path)).toContain(field);
    }
    expect((await api("GET", "/v1/accounts", { token: u.token })).body.data).toEqual([]);
  });

  it("the free plan allows one account: the second is a 402 naming the limit and the plan", async () => {
    const u = await registerUser("free");
    expect((await api("POST", "/v1/accounts", { token: u.token, body: { name: "One", network: "simulator", credentials: fakeCreds } })).status).toBe(201);
    const r = await api("POST", "/v1/accounts", { token: u.token, body: { name: "Two", network: "simulator", credentials: fakeCreds } });
    expect(r.status).toBe(402);
    expect(r.body.error).toMatchObject({ code: "plan_limit", details: { limit: "maxAccounts", plan: "free", upgradeTo: "pro" } });
  });
});

describe("activation", () => {
  it("switching the active account is visible in /v1/me", async () => {
    const u = await proUser("act");
    const a = await api("POST", "/v1/accounts", { token: u.token, body: { name: "A", network: "simulator", credentials: fakeCreds } });
    const b = await api("POST", "/v1/accounts", { token: u.token, body: { name: "B", network: "simulator", credentials: fakeCreds } });
    expect((await api("GET", "/v1/me", { token: u.token })).body.activeAccountId).toBe(a.body.id);
    const r = await api("POST", `/v1/accounts/${b.body.id}/activate`, { token: u.token });
    expect(r.body.active).toBe(true);
    expect((await api("GET", "/v1/me", { token: u.token })).body.activeAccountId).toBe(b.body.id);
  });
});

describe("credential validation", () => {
  it("validates live, caches for the version, misses after a version bump, clears on demand", async () => {
    const u = await proUser("val");
    const keys = await simKeys();
    const acc = await api("POST", "/v1/accounts", { token: u.token, body: { name: "V", network: "simulator", credentials: creds(keys) } });
    const path = `/v1/accounts/${acc.body.id}/credentials/validate`;

    // The account's Durable Object validated the keys live when the account was created
    // (before its monitor's first run), through the same cache.
    const first = await api("POST", path, { token: u.token });
    expect(first.body).toMatchObject({ valid: true, cached: true, credentialVersion: 1 });
    const second = await api("POST", path, { token: u.token });
    expect(second.body).toMatchObject({ valid: true, cached: true });
    expect(await env.CREDENTIAL_CACHE.get(`cred-valid:${acc.body.id}:1`)).toBeTruthy();

    // Wrong secret: a new version, so the cached "valid" no longer applies.
    await api("PATCH", `/v1/accounts/${acc.body.id}`, { token: u.token, body: { credentials: { ...creds(keys), secret: "wrong-secret-value-123" } } });
    const third = await api("POST", path, { token: u.token });
    expect(third.body).toMatchObject({ valid: false, cached: true, credentialVersion: 2 });
    expect(third.body.reason).toBeTruthy();

    expect((await api("DELETE", `/v1/accounts/${acc.body.id}/credentials/cache`, { token: u.token })).status).toBe(204);
    expect(await env.CREDENTIAL_CACHE.get(`cred-valid:${acc.body.id}:2`)).toBeNull();
    expect((await api("POST", path, { token: u.token })).body.cached).toBe(false);

    const cleared = await api("DELETE", "/v1/me/credentials/cache", { token: u.token });
    expect(cleared.body.cleared).toBe(1);
  });

  it("an unknown key is invalid with a reason", async () => {
    const u = await proUser("unknown");
    const acc = await api("POST", "/v1/accounts", { token: u.token, body: { name: "U", network: "simulator", credentials: fakeCreds } });
    const r = await api("POST", `/v1/accounts/${acc.body.id}/credentials/validate`, { token: u.token });
    // Validated (and refused) by the account's Durable Object when it was created.
    expect(r.body).toMatchObject({ valid: false, cached: true });
    expect(r.body.reason).toBeTruthy();
    expect(await env.ACCOUNT.getByName(acc.body.id).status()).toMatchObject({ paused: "credentials_rejected", watching: false });
  });

  it("counts hits and misses for operators; non-admins get 403", async () => {
    const u = await proUser("stats");
    expect((await api("GET", "/v1/admin/credentials/cache-stats", { token: u.token })).status).toBe(403);
    await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(u.userId).run();
    const stats = await api("GET", "/v1/admin/credentials/cache-stats", { token: u.token });
    expect(stats.status).toBe(200);
    expect(stats.body.validation.hits).toBeGreaterThanOrEqual(1);
    expect(stats.body.validation.misses).toBeGreaterThanOrEqual(2);
    expect(stats.body.validation.ttlSeconds).toBe(300);
  });

  it("never logs the credentials", async () => {
    const u = await proUser("nolog");
    const keys = await simKeys();
    const { lines } = await captureLogs(async () => {
      const acc = await api("POST", "/v1/accounts", { token: u.token, body: { name: "L", network: "simulator", credentials: creds(keys) } });
      await api("POST", `/v1/accounts/${acc.body.id}/credentials/validate`, { token: u.token });
      await api("PATCH", `/v1/accounts/${acc.body.id}`, { token: u.token, body: { credentials: { ...creds(keys), secret: "another-wrong-secret-1" } } });
      await api("POST", `/v1/accounts/${acc.body.id}/credentials/validate`, { token: u.token });
    });
    const all = lines.join("\n");
    expect(all).toContain("account.created");
    expect(all).not.toContain(keys.secret);
    expect(all).not.toContain(keys.passphrase);
    expect(all).not.toContain("another-wrong-secret-1");
  });
});
