/** Issue 22, item 7: PBKDF2-SHA256 at 600,000 iterations with a pepper; old hashes upgraded on login. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { PBKDF2_ITERATIONS, checkPassword, hashPassword } from "../src/lib/crypto";
import { toBase64 } from "../src/lib/encoding";
import { api, uniqueEmail } from "./helpers";

const PEPPER = "test-password-pepper-at-least-32-bytes!";

/** The hash the platform stored before issue 22: 100,000 iterations, no pepper. */
async function legacyHash(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations: 100_000 }, key, 256);
  return `pbkdf2-sha256$100000$${toBase64(salt)}$${toBase64(new Uint8Array(bits))}`;
}

describe("password hashing", () => {
  it("hashes at 600,000 iterations, peppered; the pepper is needed to verify", async () => {
    expect(PBKDF2_ITERATIONS).toBe(600_000);
    const h = await hashPassword("correct-horse", PEPPER);
    expect(h).toMatch(/^pbkdf2-sha256\$600000\$[^$]+\$[^$]+\$pepper$/);
    expect(await checkPassword("correct-horse", h, PEPPER)).toEqual({ ok: true, needsRehash: false });
    expect((await checkPassword("wrong-horse", h, PEPPER)).ok).toBe(false);
    expect((await checkPassword("correct-horse", h, "another-pepper-of-at-least-32-bytes!!")).ok).toBe(false);
    expect((await checkPassword("correct-horse", h, undefined)).ok).toBe(false);
  });

  it("re-hashes a legacy 100,000-iteration hash on the next login, transparently", async () => {
    const email = uniqueEmail("legacy");
    const password = "legacy-password";
    const now = Date.now();
    const id = `usr_legacy${now}`;
    await env.DB.prepare("INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)").bind(id, email, await legacyHash(password), now, now).run();
    const first = await api("POST", "/v1/auth/login", { body: { email, password } });
    expect(first.status).toBe(200);
    const row = await env.DB.prepare("SELECT password_hash FROM users WHERE id = ?").bind(id).first<{ password_hash: string }>();
    expect(row!.password_hash).toMatch(/^pbkdf2-sha256\$600000\$[^$]+\$[^$]+\$pepper$/);
    const again = await api("POST", "/v1/auth/login", { body: { email, password } });
    expect(again.status).toBe(200);
    expect((await api("POST", "/v1/auth/login", { body: { email, password: "not-it" } })).status).toBe(401);
  }, 30_000);
});
