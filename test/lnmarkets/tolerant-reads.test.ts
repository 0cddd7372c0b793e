/**
 * Tolerant reads (issue 18): an answer missing fields the platform does not use, or carrying
 * fields it does not know, still parses and still yields positions and risk; the difference
 * from the SDK's types is logged once per field and counted for /metrics. No simulator: the
 * exchange answers here are built by hand.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { Market, toRunningTrade } from "../../durable-objects/account/market";
import { tradeRisk } from "../../src/domain/trade";
import { createLogger } from "../../src/lib/logger";
import { driftsSeen, resetDrift, setDriftLogger, takeDriftCounters } from "../../src/lnmarkets/drift";
import { LnMarketsRestClient } from "../../src/lnmarkets/rest-client";
import { bidOffer, FuturesTrade, IsolatedTradeEvent, Ticker } from "../../src/lnmarkets/schemas";
import { toPrometheus } from "../../src/ops/prometheus";
import type { OpsMetrics } from "../../src/ops/metrics";

/** A running long as the exchange might send it: no entryMargin, clientId, uid, type... */
const trimmed = {
  id: "t-1",
  side: "buy",
  price: 100_000,
  entryPrice: 100_002.5,
  quantity: 1_000,
  margin: 100_000,
  leverage: 10,
  liquidation: 90_909.5,
  running: true,
  takeprofit: 0,
  stoploss: 0,
  stoplossTrailingDistance: 0,
  sumFundingFees: 0,
  // Unknown to the SDK:
  someNewField: { nested: true },
};

let lines: string[] = [];
beforeEach(() => {
  resetDrift();
  lines = [];
  setDriftLogger(createLogger({ sink: (_level, line) => lines.push(line) }));
});

const fakeExchange = (routes: Record<string, unknown>) =>
  new LnMarketsRestClient({
    endpoints: {
      restBase: "https://api.example.test/v3",
      fetch: async (input) => {
        const path = new URL(String(input)).pathname.replace(/^\/v3/, "");
        return new Response(JSON.stringify(routes[path]), { status: path in routes ? 200 : 404 });
      },
    },
    credentials: { key: "k", secret: "s".repeat(32), passphrase: "p".repeat(16) },
  });

describe("tolerant reads", () => {
  it("a trade missing unused fields parses, unknown fields are dropped, and it yields a position with risk", () => {
    const t = FuturesTrade.parse(trimmed);
    expect(t.clientId).toBeNull();
    expect(t.entryMargin).toBeUndefined();
    expect("someNewField" in t).toBe(false);
    const r = toRunningTrade(t);
    expect(r.entryPrice).toBe(100_002.5);
    expect(tradeRisk(r, 95_000)).toBeGreaterThan(0.5);
  });

  it("fields the automations read fall back to safe values when missing or of another type", () => {
    const { takeprofit: _tp, stoploss: _sl, stoplossTrailingDistance: _d, liquidation: _l, entryPrice: _e, ...bare } = trimmed;
    const t = FuturesTrade.parse({ ...bare, takeprofit: null, leverage: "10" });
    expect(t).toMatchObject({ takeprofit: 0, stoploss: 0, stoplossTrailingDistance: 0, liquidation: 0, leverage: undefined });
    const r = toRunningTrade(t);
    // No entry price reported: the order price; no liquidation: computed from margin.
    expect(r.entryPrice).toBe(100_000);
    expect(tradeRisk(r, 95_000)).toBeCloseTo(0.55, 2);
  });

  it("what identifies or sizes a trade is still required", () => {
    for (const k of ["id", "side", "quantity", "margin", "running"] as const) {
      const { [k]: _, ...rest } = trimmed;
      expect(FuturesTrade.safeParse(rest).success, k).toBe(false);
    }
  });

  it("a ticker with only its last price parses; bid and offer are read when quoted", () => {
    const t = Ticker.parse({ lastPrice: 100_000 });
    expect(t.prices).toEqual([]);
    expect(bidOffer(t)).toEqual({ bid: null, offer: null });
    const full = Ticker.parse({ index: 99_990, lastPrice: 100_000, fundingRate: 0.0001, fundingTime: "2026-01-01T08:00:00.000Z", prices: [{ bidPrice: 99_997.5, askPrice: 100_002.5, minSize: 1, maxSize: 100_000 }] });
    expect(bidOffer(full)).toEqual({ bid: 99_997.5, offer: 100_002.5 });
    expect(Ticker.parse({ lastPrice: 100_000, prices: [{ minSize: 1 }] }).prices[0]?.bidPrice).toBeUndefined();
  });

  it("a drift is logged once per field and counted once", () => {
    FuturesTrade.parse(trimmed);
    FuturesTrade.parse({ ...trimmed, id: "t-2" });
    Ticker.parse({ lastPrice: 100_000 });
    const counters = takeDriftCounters();
    expect(counters["lnm_schema_drift:FuturesTrade:entryMargin"]).toBe(1);
    expect(counters["lnm_schema_drift:FuturesTrade:clientId"]).toBe(1);
    expect(counters["lnm_schema_drift:Ticker:prices"]).toBe(1);
    expect(lines.filter((l) => l.includes('"field":"entryMargin"'))).toHaveLength(1);
    // Seen already: neither logged nor counted again in this isolate.
    FuturesTrade.parse(trimmed);
    expect(takeDriftCounters()).toEqual({});
    expect(driftsSeen()).toContainEqual({ schema: "FuturesTrade", field: "entryMargin" });
  });

  it("an answer exactly as the SDK types it is no drift", () => {
    FuturesTrade.parse({
      ...trimmed, uid: "u", clientId: null, type: "market", exitPrice: null, entryMargin: 100_000, maintenanceMargin: 100, pl: 0, openingFee: 10,
      closingFee: 0, sumCashInMargin: 0, sumCashInPl: 0, open: false, closed: false, canceled: false, createdAt: "2026-01-01T00:00:00.000Z",
      filledAt: "2026-01-01T00:00:00.000Z", closedAt: null,
    });
    expect(takeDriftCounters()).toEqual({});
  });

  it("the client reads positions and the ticker from such answers (monitoring goes on)", async () => {
    const c = fakeExchange({ "/futures/isolated/trades/running": [trimmed], "/futures/ticker": { lastPrice: 95_000 } });
    const m = new Market();
    expect(await m.refresh(c, Date.now())).toBe("rest");
    expect(m.price).toBe(95_000);
    expect(m.runningTrades().map((t) => t.id)).toEqual(["t-1"]);
  });

  it("/metrics exposes the drift counters by schema and field", () => {
    const metrics = { window: { minutes: 15 }, workers: [], queues: [], deadLetters: { open: 0 }, alerts: { open: 0 },
      accounts: { active: 0, feeds: { stream: 0, rest: 0, none: 0 } }, counters: { "lnm_schema_drift:FuturesTrade:entryMargin": 2, "credentials.hit": 5 } } as unknown as OpsMetrics;
    const text = toPrometheus(metrics);
    expect(text).toContain('lnma_schema_drift_total{schema="FuturesTrade",field="entryMargin"} 2');
    expect(text).toContain('lnma_platform_counter_total{name="credentials.hit"} 5');
    expect(text).not.toContain('name="lnm_schema_drift');
  });
});

describe("funding events on the private stream", () => {
  it("a funding event parses and moves the position's margin, liquidation and funding paid", () => {
    const m = new Market();
    m.setTrades([FuturesTrade.parse(trimmed)], Date.now());
    const ev = IsolatedTradeEvent.parse({
      pair: "btc_usd", event: "funding",
      trade: { id: "t-1", margin: 99_700, liquidationPrice: 91_150, fundingFee: 300, fundedAt: 1, clientId: null },
    });
    expect(m.onTradeEvent(ev)).toBe("updated");
    expect(m.trades.get("t-1")).toMatchObject({ margin: 99_700, liquidation: 91_150, sumFundingFees: 300 });
  });

  it("a funding event without the new margin marks the positions for a re-read", () => {
    const m = new Market();
    m.setTrades([FuturesTrade.parse(trimmed)], Date.now());
    const ev = IsolatedTradeEvent.parse({ event: "funding", trade: { id: "t-1", fundingFee: 300 } });
    expect(m.onTradeEvent(ev)).toBe("updated");
    expect(m.tradesAt).toBe(0);
    expect(m.trades.get("t-1")?.margin).toBe(100_000);
  });
});
