import { env } from "cloudflare:workers";
import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { isControlAllowed } from "../src/control";
import { EXCHANGE_NAME } from "../src/exchange-do";
import worker from "../src/index";
import { control, newKeys, openStream, rest, setPrice, sim, type Keys } from "./helpers";

const exchange = () => env.EXCHANGE.getByName(EXCHANGE_NAME);
let keys: Keys;

beforeEach(async () => {
  await control("POST", "/reset");
  await setPrice(50_000);
  keys = await newKeys(1_000_000);
});

describe("mode guard and validation", () => {
  it("answers only in dev and test mode", async () => {
    expect(isControlAllowed("dev")).toBe(true);
    expect(isControlAllowed("test")).toBe(true);
    expect(isControlAllowed("production")).toBe(false);
    expect(isControlAllowed(undefined)).toBe(false);
    const refused = await worker.fetch(new Request("http://sim/__sim/keys", { method: "POST", body: '{"balance":1}' }), {
      ...env,
      SIM_MODE: "production",
    });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: "FORBIDDEN" });
    // The exchange itself still answers in that mode.
    const ping = await worker.fetch(new Request("http://sim/v3/ping"), { ...env, SIM_MODE: "production" });
    expect(ping.status).toBe(200);
    expect(await ping.json()).toBe("pong");
  });

  it("400 naming the field for a bad body", async () => {
    const res = await sim("/__sim/keys", { method: "POST", body: JSON.stringify({ balance: "lots" }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ field: "balance" });
    const price = await sim("/__sim/price", { method: "POST", body: JSON.stringify({ price: -1 }) });
    expect(((await price.json()) as { field: string }).field).toBe("price");
    const faults = await sim("/__sim/faults", { method: "POST", body: JSON.stringify({ restErrorRate: 2 }) });
    expect(((await faults.json()) as { field: string }).field).toBe("restErrorRate");
    const unknown = await sim("/__sim/faults", { method: "POST", body: JSON.stringify({ nope: true }) });
    expect(unknown.status).toBe(400);
  });

  it("keys with explicit credentials are idempotent; reset forgets everything", async () => {
    const body = { balance: 5, key: "demo-key", secret: "demo-secret", passphrase: "demo-pass" };
    const a = await control<Keys>("POST", "/keys", body);
    const b = await control<Keys>("POST", "/keys", body);
    expect(b).toEqual(a);
    expect((await sim("/__sim/keys", { method: "POST", body: JSON.stringify({ ...body, secret: "other" }) })).status).toBe(409);
    expect((await rest(a, "GET", "/account")).status).toBe(200);
    await control("POST", "/reset");
    expect((await rest(a, "GET", "/account")).status).toBe(401);
    expect(await control("GET", "/state")).toMatchObject({ accounts: 0, price: { lastPrice: 100_000 } });
  });
});

describe("faults", () => {
  it("restErrorRate 1 answers every REST request with the configured 5xx, and the order log records it", async () => {
    const active = await control("POST", "/faults", { restErrorRate: 1, restErrorStatus: 502 });
    expect(active).toMatchObject({ restErrorRate: 1, restErrorStatus: 502, latencyMs: 0, rateLimit: null });
    const r = await rest(keys, "POST", "/futures/isolated/trade", { type: "market", side: "buy", leverage: 2, quantity: 10, clientId: "c1" });
    expect(r.status).toBe(502);
    expect((await sim("/v3/ping")).status).toBe(502);
    const log = await control<any[]>("GET", `/orders?key=${keys.key}`);
    expect(log).toEqual([expect.objectContaining({ clientId: "c1", status: 502 })]);
    // `since` keeps only what arrived at or after that time; a bad value is a 400.
    expect(await control<any[]>("GET", `/orders?key=${keys.key}&since=${log[0].at}`)).toHaveLength(1);
    expect(await control<any[]>("GET", `/orders?key=${keys.key}&since=${log[0].at + 1}`)).toEqual([]);
    expect((await sim(`/__sim/orders?since=yesterday`)).status).toBe(400);
    await control("DELETE", "/faults");
    expect((await sim("/v3/ping")).status).toBe(200);
  });

  it("a seeded error rate fails the same requests every time", async () => {
    async function pattern() {
      await control("POST", "/faults", { restErrorRate: 0.5, seed: 42 });
      const out: number[] = [];
      for (let i = 0; i < 20; i++) out.push((await sim("/v3/ping")).status);
      return out;
    }
    const first = await pattern();
    expect(first).toContain(503);
    expect(first).toContain(200);
    expect(await pattern()).toEqual(first);
  });

  it("rateLimit answers 429 with retry-after past N requests per second per key", async () => {
    await control("POST", "/faults", { rateLimit: { perSecond: 2, retryAfterS: 7 } });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 4; i++) {
      const r = await rest(keys, "GET", "/account");
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get("retry-after");
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect(retryAfter).toBe("7");
    // Another key has its own window.
    const other = await newKeys(1);
    expect((await rest(other, "GET", "/account")).status).toBe(200);
  });

  it("latencyMs delays REST responses", async () => {
    await control("POST", "/faults", { latencyMs: 300 });
    const t0 = Date.now();
    expect((await sim("/v3/ping")).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  });

  it("silenceStream: the socket stays open but says nothing, then speaks again", async () => {
    const s = await openStream();
    await s.call("subscribe", { topics: ["futures/inverse/btc_usd/lastPrice"] });
    await control("POST", "/faults", { silenceStream: true });
    s.send({ jsonrpc: "2.0", id: "quiet", method: "ping" });
    await setPrice(51_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(s.frames.find((f) => f.id === "quiet")).toBeUndefined();
    expect(s.pushes("futures/inverse/btc_usd/lastPrice").some((d) => d.lastPrice === 51_000)).toBe(false);
    await control("POST", "/faults", {});
    expect((await s.call("ping")).result).toBe("pong");
    s.close();
  });

  it("dropSocketsEveryMs closes every stream socket when its alarm runs", async () => {
    const s = await openStream();
    expect((await s.call("ping")).result).toBe("pong");
    await control("POST", "/faults", { dropSocketsEveryMs: 60_000 });
    expect(await runDurableObjectAlarm(exchange())).toBe(true);
    const closed = await s.closed();
    expect(closed.code).toBe(1012);
    await control("DELETE", "/faults");
  });

  it("lightningDown makes the fake LNbits answer 503", async () => {
    await control("POST", "/faults", { lightningDown: true });
    const res = await sim("/lnbits/api/v1/payments", {
      method: "POST",
      headers: { "x-api-key": "k", "content-type": "application/json" },
      body: JSON.stringify({ out: false, amount: 100, memo: "m", expiry: 60 }),
    });
    expect(res.status).toBe(503);
  });
});

describe("price engine", () => {
  async function path(seed: number, name = "volatile") {
    await setPrice(50_000);
    await control("POST", "/scenario", { name, stepMs: 60_000, seed });
    const prices: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await control<{ price: { lastPrice: number } }>("POST", "/scenario/step", {});
      prices.push(r.price.lastPrice);
    }
    await control("DELETE", "/scenario");
    return prices;
  }

  it("the same seed gives the same path; another seed another one", async () => {
    const a = await path(7);
    const b = await path(7);
    expect(b).toEqual(a);
    expect(await path(8)).not.toEqual(a);
    expect(a.every((p) => p % 0.5 === 0)).toBe(true);
  });

  it("resumes the same path after an eviction", async () => {
    const straight = await path(11);
    await setPrice(50_000);
    await control("POST", "/scenario", { name: "volatile", stepMs: 60_000, seed: 11 });
    await control("POST", "/scenario/step", { count: 2 });
    await evictDurableObject(exchange());
    const r = await control<{ price: { lastPrice: number }; scenario: { stepIndex: number } }>("POST", "/scenario/step", { count: 3 });
    expect(r.scenario.stepIndex).toBe(5);
    expect(r.price.lastPrice).toBe(straight[4]);
    await control("DELETE", "/scenario");
  });

  it("steps on its alarm, pushes prices, and stops after `steps`", async () => {
    const s = await openStream();
    await s.call("subscribe", { topics: ["futures/inverse/btc_usd/lastPrice"] });
    const started = await control<{ running: boolean }>("POST", "/scenario", { name: "crash", stepMs: 60_000, steps: 2, seed: 1, dropPct: 30 });
    expect(started.running).toBe(true);
    expect(await runDurableObjectAlarm(exchange())).toBe(true);
    const first = (await control<any>("GET", "/state")).price.lastPrice;
    expect(first).toBeLessThan(50_000);
    await s.waitForPush("futures/inverse/btc_usd/lastPrice", (d) => d.lastPrice === first);
    expect(await runDurableObjectAlarm(exchange())).toBe(true);
    expect((await control<any>("GET", "/state")).scenario).toBeNull();
    expect(await runDurableObjectAlarm(exchange())).toBe(false);
    s.close();
  });

  it("a crash liquidates a leveraged long through the scenario", async () => {
    await rest(keys, "POST", "/futures/isolated/trade", { type: "market", side: "buy", leverage: 50, quantity: 100 });
    await control("POST", "/scenario", { name: "crash", stepMs: 60_000, seed: 3, dropPct: 20 });
    await control("POST", "/scenario/step", { count: 50 });
    await control("DELETE", "/scenario");
    const running = await rest(keys, "GET", "/futures/isolated/trades/running");
    expect(running.json).toEqual([]);
    const closed = await rest(keys, "GET", "/futures/isolated/trades/closed");
    expect(closed.json.data[0].pl).toBe(-closed.json.data[0].margin);
  });
});
