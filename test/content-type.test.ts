/** Issue 22, item 9: a JSON route sent another content type answers 415, never 500. */
import { describe, expect, it } from "vitest";
import { api, registerUser, uniqueEmail } from "./helpers";

describe("content types", () => {
  it("answers 415 unsupported_media_type for text/plain, form data and no content type", async () => {
    const u = await registerUser("ctype");
    const body = JSON.stringify({ email: uniqueEmail(), password: "long-enough-pw" });
    const cases: [string, string, Record<string, string>, string | undefined][] = [
      ["POST", "/v1/auth/register", { "content-type": "text/plain" }, body],
      ["POST", "/v1/auth/login", { "content-type": "application/x-www-form-urlencoded" }, "email=a%40b.c&password=x"],
      ["POST", "/v1/auth/register", { "content-type": "multipart/form-data; boundary=x" }, "--x\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@b.c\r\n--x--\r\n"],
      ["PATCH", "/v1/me", { "content-type": "text/plain", authorization: `Bearer ${u.token}` }, "{}"],
      ["POST", "/v1/accounts", { "content-type": "application/xml", authorization: `Bearer ${u.token}` }, "<a/>"],
    ];
    for (const [method, path, headers, raw] of cases) {
      const r = await api(method, path, { headers, rawBody: raw });
      expect(r.status, `${method} ${path} ${headers["content-type"]}`).toBe(415);
      expect(r.body.error.code).toBe("unsupported_media_type");
    }
  });

  it("accepts application/json with a charset, and a body with no content type is 415", async () => {
    const ok = await api("POST", "/v1/auth/register", { headers: { "content-type": "application/json; charset=utf-8" }, body: { email: uniqueEmail(), password: "long-enough-pw" } });
    expect(ok.status).toBe(201);
    const res = await api("POST", "/v1/auth/login", { headers: { "content-type": "" }, rawBody: "{}" });
    expect([400, 415]).toContain(res.status);
  });

  it("a wrong method on a known path is 404 or 405, never 500", async () => {
    for (const [m, p] of [["PUT", "/v1/auth/login"], ["DELETE", "/v1/auth/register"], ["PATCH", "/v1/plans"]] as const) {
      const r = await api(m, p, { body: {} });
      expect(r.status).toBeLessThan(500);
      expect(typeof r.body.error.code).toBe("string");
    }
  });
});
