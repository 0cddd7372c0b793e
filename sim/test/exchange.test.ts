/**
 * Exchange fidelity through real requests: fills at the spread, triggers on the last price,
 * funding (on demand and on the alarm), trailing stops, coded refusals, fee tiers and the
 * maintenance margin, candles and the canceled/funding listings.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { EXCHANGE_NAME } from "../src/exchange-do";
import { streamAuthParams } from "../src/signing";
import { control, newKeys, ok, openStream, rest, setPrice, sim, TRADES_TOPIC, type Keys } from "./helpers";

const exchange = () => env.EXCHANGE.getByName(EXCHANGE_NAME);
// Tier-1 fee written from the docs (0.1 % of the notional in sats, floored).
const fee = (q: number, price: number, rate = 0.001) => Math.floor((q * rate * 1e8) / price + 1e-9);
const liqLong = (q: number, entry: number, margin: number) => 1 / (1 / entry + margin / (1e8 * q));
const liqShort = (q: number, entry: number, margin: number) => 1 / (1 / entry - margin / (1e8 * q));

let keys: Keys;
const open = (body: Record<string, unknown>, k: Keys = keys) => ok(k, "POST", "/futures/isolated/trade", body);
const running = async (k: Keys = keys) => (await ok(k, "GET", "/futures/isolated/trades/running")) as any[];
const balance = async (k: Keys = keys) => (await ok(k, "GET", "/account")).balance as number;

beforeEach(async () => {
  await control("POST", "/reset");
  await setPrice(100_000, 10);
  keys = await newKeys(20_000_000);
});

describe("bid and offer", () => {
  it("quotes around the last price, the spread persists, market orders fill at it", async () => {
    const ticker = await ok(keys, "GET", "/futures/ticker");
    expect(ticker).toMatchObject({ lastPrice: 100_000, prices: [{ bidPrice: 99_995, askPrice: 100_005, minSize: 1, maxSize: 500_000 }] });
    // The spread persists across price changes until changed.
    expect(await setPrice(90_000)).toMatchObject({ lastPrice: 90_000, spread: 10, bid: 89_995, offer: 90_005 });
    await setPrice(100_000);
    const long = await open({ type: "market", side: "buy", leverage: 10, quantity: 100 });
    const short = await open({ type: "market", side: "sell", leverage: 10, quantity: 100 });
    expect(long).toMatchObject({ entryPrice: 100_005, price: 100_005, margin: Math.floor(1e10 / 100_005 / 10) });
    expect(short).toMatchObject({ entryPrice: 99_995, price: 99_995, margin: Math.floor(1e10 / 99_995 / 10) });
    expect(long.liquidation).toBe(Math.ceil(liqLong(100, 100_005, long.margin) * 2) / 2);
    expect(short.liquidation).toBe(Math.floor(liqShort(100, 99_995, short.margin) * 2) / 2);
    // Marked on the last price: both are down the half spread.
    const rs = await running();
    expect(rs.find((t) => t.id === long.id).pl).toBe(Math.round(100 * 1e8 * (1 / 100_005 - 1 / 100_000)));
    expect(rs.find((t) => t.id === short.id).pl).toBe(-Math.round(100 * 1e8 * (1 / 99_995 - 1 / 100_000)));
    // A bad spread is refused by the control API.
    const bad = await sim("/__sim/price", { method: "POST", body: JSON.stringify({ price: 1, spread: 0.3 }) });
    expect(bad.status).toBe(400);
  });

  it("the stream's ticker and buckets carry bid and offer", async () => {
    const s = await openStream();
    await s.call("subscribe", { topics: ["futures/inverse/btc_usd/ticker", "futures/inverse/btc_usd/buckets"] });
    await setPrice(101_000, 20);
    const t = await s.waitForPush("futures/inverse/btc_usd/ticker", (d) => d.lastPrice === 101_000);
    expect(t).toMatchObject({ funding: { rate: 0, time: expect.any(Number) }, prices: [{ bidPrice: 100_990, askPrice: 101_010 }] });
    const b = await s.waitForPush("futures/inverse/btc_usd/buckets", (d) => d.buckets[0].bidPrice === 100_990);
    expect(b.buckets[0]).toEqual({ minSize: 1, maxSize: 500_000, askPrice: 101_010, bidPrice: 100_990 });
    s.close();
  });

  it("liquidates on the last price, not on the bid; exits at the liquidation price", async () => {
    const t = await open({ type: "market", side: "buy", leverage: 50, quantity: 1000 });
    await setPrice(t.liquidation + 20, 200);
    expect((await ok(keys, "GET", "/futures/ticker")).prices[0].bidPrice).toBeLessThan(t.liquidation);
    expect((await running()).map((x) => x.id)).toEqual([t.id]);
    await setPrice(t.liquidation - 50, 200); // gapped through
    expect(await running()).toEqual([]);
    const closed = (await ok(keys, "GET", "/futures/isolated/trades/closed")).data[0];
    expect(closed).toMatchObject({ id: t.id, pl: -t.margin, exitPrice: t.liquidation });
  });

  it("stop loss and take profit trigger on the last price; a hand close fills at the bid/offer", async () => {
    const t = await open({ type: "market", side: "sell", leverage: 10, quantity: 1000, stoploss: 101_000 });
    // The offer reaches the stop but the last price does not.
    await setPrice(100_995, 20);
    expect((await running()).map((x) => x.id)).toEqual([t.id]);
    await setPrice(101_000);
    const closed = (await ok(keys, "GET", "/futures/isolated/trades/closed")).data[0];
    expect(closed).toMatchObject({ id: t.id, exitPrice: 101_000 });
    const u = await open({ type: "market", side: "sell", leverage: 10, quantity: 1000 });
    const c = await ok(keys, "POST", "/futures/isolated/trade/close", { id: u.id });
    expect(c.exitPrice).toBe(101_010);
  });
});

describe("funding", () => {
  it("settles on demand: longs pay and shorts receive, margins, sums, liquidation, event, listings", async () => {
    const s = await openStream();
    await s.call("authenticate", await streamAuthParams(keys));
    await s.call("subscribe", { topics: [TRADES_TOPIC] });
    const long = await open({ type: "market", side: "buy", leverage: 20, quantity: 10_000, clientId: "L" });
    const short = await open({ type: "market", side: "sell", leverage: 20, quantity: 10_000 });
    const limit = await open({ type: "limit", side: "buy", leverage: 20, quantity: 10_000, price: 90_000 });
    const before = await balance();

    const r = await control<any>("POST", "/funding", { rate: 0.0001 });
    expect(r).toMatchObject({ trades: 2, liquidated: 0, settlement: { fundingRate: 0.0001, fixingPrice: 100_000 } });
    const f = fee(10_000, 100_000, 0.0001);
    expect(f).toBe(1000);
    const rs = await running();
    const l = rs.find((t) => t.id === long.id);
    const sh = rs.find((t) => t.id === short.id);
    expect(l).toMatchObject({ margin: long.margin - f, sumFundingFees: f });
    expect(sh).toMatchObject({ margin: short.margin + f, sumFundingFees: -f });
    expect(l.liquidation).toBe(Math.ceil(liqLong(10_000, 100_005, long.margin - f) * 2) / 2);
    expect(l.liquidation).toBeGreaterThan(long.liquidation);
    expect(sh.liquidation).toBeGreaterThan(short.liquidation);
    // The balance does not move (the fee is in the margin); an unfilled order is not charged.
    expect(await balance()).toBe(before);
    expect((await ok(keys, "GET", "/futures/isolated/trades/open"))[0]).toMatchObject({ id: limit.id, margin: limit.margin });

    const ev = await s.waitForPush(TRADES_TOPIC, (d) => d.event === "funding" && d.trade.id === long.id);
    expect(ev).toEqual({
      pair: "btc_usd",
      event: "funding",
      trade: { id: long.id, margin: long.margin - f, liquidationPrice: l.liquidation, fundingFee: f, fundedAt: expect.any(Number), clientId: "L" },
    });
    expect((await s.waitForPush(TRADES_TOPIC, (d) => d.event === "funding" && d.trade.id === short.id)).trade.fundingFee).toBe(-f);

    // A negative rate: shorts pay.
    await setPrice(98_000, 10);
    await control("POST", "/funding", { rate: -0.0002 });
    const g = fee(10_000, 98_000, 0.0002);
    const after = await running();
    expect(after.find((t) => t.id === short.id).sumFundingFees).toBe(-f + g);
    expect(after.find((t) => t.id === long.id).sumFundingFees).toBe(f - g);

    const fees = await ok(keys, "GET", `/futures/isolated/funding-fees?tradeId=${long.id}`);
    expect(fees.data).toEqual([
      { fee: -g, settlementId: expect.any(String), time: expect.any(String), tradeId: long.id },
      { fee: f, settlementId: r.settlement.id, time: r.settlement.time, tradeId: long.id },
    ]);
    expect(fees.nextCursor).toBeNull();
    const page = await ok(keys, "GET", "/futures/isolated/funding-fees?limit=3");
    expect(page.data).toHaveLength(3);
    const rest2 = await ok(keys, "GET", `/futures/isolated/funding-fees?limit=3&cursor=${page.nextCursor}`);
    expect(rest2).toMatchObject({ nextCursor: null });
    expect(rest2.data).toHaveLength(1);
    // Another account sees none of them.
    expect((await ok(await newKeys(1), "GET", "/futures/isolated/funding-fees")).data).toEqual([]);

    const pub = await sim("/v3/futures/funding-settlements?limit=1");
    const body = (await pub.json()) as any;
    expect(pub.status).toBe(200);
    expect(body.data).toEqual([{ id: expect.any(String), time: expect.any(String), fundingRate: -0.0002, fixingPrice: 98_000 }]);
    const next = (await (await sim(`/v3/futures/funding-settlements?cursor=${body.nextCursor}`)).json()) as any;
    expect(next).toEqual({ data: [r.settlement], nextCursor: null });
    s.close();
  });

  it("a charge that puts the liquidation price at the last price liquidates at once", async () => {
    const t = await open({ type: "market", side: "buy", leverage: 100, quantity: 10_000 });
    await setPrice(t.liquidation + 0.5, 10);
    const r = await control<any>("POST", "/funding", { rate: 0.001 });
    expect(r).toMatchObject({ trades: 1, liquidated: 1 });
    expect(await running()).toEqual([]);
    const closed = (await ok(keys, "GET", "/futures/isolated/trades/closed")).data[0];
    expect(closed.pl).toBe(-closed.margin);
  });

  it("settles periodically on the alarm at the configured rate; the ticker shows rate and time", async () => {
    const def = await control<any>("GET", "/funding");
    expect(def).toMatchObject({ rate: 0, periodMs: 8 * 3600_000, periodic: false, nextAt: null });
    expect([4, 12, 20]).toContain(new Date(def.fundingTime).getUTCHours());
    expect(await runDurableObjectAlarm(exchange())).toBe(false);

    const t = await open({ type: "market", side: "buy", leverage: 10, quantity: 10_000 });
    const cfg = await control<any>("PUT", "/funding", { rate: 0.0002, periodMs: 3_600_000 });
    expect(cfg).toMatchObject({ rate: 0.0002, periodMs: 3_600_000, periodic: true });
    const nextAt = Date.parse(cfg.nextAt);
    expect(nextAt % 3_600_000).toBe(0);
    expect(nextAt).toBeGreaterThan(Date.now());
    expect(await ok(keys, "GET", "/futures/ticker")).toMatchObject({ fundingRate: 0.0002, fundingTime: cfg.nextAt });

    expect(await runDurableObjectAlarm(exchange())).toBe(true);
    const fees = await ok(keys, "GET", "/futures/isolated/funding-fees");
    expect(fees.data).toEqual([expect.objectContaining({ tradeId: t.id, fee: fee(10_000, 100_000, 0.0002) })]);
    expect((await running())[0].margin).toBe(t.margin - fee(10_000, 100_000, 0.0002));
    expect(Date.parse((await control<any>("GET", "/funding")).nextAt)).toBeGreaterThan(Date.now());

    await control("DELETE", "/funding");
    expect(await runDurableObjectAlarm(exchange())).toBe(false);
    expect((await ok(keys, "GET", "/futures/ticker")).fundingRate).toBe(0);
  });
});

describe("trailing stop loss", () => {
  it("a short trails the lowest last price at a fraction of it and triggers on the last price", async () => {
    const t = await open({ type: "market", side: "sell", leverage: 10, quantity: 1000 });
    const s = await ok(keys, "PUT", "/futures/isolated/trade/stoploss", { id: t.id, value: 0.01, mode: "trailing" });
    expect(s).toMatchObject({ stoploss: 101_000, stoplossTrailingDistance: 0.01 });
    await setPrice(95_000);
    expect((await running())[0].stoploss).toBe(95_950);
    await setPrice(95_500);
    expect((await running())[0].stoploss).toBe(95_950); // only tightens
    await setPrice(95_950);
    expect(await running()).toEqual([]);
    expect((await ok(keys, "GET", "/futures/isolated/trades/closed")).data[0]).toMatchObject({ id: t.id, exitPrice: 95_950 });
  });

  it("refuses a distance outside 0.001..10 naming value, a level beyond liquidation; value 0 removes", async () => {
    const t = await open({ type: "market", side: "buy", leverage: 10, quantity: 1000 });
    for (const value of [0.0005, 10.5]) {
      const r = await rest(keys, "PUT", "/futures/isolated/trade/stoploss", { id: t.id, value, mode: "trailing" });
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ code: "TRAILING_DISTANCE_OUT_OF_RANGE", field: "value" });
      expect(r.json.message).toMatch(/^value/);
    }
    const deep = await rest(keys, "PUT", "/futures/isolated/trade/stoploss", { id: t.id, value: 0.2, mode: "trailing" });
    expect(deep).toMatchObject({ status: 400, json: { code: "STOPLOSS_BEYOND_LIQUIDATION" } });
    await ok(keys, "PUT", "/futures/isolated/trade/stoploss", { id: t.id, value: 0.001, mode: "trailing" });
    const removed = await ok(keys, "PUT", "/futures/isolated/trade/stoploss", { id: t.id, value: 0, mode: "trailing" });
    expect(removed).toMatchObject({ stoploss: 0, stoplossTrailingDistance: 0 });
  });
});

describe("refusals", () => {
  it("each refused order: 400 with its code, nothing half-applied", async () => {
    const t = await open({ type: "market", side: "buy", leverage: 10, quantity: 1000 });
    const s = await open({ type: "market", side: "sell", leverage: 10, quantity: 1000 });
    const m = { type: "market", side: "buy" };
    const cases: Array<[string, string, string, Record<string, unknown>, string]> = [
      ["SL beyond liquidation (long)", "PUT", "/futures/isolated/trade/stoploss", { id: t.id, value: t.liquidation - 0.5 }, "STOPLOSS_BEYOND_LIQUIDATION"],
      ["SL at the liquidation (long)", "PUT", "/futures/isolated/trade/stoploss", { id: t.id, value: t.liquidation }, "STOPLOSS_BEYOND_LIQUIDATION"],
      ["SL above the bid (long)", "PUT", "/futures/isolated/trade/stoploss", { id: t.id, value: 99_995 }, "STOPLOSS_WRONG_SIDE"],
      ["SL beyond liquidation (short)", "PUT", "/futures/isolated/trade/stoploss", { id: s.id, value: s.liquidation }, "STOPLOSS_BEYOND_LIQUIDATION"],
      ["SL under the offer (short)", "PUT", "/futures/isolated/trade/stoploss", { id: s.id, value: 100_005 }, "STOPLOSS_WRONG_SIDE"],
      ["SL off the tick", "PUT", "/futures/isolated/trade/stoploss", { id: t.id, value: 95_000.25 }, "PRICE_OFF_TICK"],
      ["TP under the price (long)", "PUT", "/futures/isolated/trade/takeprofit", { id: t.id, value: 99_000 }, "TAKEPROFIT_WRONG_SIDE"],
      ["TP over the price (short)", "PUT", "/futures/isolated/trade/takeprofit", { id: s.id, value: 101_000 }, "TAKEPROFIT_WRONG_SIDE"],
      ["TP off the tick", "PUT", "/futures/isolated/trade/takeprofit", { id: t.id, value: 110_000.1 }, "PRICE_OFF_TICK"],
      ["limit off the tick", "POST", "/futures/isolated/trade", { type: "limit", side: "buy", leverage: 2, quantity: 10, price: 90_000.2 }, "PRICE_OFF_TICK"],
      ["quantity 0", "POST", "/futures/isolated/trade", { ...m, leverage: 2, quantity: 0 }, "QUANTITY_OUT_OF_RANGE"],
      ["quantity 500,001", "POST", "/futures/isolated/trade", { ...m, leverage: 100, quantity: 500_001 }, "QUANTITY_OUT_OF_RANGE"],
      ["leverage 101", "POST", "/futures/isolated/trade", { ...m, leverage: 101, quantity: 10 }, "LEVERAGE_OUT_OF_RANGE"],
      ["leverage 0.9", "POST", "/futures/isolated/trade", { ...m, leverage: 0.9, quantity: 10 }, "LEVERAGE_OUT_OF_RANGE"],
      ["margin buying under 1 USD", "POST", "/futures/isolated/trade", { ...m, leverage: 1, margin: 900 }, "MARGIN_OUT_OF_RANGE"],
      ["margin buying over 500,000 USD", "POST", "/futures/isolated/trade", { ...m, leverage: 100, margin: 6_000_000 }, "MARGIN_OUT_OF_RANGE"],
      ["margin used over 0.1 BTC", "POST", "/futures/isolated/trade", { ...m, leverage: 1, margin: 9_850_000 }, "MARGIN_USED_LIMIT"],
      ["insufficient balance", "POST", "/futures/isolated/trade/add-margin", { id: t.id, amount: 50_000_000 }, "INSUFFICIENT_BALANCE"],
      ["add-margin under leverage 1", "POST", "/futures/isolated/trade/add-margin", { id: t.id, amount: 1_000_000 }, "LEVERAGE_OUT_OF_RANGE"],
      ["cash-in of more than profit and margin", "POST", "/futures/isolated/trade/cash-in", { id: t.id, amount: 100_000_000 }, "CASH_IN_TOO_LARGE"],
      ["cash-in over leverage 100", "POST", "/futures/isolated/trade/cash-in", { id: t.id, amount: 95_000 }, "LEVERAGE_OUT_OF_RANGE"],
      ["a trade id not the caller's", "POST", "/futures/isolated/trade/close", { id: "nope" }, "NOT_YOUR_TRADE"],
      ["cancel of a running trade", "POST", "/futures/isolated/trade/cancel", { id: t.id }, "TRADE_NOT_OPEN"],
    ];
    const bal = await balance();
    for (const [name, method, path, body, code] of cases) {
      const r = await rest(keys, method, path, body);
      expect(r.status, name).toBe(400);
      expect(r.json.code, name).toBe(code);
      expect(typeof r.json.message, name).toBe("string");
    }
    expect(await balance()).toBe(bal);
    const [a, b] = await running();
    expect(a).toMatchObject({ id: t.id, margin: t.margin, stoploss: 0, takeprofit: 0, entryPrice: t.entryPrice });
    expect(b).toMatchObject({ id: s.id, margin: s.margin, stoploss: 0, takeprofit: 0 });
    // Adding margin counts towards the 0.1 BTC cap too.
    const big = await open({ type: "market", side: "buy", leverage: 100, quantity: 500_000 });
    const add = await rest(keys, "POST", "/futures/isolated/trade/add-margin", { id: big.id, amount: 5_000_000 });
    expect(add).toMatchObject({ status: 400, json: { code: "MARGIN_USED_LIMIT" } });
    // A cash-in that would bring the liquidation price to the last price.
    await setPrice(92_000);
    const liq = await rest(keys, "POST", "/futures/isolated/trade/cash-in", { id: t.id, amount: 20_000 });
    expect(liq).toMatchObject({ status: 400, json: { code: "CASH_IN_WOULD_LIQUIDATE" } });
    // A closed trade is neither running nor open.
    await ok(keys, "POST", "/futures/isolated/trade/close", { id: t.id });
    expect((await rest(keys, "POST", "/futures/isolated/trade/close", { id: t.id })).json.code).toBe("TRADE_NOT_RUNNING");
    expect((await rest(keys, "PUT", "/futures/isolated/trade/takeprofit", { id: t.id, value: 200_000 })).json.code).toBe("TRADE_CLOSED");
  });
});

describe("fees and maintenance margin", () => {
  it("debit margin + reserve, opening fee from the reserve, tiers by 30-day volume, credit on close", async () => {
    const start = await balance();
    const big = await open({ type: "market", side: "buy", leverage: 100, quantity: 200_000 });
    const liq = big.liquidation;
    const reserve = fee(200_000, 100_005) + fee(200_000, liq);
    expect(big.openingFee).toBe(fee(200_000, 100_005));
    expect(big.maintenanceMargin).toBe(reserve - big.openingFee);
    expect(await balance()).toBe(start - big.margin - reserve);
    expect((await ok(keys, "GET", "/account")).feeTier).toBe(1);

    // Closing at the bid at the tier-1 rate (the close's own volume counts afterwards).
    const closed = await ok(keys, "POST", "/futures/isolated/trade/close", { id: big.id });
    const pl = Math.round(200_000 * 1e8 * (1 / 100_005 - 1 / 99_995));
    expect(closed).toMatchObject({ exitPrice: 99_995, pl, closingFee: fee(200_000, 99_995) });
    expect(await balance()).toBe(start - big.margin - reserve + big.margin + pl + big.maintenanceMargin - closed.closingFee);

    // 400,000 USD traded in 30 days: tier 2 (> $250k), 0.08 %.
    expect((await ok(keys, "GET", "/account")).feeTier).toBe(2);
    const before = await balance();
    const t = await open({ type: "market", side: "sell", leverage: 10, quantity: 1000 });
    const res2 = fee(1000, 99_995) + fee(1000, t.liquidation); // reserved at the tier-1 rate
    expect(t.openingFee).toBe(fee(1000, 99_995, 0.0008));
    expect(t.maintenanceMargin).toBe(res2 - t.openingFee);
    expect(await balance()).toBe(before - t.margin - res2);
    const c = await ok(keys, "POST", "/futures/isolated/trade/close", { id: t.id });
    expect(c.closingFee).toBe(fee(1000, 100_005, 0.0008));
    expect(await balance()).toBe(before - t.margin - res2 + t.margin + c.pl + t.maintenanceMargin - c.closingFee);
  });

  it("a limit order reserves at creation, pays its opening fee when filled; canceled ones are listed", async () => {
    const before = await balance();
    const t = await open({ type: "limit", side: "buy", leverage: 10, quantity: 1000, price: 95_000 });
    const reserve = fee(1000, 95_000) + fee(1000, t.liquidation);
    expect(t).toMatchObject({ openingFee: 0, maintenanceMargin: reserve });
    expect(await balance()).toBe(before - t.margin - reserve);
    await setPrice(94_995); // offer 95,000
    const [r] = await running();
    expect(r).toMatchObject({ entryPrice: 95_000, openingFee: fee(1000, 95_000), maintenanceMargin: reserve - fee(1000, 95_000) });

    const c = await open({ type: "limit", side: "sell", leverage: 10, quantity: 10, price: 120_000 });
    await ok(keys, "POST", "/futures/isolated/trade/cancel", { id: c.id });
    const canceled = await ok(keys, "GET", "/futures/isolated/trades/canceled");
    expect(canceled).toEqual([expect.objectContaining({ id: c.id, canceled: true, open: false, running: false })]);
  });
});

describe("candles", () => {
  it("a deterministic synthetic history, oldest first, paged with a cursor", async () => {
    const from = "2025-01-01T00:00:00.000Z";
    const q = `/v3/futures/candles?from=${from}&range=1h&limit=6`;
    const a = (await (await sim(q)).json()) as any;
    const b = (await (await sim(q)).json()) as any;
    expect(b).toEqual(a);
    expect(a.data).toHaveLength(6);
    expect(a.data[0].time).toBe(from);
    for (let i = 0; i < 6; i++) {
      const c = a.data[i];
      expect(Date.parse(c.time)).toBe(Date.parse(from) + i * 3_600_000);
      expect(c.high).toBeGreaterThanOrEqual(Math.max(c.open, c.close));
      expect(c.low).toBeLessThanOrEqual(Math.min(c.open, c.close));
      expect(c.volume).toBeGreaterThan(0);
      for (const p of [c.open, c.high, c.low, c.close]) expect(p % 0.5).toBe(0);
      if (i > 0) expect(c.open).toBe(a.data[i - 1].close);
    }
    const p1 = (await (await sim(`/v3/futures/candles?from=${from}&range=1h&limit=4`)).json()) as any;
    const p2 = (await (await sim(`/v3/futures/candles?from=${from}&range=1h&limit=2&cursor=${p1.nextCursor}`)).json()) as any;
    expect([...p1.data, ...p2.data]).toEqual(a.data);
    // `to` bounds the history; the last page has no cursor.
    const bounded = (await (await sim(`/v3/futures/candles?from=${from}&to=2025-01-01T02:00:00.000Z&range=1h`)).json()) as any;
    expect(bounded.data).toEqual(a.data.slice(0, 3));
    expect(bounded.nextCursor).toBeNull();
    // Calendar months; the default range is 1m and the default limit 100.
    const months = (await (await sim(`/v3/futures/candles?from=2024-01-15T00:00:00Z&range=1month&limit=3`)).json()) as any;
    expect(months.data.map((c: any) => c.time)).toEqual(["2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z", "2024-04-01T00:00:00.000Z"]);
    expect(((await (await sim(`/v3/futures/candles?from=${from}`)).json()) as any).data).toHaveLength(100);
    expect((await sim("/v3/futures/candles")).status).toBe(400);
    expect((await sim(`/v3/futures/candles?from=${from}&limit=1001`)).status).toBe(400);
    expect((await sim(`/v3/futures/candles?from=${from}&range=7m`)).status).toBe(400);
  });
});
