import { beforeEach, describe, expect, it } from "vitest";
import { control, newKeys, ok, rest, setPrice, type Keys } from "./helpers";

// The docs' formulas, written again here (../shared/lnmarkets-v3.md, "Inverse futures maths").
const ceilTick = (p: number) => Math.ceil(p / 0.5) * 0.5;
const floorTick = (p: number) => Math.floor(p / 0.5) * 0.5;
const fee = (q: number, price: number) => Math.floor((q * 100_000) / price); // 0.1 %, tier 1
const liquidationPrice = (side: "buy" | "sell", q: number, entry: number, margin: number) =>
  side === "buy" ? 1 / (1 / entry + margin / (1e8 * q)) : 1 / (1 / entry - margin / (1e8 * q));
const pnl = (side: "buy" | "sell", q: number, entry: number, price: number) =>
  (side === "buy" ? 1 : -1) * q * 1e8 * (1 / entry - 1 / price);
// Default spread 5 USD around the last price of 50,000.
const OFFER = 50_002.5;
const BID = 49_997.5;

let keys: Keys;
const balance = async (k: Keys = keys) => (await ok(k, "GET", "/account")).balance as number;
const open = (body: Record<string, unknown>, k: Keys = keys) => ok(k, "POST", "/futures/isolated/trade", body);

beforeEach(async () => {
  await control("POST", "/reset");
  await setPrice(50_000);
  keys = await newKeys(10_000_000);
});

describe("inverse maths on known numbers", () => {
  it("a long: margin, fees, liquidation, PnL and settlement follow the formulas", async () => {
    const t = await open({ type: "market", side: "buy", leverage: 10, quantity: 1000 });
    // A market buy fills at the offer; margin = floor(q * 1e8 / fill / leverage)
    expect(t.margin).toBe(199_990);
    expect(t.entryMargin).toBe(199_990);
    expect(t.openingFee).toBe(fee(1000, OFFER));
    expect(t.openingFee).toBe(1999);
    expect(t.liquidation).toBe(ceilTick(liquidationPrice("buy", 1000, OFFER, 199_990)));
    expect(t.liquidation).toBe(45_457);
    // Reserve = tier-1 fee at entry + at the initial liquidation; the opening fee came out of it.
    expect(t.maintenanceMargin).toBe(fee(1000, 45_457));
    expect(t.maintenanceMargin).toBe(2199);
    expect(t).toMatchObject({ price: OFFER, entryPrice: OFFER, running: true, open: false, leverage: 10 });
    expect(await balance()).toBe(10_000_000 - 199_990 - (1999 + 2199));

    await setPrice(55_000);
    const [running] = await ok(keys, "GET", "/futures/isolated/trades/running");
    // Marked on the last price.
    expect(running.pl).toBe(Math.round(pnl("buy", 1000, OFFER, 55_000)));
    expect(running.pl).toBe(181_718);

    // Closed by hand: a long sells at the bid.
    const closed = await ok(keys, "POST", "/futures/isolated/trade/close", { id: t.id });
    expect(closed).toMatchObject({ closed: true, running: false, exitPrice: 54_997.5, pl: 181_636 });
    expect(closed.pl).toBe(Math.round(pnl("buy", 1000, OFFER, 54_997.5)));
    expect(closed.closingFee).toBe(fee(1000, 54_997.5));
    // margin + pl + what is left of the maintenance margin - closing fee back to the balance
    expect(await balance()).toBe(10_000_000 - 199_990 - 4198 + 199_990 + 181_636 + 2199 - 1818);
  });

  it("a short: liquidation above entry, PnL negative when the price rises", async () => {
    const t = await open({ type: "market", side: "sell", leverage: 10, quantity: 1000 });
    // A market sell fills at the bid.
    expect(t).toMatchObject({ entryPrice: BID, margin: 200_010 });
    expect(t.liquidation).toBe(floorTick(liquidationPrice("sell", 1000, BID, 200_010)));
    expect(t.liquidation).toBe(55_552.5);
    await setPrice(52_000);
    const [running] = await ok(keys, "GET", "/futures/isolated/trades/running");
    expect(running.pl).toBe(Math.round(pnl("sell", 1000, BID, 52_000)));
    expect(running.pl).toBeLessThan(0);
  });

  it("margin instead of quantity buys floor(margin * leverage * price / 1e8) USD", async () => {
    const t = await open({ type: "market", side: "buy", leverage: 10, margin: 100_000 });
    expect(t.quantity).toBe(500);
    expect(t.margin).toBe(100_000);
  });

  it("liquidation when the price crosses it: the margin is lost", async () => {
    const t = await open({ type: "market", side: "buy", leverage: 10, quantity: 1000 });
    const before = await balance();
    expect(t.liquidation).toBe(45_457);
    await setPrice(45_457.5);
    expect(await ok(keys, "GET", "/futures/isolated/trades/running")).toHaveLength(1);
    await setPrice(45_457);
    expect(await ok(keys, "GET", "/futures/isolated/trades/running")).toHaveLength(0);
    const { data } = await ok(keys, "GET", "/futures/isolated/trades/closed");
    expect(data[0]).toMatchObject({ id: t.id, closed: true, pl: -199_990, exitPrice: 45_457, closingFee: 2199 });
    // The closing fee at the liquidation price takes the whole reserve: nothing comes back.
    expect(await balance()).toBe(before);
  });
});

describe("validation", () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ["leverage over 100", { type: "market", side: "buy", leverage: 101, quantity: 10 }, "leverage"],
    ["leverage under 1", { type: "market", side: "buy", leverage: 0.5, quantity: 10 }, "leverage"],
    ["quantity over 500,000", { type: "market", side: "buy", leverage: 2, quantity: 500_001 }, "quantity"],
    ["quantity 0", { type: "market", side: "buy", leverage: 2, quantity: 0 }, "quantity"],
    ["margin and quantity", { type: "market", side: "buy", leverage: 2, quantity: 10, margin: 1000 }, "quantity"],
    ["neither margin nor quantity", { type: "market", side: "buy", leverage: 2 }, "quantity"],
    ["a limit price off the tick", { type: "limit", side: "buy", leverage: 2, quantity: 10, price: 49_000.3 }, "price"],
    ["a limit without price", { type: "limit", side: "buy", leverage: 2, quantity: 10 }, "price"],
    ["a clientId of 65 chars", { type: "market", side: "buy", leverage: 2, quantity: 10, clientId: "x".repeat(65) }, "clientId"],
    ["a long take profit under the price", { type: "market", side: "buy", leverage: 2, quantity: 10, takeprofit: 49_000 }, "takeprofit"],
    ["a short stop loss under the price", { type: "market", side: "sell", leverage: 2, quantity: 10, stoploss: 49_000 }, "stoploss"],
    ["an unknown side", { type: "market", side: "long", leverage: 2, quantity: 10 }, "side"],
  ];
  for (const [name, body, field] of cases) {
    it(`400 for ${name}`, async () => {
      const r = await rest(keys, "POST", "/futures/isolated/trade", body);
      expect(r.status).toBe(400);
      expect(r.json.message).toContain(field);
    });
  }

  it("400 for insufficient balance, and nothing is debited", async () => {
    const poor = await newKeys(1000);
    const r = await rest(poor, "POST", "/futures/isolated/trade", { type: "market", side: "buy", leverage: 1, quantity: 100 });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ message: "Insufficient balance", code: "INSUFFICIENT_BALANCE" });
    expect(await balance(poor)).toBe(1000);
  });

  it("400 for malformed JSON; 400 'You do not own this trade' for an unknown trade or another account's", async () => {
    const bad = await rest(keys, "POST", "/futures/isolated/trade", undefined);
    expect(bad.status).toBe(400);
    const notYours = { message: "You do not own this trade", code: "NOT_YOUR_TRADE" };
    const unknown = await rest(keys, "POST", "/futures/isolated/trade/close", { id: "nope" });
    expect(unknown).toMatchObject({ status: 400, json: notYours });
    const t = await open({ type: "market", side: "buy", leverage: 2, quantity: 10 });
    const other = await newKeys(1_000_000);
    for (const [method, path, body] of [
      ["POST", "/futures/isolated/trade/close", { id: t.id }],
      ["POST", "/futures/isolated/trade/add-margin", { id: t.id, amount: 100 }],
      ["POST", "/futures/isolated/trade/cash-in", { id: t.id, amount: 100 }],
      ["PUT", "/futures/isolated/trade/takeprofit", { id: t.id, value: 60_000 }],
      ["PUT", "/futures/isolated/trade/stoploss", { id: t.id, value: 40_000 }],
      ["POST", "/futures/isolated/trade/cancel", { id: t.id }],
      ["DELETE", `/futures/isolated/trade/stoploss?id=${t.id}`, undefined],
    ] as const) {
      expect(await rest(other, method, path, body), `${method} ${path}`).toMatchObject({ status: 400, json: notYours });
    }
    expect((await rest(keys, "DELETE", `/futures/isolated/trade/stoploss?id=nope`)).status).toBe(400);
    // The owner's trade is untouched.
    expect((await ok(keys, "GET", "/futures/isolated/trades/running"))[0]).toMatchObject({ id: t.id, running: true });
  });

  it("stores clientId and does not deduplicate it; the order log shows both requests", async () => {
    const a = await open({ type: "market", side: "buy", leverage: 2, quantity: 10, clientId: "same-intent" });
    const b = await open({ type: "market", side: "buy", leverage: 2, quantity: 10, clientId: "same-intent" });
    expect(a.id).not.toBe(b.id);
    expect([a.clientId, b.clientId]).toEqual(["same-intent", "same-intent"]);
    const log = await control<any[]>("GET", `/orders?key=${keys.key}`);
    const sent = log.filter((o) => o.clientId === "same-intent");
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatchObject({ key: keys.key, route: "POST /v3/futures/isolated/trade", status: 200 });
    expect(sent[0].body).toMatchObject({ clientId: "same-intent", quantity: 10 });
    expect(typeof sent[0].at).toBe("number");
  });
});

describe("orders and position management", () => {
  it("a limit buy stays open until the offer reaches it, then fills at its price", async () => {
    const t = await open({ type: "limit", side: "buy", leverage: 10, quantity: 100, price: 48_000 });
    expect(t).toMatchObject({ open: true, running: false, entryPrice: null, filledAt: null, price: 48_000, openingFee: 0 });
    await setPrice(48_500);
    expect(await ok(keys, "GET", "/futures/isolated/trades/open")).toHaveLength(1);
    // Last at the limit, but the offer (48,002.5) is still above it.
    await setPrice(48_000);
    expect(await ok(keys, "GET", "/futures/isolated/trades/open")).toHaveLength(1);
    await setPrice(47_997.5);
    expect(await ok(keys, "GET", "/futures/isolated/trades/open")).toHaveLength(0);
    const [r] = await ok(keys, "GET", "/futures/isolated/trades/running");
    expect(r).toMatchObject({ id: t.id, running: true, entryPrice: 48_000, openingFee: fee(100, 48_000) });
    // The opening fee came out of the reserve when the order filled.
    expect(r.maintenanceMargin).toBe(t.maintenanceMargin - fee(100, 48_000));
    expect(r.filledAt).not.toBeNull();
  });

  it("cancel and cancel-all give margin, fee and reserve back", async () => {
    const start = await balance();
    const a = await open({ type: "limit", side: "buy", leverage: 10, quantity: 100, price: 40_000 });
    await open({ type: "limit", side: "sell", leverage: 10, quantity: 100, price: 60_000 });
    await open({ type: "limit", side: "sell", leverage: 10, quantity: 100, price: 61_000 });
    expect(await balance()).toBeLessThan(start);
    expect(await ok(keys, "POST", "/futures/isolated/trade/cancel", { id: a.id })).toMatchObject({ canceled: true, open: false });
    const all = await ok(keys, "POST", "/futures/isolated/trades/cancel-all");
    expect(all).toHaveLength(2);
    expect(all.every((t: any) => t.canceled)).toBe(true);
    expect(await balance()).toBe(start);
    expect((await rest(keys, "POST", "/futures/isolated/trade/cancel", { id: a.id })).status).toBe(400);
  });

  it("add-margin lowers leverage and liquidation", async () => {
    const t = await open({ type: "market", side: "buy", leverage: 10, quantity: 1000 });
    const before = await balance();
    const m = await ok(keys, "POST", "/futures/isolated/trade/add-margin", { id: t.id, amount: 100_000 });
    expect(m.margin).toBe(299_990);
    expect(m.leverage).toBeCloseTo(1e11 / OFFER / 299_990, 9);
    expect(m.liquidation).toBe(ceilTick(liquidationPrice("buy", 1000, OFFER, 299_990)));
    expect(m.liquidation).toBeLessThan(t.liquidation);
    expect(await balance()).toBe(before - 100_000);
  });

  it("cash-in takes profit first (entry moves), then margin", async () => {
    const t = await open({ type: "market", side: "buy", leverage: 10, quantity: 1000 });
    await setPrice(55_000);
    const before = await balance();
    // pl at the last price 55,000 is 181,718 (entry at the offer 50,002.5).
    const c1 = await ok(keys, "POST", "/futures/isolated/trade/cash-in", { id: t.id, amount: 81_718 });
    expect(c1).toMatchObject({ sumCashInPl: 81_718, sumCashInMargin: 0, margin: 199_990, price: OFFER });
    expect(c1.pl).toBe(100_000);
    expect(c1.entryPrice).toBeGreaterThan(OFFER);
    const c2 = await ok(keys, "POST", "/futures/isolated/trade/cash-in", { id: t.id, amount: 150_000 });
    expect(c2).toMatchObject({ sumCashInPl: 181_718, sumCashInMargin: 50_000, margin: 149_990, pl: 0, price: OFFER });
    expect(c2.entryPrice).toBe(55_000);
    expect(await balance()).toBe(before + 231_718);
  });

  it("take profit fires server-side", async () => {
    const t = await open({ type: "market", side: "buy", leverage: 10, quantity: 1000, takeprofit: 52_000 });
    await setPrice(51_500);
    expect(await ok(keys, "GET", "/futures/isolated/trades/running")).toHaveLength(1);
    await setPrice(52_500);
    const { data } = await ok(keys, "GET", "/futures/isolated/trades/closed");
    // Triggered on the last price, closed at that last price.
    expect(data[0]).toMatchObject({ id: t.id, exitPrice: 52_500, pl: Math.round(pnl("buy", 1000, OFFER, 52_500)) });
  });

  it("a trailing stop loss follows the price up and fires on the way down", async () => {
    const t = await open({ type: "market", side: "buy", leverage: 10, quantity: 1000 });
    // value is a distance as a fraction of price: 2 % under the best last price.
    const s = await ok(keys, "PUT", "/futures/isolated/trade/stoploss", { id: t.id, value: 0.02, mode: "trailing" });
    expect(s).toMatchObject({ stoploss: 49_000, stoplossTrailingDistance: 0.02 });
    await setPrice(52_000);
    expect((await ok(keys, "GET", "/futures/isolated/trades/running"))[0].stoploss).toBe(50_960);
    await setPrice(51_500);
    expect((await ok(keys, "GET", "/futures/isolated/trades/running"))[0].stoploss).toBe(50_960);
    await setPrice(50_900);
    const { data } = await ok(keys, "GET", "/futures/isolated/trades/closed");
    expect(data[0]).toMatchObject({ id: t.id, exitPrice: 50_900 });
  });

  it("a fixed stop loss does not move; PUT on the wrong side is refused", async () => {
    const t = await open({ type: "market", side: "sell", leverage: 10, quantity: 1000 });
    expect((await rest(keys, "PUT", "/futures/isolated/trade/stoploss", { id: t.id, value: 49_000 })).status).toBe(400);
    await ok(keys, "PUT", "/futures/isolated/trade/stoploss", { id: t.id, value: 51_000 });
    await setPrice(48_000);
    const [r] = await ok(keys, "GET", "/futures/isolated/trades/running");
    expect(r).toMatchObject({ stoploss: 51_000, stoplossTrailingDistance: 0 });
  });

  it("closed trades paginate newest first with a cursor, and filter by from/to", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const t = await open({ type: "market", side: "buy", leverage: 2, quantity: 10 });
      await ok(keys, "POST", "/futures/isolated/trade/close", { id: t.id });
      ids.push(t.id);
      await new Promise((r) => setTimeout(r, 5));
    }
    const p1 = await ok(keys, "GET", "/futures/isolated/trades/closed?limit=2");
    expect(p1.data.map((t: any) => t.id)).toEqual([ids[2], ids[1]]);
    expect(p1.nextCursor).toEqual(expect.any(String));
    const p2 = await ok(keys, "GET", `/futures/isolated/trades/closed?limit=2&cursor=${encodeURIComponent(p1.nextCursor)}`);
    expect(p2.data.map((t: any) => t.id)).toEqual([ids[0]]);
    expect(p2.nextCursor).toBeNull();
    const future = new Date(Date.now() + 60_000).toISOString();
    expect((await ok(keys, "GET", `/futures/isolated/trades/closed?from=${future}`)).data).toEqual([]);
    expect((await rest(keys, "GET", "/futures/isolated/trades/closed?cursor=garbage")).status).toBe(400);
  });
});
