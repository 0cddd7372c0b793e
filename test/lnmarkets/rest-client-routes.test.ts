/**
 * The routes issue 18 adds to the client (canceled trades, isolated funding fees, funding
 * settlements, candles) and the trailing stop's unit, against a recorded fake exchange: the
 * path and query sent, and the page parsed. Byte parity with the SDK: sdk-parity.test.ts.
 */
import { describe, expect, it } from "vitest";
import { LnMarketsError } from "../../src/lnmarkets/errors";
import { LnMarketsRestClient } from "../../src/lnmarkets/rest-client";

function client(answer: unknown) {
  const seen: { method: string; path: string; query: string; body: string | undefined }[] = [];
  const c = new LnMarketsRestClient({
    endpoints: {
      restBase: "https://api.example.test/v3",
      fetch: async (input, init) => {
        const url = new URL(String(input));
        seen.push({ method: init?.method ?? "GET", path: url.pathname, query: url.search, body: init?.body as string | undefined });
        return new Response(JSON.stringify(answer), { status: 200 });
      },
    },
    credentials: { key: "k", secret: "s".repeat(32), passphrase: "p".repeat(16) },
  });
  return { c, seen };
}

const trade = { id: "t", side: "sell", type: "limit", price: 120_000, entryPrice: null, quantity: 10, margin: 1_000, running: false, canceled: true };

describe("new routes", () => {
  it("GET /futures/isolated/trades/canceled -> trades", async () => {
    const { c, seen } = client([trade]);
    expect((await c.getCanceledTrades())[0]).toMatchObject({ id: "t", canceled: true });
    expect(seen[0]).toMatchObject({ method: "GET", path: "/v3/futures/isolated/trades/canceled", query: "" });
  });

  it("GET /futures/isolated/funding-fees with tradeId and paging -> {data, nextCursor}", async () => {
    const { c, seen } = client({ data: [{ fee: 12, settlementId: "s1", time: "2026-01-01T08:00:00.000Z", tradeId: "t" }], nextCursor: "n2" });
    const page = await c.getFundingFees({ tradeId: "t", limit: 50, cursor: "n1" });
    expect(page).toEqual({ data: [{ fee: 12, settlementId: "s1", time: "2026-01-01T08:00:00.000Z", tradeId: "t" }], nextCursor: "n2" });
    expect(seen[0]).toMatchObject({ path: "/v3/futures/isolated/funding-fees", query: "?cursor=n1&limit=50&tradeId=t" });
  });

  it("GET /futures/funding-settlements -> {data, nextCursor}", async () => {
    const { c, seen } = client({ data: [{ id: "s1", time: "2026-01-01T08:00:00.000Z", fundingRate: 0.0001, fixingPrice: 100_000 }], nextCursor: null });
    expect((await c.getFundingSettlements({ from: "2026-01-01T00:00:00.000Z" })).data[0]?.fundingRate).toBe(0.0001);
    expect(seen[0]).toMatchObject({ path: "/v3/futures/funding-settlements", query: "?from=2026-01-01T00%3A00%3A00.000Z" });
  });

  it("GET /futures/candles with from, range and limit -> {data, nextCursor}", async () => {
    const candle = { time: "2026-01-01T00:00:00.000Z", open: 1, high: 2, low: 0.5, close: 1.5, volume: 10 };
    const { c, seen } = client({ data: [candle], nextCursor: "c2" });
    expect(await c.getCandles({ from: "2026-01-01T00:00:00.000Z", range: "1h", limit: 2 })).toEqual({ data: [candle], nextCursor: "c2" });
    expect(seen[0]?.path).toBe("/v3/futures/candles");
    expect(seen[0]?.query).toBe("?from=2026-01-01T00%3A00%3A00.000Z&limit=2&range=1h");
  });
});

describe("trailing stop unit", () => {
  it("sends the trailing distance as a fraction of price", async () => {
    const { c, seen } = client({ ...trade, running: true, canceled: false, stoploss: 99_000, stoplossTrailingDistance: 0.01 });
    await c.setStoploss({ id: "t", value: 0.01, mode: "trailing" });
    expect(JSON.parse(seen[0]!.body!)).toEqual({ id: "t", value: 0.01, mode: "trailing" });
  });

  it("refuses a trailing value outside [0.001, 10] locally (a price would be one)", async () => {
    const { c, seen } = client({});
    for (const value of [99_000, 0.0005, 0, Number.NaN]) {
      await expect(c.setStoploss({ id: "t", value, mode: "trailing" })).rejects.toMatchObject({ kind: "permanent", code: "invalid_request" });
    }
    await expect(c.setStoploss({ id: "t", value: 11, mode: "trailing" })).rejects.toBeInstanceOf(LnMarketsError);
    expect(seen).toHaveLength(0);
  });
});
