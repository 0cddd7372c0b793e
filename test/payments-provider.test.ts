/**
 * The LNbits provider on its own: transport chosen by configuration, request shape, timeouts,
 * error classification, and the API key kept out of every error. The last test speaks to the
 * simulator's fake LNbits through the configured env, as the platform does.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { fetchFor } from "../src/lib/local-transport";
import { lightningProviderFromEnv, LnbitsProvider } from "../src/lightning/lnbits";
import { LightningError } from "../src/lightning/provider";
import { sim } from "./sim-helpers";

const KEY = "super-secret-invoice-key-123";
const HASH = "ab".repeat(32);

function provider(respond: (req: Request) => Promise<Response> | Response, timeoutMs = 1000) {
  const seen: Request[] = [];
  const p = new LnbitsProvider({
    baseUrl: "https://lnbits.example/",
    apiKey: KEY,
    timeoutMs,
    now: () => 1_000_000,
    fetch: async (input, init) => {
      const req = new Request(input, init);
      seen.push(req.clone());
      return respond(req);
    },
  });
  return { p, seen };
}

async function failure(promise: Promise<unknown>): Promise<LightningError> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(LightningError);
    expect((e as Error).message).not.toContain(KEY);
    return e as LightningError;
  }
  throw new Error("expected a failure");
}

describe("local transport", () => {
  const binding = { fetch: async () => new Response("via binding") };
  const SIM_URL = "http://127.0.0.1:8788/lnbits/api/v1/payments";
  const through = async (e: Parameters<typeof fetchFor>[0], url: string) => {
    const spy = vi.spyOn(globalThis, "fetch").mockResolvedValue(new Response("via global"));
    try {
      return await (await fetchFor(e, url)(url)).text();
    } finally {
      spy.mockRestore();
    }
  };

  it("uses the simulator binding only for the simulator's origin", async () => {
    const e = { LNM_SIMULATOR_URL: "http://127.0.0.1:8788", LNM_SIM: binding };
    expect(await through(e, SIM_URL)).toBe("via binding");
    expect(await through(e, "https://lnbits.example/api/v1/payments")).toBe("via global");
    expect(await through(e, "http://127.0.0.1:9999/lnbits")).toBe("via global");
  });

  it("falls back to global fetch without a binding or without a simulator URL", async () => {
    expect(await through({ LNM_SIMULATOR_URL: "http://127.0.0.1:8788" }, SIM_URL)).toBe("via global");
    expect(await through({ LNM_SIM: binding }, SIM_URL)).toBe("via global");
    expect(await through({ LNM_SIMULATOR_URL: "not a url", LNM_SIM: binding }, SIM_URL)).toBe("via global");
  });
});

describe("LNbits provider", () => {
  it("creates an invoice with out:false, amount, memo, expiry and the X-Api-Key header", async () => {
    const { p, seen } = provider(() => Response.json({ payment_hash: HASH.toUpperCase(), payment_request: "lnbc500u1pexample" }, { status: 201 }));
    const inv = await p.createInvoice({ amountSats: 50_000, memo: "Pro", expirySeconds: 3600 });
    expect(inv).toEqual({ paymentHash: HASH, paymentRequest: "lnbc500u1pexample", expiresAt: 1_000_000 + 3_600_000 });
    const req = seen[0]!;
    expect(req.method).toBe("POST");
    expect(req.url).toBe("https://lnbits.example/api/v1/payments");
    expect(req.headers.get("x-api-key")).toBe(KEY);
    expect(await req.json()).toEqual({ out: false, amount: 50_000, memo: "Pro", expiry: 3600 });
  });

  it("checks an invoice by hash", async () => {
    const { p, seen } = provider(() => Response.json({ paid: true, status: "success" }));
    expect(await p.checkInvoice(HASH)).toEqual({ paid: true });
    expect(seen[0]!.url).toBe(`https://lnbits.example/api/v1/payments/${HASH}`);
  });

  it("classifies failures: temporary for timeout, network, 429, 5xx; permanent for auth, 404, bad responses", async () => {
    const hang = provider(() => new Promise<Response>(() => undefined), 30);
    expect(await failure(hang.p.checkInvoice(HASH))).toMatchObject({ kind: "temporary", code: "timeout" });
    const down = provider(() => { throw new TypeError("connection refused"); });
    expect(await failure(down.p.checkInvoice(HASH))).toMatchObject({ kind: "temporary", code: "network" });
    const cases: [Response, string, string][] = [
      [Response.json({ detail: "busy" }, { status: 429 }), "temporary", "rate_limited"],
      [Response.json({ detail: "Lightning backend unavailable" }, { status: 503 }), "temporary", "server_error"],
      [Response.json({ detail: "Invoice (or Admin) key required." }, { status: 401 }), "permanent", "unauthorized"],
      [Response.json({ detail: "Payment does not exist." }, { status: 404 }), "permanent", "not_found"],
      [new Response("<html>proxy</html>", { status: 200 }), "permanent", "invalid_response"],
      [Response.json({ paid: "yes" }), "permanent", "invalid_response"],
    ];
    for (const [res, kind, code] of cases) {
      const e = await failure(provider(() => res).p.checkInvoice(HASH));
      expect(e, code).toMatchObject({ kind, code });
    }
    const e = await failure(provider(() => Response.json({ detail: "Lightning backend unavailable" }, { status: 503 })).p.checkInvoice(HASH));
    expect(e.message).toBe("check invoice: provider answered 503: Lightning backend unavailable");
    expect(e.retryable).toBe(true);
  });

  it("a failing LNbits is left alone while its breaker is open, and calls are rate limited", async () => {
    // Defect: the provider had no breaker or rate limit: every payment check hit an LNbits
    // that kept failing, as fast as the queue delivered them.
    let now = 1_000_000;
    let calls = 0;
    const failing = new LnbitsProvider({ baseUrl: "https://lnbits.example/", apiKey: KEY, timeoutMs: 1000, now: () => now,
      fetch: async () => { calls++; return new Response("boom", { status: 503 }); } });
    for (let i = 0; i < 10; i++) {
      now += 200;
      expect((await failure(failing.checkInvoice(HASH))).code).toBe("server_error");
    }
    expect(calls).toBe(10);
    now += 200;
    const open = await failure(failing.checkInvoice(HASH));
    expect(open).toMatchObject({ kind: "temporary", code: "circuit_open" });
    expect(calls).toBe(10);
    // 30 s later one probe goes through.
    now += 30_000;
    await failure(failing.checkInvoice(HASH));
    expect(calls).toBe(11);

    let served = 0;
    const burst = new LnbitsProvider({ baseUrl: "https://lnbits.example/", apiKey: KEY, timeoutMs: 1000, now: () => 2_000_000,
      fetch: async () => { served++; return Response.json({ paid: false }); } });
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => burst.checkInvoice(HASH)));
    expect(served).toBe(10);
    expect(results.filter((r) => r.status === "rejected").map((r) => ((r as PromiseRejectedResult).reason as LightningError).code)).toEqual(["rate_limited", "rate_limited"]);
  });

  it("refuses a malformed hash and a missing configuration as permanent errors", async () => {
    expect(await failure(provider(() => Response.json({ paid: true })).p.checkInvoice("../admin"))).toMatchObject({ kind: "permanent" });
    expect(() => lightningProviderFromEnv({ LIGHTNING_URL: "", LIGHTNING_API_KEY: KEY })).toThrow(/not configured/);
    expect(() => lightningProviderFromEnv({ LIGHTNING_URL: "nope", LIGHTNING_API_KEY: KEY })).toThrow(/not a valid URL/);
  });

  it("talks to the simulator's fake LNbits through the configured env", async () => {
    const p = lightningProviderFromEnv(env);
    const inv = await p.createInvoice({ amountSats: 1234, memo: "provider test", expirySeconds: 600 });
    expect(await p.checkInvoice(inv.paymentHash)).toEqual({ paid: false });
    await sim("POST", `/__sim/invoices/${inv.paymentHash}/pay`);
    expect(await p.checkInvoice(inv.paymentHash)).toEqual({ paid: true });
  });
});
