import { exports } from "cloudflare:workers";
import { createHttpClient } from "@ln-markets/sdk/rest/v3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// The SDK's own signing (node:crypto), not exported by the package: imported by file.
import { buildSignaturePayload, signRequest } from "../../node_modules/@ln-markets/sdk/dist/rest/v3/internal/signing.js";
import { hmacBase64, restPayload, signedHeaders } from "../src/signing";
import { newKeys, rest, setPrice, sim, type Keys } from "./helpers";

let keys: Keys;
const realFetch = globalThis.fetch;

beforeAll(async () => {
  keys = await newKeys(5_000_000);
  await setPrice(50_000);
  // The SDK has fixed hosts: route its mainnet host to the simulator, nothing else changes.
  globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    if (url.host !== "api.lnmarkets.com") return realFetch(input, init);
    return exports.default.fetch(new Request(`http://sim${url.pathname}${url.search}`, req));
  };
});

afterAll(() => {
  globalThis.fetch = realFetch;
});

describe("the official SDK against the simulator", () => {
  it("signs requests the simulator accepts: GET, POST with a body, PUT, DELETE with a query", async () => {
    const client = createHttpClient({ key: keys.key, secret: keys.secret, passphrase: keys.passphrase });
    expect(await client.ping()).toBe("pong");
    const account = await client.account.get();
    expect(account).toMatchObject({ id: keys.accountId, balance: 5_000_000 });

    const trade = await client.futures.isolated.newTrade({
      type: "market",
      side: "buy",
      leverage: 10,
      quantity: 100,
      clientId: "sdk-1",
    });
    // A market buy fills at the offer: last 50,000 + half the default 5 USD spread.
    expect(trade).toMatchObject({ running: true, quantity: 100, clientId: "sdk-1", entryPrice: 50_002.5 });

    const withTp = await client.futures.isolated.updateTakeprofit({ id: trade.id, value: 60_000 });
    expect(withTp.takeprofit).toBe(60_000);
    const withoutTp = await client.futures.isolated.removeTakeprofit({ id: trade.id });
    expect(withoutTp.takeprofit).toBe(0);

    // Trailing: value is a distance as a fraction of price (5 % under the last price).
    const trailing = await client.futures.isolated.updateStoploss({ id: trade.id, value: 0.05, mode: "trailing" });
    expect(trailing).toMatchObject({ stoploss: 47_500, stoplossTrailingDistance: 0.05 });
    expect((await client.futures.isolated.removeStoploss({ id: trade.id })).stoploss).toBe(0);
    expect(await client.futures.getTicker()).toMatchObject({ lastPrice: 50_000 });

    const limit = await client.futures.isolated.newTrade({ type: "limit", side: "buy", leverage: 5, price: 40_000, margin: 10_000 });
    expect(limit).toMatchObject({ open: true, running: false, price: 40_000, quantity: 20 });
    expect((await client.futures.isolated.getOpenTrades()).map((t) => t.id)).toEqual([limit.id]);
    expect(await client.futures.isolated.cancel({ id: limit.id })).toMatchObject({ canceled: true });

    const running = await client.futures.isolated.getRunningTrades();
    expect(running.map((t) => t.id)).toEqual([trade.id]);
    const closed = await client.futures.isolated.close({ id: trade.id });
    // Closed by hand: a long sells at the bid.
    expect(closed).toMatchObject({ closed: true, running: false, exitPrice: 49_997.5 });
    const page = await client.futures.isolated.getClosedTrades({ limit: 10 });
    expect(page.data.map((t) => t.id).sort()).toEqual([trade.id, limit.id].sort());
    expect(page.nextCursor).toBeNull();
  });

  it("computes the same canonical string and signature as our WebCrypto signer", async () => {
    const input = { timestamp: 1_700_000_000_000, method: "POST", pathname: "/v3/futures/isolated/trade", data: '{"a":1}' };
    expect(restPayload(input.timestamp, input.method, input.pathname, input.data)).toBe(buildSignaturePayload(input));
    const payload = buildSignaturePayload(input);
    expect(await hmacBase64("s3cret", payload)).toBe(signRequest("s3cret", payload));
  });
});

describe("requests signed any other way are refused", () => {
  async function withHeaders(method: string, path: string, headers: Record<string, string>, body?: string) {
    const res = await sim(`/v3${path}`, { method, headers, ...(body ? { body } : {}) });
    return { status: res.status, json: (await res.json()) as { message: string } };
  }

  const variants: Array<[string, (ts: number, body: string) => string]> = [
    ["uppercase method", (ts, body) => `${ts}POST/v3/futures/isolated/trade${body}`],
    ["pathname without /v3", (ts, body) => `${ts}post/futures/isolated/trade${body}`],
    ["a different body than the one sent", (ts) => `${ts}post/v3/futures/isolated/trade{}`],
    ["no timestamp", (_ts, body) => `post/v3/futures/isolated/trade${body}`],
  ];

  for (const [name, canonical] of variants) {
    it(`refuses a signature over ${name}`, async () => {
      const body = JSON.stringify({ type: "market", side: "buy", leverage: 2, quantity: 10 });
      const ts = Date.now();
      const r = await withHeaders(
        "POST",
        "/futures/isolated/trade",
        {
          "lnm-access-key": keys.key,
          "lnm-access-passphrase": keys.passphrase,
          "lnm-access-timestamp": String(ts),
          "lnm-access-signature": signRequest(keys.secret, canonical(ts, body)),
          "content-type": "application/json",
        },
        body,
      );
      expect(r.status).toBe(401);
      expect(r.json.message).toBe("Invalid signature");
    });
  }

  it("refuses a hex digest instead of base64", async () => {
    const ts = Date.now();
    const payload = `${ts}get/v3/account`;
    const bytes = new Uint8Array(
      await crypto.subtle.sign(
        "HMAC",
        await crypto.subtle.importKey("raw", new TextEncoder().encode(keys.secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
        new TextEncoder().encode(payload),
      ),
    );
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    const r = await withHeaders("GET", "/account", {
      "lnm-access-key": keys.key,
      "lnm-access-passphrase": keys.passphrase,
      "lnm-access-timestamp": String(ts),
      "lnm-access-signature": hex,
    });
    expect(r.status).toBe(401);
  });

  it("signs the query string of a GET with its leading ?", async () => {
    const url = "http://sim/v3/futures/isolated/trades/closed?limit=5";
    const good = await sim("/v3/futures/isolated/trades/closed?limit=5", { headers: await signedHeaders(keys, "GET", url) });
    expect(good.status).toBe(200);
    // Signed without the query: refused.
    const bad = await sim("/v3/futures/isolated/trades/closed?limit=5", {
      headers: await signedHeaders(keys, "GET", "http://sim/v3/futures/isolated/trades/closed"),
    });
    expect(bad.status).toBe(401);
  });
});

describe("401s", () => {
  it("wrong signature", async () => {
    const r = await rest({ ...keys, secret: "not-the-secret" }, "GET", "/account");
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ message: "Invalid signature", code: "INVALID_SIGNATURE" });
  });

  it("unknown key", async () => {
    const r = await rest({ ...keys, key: "no-such-key" }, "GET", "/account");
    expect(r.status).toBe(401);
    expect(r.json.message).toBe("Invalid API key");
  });

  it("wrong passphrase", async () => {
    const r = await rest({ ...keys, passphrase: "nope" }, "GET", "/account");
    expect(r.status).toBe(401);
    expect(r.json.message).toBe("Invalid passphrase");
  });

  it("stale timestamp (31 s old), correctly signed", async () => {
    const url = "http://sim/v3/account";
    const res = await sim("/v3/account", { headers: await signedHeaders(keys, "GET", url, "", Date.now() - 31_000) });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe("TIMESTAMP_EXPIRED");
    const fresh = await sim("/v3/account", { headers: await signedHeaders(keys, "GET", url, "", Date.now() - 20_000) });
    expect(fresh.status).toBe(200);
  });

  it("missing headers", async () => {
    const res = await sim("/v3/account");
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ message: "Missing authentication headers" });
  });

  it("public routes need no signature", async () => {
    expect(await (await sim("/v3/ping")).json()).toBe("pong");
    expect(await (await sim("/v3/futures/ticker")).json()).toMatchObject({ lastPrice: 50_000, index: 50_000 });
    const time = (await (await sim("/v3/time")).json()) as { time: string };
    expect(Math.abs(Date.parse(time.time) - Date.now())).toBeLessThan(5_000);
  });

  it("never echoes the secret", async () => {
    const r = await rest({ ...keys, secret: "x" }, "GET", "/account");
    expect(JSON.stringify(r.json)).not.toContain(keys.secret);
  });
});
