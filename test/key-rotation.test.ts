/**
 * Issue 22, item 3: key rotation re-encrypts every secret at rest (exchange credentials and
 * webhook secrets), reports counts, and resumes from a cursor; afterwards the old key can go.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { decryptAccountCredentials } from "../src/accounts/credentials";
import { rotateSecrets } from "../src/accounts/key-rotation";
import { getDb } from "../src/db/client";
import { resolveChannels } from "../src/notify/settings";
import { api, registerUser } from "./helpers";
import { simAccount } from "./account-helpers";

const K1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // the test ring's k1 (vitest.config.ts)
const K2 = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
const both = { ...env, CREDENTIALS_KEYS: JSON.stringify({ current: "k2", keys: { k1: K1, k2: K2 } }) };
const onlyNew = { ...env, CREDENTIALS_KEYS: JSON.stringify({ current: "k2", keys: { k2: K2 } }) };

describe("POST /v1/admin/credentials/rotate", () => {
  it("re-encrypts webhook secrets and credentials, resumably, so the old key can be removed", async () => {
    const users = [await registerUser("rot"), await registerUser("rot")];
    for (const [i, u] of users.entries()) {
      const r = await api("PUT", "/v1/notifications/channels", { token: u.token, body: { webhook: { url: `${env.LNM_SIMULATOR_URL}/__sim/inbox/webhook/rot-${i}`, secret: `whsec-rotation-${i}-0123456789` } } });
      expect(r.status).toBe(200);
    }
    const acc = await simAccount(users[0]!.token, "Rot");
    const db = getDb(env);

    // One row per call: every call reports counts and a cursor; the walk ends with done.
    let cursor: string | null = null;
    const rotated = { accounts: 0, webhookSecrets: 0 };
    let last;
    for (let calls = 0; calls < 50; calls++) {
      last = await rotateSecrets(both, db, { limit: 1, cursor });
      rotated.accounts += last.rotated.accounts;
      rotated.webhookSecrets += last.rotated.webhookSecrets;
      expect(last.failed).toEqual([]);
      cursor = last.cursor;
      if (cursor === null) break;
    }
    expect(last!.done).toBe(true);
    expect(last!.remaining).toEqual({ accounts: 0, webhookSecrets: 0 });
    expect(rotated.webhookSecrets).toBeGreaterThanOrEqual(2);
    expect(rotated.accounts).toBeGreaterThanOrEqual(1);

    // The old key is gone: webhook secrets and credentials still open.
    const channels = await resolveChannels(onlyNew as Env, db, users.map((u) => u.userId));
    expect(channels.map((c) => c.webhook?.secret).sort()).toEqual(["whsec-rotation-0-0123456789", "whsec-rotation-1-0123456789"]);
    const row = await env.DB.prepare("SELECT * FROM exchange_accounts WHERE id = ?").bind(acc.id).first();
    const creds = await decryptAccountCredentials(onlyNew as Env, { id: acc.id, credentialsEnc: (row as any).credentials_enc } as never, db);
    expect(creds.key).toBe(acc.keys.key);

    // From scratch again: nothing left to do.
    const again = await rotateSecrets(both, db, { limit: 100 });
    expect(again).toMatchObject({ rotated: { accounts: 0, webhookSecrets: 0 }, done: true, cursor: null });
  }, 60_000);

  it("reports a secret whose key is gone by id, and goes on with the rest", async () => {
    const u = await registerUser("rot-lost");
    await env.DB.prepare("INSERT INTO notification_channels (user_id, config, updated_at) VALUES (?, ?, ?)")
      .bind(u.userId, JSON.stringify({ webhook: { url: "https://example.com/h", secretEnc: "v1:k0:AAAAAAAAAAAAAAAA:AAAA" } }), Date.now()).run();
    const r = await rotateSecrets(both, getDb(env), { limit: 500 });
    expect(r.failed).toContainEqual({ kind: "webhook", id: u.userId });
    expect(r.done).toBe(false);
    expect(r.remaining.webhookSecrets).toBeGreaterThanOrEqual(1);
    await env.DB.prepare("DELETE FROM notification_channels WHERE user_id = ?").bind(u.userId).run();
  }, 30_000);

  it("is an operator route that answers the report", async () => {
    const u = await registerUser("rot-user");
    expect((await api("POST", "/v1/admin/credentials/rotate", { token: u.token })).status).toBe(403);
  }, 30_000);
});
