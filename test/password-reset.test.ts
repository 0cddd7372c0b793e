/**
 * Issue 22, item 6: password reset by email. The request answers 202 whatever the email, mails
 * a single-use token valid 30 min (stored hashed), and the confirm sets the password under the
 * registration rules and ends every session.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { sha256Hex } from "../src/lib/crypto";
import { RESET_TTL_MS } from "../src/api/password-reset";
import { runRetention } from "../src/ops/retention";
import { api, BASE, captureLogs, registerUser, uniqueEmail } from "./helpers";
import { clearInbox, eventually, inbox } from "./notifications-helpers";

beforeEach(async () => {
  await clearInbox();
});

const mailsTo = async (email: string) => (await inbox("email")).filter((e) => e.json?.to === email);

/** Asks for a reset of `email` and returns the token from the email it receives. */
async function resetToken(email: string, nth = 1): Promise<string> {
  const r = await api("POST", "/v1/auth/password-reset", { body: { email } });
  expect(r.status).toBe(202);
  const mails = await eventually(async () => {
    const m = await mailsTo(email);
    return m.length >= nth ? m : null;
  });
  return /\b(pwr_[A-Za-z0-9_-]{43})\b/.exec(mails[nth - 1]!.json.text)![1]!;
}

const confirm = (token: string, password: string) => api("POST", "/v1/auth/password-reset/confirm", { body: { token, password } });

describe("POST /v1/auth/password-reset", () => {
  it("is in the OpenAPI document with its confirm route", async () => {
    const doc = await api("GET", "/openapi.json");
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(["/v1/auth/password-reset", "/v1/auth/password-reset/confirm"]));
    expect(doc.body.paths["/v1/auth/password-reset"].post.responses).toHaveProperty("202");
  });

  it("answers the same 202 for an unknown email and sends it nothing", async () => {
    const u = await registerUser("reset-known");
    const unknown = uniqueEmail("reset-unknown");
    const a = await api("POST", "/v1/auth/password-reset", { body: { email: unknown } });
    const b = await api("POST", "/v1/auth/password-reset", { body: { email: u.email } });
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body).toEqual(b.body);
    await eventually(async () => ((await mailsTo(u.email)).length === 1 ? true : null));
    expect(await mailsTo(unknown)).toEqual([]);
    const [mail] = await mailsTo(u.email);
    expect(mail!.json.subject).toContain("Password reset");
    expect(mail!.json.text).toContain("/v1/auth/password-reset/confirm");
    // The link opens the console's reset page with the token in the fragment (never sent to a server).
    const token = /\b(pwr_[A-Za-z0-9_-]{43})\b/.exec(mail!.json.text)![1]!;
    expect(mail!.json.text).toContain(`Choose a new password here: ${new URL(BASE).origin}/app#/reset?token=${token}\n`);
  });

  it("stores only the token's hash, valid 30 minutes", async () => {
    const u = await registerUser("reset-hash");
    const before = Date.now();
    const token = await resetToken(u.email);
    const { results } = await env.DB.prepare("SELECT * FROM password_resets WHERE user_id = ?").bind(u.userId).all<any>();
    expect(results).toHaveLength(1);
    expect(results[0].id).toBe(await sha256Hex(token));
    expect(JSON.stringify(results)).not.toContain(token.slice(4));
    expect(results[0].expires_at).toBeGreaterThanOrEqual(before + RESET_TTL_MS);
    expect(results[0].expires_at).toBeLessThanOrEqual(Date.now() + RESET_TTL_MS);
  });

  it("is rate limited per email with 429 and retry-after", async () => {
    const email = uniqueEmail("reset-flood");
    let got;
    for (let i = 0; i < 21 && !got; i++) {
      const r = await api("POST", "/v1/auth/password-reset", { body: { email } });
      if (r.status === 429) got = r;
      else expect(r.status).toBe(202);
    }
    expect(got, "no 429 within 21 requests").toBeDefined();
    expect(got!.headers.get("retry-after")).toBe("60");
    expect(got!.body.error.code).toBe("rate_limited");
  });

  it("answers 400 naming the field for bad input", async () => {
    for (const [body, field] of [[{ email: "not-an-email" }, "email"], [{}, "email"], [{ email: "a@example.test", x: 1 }, ""]] as const) {
      const r = await api("POST", "/v1/auth/password-reset", { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      if (field) expect(r.body.error.details[0].path).toBe(field);
    }
  });
});

describe("POST /v1/auth/password-reset/confirm", () => {
  it("sets the new password, ends every session and works once; the token never reaches a log line", async () => {
    const u = await registerUser("reset-confirm");
    const second = await api("POST", "/v1/auth/login", { body: { email: u.email, password: u.password } });
    const { result: token, lines } = await captureLogs(() => resetToken(u.email));
    const { result: ok, lines: confirmLines } = await captureLogs(() => confirm(token, "the-reset-password"));
    expect(ok.status).toBe(204);
    expect(lines.some((l) => l.includes("auth.password_reset_requested"))).toBe(true);
    for (const line of [...lines, ...confirmLines]) expect(line).not.toContain(token.slice(4));
    for (const t of [u.token, second.body.token]) expect((await api("GET", "/v1/me", { token: t })).status).toBe(401);
    expect((await api("POST", "/v1/auth/login", { body: { email: u.email, password: u.password } })).status).toBe(401);
    const login = await api("POST", "/v1/auth/login", { body: { email: u.email, password: "the-reset-password" } });
    expect(login.status).toBe(200);
    expect((await api("GET", "/v1/me", { token: login.body.token })).status).toBe(200);

    const reused = await confirm(token, "another-password-1");
    expect(reused.status).toBe(400);
    expect(reused.body.error.details[0].path).toBe("token");
    expect((await api("POST", "/v1/auth/login", { body: { email: u.email, password: "another-password-1" } })).status).toBe(401);
    const { results } = await env.DB.prepare("SELECT id FROM password_resets WHERE user_id = ?").bind(u.userId).all();
    expect(results).toEqual([]);
  }, 30_000);

  it("refuses an expired token, a replaced token and an unknown one, naming `token`", async () => {
    const u = await registerUser("reset-expired");
    const first = await resetToken(u.email, 1);
    const second = await resetToken(u.email, 2);
    const replaced = await confirm(first, "the-reset-password");
    expect(replaced.status).toBe(400);
    expect(replaced.body.error.details[0].path).toBe("token");

    await env.DB.prepare("UPDATE password_resets SET expires_at = ? WHERE user_id = ?").bind(Date.now() - 1, u.userId).run();
    const expired = await confirm(second, "the-reset-password");
    expect(expired.status).toBe(400);
    expect(expired.body.error.details[0].path).toBe("token");
    expect((await api("POST", "/v1/auth/login", { body: { email: u.email, password: u.password } })).status).toBe(200);

    const unknown = await confirm(`pwr_${"A".repeat(43)}`, "the-reset-password");
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details[0].path).toBe("token");

    // Retention prunes expired tokens a day after expiry.
    await runRetention(env, { now: Date.now() + 2 * 86_400_000 });
    expect((await env.DB.prepare("SELECT count(*) AS n FROM password_resets WHERE user_id = ?").bind(u.userId).first<{ n: number }>())!.n).toBe(0);
  }, 30_000);

  it("applies the registration rules to the password and answers 400s, never 500s", async () => {
    const u = await registerUser("reset-rules");
    const token = await resetToken(u.email);
    const short = await confirm(token, "short");
    expect(short.status).toBe(400);
    expect(short.body.error.details[0].path).toBe("password");
    for (const body of [{ token }, { token: "nope", password: "long-enough-password" }, { token, password: "long-enough-password", extra: 1 }]) {
      const r = await api("POST", "/v1/auth/password-reset/confirm", { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    expect((await api("POST", "/v1/auth/password-reset/confirm", { rawBody: "token=x", headers: { "content-type": "text/plain" } })).status).toBe(415);
    // The refusals did not use the token up.
    expect((await confirm(token, "long-enough-password")).status).toBe(204);
  }, 30_000);
});
