/**
 * Issue 20: one market feed per network with a trigger index; accounts at rest hold no socket.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { registerUser, until } from "./helpers";
import { automation, expectOnRestSlot, quiesce, runDueNow, settle, simAccount, statusOf, traderWithLong } from "./account-helpers";
import { simFaults, simFunding, simOrders, simPrice, simReset } from "./sim-helpers";
import type { TriggerLevel } from "../src/domain/trigger-levels";
import type { MarketFeedDO } from "../durable-objects/market-feed";

const cleanup: string[] = [];
afterEach(async () => {
  while (cleanup.length) await quiesce(cleanup.pop()!);
});

beforeAll(async () => {
  await simReset();
  await simPrice(100_000);
});

const feed = () => env.MARKET_FEED.getByName("simulator");
const feedStatus = async () => JSON.parse(JSON.stringify(await feed().status()));
const GUARD = { maxAddPerTradeSats: 1_000_000, maxAddPerDaySats: 1_000_000 };

describe("the trigger index", () => {
  it("finds exactly the accounts a move crossed, with one range scan of the price index", async () => {
    // A feed of its own (testnet): the index is exercised without a stream or real accounts.
    // Typed loosely: the RPC stub's inferred type is too deep for runInDurableObject's generics.
    const testnet = (env.MARKET_FEED as unknown as DurableObjectNamespace<MarketFeedDO>).getByName("testnet") as unknown as DurableObjectStub<MarketFeedDO>;
    await runInDurableObject<MarketFeedDO, void>(testnet, async (inst, state) => {
      const index = (inst as unknown as { index: any }).index;
      // 1,000 accounts, 10 levels each spread 90,000-110,000, half down half up.
      for (let a = 0; a < 1_000; a++) {
        const levels: TriggerLevel[] = Array.from({ length: 10 }, (_, i) => ({ price: 90_000 + ((a * 10 + i) * 2) % 20_000, direction: i % 2 ? "up" : "down", kind: "risk_act" }));
        index.register(`acc${a}`, levels, Date.now());
      }
      expect(index.counts()).toEqual({ accounts: 1_000, levels: 10_000 });
      const expected = (from: number, to: number) => {
        const out = new Set<string>();
        for (let a = 0; a < 1_000; a++) for (let i = 0; i < 10; i++) {
          const price = 90_000 + ((a * 10 + i) * 2) % 20_000;
          const down = i % 2 === 0;
          if (down ? to <= price && price < from : from < price && price <= to) out.add(`acc${a}`);
        }
        return [...out].sort();
      };
      for (const [from, to] of [[100_000, 99_900], [99_900, 100_000], [95_001, 95_000], [100_000, 100_000], [101_000, 100_500]] as const) {
        expect(index.crossed(from, to).map((c: any) => c.accountId).sort()).toEqual(expected(from, to));
      }
      const plan = state.storage.sql.exec("EXPLAIN QUERY PLAN SELECT account_id, kind FROM triggers WHERE dir = 0 AND price >= 1 AND price < 2").toArray();
      expect(JSON.stringify(plan)).toMatch(/USING INDEX triggers_by_price/);
      // A registration replaces the account's levels; none removes it.
      index.register("acc0", [{ price: 99_950, direction: "down", kind: "risk_warn" }], Date.now());
      expect(index.crossed(100_000, 99_950).map((c: any) => c.accountId)).toContain("acc0");
      index.register("acc0", [], Date.now());
      expect(index.counts()).toEqual({ accounts: 999, levels: 9_990 });
      for (let a = 1; a < 1_000; a++) index.register(`acc${a}`, [], Date.now());
    });
  });
});

describe("accounts at rest", () => {
  it("a guarded account away from its levels holds no socket; a tick across its act level wakes it through the feed and it adds margin", async () => {
    const { u, acc, trade } = await traderWithLong("rest");
    cleanup.push(acc.id);
    await automation(u.token, acc.id, { type: "margin_guard", config: GUARD });
    await settle(acc.id);
    const st = await until("registered with the feed", async () => {
      const s = await statusOf(acc.id);
      return s.marketFeed.registeredAt ? s : null;
    });
    // 50x at 100,000: the nearest level (0.8 risk) is ~1.6 % away, beyond the 1 % hot zone.
    expect(st.marketFeed.hot).toBe(false);
    expect(st.stream.state).toBe("closed");
    // At rest the guard and the monitor run at the re-sync cadence (the feed watches the levels),
    // both on the account's slot: one alarm and one read of the exchange for the two.
    const callsBefore = st.breaker.calls;
    await runDueNow(acc.id);
    const rest = await statusOf(acc.id);
    // The guard's run and the monitor's, in one alarm: one ticker and one positions read.
    expect(rest.breaker.calls - callsBefore).toBe(2);
    expectOnRestSlot(acc.id, rest.monitor.status);
    expectOnRestSlot(acc.id, rest.automations[0].status);
    expect(rest.automations[0].status.nextRunAt).toBe(rest.monitor.status.nextRunAt);
    const f = await until("the feed's stream", async () => {
      const s = await feedStatus();
      return s.stream.state === "open" && s.price !== null ? s : null;
    });
    expect(f.accounts).toBeGreaterThanOrEqual(1);

    // One tick past actAt (0.9), nothing run by hand: only the feed can wake the account.
    const entry = trade.entryPrice ?? trade.price;
    await simPrice(Math.round((entry - 0.93 * (entry - trade.liquidation)) * 2) / 2);
    await until("the add-margin", async () => (await simOrders(acc.keys.key)).some((o: any) => /add-margin/.test(o.route) && o.status === 200), 8_000);
    const after = await feedStatus();
    expect(after.counters.wakes).toBeGreaterThanOrEqual(1);
    expect(after.counters.wakeFailures).toBe(0);
    // The add-margin moved liquidation: the account re-registered its new levels.
    await until("re-registered", async () => (await statusOf(acc.id)).marketFeed.registrations >= 2);
  }, 30_000);

  it("entering the hot zone opens the account's own socket", async () => {
    const { u, acc, trade } = await traderWithLong("hot");
    cleanup.push(acc.id);
    await automation(u.token, acc.id, { type: "margin_guard", config: GUARD });
    await settle(acc.id);
    await until("registered at rest", async () => {
      const s = await statusOf(acc.id);
      return s.marketFeed.registeredAt && !s.marketFeed.hot;
    });
    // Within 1 % of the 0.8 level (still short of it): the hot-zone boundary wakes the account.
    const entry = trade.entryPrice ?? trade.price;
    const warn = entry - 0.8 * (entry - trade.liquidation);
    await simPrice(Math.round(warn * 1.005 * 2) / 2);
    const hot = await until("the socket", async () => {
      const s = await statusOf(acc.id);
      return s.stream.state === "open" ? s : null;
    });
    expect(hot.marketFeed.hot).toBe(true);
    expect((await simOrders(acc.keys.key)).some((o: any) => /add-margin/.test(o.route))).toBe(false);
    await simPrice(100_000);
  }, 30_000);

  it("on a plan without a dedicated socket the hot zone holds none: the monitor is pulled in and re-syncs every 5 s over REST", async () => {
    await simPrice(100_000);
    const u = await registerUser("hot-free");
    const acc = await simAccount(u.token, "hot-free");
    const trade = await acc.client.newTrade({ type: "market", side: "buy", leverage: 50, quantity: 1_000 });
    cleanup.push(acc.id);
    await automation(u.token, acc.id, { type: "margin_guard", config: GUARD });
    await settle(acc.id);
    const rest = await until("registered at rest", async () => {
      const s = await statusOf(acc.id);
      return s.marketFeed.registeredAt && !s.marketFeed.hot ? s : null;
    });
    // At rest the monitor's next re-sync is up to a cadence and a half away.
    expect(rest.monitor.status.nextRunAt - Date.now()).toBeGreaterThan(20_000);
    const runsBefore = rest.monitor.status.runs;
    const entry = trade.entryPrice ?? trade.price;
    const warn = entry - 0.8 * (entry - trade.liquidation);
    await simPrice(Math.round(warn * 1.005 * 2) / 2);
    // The feed's wake-up at the zone's edge: hot, and the monitor's re-sync brought forward to now.
    const hot = await until("hot, monitor re-synced", async () => {
      const s = await statusOf(acc.id);
      return s.marketFeed.hot && s.monitor.status.runs > runsBefore ? s : null;
    });
    expect(hot.stream.state).toBe("closed");
    expect(hot.feed).toBe("rest");
    expect(hot.monitor.status.nextRunAt - hot.monitor.status.lastRunAt).toBe(5_000);
    await simPrice(100_000);
  }, 30_000);
});

describe("funding settlements", () => {
  it("a settlement the feed did not see pushed is found in the settlements list on resubscribing; one it handled is not told twice", async () => {
    const { u, acc } = await traderWithLong("funding-missed");
    cleanup.push(acc.id);
    await automation(u.token, acc.id, { type: "margin_guard", config: GUARD });
    await settle(acc.id);
    await until("registered with the feed", async () => ((await statusOf(acc.id)).marketFeed.registeredAt ? true : null));
    await until("the feed's stream", async () => {
      const s = await feedStatus();
      return s.stream.state === "open" && s.price !== null ? s : null;
    });
    type Inner = { settledWhileDown(): Promise<{ time: number; rate: number } | null>; index: { getMeta(k: string): string | null; setMeta(k: string, v: string): void } };
    const inFeed = <T>(fn: (f: Inner) => Promise<T> | T) =>
      runInDurableObject(feed() as unknown as DurableObjectStub, (inst) => fn(inst as unknown as Inner)) as Promise<T>;
    // A baseline, then a settlement pushed live: the feed handles it and remembers it.
    await inFeed((f) => f.settledWhileDown());
    const before = (await feedStatus()).counters.fundingSettlements;
    await simFunding(0.0001);
    await until("the pushed settlement", async () => (await feedStatus()).counters.fundingSettlements > before || null);
    // Resubscribing afterwards finds nothing new: no second wake for the same settlement.
    expect(await inFeed((f) => f.settledWhileDown())).toBeNull();

    // The feed's memory rewound to before it, as if the socket had been down when it was
    // pushed (and the next funding time had not moved): the list tells it, and the accounts wake.
    const settlement = await inFeed((f) => {
      const last = Number(f.index.getMeta("lastSettlement"));
      f.index.setMeta("lastSettlement", String(last - 60_000));
      return last;
    });
    const wakes = (await feedStatus()).counters.fundingWakes;
    const found = await inFeed((f) => f.settledWhileDown());
    expect(found).not.toBeNull();
    expect(found!.rate).toBe(0.0001);
    expect(found!.time).toBeLessThanOrEqual(settlement);
    expect((await feedStatus()).counters.fundingWakes).toBeGreaterThan(wakes);
    expect(await inFeed((f) => f.settledWhileDown())).toBeNull();

    // The check itself refused (a 5xx, a 429): it is due again at every alarm until it succeeds.
    await inFeed((f) => f.index.setMeta("lastSettlement", String(settlement - 60_000)));
    await simFaults({ restErrorRate: 1, seed: 3 });
    await inFeed((f) => (f as unknown as { checkFunding(): Promise<void> }).checkFunding());
    expect(await inFeed((f) => f.index.getMeta("fundingCheckDue"))).toBe("1");
    await simFaults({});
    const wakes2 = (await feedStatus()).counters.fundingWakes;
    await runDurableObjectAlarm(feed() as unknown as DurableObjectStub);
    expect(await inFeed((f) => f.index.getMeta("fundingCheckDue"))).toBe("");
    expect((await feedStatus()).counters.fundingWakes).toBeGreaterThan(wakes2);
  }, 30_000);
});
