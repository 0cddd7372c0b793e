import { describe, expect, it } from "vitest";
import { createLogger, REDACTED, redact, registerSecret } from "../src/lib/logger";

describe("logger redaction", () => {
  it("redacts by key name, deeply", () => {
    const out = redact({ password: "p4ss", nested: { apiSecret: "s", passphrase: "pp", list: [{ token: "t" }] }, ok: 1, key: "k" }) as any;
    expect(out).toEqual({ password: REDACTED, nested: { apiSecret: REDACTED, passphrase: REDACTED, list: [{ token: REDACTED }] }, ok: 1, key: REDACTED });
  });

  it("redacts by value: registered secrets, bearer tokens, JWTs, API tokens", () => {
    registerSecret("my-exchange-secret-value");
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    const out = redact({ msg: `failed with my-exchange-secret-value and Bearer abc.def and ${jwt} and lnma_0123456789abcdef` }) as any;
    expect(out.msg).not.toContain("my-exchange-secret-value");
    expect(out.msg).not.toContain("abc.def");
    expect(out.msg).not.toContain(jwt);
    expect(out.msg).not.toContain("lnma_0123456789abcdef");
  });

  it("strips WebSocket tickets and credentials in a URL's query, keeping the parameter names (issue 22)", () => {
    const ticket = "wst_" + "A".repeat(43);
    const url = `https://x.test/v1/simulations/sim_1/stream?after=0&ticket=${ticket}&access_token=secretvalue123&token=t0k3nvalue`;
    const out = redact({ msg: `GET ${url} failed`, url }) as any;
    for (const v of [out.msg, out.url]) {
      expect(v).not.toContain(ticket);
      expect(v).not.toContain("secretvalue123");
      expect(v).not.toContain("t0k3nvalue");
      expect(v).toContain("after=0");
      expect(v).toContain("access_token=");
    }
  });

  it("with thousands of accounts' keys registered, each one is still redacted wherever it appears", () => {
    const keys = Array.from({ length: 2_000 }, (_, i) => `acct-${String(i).padStart(4, "0")}-secret-${(i * 7919).toString(36)}`);
    for (const k of keys) registerSecret(k);
    // Two keys sharing a prefix, one inside the other: the longer goes whole.
    registerSecret("shared-prefix-key");
    registerSecret("shared-prefix-key-longer");
    const out = redact({ msg: `a ${keys[1234]} b ${keys[7]}${keys[1999]} c shared-prefix-key-longer d shared-prefix-key`, other: "no secret here" }) as any;
    expect(out.msg).toBe(`a ${REDACTED} b ${REDACTED}${REDACTED} c ${REDACTED} d ${REDACTED}`);
    expect(out.other).toBe("no secret here");
  });

  it("writes one JSON object per line with stable keys and honours the level", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "info", sink: (_l, line) => lines.push(line), now: () => 42 }).child({ accountId: "acc_1" });
    log.debug("hidden");
    log.info("shown", { secret: "x", n: 1 });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({ ts: 42, level: "info", event: "shown", accountId: "acc_1", secret: REDACTED, n: 1 });
  });

  it("survives cycles and errors", () => {
    const a: any = { name: "a" };
    a.self = a;
    const out = redact({ a, err: new Error("boom Bearer zzz") }) as any;
    expect(out.a.self).toBe("[Circular]");
    expect(out.err.message).toBe(`boom ${REDACTED}`);
  });
});
