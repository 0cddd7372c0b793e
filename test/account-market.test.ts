import { afterEach, describe, expect, it, vi } from "vitest";
import { Market } from "../durable-objects/account/market";
import type { FuturesTrade } from "../src/lnmarkets/schemas";

const trade = (margin: number) =>
  ({ id: "t1", side: "buy", quantity: 1_000, price: 100_000, entryPrice: 100_000, margin, liquidation: 98_039.5, clientId: null, takeprofit: 0, stoploss: 0, stoplossTrailingDistance: 0, leverage: 50, running: true }) as unknown as FuturesTrade;

afterEach(() => {
  vi.useRealTimers();
});

describe("the account's positions", () => {
  it("a list read before a change made here is not applied over it, and the next run reads again", () => {
    vi.useFakeTimers();
    const m = new Market();
    vi.setSystemTime(1_000);
    m.setTrades([trade(20_000)], 1_000);
    // A read starts; meanwhile an add-margin answers with the new margin.
    const readStartedAt = 2_000;
    vi.setSystemTime(2_500);
    m.upsertTrade(trade(40_000));
    // The read's list (from before the add-margin) arrives.
    vi.setSystemTime(3_000);
    m.setTrades([trade(20_000)], 3_000, readStartedAt);
    expect(m.runningTrades()[0]!.margin).toBe(40_000);
    expect(m.tradesAt).toBe(0);
    // A read that started after the change is taken.
    m.setTrades([trade(41_000)], 3_500, 3_000);
    expect(m.runningTrades()[0]!.margin).toBe(41_000);
    expect(m.tradesAt).toBe(3_500);
  });
});
