/**
 * Our WebCrypto signing against the official SDK's own functions (node:crypto under
 * nodejs_compat), for the same inputs.
 */
import { describe, expect, it } from "vitest";
// The SDK's package exports hide its internals; its built files are imported by path.
import { buildSignaturePayload as sdkPayload, signRequest as sdkSign } from "../../node_modules/@ln-markets/sdk/dist/rest/v3/internal/signing.js";
import { buildAuthPayload as sdkAuthPayload, signAuth as sdkSignAuth } from "../../node_modules/@ln-markets/sdk/dist/stream/v1/internal/signing.js";
import {
  buildSignaturePayload,
  buildStreamAuthPayload,
  HmacSigner,
  hmacSha256Base64,
  randomNonceHex,
  signatureData,
  signStreamAuth,
} from "../../src/lnmarkets/index.js";

const SECRET = "s3cr3t-Ünïcødé-+/=";
const TS = 1_767_225_600_123;

const cases = [
  { name: "GET without query", method: "GET", url: "https://api.lnmarkets.com/v3/futures/isolated/trades/running", body: undefined },
  {
    name: "GET with query",
    method: "GET",
    url: "https://api.lnmarkets.com/v3/futures/isolated/trades/closed?from=2026-01-01T00%3A00%3A00.000Z&limit=50&cursor=abc",
    body: undefined,
  },
  {
    name: "POST with body",
    method: "POST",
    url: "https://api.lnmarkets.com/v3/futures/isolated/trade",
    body: JSON.stringify({ leverage: 10, quantity: 100, side: "buy", type: "market", clientId: "a:b:c" }),
  },
  { name: "DELETE with query", method: "DELETE", url: "https://api.lnmarkets.com/v3/futures/isolated/trade/stoploss?id=7f9e", body: undefined },
  { name: "PUT with body", method: "PUT", url: "https://api.lnmarkets.com/v3/futures/isolated/trade/takeprofit", body: '{"id":"x","value":123456.5}' },
] as const;

describe("REST signature = SDK signature", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const url = new URL(c.url);
      // The SDK: data = body string || url.search.
      const sdkData = (typeof c.body === "string" ? c.body : "") || url.search;
      const expectedPayload = sdkPayload({ timestamp: TS, method: c.method, pathname: url.pathname, data: sdkData });
      const ours = buildSignaturePayload({ timestamp: TS, method: c.method, pathname: url.pathname, data: signatureData(url, c.body) });
      expect(ours).toBe(expectedPayload);
      expect(ours.startsWith(`${TS}${c.method.toLowerCase()}/v3/`)).toBe(true);
      expect(await new HmacSigner(SECRET).sign(ours)).toBe(sdkSign(SECRET, expectedPayload));
      expect(await hmacSha256Base64(SECRET, ours)).toBe(sdkSign(SECRET, expectedPayload));
    });
  }

  it("a reused signer gives the same results as fresh ones", async () => {
    const signer = new HmacSigner(SECRET);
    for (const p of ["a", "b", "", "ü".repeat(1000)]) {
      expect(await signer.sign(p)).toBe(sdkSign(SECRET, p));
    }
    expect(JSON.stringify({ signer })).not.toContain(SECRET);
  });
});

describe("stream authenticate signature = SDK signature", () => {
  it("base64 HMAC(secret, timestamp + nonce) with a 16-byte hex nonce", async () => {
    const nonce = randomNonceHex();
    expect(nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(randomNonceHex()).not.toBe(nonce);
    expect(buildStreamAuthPayload(TS, nonce)).toBe(sdkAuthPayload({ timestamp: TS, nonce }));
    expect(await signStreamAuth(new HmacSigner(SECRET), TS, nonce)).toBe(sdkSignAuth(SECRET, sdkAuthPayload({ timestamp: TS, nonce })));
  });
});
