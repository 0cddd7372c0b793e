/**
 * The simulator as the exchange, driven by LN Markets' official SDK (`@ln-markets/sdk` 2.0.2):
 * fills at the spread, liquidation on the last price, funding settlements, trailing stops and
 * every refused order. The SDK's ky client talks to api.lnmarkets.com; its fetch is routed to
 * the simulator through the LNM_SIM service binding, so these are the SDK's own bytes.
 *
 * Exchange facts asserted here, with their sources (../shared/lnmarkets-v3.md):
 * - market buys fill at the offer and sells at the bid (LN Markets FAQ, "What are buy & sell
 *   orders?"); P&L, liquidation, take profit and stop loss trigger on the last price (docs,
 *   Futures, "Price reference");
 * - funding: fee = quantity / price * rate * 1e8 sats, longs pay when the rate is positive,
 *   taken from the position's margin (FAQ, "What are the funding fees?");
 * - trailing stop `value` is a distance as a fraction of price, 0.001 to 10 (Python SDK,
 *   `UpdateStoplossParams`);
 * - a trade id you do not own answers 400; a stop loss beyond liquidation, a take profit on
 *   the wrong side and a price off the 0.5 tick are refused with 400.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { liquidationPrice } from "../../src/domain/inverse.js";
import { sdkFor, sim, type Sdk, type SimKeys } from "./helpers.js";

async function control<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await env.LNM_SIM!.fetch(`http://sim/__sim${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`sim control ${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

const setPrice = (price: number, spread?: number) => control("POST", "/price", spread === undefined ? { price } : { price, spread });
const settleFunding = (rate: number) => control<Record<string, unknown>>("POST", "/funding", { rate });

/** The status and body of a refused SDK call (ky throws an HTTPError carrying both). */
async function refusal(p: Promise<unknown>): Promise<{ status: number; body: { message: string; code?: string } }> {
  try {
    await p;
  } catch (e) {
    // ky's HTTPError has read the body already: `data` is the parsed JSON error.
    const err = e as { response?: Response; data?: unknown };
    if (!err.response) throw e;
    return { status: err.response.status, body: err.data as { message: string; code?: string } };
  }
  throw new Error("expected the exchange to refuse the call");
}

let keys: SimKeys;
let sdk: Sdk;

beforeEach(async () => {
  await sim.reset();
  await setPrice(100_000, 10);
  keys = await sim.keys(20_000_000);
  sdk = sdkFor(keys);
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe("bid and offer", () => {
  it("quotes bid and offer around the last price and fills market orders at the spread", async () => {
    const ticker = await sdk.futures.getTicker();
    expect(ticker.lastPrice).toBe(100_000);
    expect(ticker.prices[0]!.bidPrice).toBe(99_995);
    expect(ticker.prices[0]!.askPrice).toBe(100_005);

    const long = await sdk.futures.isolated.newTrade({ type: "market", side: "buy", quantity: 100, leverage: 10 });
    const short = await sdk.futures.isolated.newTrade({ type: "market", side: "sell", quantity: 100, leverage: 10 });
    expect(long.entryPrice).toBe(100_005);
    expect(short.entryPrice).toBe(99_995);
    // The liquidation price follows the fill, not the last price the order was sent at.
    expect(Math.abs(long.liquidation - liquidationPrice("buy", 100, 100_005, long.margin))).toBeLessThanOrEqual(0.5);
    expect(Math.abs(short.liquidation - liquidationPrice("sell", 100, 99_995, short.margin))).toBeLessThanOrEqual(0.5);
    // P&L of a running trade is marked on the last price: a long that bought the offer is down.
    const [running] = (await sdk.futures.isolated.getRunningTrades()).filter((t) => t.id === long.id);
    expect(running!.pl).toBeLessThan(0);
  });

  it("liquidates on the last price, not on the bid", async () => {
    const long = await sdk.futures.isolated.newTrade({ type: "market", side: "buy", quantity: 1_000, leverage: 50 });
    const liq = long.liquidation;
    // A wide spread puts the bid under the liquidation price while the last price stays above.
    await setPrice(liq + 20, 200);
    const ticker = await sdk.futures.getTicker();
    expect(ticker.prices[0]!.bidPrice).toBeLessThan(liq);
    expect((await sdk.futures.isolated.getRunningTrades()).map((t) => t.id)).toContain(long.id);

    await setPrice(liq, 200);
    expect((await sdk.futures.isolated.getRunningTrades()).map((t) => t.id)).not.toContain(long.id);
    const closed = await sdk.futures.isolated.getClosedTrades({ limit: 10 });
    const done = closed.data.find((t) => t.id === long.id)!;
    expect(done.closed).toBe(true);
    expect(done.pl).toBe(-long.margin);
  });
});

describe("funding", () => {
  it("settles: the long pays from its margin, the short receives, liquidation moves, both are listed", async () => {
    const long = await sdk.futures.isolated.newTrade({ type: "market", side: "buy", quantity: 10_000, leverage: 20 });
    const short = await sdk.futures.isolated.newTrade({ type: "market", side: "sell", quantity: 10_000, leverage: 20 });
    const rate = 0.0001;
    await settleFunding(rate);
    // FAQ: (quantity / price) * rate * 1e8, here at the last price of 100,000: 1,000 sats.
    const fee = Math.floor((10_000 / 100_000) * rate * 1e8);
    expect(fee).toBe(1_000);

    const running = await sdk.futures.isolated.getRunningTrades();
    const l = running.find((t) => t.id === long.id)!;
    const s = running.find((t) => t.id === short.id)!;
    expect(l.margin).toBe(long.margin - fee);
    expect(l.sumFundingFees).toBe(fee);
    expect(s.margin).toBe(short.margin + fee);
    expect(s.sumFundingFees).toBe(-fee);
    expect(l.liquidation).toBeGreaterThan(long.liquidation);
    expect(s.liquidation).toBeGreaterThan(short.liquidation);

    const fees = await sdk.futures.isolated.getFundingFees({ tradeId: long.id });
    expect(fees.data).toHaveLength(1);
    expect(Math.abs(fees.data[0]!.fee)).toBe(fee);
    expect(fees.data[0]!.tradeId).toBe(long.id);
    const settlements = await sdk.futures.getFundingSettlements();
    const settlement = settlements.data.find((x) => x.id === fees.data[0]!.settlementId)!;
    expect(settlement.fundingRate).toBe(rate);
    expect(settlement.fixingPrice).toBe(100_000);
  });

  it("a charge that moves the liquidation price past the last price liquidates the trade", async () => {
    const long = await sdk.futures.isolated.newTrade({ type: "market", side: "buy", quantity: 10_000, leverage: 100 });
    await setPrice(long.liquidation + 0.5, 10);
    expect((await sdk.futures.isolated.getRunningTrades()).map((t) => t.id)).toContain(long.id);
    await settleFunding(0.001);
    expect((await sdk.futures.isolated.getRunningTrades()).map((t) => t.id)).not.toContain(long.id);
  });
});

describe("funding settlements list", () => {
  // The market feed finds a settlement it missed during a reconnect by asking for the ones
  // after the last it handled (durable-objects/market-feed.ts settledWhileDown). The SDK sends
  // `from`/`to` as the strings it is given (PaginationInput, ISO dates) and pages by `cursor`.
  it("filters by from/to as the SDK sends them, newest first, and pages by cursor", async () => {
    const settled: string[] = [];
    for (const rate of [0.0001, 0.0002, 0.0003]) {
      await settleFunding(rate);
      const latest = (await sdk.futures.getFundingSettlements({ limit: 1 })).data[0]!;
      settled.push(latest.time);
      await new Promise((r) => setTimeout(r, 5));
    }
    const [first, second, third] = settled.map((t) => Date.parse(t)) as [number, number, number];
    expect(first).toBeLessThan(second);
    expect(second).toBeLessThan(third);

    // After the first: the two later ones, newest first.
    const after = await sdk.futures.getFundingSettlements({ from: new Date(first + 1).toISOString() });
    expect(after.data.map((d) => d.fundingRate)).toEqual([0.0003, 0.0002]);
    expect(after.nextCursor).toBeNull();
    // A window: only the second.
    const window = await sdk.futures.getFundingSettlements({ from: new Date(first + 1).toISOString(), to: new Date(third - 1).toISOString() });
    expect(window.data.map((d) => d.fundingRate)).toEqual([0.0002]);
    // Nothing after the last.
    expect((await sdk.futures.getFundingSettlements({ from: new Date(third + 1).toISOString() })).data).toEqual([]);
    // Pages of one: the cursor walks them all once.
    const from = new Date(first).toISOString();
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await sdk.futures.getFundingSettlements({ from, limit: 1, ...(cursor ? { cursor } : {}) });
      seen.push(...page.data.map((d) => d.fundingRate));
      cursor = page.nextCursor ?? undefined;
    } while (cursor && seen.length < 10);
    expect(seen).toEqual([0.0003, 0.0002, 0.0001]);
  });
});

describe("trailing stop loss", () => {
  it("takes a fraction of price, trails the best last price, only tightens and triggers on the last price", async () => {
    const long = await sdk.futures.isolated.newTrade({ type: "market", side: "buy", quantity: 100, leverage: 5 });
    const set = await sdk.futures.isolated.updateStoploss({ id: long.id, value: 0.01, mode: "trailing" });
    expect(set.stoplossTrailingDistance).toBe(0.01);
    expect(set.stoploss).toBe(99_000); // 100,000 * (1 - 0.01)

    await setPrice(102_000, 10);
    let [t] = (await sdk.futures.isolated.getRunningTrades()).filter((x) => x.id === long.id);
    expect(t!.stoploss).toBe(100_980); // 102,000 * 0.99
    await setPrice(101_500, 10);
    [t] = (await sdk.futures.isolated.getRunningTrades()).filter((x) => x.id === long.id);
    expect(t!.stoploss).toBe(100_980); // never loosens

    await setPrice(100_980, 10);
    expect((await sdk.futures.isolated.getRunningTrades()).map((x) => x.id)).not.toContain(long.id);
  });

  it("refuses a distance outside 0.001 to 10", async () => {
    const long = await sdk.futures.isolated.newTrade({ type: "market", side: "buy", quantity: 100, leverage: 5 });
    const r = await refusal(sdk.futures.isolated.updateStoploss({ id: long.id, value: 0.0005, mode: "trailing" }));
    expect(r.status).toBe(400);
  });
});

describe("refused orders", () => {
  it("refuses each order the exchange refuses, with 400 and a message", async () => {
    const long = await sdk.futures.isolated.newTrade({ type: "market", side: "buy", quantity: 1_000, leverage: 10 });
    const cases: Array<[string, () => Promise<unknown>]> = [
      ["stop loss beyond liquidation", () => sdk.futures.isolated.updateStoploss({ id: long.id, value: long.liquidation - 100, mode: "fixed" })],
      ["stop loss above the bid", () => sdk.futures.isolated.updateStoploss({ id: long.id, value: 100_500, mode: "fixed" })],
      ["take profit on the wrong side", () => sdk.futures.isolated.updateTakeprofit({ id: long.id, value: 99_000 })],
      ["limit price off the 0.5 tick", () => sdk.futures.isolated.newTrade({ type: "limit", side: "buy", price: 99_000.3, quantity: 10, leverage: 10 })],
      ["quantity under 1", () => sdk.futures.isolated.newTrade({ type: "market", side: "buy", quantity: 0, leverage: 10 })],
      ["quantity over 500,000", () => sdk.futures.isolated.newTrade({ type: "market", side: "buy", quantity: 500_001, leverage: 100 })],
      ["leverage over 100", () => sdk.futures.isolated.newTrade({ type: "market", side: "buy", quantity: 10, leverage: 101 })],
      ["margin used over 0.1 BTC", () => sdk.futures.isolated.newTrade({ type: "market", side: "buy", margin: 10_000_001, leverage: 1 })],
      ["insufficient balance", () => sdk.futures.isolated.addMargin({ id: long.id, amount: 50_000_000 })],
    ];
    for (const [name, call] of cases) {
      const r = await refusal(call());
      expect(r.status, name).toBe(400);
      expect(r.body.message, name).toBeTruthy();
    }
    // Nothing was half-applied: the trade is as it was.
    const [t] = (await sdk.futures.isolated.getRunningTrades()).filter((x) => x.id === long.id);
    expect(t!.margin).toBe(long.margin);
    expect(t!.stoploss).toBe(0);
    expect(t!.takeprofit).toBe(0);
  });

  it("answers 400 for a trade id the caller does not own", async () => {
    const other = await sim.keys(1_000_000);
    const theirs = await sdkFor(other).futures.isolated.newTrade({ type: "market", side: "buy", quantity: 10, leverage: 10 });
    sdk = sdkFor(keys);
    for (const call of [
      () => sdk.futures.isolated.close({ id: theirs.id }),
      () => sdk.futures.isolated.addMargin({ id: theirs.id, amount: 100 }),
      () => sdk.futures.isolated.updateStoploss({ id: theirs.id, value: 90_000, mode: "fixed" }),
    ]) {
      const r = await refusal(call());
      expect(r.status).toBe(400);
      expect(r.body.message).toMatch(/do not own/i);
    }
  });
});
