/**
 * Every REST route of the client against the simulator (the exchange), through the LNM_SIM
 * service binding resolved by configuration for network "simulator".
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type CallInfo, type FuturesTrade, LnMarketsError } from "../../src/lnmarkets/index.js";
import { restClient, type SimKeys, sim } from "./helpers.js";

let keys: SimKeys;
const calls: CallInfo[] = [];

beforeAll(async () => {
  await sim.reset();
  await sim.price(100_000);
  keys = await sim.keys(10_000_000);
});

const client = () => restClient(keys, { onCall: (i) => calls.push(i) });

describe("public routes", () => {
  it("ping, time and ticker work without credentials", async () => {
    const c = restClient();
    expect(await c.ping()).toBe("pong");
    const { time } = await c.time();
    expect(Number.isNaN(Date.parse(time))).toBe(false);
    const t = await c.ticker();
    expect(t.lastPrice).toBe(100_000);
    expect(t.prices.length).toBeGreaterThan(0);
  });

  it("an authenticated route without credentials is refused locally", async () => {
    const e = await restClient().account().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LnMarketsError);
    expect((e as LnMarketsError).code).toBe("unauthorized");
  });
});

describe("account and isolated trades", () => {
  let running: FuturesTrade;

  it("account returns the balance", async () => {
    const a = await client().account();
    expect(a.balance).toBe(10_000_000);
    expect(typeof a.username).toBe("string");
  });

  it("newTrade (market, quantity, TP/SL, clientId) and runningTrades", async () => {
    const c = client();
    // A 10x long opened at the offer liquidates a little above 90,909 (fees reserved): the stop
    // must lie above that, or the exchange refuses it.
    running = await c.newTrade({ type: "market", side: "buy", quantity: 100, leverage: 10, takeprofit: 120_000, stoploss: 92_000, clientId: "auto-1:run-1:open" });
    expect(running.running).toBe(true);
    // Filled at the offer, not at the last price (100,000): entry comes from the exchange.
    expect(running.entryPrice).toBeGreaterThan(100_000);
    expect(running.clientId).toBe("auto-1:run-1:open");
    expect(running.takeprofit).toBe(120_000);
    expect(running.stoploss).toBe(92_000);
    const list = await c.runningTrades();
    expect(list.map((t) => t.id)).toContain(running.id);
    const log = calls.at(-1)!;
    expect(log).toMatchObject({ method: "GET", path: "/futures/isolated/trades/running", status: 200, ok: true, attempt: 1 });
    expect(log.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it("newTrade by margin", async () => {
    const t = await client().newTrade({ type: "market", side: "sell", margin: 20_000, leverage: 5 });
    expect(t.running).toBe(true);
    expect(t.side).toBe("sell");
    expect(t.clientId).toBeNull();
    await client().close({ id: t.id });
  });

  it("addMargin and cashIn", async () => {
    const c = client();
    const after = await c.addMargin({ id: running.id, amount: 5_000 });
    expect(after.margin).toBe(running.margin + 5_000);
    const cashed = await c.cashIn({ id: running.id, amount: 1_000 });
    expect(cashed.margin).toBeLessThan(after.margin);
  });

  it("take profit set and removed", async () => {
    const c = client();
    expect((await c.setTakeprofit({ id: running.id, value: 130_000 })).takeprofit).toBe(130_000);
    expect((await c.removeTakeprofit({ id: running.id })).takeprofit).toBe(0);
  });

  it("stop loss fixed, trailing and removed", async () => {
    const c = client();
    expect((await c.setStoploss({ id: running.id, value: 95_000 })).stoploss).toBe(95_000);
    // A trailing stop's value is its distance as a fraction of price (issue 18): 5 % here.
    const trailing = await c.setStoploss({ id: running.id, value: 0.05, mode: "trailing" });
    expect(trailing.stoplossTrailingDistance).toBeCloseTo(0.05, 6);
    expect(trailing.stoploss).toBeGreaterThan(94_000);
    expect(trailing.stoploss).toBeLessThan(96_000);
    expect((await c.removeStoploss({ id: running.id })).stoploss).toBe(0);
  });

  it("limit orders: openTrades, cancel and cancelAll", async () => {
    const c = client();
    const a = await c.newTrade({ type: "limit", side: "buy", price: 80_000.5, quantity: 50, leverage: 2 });
    const b = await c.newTrade({ type: "limit", side: "buy", price: 79_000, quantity: 50, leverage: 2 });
    const d = await c.newTrade({ type: "limit", side: "sell", price: 130_000, quantity: 50, leverage: 2 });
    expect(a.open && !a.running).toBe(true);
    expect((await c.openTrades()).map((t) => t.id).sort()).toEqual([a.id, b.id, d.id].sort());
    expect((await c.cancel({ id: a.id })).canceled).toBe(true);
    const all = await c.cancelAll();
    expect(all.map((t) => t.id).sort()).toEqual([b.id, d.id].sort());
    expect(await c.openTrades()).toEqual([]);
  });

  it("close, then closedTrades (GET with query, cursor paging)", async () => {
    const c = client();
    const closed = await c.close({ id: running.id });
    expect(closed.closed).toBe(true);
    expect(closed.exitPrice).not.toBeNull();
    const page = await c.closedTrades({ limit: 1 });
    expect(page.data).toHaveLength(1);
    expect(page.nextCursor).not.toBeNull();
    const next = await c.closedTrades({ limit: 100, cursor: page.nextCursor! });
    const ids = [...page.data, ...next.data].map((t) => t.id);
    expect(ids).toContain(running.id);
    const ranged = await c.closedTrades({ from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() });
    expect(ranged.data.map((t) => t.id)).toContain(running.id);
  });

  it("the exchange saw each order intent exactly once with its clientId", async () => {
    const orders = await sim.orders(keys.key);
    expect(orders.filter((o) => o.clientId === "auto-1:run-1:open")).toHaveLength(1);
  });
});

describe("local order validation (nothing reaches the exchange)", () => {
  it.each([
    [{ type: "market", side: "buy", leverage: 10 }, "exactly one of margin or quantity"],
    [{ type: "market", side: "buy", leverage: 10, margin: 1000, quantity: 10 }, "exactly one of margin or quantity"],
    [{ type: "limit", side: "buy", leverage: 10, quantity: 10, price: 100_000.3 }, "ticks of 0.5"],
    [{ type: "market", side: "buy", leverage: 150, quantity: 10 }, "leverage"],
    [{ type: "market", side: "buy", leverage: 10, quantity: 10, clientId: "x".repeat(65) }, "clientId"],
  ])("%o is refused", async (input, msg) => {
    const before = (await sim.orders(keys.key)).length;
    const e = (await client()
      .newTrade(input as never)
      .catch((x: unknown) => x)) as LnMarketsError;
    expect(e).toBeInstanceOf(LnMarketsError);
    expect(e).toMatchObject({ kind: "permanent", code: "invalid_request" });
    expect(e.message).toContain(msg);
    expect((await sim.orders(keys.key)).length).toBe(before);
  });
});

describe("read retries (issue 19: a flaky exchange does not cost a run)", () => {
  const policy = { retries: 3, backoff: { baseMs: 20, minMs: 10, maxMs: 200, factor: 2 } };
  const retrying = (onCall?: (i: CallInfo) => void) => restClient(keys, { readRetry: policy, ...(onCall ? { onCall } : {}) });
  const fives = async () => (await sim.injected()).rest_5xx ?? 0;

  it("a read that keeps failing is sent 1 + retries times, then fails with the exchange's error", async () => {
    const seen: CallInfo[] = [];
    await sim.faults({ restErrorRate: 1 });
    try {
      const before = await fives();
      const e = (await retrying((i) => seen.push(i)).runningTrades().catch((x: unknown) => x)) as LnMarketsError;
      expect(e).toBeInstanceOf(LnMarketsError);
      expect(e.code).toBe("server_error");
      expect((await fives()) - before).toBe(4);
      expect(seen.map((i) => i.attempt)).toEqual([1, 2, 3, 4]);
      // Without the policy the same read is sent once.
      const once = await fives();
      await restClient(keys).runningTrades().catch(() => undefined);
      expect((await fives()) - once).toBe(1);
    } finally {
      await sim.clearFaults();
    }
  });

  it("a write is never retried by the client (the executor reconciles it)", async () => {
    await sim.faults({ restErrorRate: 1 });
    try {
      const before = await fives();
      const e = (await retrying().newTrade({ type: "market", side: "buy", leverage: 10, quantity: 10 }).catch((x: unknown) => x)) as LnMarketsError;
      expect(e.code).toBe("server_error");
      expect((await fives()) - before).toBe(1);
    } finally {
      await sim.clearFaults();
    }
  });

  it("reads through a 50 % error storm succeed where single attempts fail", async () => {
    await sim.faults({ restErrorRate: 0.5, seed: 7 });
    try {
      let plain = 0;
      let retried = 0;
      for (let i = 0; i < 20; i++) {
        if (await restClient(keys).ticker().then(() => true, () => false)) plain++;
        if (await retrying().ticker().then(() => true, () => false)) retried++;
      }
      expect(plain).toBeLessThan(16);
      expect(retried).toBeGreaterThanOrEqual(18);
    } finally {
      await sim.clearFaults();
    }
  });

  it("a caller's abort ends the wait between retries", async () => {
    await sim.faults({ restErrorRate: 1 });
    try {
      const ac = new AbortController();
      const slow = restClient(keys, { readRetry: { retries: 5, backoff: { baseMs: 5_000, minMs: 5_000, maxMs: 5_000, factor: 1 } } });
      const p = slow.runningTrades({ signal: ac.signal }).catch((x: unknown) => x);
      setTimeout(() => ac.abort(new Error("run timed out")), 100);
      const t0 = Date.now();
      const e = (await p) as LnMarketsError;
      expect(e.code).toBe("aborted");
      expect(Date.now() - t0).toBeLessThan(2_000);
    } finally {
      await sim.clearFaults();
    }
  });
});
