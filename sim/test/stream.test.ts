import { env } from "cloudflare:workers";
import { evictDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
// The SDK's own stream signing (node:crypto): `${timestamp}${nonce}` keyed by the secret.
import { buildAuthPayload, signAuth } from "../../node_modules/@ln-markets/sdk/dist/stream/v1/internal/signing.js";
import { EXCHANGE_NAME } from "../src/exchange-do";
import { streamAuthParams } from "../src/signing";
import { control, LAST_PRICE_TOPIC, newKeys, ok, openStream, setPrice, TRADES_TOPIC, type Keys } from "./helpers";

/** authenticate params exactly as the SDK's createAuthenticate builds them. */
function sdkAuthParams(k: Keys, timestamp = Date.now()) {
  const nonce = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  const signature = signAuth(k.secret, buildAuthPayload({ timestamp, nonce }));
  return { key: k.key, signature, timestamp, passphrase: k.passphrase, nonce };
}

async function authedSocket(k: Keys, topics = [TRADES_TOPIC, LAST_PRICE_TOPIC]) {
  const s = await openStream();
  expect((await s.call("authenticate", sdkAuthParams(k))).result).toEqual({
    authenticated: true,
    permissions: expect.any(Array),
  });
  expect((await s.call("subscribe", { topics })).result).toEqual({ subscribed: topics });
  return s;
}

beforeEach(async () => {
  await control("POST", "/reset");
  await setPrice(50_000);
});

describe("JSON-RPC methods", () => {
  it("hello, ping, time, whoami, unsubscribe, unsubscribeAll and errors", async () => {
    const s = await openStream();
    expect((await s.call("hello", { clientName: "test", clientVersion: "1" })).result).toEqual({ version: "1.0.0" });
    expect((await s.call("ping")).result).toBe("pong");
    const time = (await s.call("time")).result.time;
    expect(Math.abs(time - Date.now())).toBeLessThan(5000);
    expect((await s.call("whoami")).error?.code).toBe(-32001);
    expect((await s.call("nope")).error?.code).toBe(-32601);
    expect((await s.call("subscribe", { topics: ["not/a/topic"] })).error?.code).toBe(-32602);

    const k = await newKeys();
    expect((await s.call("authenticate", await streamAuthParams(k))).result.authenticated).toBe(true);
    expect((await s.call("whoami")).result).toMatchObject({ apiKey: k.key, userId: k.accountId });
    s.close();

    const t = await openStream();
    await t.call("subscribe", { topics: [LAST_PRICE_TOPIC, "futures/inverse/btc_usd/index"] });
    expect((await t.call("unsubscribe", { topics: [LAST_PRICE_TOPIC] })).result).toEqual({ unsubscribed: [LAST_PRICE_TOPIC] });
    expect((await t.call("unsubscribeAll")).result).toEqual({ unsubscribed: ["futures/inverse/btc_usd/index"] });
    t.send("{not json");
    await t.waitFor(() => t.frames.find((f) => f.error?.code === -32700));
    t.close();
  });

  it("refuses a bad stream signature, an unknown key and a stale timestamp", async () => {
    const k = await newKeys();
    const s = await openStream();
    const bad = { ...sdkAuthParams(k), signature: signAuth("wrong", "x") };
    expect((await s.call("authenticate", bad)).error).toMatchObject({ code: -32002, message: "Invalid signature" });
    expect((await s.call("authenticate", { ...sdkAuthParams(k), key: "nope" })).error?.message).toBe("Invalid API key");
    const stale = sdkAuthParams(k, Date.now() - 60_000);
    expect((await s.call("authenticate", stale)).error?.code).toBe(-32002);
    expect((await s.call("whoami")).error?.code).toBe(-32001);
    s.close();
  });

  it("pushes lastPrice, index and ticker to subscribers (a snapshot on subscribe, then every change)", async () => {
    const s = await openStream();
    const topics = [LAST_PRICE_TOPIC, "futures/inverse/btc_usd/index", "futures/inverse/btc_usd/ticker"];
    await s.call("subscribe", { topics });
    await s.waitForPush(LAST_PRICE_TOPIC, (d) => d.lastPrice === 50_000);
    await setPrice(51_234.5);
    const last = await s.waitForPush(LAST_PRICE_TOPIC, (d) => d.lastPrice === 51_234.5);
    expect(last).toEqual({ time: expect.any(Number), lastPrice: 51_234.5 });
    expect(await s.waitForPush("futures/inverse/btc_usd/index", (d) => d.index === 51_234.5)).toEqual({
      time: expect.any(Number),
      index: 51_234.5,
    });
    expect(await s.waitForPush("futures/inverse/btc_usd/ticker", (d) => d.lastPrice === 51_234.5)).toMatchObject({
      index: 51_234.5,
      funding: { rate: 0 },
    });
    s.close();
  });

  it("answers an error past 10 messages a second on one socket", async () => {
    const s = await openStream();
    for (let i = 0; i < 12; i++) s.send({ jsonrpc: "2.0", id: `p${i}`, method: "ping" });
    await s.waitFor(() => (s.frames.filter((f) => f.id?.toString().startsWith("p")).length === 12 ? true : undefined));
    const limited = s.frames.filter((f) => f.error?.code === -32029);
    expect(limited.map((f) => f.id)).toEqual(["p10", "p11"]);
    s.close();
  });
});

describe("private trade events", () => {
  it("a liquidation: REST state and the stream event, only to the trade's account", async () => {
    const alice = await newKeys();
    const bob = await newKeys();
    const a = await authedSocket(alice);
    const b = await authedSocket(bob);
    const anon = await openStream();
    // Subscribing to a private topic without authenticating is refused...
    expect((await anon.call("subscribe", { topics: [TRADES_TOPIC] })).error?.code).toBe(-32001);
    await anon.call("subscribe", { topics: [LAST_PRICE_TOPIC] });

    const t = await ok(alice, "POST", "/futures/isolated/trade", {
      type: "market", side: "buy", leverage: 10, quantity: 1000, clientId: "alice-1",
    });
    const filled = await a.waitForPush(TRADES_TOPIC, (d) => d.event === "filled");
    expect(filled).toEqual({
      pair: "btc_usd",
      event: "filled",
      trade: {
        id: t.id, side: "buy", type: "market", quantity: 1000, margin: 199_990, leverage: 10, price: 50_002.5,
        openingFee: 1999, createdAt: expect.any(Number), clientId: "alice-1",
      },
    });

    await setPrice(45_000);
    const liq = await a.waitForPush(TRADES_TOPIC, (d) => d.event === "liquidation");
    expect(liq).toEqual({
      pair: "btc_usd",
      event: "liquidation",
      trade: { id: t.id, closedAt: expect.any(Number), closingFee: 2199, exitPrice: 45_457, clientId: "alice-1" },
    });
    expect(await ok(alice, "GET", "/futures/isolated/trades/running")).toEqual([]);
    const { data } = await ok(alice, "GET", "/futures/isolated/trades/closed");
    expect(data[0]).toMatchObject({ id: t.id, closed: true, pl: -199_990, exitPrice: 45_457 });

    // The same tick reached bob's and the anonymous socket (lastPrice), but no private event did.
    await b.waitForPush(LAST_PRICE_TOPIC, (d) => d.lastPrice === 45_000);
    await anon.waitForPush(LAST_PRICE_TOPIC, (d) => d.lastPrice === 45_000);
    expect(b.pushes(TRADES_TOPIC)).toEqual([]);
    expect(anon.pushes(TRADES_TOPIC)).toEqual([]);
    for (const s of [a, b, anon]) s.close();
  });

  it("a stop loss: REST state and the stoploss event; open, filled, canceled and closed events too", async () => {
    const k = await newKeys();
    const s = await authedSocket(k, [TRADES_TOPIC]);
    const t = await ok(k, "POST", "/futures/isolated/trade", { type: "market", side: "buy", leverage: 5, quantity: 500, stoploss: 49_000 });
    await setPrice(49_500);
    expect(await ok(k, "GET", "/futures/isolated/trades/running")).toHaveLength(1);
    await setPrice(48_900);
    const sl = await s.waitForPush(TRADES_TOPIC, (d) => d.event === "stoploss");
    expect(sl.trade).toMatchObject({ id: t.id, exitPrice: 48_900, clientId: null });
    // Filled at the offer (50,002.5); triggered and closed at the last price.
    expect(sl.trade.pl).toBe(Math.round(500 * 1e8 * (1 / 50_002.5 - 1 / 48_900)));
    const closed = (await ok(k, "GET", "/futures/isolated/trades/closed")).data[0];
    expect(closed).toMatchObject({ id: t.id, exitPrice: 48_900, pl: sl.trade.pl, closingFee: sl.trade.closingFee });

    const limit = await ok(k, "POST", "/futures/isolated/trade", { type: "limit", side: "sell", leverage: 5, quantity: 100, price: 60_000 });
    expect((await s.waitForPush(TRADES_TOPIC, (d) => d.event === "open")).trade).toMatchObject({ id: limit.id, type: "limit", price: 60_000 });
    await ok(k, "POST", "/futures/isolated/trade/cancel", { id: limit.id });
    expect((await s.waitForPush(TRADES_TOPIC, (d) => d.event === "canceled")).trade).toEqual({
      id: limit.id, closedAt: expect.any(Number), clientId: null,
    });

    const m = await ok(k, "POST", "/futures/isolated/trade", { type: "market", side: "sell", leverage: 5, quantity: 100, takeprofit: 45_000 });
    await ok(k, "POST", "/futures/isolated/trade/close", { id: m.id });
    // Closed by hand: a short buys back at the offer.
    expect((await s.waitForPush(TRADES_TOPIC, (d) => d.event === "closed")).trade).toMatchObject({ id: m.id, exitPrice: 48_902.5 });
    await ok(k, "POST", "/futures/isolated/trade", { type: "market", side: "sell", leverage: 5, quantity: 100, takeprofit: 45_000 });
    await setPrice(44_000);
    expect((await s.waitForPush(TRADES_TOPIC, (d) => d.event === "takeprofit")).trade.exitPrice).toBe(44_000);
    s.close();
  });

  it("survives an eviction: hibernated sockets keep their account and topics, trades their state", async () => {
    const k = await newKeys();
    const s = await authedSocket(k, [TRADES_TOPIC]);
    const t = await ok(k, "POST", "/futures/isolated/trade", { type: "market", side: "buy", leverage: 10, quantity: 1000 });
    await s.waitForPush(TRADES_TOPIC, (d) => d.event === "filled");
    await evictDurableObject(env.EXCHANGE.getByName(EXCHANGE_NAME), { webSockets: "hibernate" });
    await setPrice(45_000);
    const liq = await s.waitForPush(TRADES_TOPIC, (d) => d.event === "liquidation");
    expect(liq.trade.id).toBe(t.id);
    expect((await s.call("whoami")).result.userId).toBe(k.accountId);
    s.close();
  });
});
