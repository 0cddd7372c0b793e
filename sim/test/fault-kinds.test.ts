/**
 * The fault kinds the soak (bench/soak.mjs) needs beyond errors, 429s and drops: answers held
 * past the client's timeout (applied at once), writes applied after the client gave up, the
 * trader's own requests through the harness header (never faulted), API key revocation, the
 * per-kind counters of what was injected, and the control API's view of an account's trades.
 */
import { env } from "cloudflare:workers";
import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { EXCHANGE_NAME } from "../src/exchange-do";
import { HARNESS_HEADER } from "../src/rest-routes";
import { signedHeaders, streamAuthParams } from "../src/signing";
import { BASE, control, newKeys, ok, openStream, rest, setPrice, sim, type Keys } from "./helpers";

const exchange = () => env.EXCHANGE.getByName(EXCHANGE_NAME);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let keys: Keys;

beforeEach(async () => {
  await control("POST", "/reset");
  await setPrice(50_000);
  keys = await newKeys(1_000_000);
});

/** A signed REST call the client abandons after `giveUpMs` (its request timeout). */
async function impatient(k: Keys, method: string, path: string, body: unknown, giveUpMs: number, extra: Record<string, string> = {}) {
  const url = `${BASE}/v3${path}`;
  const raw = JSON.stringify(body);
  const headers = { ...(await signedHeaders(k, method, url, raw)), "content-type": "application/json", ...extra };
  try {
    const res = await exports.default.fetch(url, { method, headers, body: raw, signal: AbortSignal.timeout(giveUpMs) });
    await res.arrayBuffer();
    return res.status;
  } catch (e) {
    return (e as Error).name;
  }
}

const marginOf = async (k: Keys, id: string) => (await control<any[]>("GET", `/trades?key=${k.key}`)).find((t) => t.id === id)!.margin as number;

describe("held answers and late landings", () => {
  it("answerDelay applies the order at once and answers late: the client times out, the order has landed", async () => {
    const t = await ok(keys, "POST", "/futures/isolated/trade", { type: "market", side: "buy", leverage: 10, quantity: 100 });
    await control("POST", "/faults", { answerDelay: { rate: 1, ms: 600 } });
    expect(await impatient(keys, "POST", "/futures/isolated/trade/add-margin", { id: t.id, amount: 1_000 }, 150)).toBe("TimeoutError");
    expect(await marginOf(keys, t.id)).toBe(t.margin + 1_000);
    const log = (await control<any[]>("GET", `/orders?key=${keys.key}`)).filter((o) => o.route.endsWith("/add-margin"));
    expect(log).toEqual([expect.objectContaining({ status: 200 })]);
    // Reads are held too.
    const t0 = Date.now();
    expect((await rest(keys, "GET", "/account")).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(590);
    await sleep(600); // the held answer goes out before the next test resets
  });

  it("lateLanding applies a write after the client gave up; reads are not held", async () => {
    const t = await ok(keys, "POST", "/futures/isolated/trade", { type: "market", side: "buy", leverage: 10, quantity: 100 });
    await control("POST", "/faults", { lateLanding: { rate: 1, minMs: 500, maxMs: 500 } });
    const t0 = Date.now();
    expect((await rest(keys, "GET", "/account")).status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(400);
    expect(await impatient(keys, "POST", "/futures/isolated/trade/add-margin", { id: t.id, amount: 1_000 }, 100)).toBe("TimeoutError");
    expect(await marginOf(keys, t.id)).toBe(t.margin); // not yet
    await sleep(700);
    expect(await marginOf(keys, t.id)).toBe(t.margin + 1_000); // landed after the client gave up
    const [o] = (await control<any[]>("GET", `/orders?key=${keys.key}`)).filter((x) => x.route.endsWith("/add-margin"));
    expect(o.status).toBe(200);
    expect(o.handledAt - o.at).toBeGreaterThanOrEqual(490);
    expect((await control<any>("GET", "/faults/injected")).late_landing).toBe(1);
  });

  it("rejects a lateLanding window with maxMs under minMs, naming the field", async () => {
    const r = await sim("/__sim/faults", { method: "POST", body: JSON.stringify({ lateLanding: { rate: 1, minMs: 500, maxMs: 100 } }) });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { field: string }).field).toContain("maxMs");
  });

  it("a harness request (the trader acting by hand) is never faulted and is marked in the order log", async () => {
    const t = await ok(keys, "POST", "/futures/isolated/trade", { type: "market", side: "buy", leverage: 10, quantity: 100 });
    await control("POST", "/faults", { restErrorRate: 1, answerDelay: { rate: 1, ms: 5_000 } });
    expect(await impatient(keys, "POST", "/futures/isolated/trade/add-margin", { id: t.id, amount: 500 }, 2_000, { [HARNESS_HEADER]: "trader" })).toBe(200);
    expect((await rest(keys, "POST", "/futures/isolated/trade/add-margin", { id: t.id, amount: 500 })).status).toBe(503);
    const log = (await control<any[]>("GET", `/orders?key=${keys.key}`)).filter((o) => o.route.endsWith("/add-margin"));
    expect(log.map((o) => [o.status, o.harness])).toEqual([[200, "trader"], [503, undefined]]);
  });
});

describe("key revocation", () => {
  it("a revoked key gets 401 on REST and on the stream, its sockets are closed; restore brings it back", async () => {
    const s = await openStream();
    expect((await s.call("authenticate", await streamAuthParams(keys))).result.authenticated).toBe(true);
    const other = await newKeys(1_000);
    const r = await control<any>("POST", `/keys/${keys.key}/revoke`);
    expect(r).toMatchObject({ key: keys.key, revoked: true, socketsClosed: 1 });
    expect((await s.closed()).code).toBe(1008);
    const refused = await rest(keys, "GET", "/account");
    expect(refused.status).toBe(401);
    expect(refused.json).toMatchObject({ code: "INVALID_API_KEY" });
    expect((await rest(other, "GET", "/account")).status).toBe(200);
    const s2 = await openStream();
    expect((await s2.call("authenticate", await streamAuthParams(keys))).error).toMatchObject({ code: -32002 });
    s2.close();
    await control("POST", `/keys/${keys.key}/restore`);
    expect((await rest(keys, "GET", "/account")).status).toBe(200);
    expect((await sim("/__sim/keys/nope/revoke", { method: "POST" })).status).toBe(404);
  });
});

describe("injected fault counters", () => {
  it("count every fault by kind, survive eviction, and reset with the exchange", async () => {
    const t = await ok(keys, "POST", "/futures/isolated/trade", { type: "market", side: "buy", leverage: 10, quantity: 100 });
    await control("POST", "/faults", { restErrorRate: 1 });
    for (let i = 0; i < 3; i++) await rest(keys, "GET", "/account");
    await control("POST", "/faults", { rateLimit: { perSecond: 1 } });
    for (let i = 0; i < 3; i++) await rest(keys, "GET", "/account");
    await control("POST", "/faults", { latencyMs: 1, answerDelay: { rate: 1, ms: 1 } });
    await rest(keys, "GET", "/account");
    const s = await openStream();
    await s.call("ping");
    await control("POST", "/faults", { dropSocketsEveryMs: 60_000 });
    expect(await runDurableObjectAlarm(exchange())).toBe(true);
    await s.closed();
    await control("DELETE", "/faults");
    await control("POST", "/funding", { rate: 0.0001 });
    await control("POST", `/keys/${keys.key}/revoke`);
    const counts = await control<any>("GET", "/faults/injected");
    expect(counts).toMatchObject({ rest_5xx: 3, rate_limited_429: 2, latency: 1, answer_delayed: 1, late_landing: 0, socket_drop: 1, funding_settlement: 1, key_revoked: 1 });
    expect(counts.total).toBe(10);
    expect((await control<any>("GET", "/state")).injected).toEqual(counts);
    await evictDurableObject(exchange());
    expect(await control<any>("GET", "/faults/injected")).toEqual(counts);
    // The trades route sees the trade the revoked key cannot.
    expect((await control<any[]>("GET", `/trades?key=${keys.key}`)).map((x) => x.id)).toEqual([t.id]);
    expect((await sim("/__sim/trades")).status).toBe(400);
    expect((await sim("/__sim/trades?key=unknown")).status).toBe(404);
    expect((await control<any>("DELETE", "/faults/injected")).total).toBe(0);
    await control("POST", "/faults", { restErrorRate: 1 });
    await rest(keys, "GET", "/account");
    await control("POST", "/reset");
    expect((await control<any>("GET", "/faults/injected")).total).toBe(0);
  });
});
