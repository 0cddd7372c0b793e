/**
 * The Margin Guard saves a long that opened at the offer through a funding charge and a drop
 * toward liquidation, with exactly one add-margin.
 *
 * The drop is placed so that the position is past the guard's `actAt` only once the funding
 * charge is counted (the charge came out of the margin, so the liquidation price moved up): a
 * platform still judging risk from the margin before the charge would not act in time. The
 * exchange's facts used (funding taken from the margin, longs pay a positive rate; market buys
 * fill at the offer) are cited in test/lnmarkets/sdk-exchange.test.ts.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { liquidationPrice, riskOf } from "../src/domain/inverse";
import { automation, quiesce, settle, traderWithLong } from "./account-helpers";
import { until } from "./helpers";
import { sim, simFunding, simOrders, simPrice, simReset } from "./sim-helpers";

const cleanup: string[] = [];
afterEach(async () => {
  while (cleanup.length) await quiesce(cleanup.pop()!);
});
beforeAll(async () => {
  await simReset();
});

describe("margin guard across a funding settlement", () => {
  it("saves a long opened at the offer through a funding charge and a drop, with one add-margin", async () => {
    const { u, acc, trade } = await traderWithLong("funding-guard");
    cleanup.push(acc.id);
    const ticker = await sim<any>("GET", "/v3/futures/ticker");
    // Opened at the offer, above the last price it was sent at.
    expect(trade.entryPrice).toBe(ticker.prices[0].askPrice);
    expect(trade.entryPrice).toBeGreaterThan(100_000);

    await automation(u.token, acc.id, {
      type: "margin_guard",
      config: { warnAt: 0.8, actAt: 0.9, targetRisk: 0.5, maxAddPerTradeSats: 1_000_000, maxAddPerDaySats: 1_000_000 },
    });
    await settle(acc.id);

    // Longs pay a positive rate from their margin: 1,000 USD at 100,000 and 0.2 % is 2,000 sats.
    await simFunding(0.002);
    const [charged] = await acc.client.runningTrades();
    expect(charged!.margin).toBe(trade.margin - 2_000);
    expect(charged!.sumFundingFees).toBe(2_000);
    expect(charged!.liquidation).toBeGreaterThan(trade.liquidation);

    // Past actAt with the charge counted, under it without: only a guard that saw the charge acts.
    const entry = charged!.entryPrice!;
    const act = Math.round((entry - 0.93 * (entry - charged!.liquidation)) * 2) / 2;
    const staleRisk = riskOf("buy", entry, liquidationPrice("buy", trade.quantity, entry, trade.margin), act);
    expect(staleRisk).toBeLessThan(0.9);
    await simPrice(act);

    const saved = await until("the guard added margin", async () => {
      const [t] = await acc.client.runningTrades();
      return t && t.margin > charged!.margin ? t : undefined;
    }, 10_000);
    expect(riskOf("buy", entry, saved.liquidation, act)).toBeLessThanOrEqual(0.5 + 0.5 / (entry - saved.liquidation) + 1e-9);

    // Further ticks and the backstop do not add again: the position is at target.
    await simPrice(act - 5);
    await simPrice(act);
    await new Promise((r) => setTimeout(r, 1_500));
    const adds = (await simOrders(acc.keys.key)).filter((o: any) => /add-margin/.test(o.route) && o.status === 200);
    expect(adds).toHaveLength(1);
    const [after] = await acc.client.runningTrades();
    expect(after!.running).toBe(true);
    expect(after!.margin).toBe(saved.margin);
  }, 30_000);
});
