import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { api, LOG_ROW_WAIT_MS, until } from "./helpers";
import { automation, expectOnRestSlot, proUser, quiesce, runDueNow, settle, simAccount, statusOf, traderWithLong } from "./account-helpers";
import { sim, simFaults, simOrders, simPrice, simReset } from "./sim-helpers";

const cleanup: string[] = [];
afterEach(async () => {
  while (cleanup.length) await quiesce(cleanup.pop()!);
});
beforeAll(async () => {
  await simReset();
});


/**
 * At rest (issue 20) the account holds no socket: the network's market feed watches its levels
 * and wakes it on a crossing. Waits until its levels are registered and the feed is live at the
 * exchange's price (an earlier test may have silenced the simulator's stream).
 */
async function watchedByFeed(accountId: string) {
  await until("registered with the feed", async () => (await statusOf(accountId)).marketFeed.registeredAt);
  const last = (await sim<any>("GET", "/v3/futures/ticker")).lastPrice;
  await until("the feed at the exchange's price", async () => {
    const f = await env.MARKET_FEED.getByName("simulator").status();
    return f.stream.state === "open" && f.price === last;
  }, 15_000, 100);
}

describe("Margin Guard end to end (stream ticks)", () => {
  it("a guarded 50x long survives a crash that liquidates its unguarded twin", async () => {
    await simPrice(100_000);
    const u = await proUser("twin");
    await api("PATCH", "/v1/me", { token: u.token, body: { scheduleScope: "all" } });
    const guarded = await simAccount(u.token, "Guarded");
    const bare = await simAccount(u.token, "Bare");
    cleanup.push(guarded.id, bare.id);
    const g = await guarded.client.newTrade({ type: "market", side: "buy", leverage: 50, quantity: 1_000 });
    const b = await bare.client.newTrade({ type: "market", side: "buy", leverage: 50, quantity: 1_000 });
    await automation(u.token, guarded.id, { type: "margin_guard", config: { maxAddPerTradeSats: 2_000_000, maxAddPerDaySats: 2_000_000 } });
    await settle(guarded.id);
    // Away from its levels the guarded account rests; the crash below reaches it through the feed.
    await watchedByFeed(guarded.id);

    const liq = g.liquidation;
    const step = (r: number) => Math.round((100_000 - r * (100_000 - liq)) * 2) / 2;
    await simPrice(step(0.5));
    await simPrice(step(0.93));
    // The tick acts at once: margin lands before the next alarm would have run.
    const saved = await until("margin added", async () => {
      const t = (await guarded.client.runningTrades())[0];
      return t && t.margin > g.margin ? t : undefined;
    });
    expect(saved.liquidation).toBeLessThan(liq);
    // Below the original liquidation price: the twin dies, the guarded trade lives.
    await simPrice(Math.round(((liq + saved.liquidation) / 2) * 2) / 2);
    expect(await bare.client.runningTrades()).toEqual([]);
    const closed = await bare.client.closedTrades({ limit: 5 });
    expect(closed.data.find((t) => t.id === b.id)).toBeTruthy();
    expect((await guarded.client.runningTrades()).map((t) => t.id)).toEqual([g.id]);
    const adds = (await simOrders(guarded.keys.key)).filter((o: any) => /add-margin/.test(o.route));
    expect(adds).toHaveLength(1);
    const logs = await api("GET", `/v1/accounts/${guarded.id}/logs`, { token: u.token });
    expect(logs.status).toBe(200);
  }, 20_000);
});

describe("the margin monitor on the stream", () => {
  it("alerts a critical trade on the tick, with no guard and no alarm; at rest its alarm is a 60 s backstop, in the hot zone a drop of its socket brings it back to 5 s", async () => {
    const { u, acc, trade: t } = await traderWithLong("monitor-tick");
    cleanup.push(acc.id);
    // Something enabled, so the account runs (and its monitor with it), but no guard.
    await automation(u.token, acc.id, { type: "noop", config: {}, schedule: { intervalMs: 3_600_000 } });
    await settle(acc.id);
    await runDueNow(acc.id);
    // At rest (issue 20): no socket of its own, the feed watches the trade's 0.8 and 0.9 levels
    // and the monitor's alarm is the 60 s REST backstop.
    const st = await statusOf(acc.id);
    const before = st.monitor.status;
    expect(st.stream.state).toBe("closed");
    expect(st.marketFeed.hot).toBe(false);
    expectOnRestSlot(acc.id, before);
    await watchedByFeed(acc.id);

    const t0 = Date.now();
    await simPrice(Math.round((100_000 - 0.93 * (100_000 - t.liquidation)) * 2) / 2);
    // The row reaches D1 through the LOGS queue, whose batches wait up to 5 s (wrangler.toml):
    // the monitor's timing is the row's own time, not when the API shows it.
    const logs = await until("critical logged from the tick", async () => {
      const r = await api("GET", `/v1/accounts/${acc.id}/logs?limit=100`, { token: u.token });
      return r.body.data.some((l: any) => l.event === "margin_monitor.critical") ? r.body.data : undefined;
    }, LOG_ROW_WAIT_MS, 100);
    const critical = logs.find((l: any) => l.event === "margin_monitor.critical");
    // Through the feed's wake-up, within seconds, long before the backstop.
    expect(critical.createdAt - t0).toBeLessThan(5_000);
    expect(critical.createdAt).toBeLessThan(before.nextRunAt);
    expect(critical.data.guards).toBe(0);
    // A run the tick started does not push the schedule back (entering the hot zone, as the
    // price now has, brings the re-sync forward: durable-objects/account/hot-zone.ts).
    const after = (await statusOf(acc.id)).monitor.status;
    expect(after.nextRunAt).toBeLessThanOrEqual(before.nextRunAt);

    // Now next to its levels, the account is in its hot zone and holds its own socket.
    await until("hot zone socket open", async () => {
      const s = await statusOf(acc.id);
      return s.marketFeed.hot && s.stream.state === "open";
    });
    // The socket drops: the monitor is the only detection again, due within 5 s.
    await simFaults({ dropSocketsEveryMs: 200 });
    try {
      await until("monitor due soon", async () => {
        const m = (await statusOf(acc.id)).monitor.status;
        return m.nextRunAt - Date.now() <= 5_000 ? m : undefined;
      });
    } finally {
      await simFaults({});
    }
  }, 45_000);
});

describe("Margin Guard with a stale balance", () => {
  it("sizes from the last balance read; when the exchange refuses it, reads the balance and decides once more", async () => {
    const { u, acc, trade: g } = await traderWithLong("stale-balance");
    cleanup.push(acc.id);
    await automation(u.token, acc.id, { type: "margin_guard", config: { maxAddPerTradeSats: 2_000_000, maxAddPerDaySats: 2_000_000 } });
    // The first runs read the balance (the monitor keeps it for the guards).
    await settle(acc.id);
    // At rest the guard's levels are with the feed; the crossing below reaches it as a wake-up.
    await watchedByFeed(acc.id);
    // Behind the guard's back most of the balance goes into an unfilled limit order.
    const before = (await acc.client.account()).balance;
    await acc.client.newTrade({ type: "limit", side: "buy", leverage: 1, margin: before - 20_000, price: 50_000 });
    const left = (await acc.client.account()).balance;

    const since = Date.now();
    await simPrice(Math.round((100_000 - 0.93 * (100_000 - g.liquidation)) * 2) / 2);
    const orders = await until("refused, then decided again", async () => {
      const o = (await simOrders(acc.keys.key)).filter((x: any) => x.at >= since && /add-margin|close/.test(x.route));
      return o.length >= 2 ? o : undefined;
    });
    // The tick reached the guard through the feed's wake-up: it acted within seconds, long
    // before its 60 s backstop at rest.
    expect(orders[0].at - since).toBeLessThan(5_000);
    // The first add-margin was sized from the old balance and refused; the second fits.
    expect(orders[0]).toMatchObject({ route: "POST /v3/futures/isolated/trade/add-margin", status: 400 });
    expect(orders[0].body.amount).toBeGreaterThan(left);
    expect(orders[1].status).toBe(200);
    if (/add-margin/.test(orders[1].route)) expect(orders[1].body.amount).toBeLessThanOrEqual(left);
    expect(orders).toHaveLength(2);
    const logs = await until("re-read logged", async () => {
      const r = await api("GET", `/v1/accounts/${acc.id}/logs?limit=100`, { token: u.token });
      return r.body.data.some((l: any) => l.event === "margin_guard.balance_reread") ? r.body.data : undefined;
    }, LOG_ROW_WAIT_MS);
    expect(logs.length).toBeGreaterThan(0);
  }, 40_000);
});

describe("TP/SL", () => {
  it("puts TP and SL on the exchange, only when they differ, and the exchange fires the stop", async () => {
    await simPrice(100_000);
    const u = await proUser("tpsl");
    const acc = await simAccount(u.token, "TPSL");
    cleanup.push(acc.id);
    const t = await acc.client.newTrade({ type: "market", side: "buy", leverage: 10, quantity: 500 });
    await automation(u.token, acc.id, { type: "tp_sl", config: { takeProfit: { percent: 2 }, stopLoss: { percent: 1 } } });
    await settle(acc.id);
    const onExchange = await until("tp/sl set", async () => {
      const r = (await acc.client.runningTrades())[0];
      return r && r.takeprofit && r.stoploss ? r : undefined;
    });
    // Measured from the entry the exchange reports: the buy filled at the offer, above 100,000.
    const entry = onExchange.entryPrice!;
    expect(entry).toBeGreaterThan(100_000);
    expect(onExchange.takeprofit).toBe(Math.round((entry * 1.02) / 0.5) * 0.5);
    expect(onExchange.stoploss).toBe(Math.round((entry * 0.99) / 0.5) * 0.5);
    const sent = (await simOrders(acc.keys.key)).filter((o: any) => /takeprofit|stoploss/.test(o.route)).length;
    // Another run changes nothing: no new orders.
    const { runDueNow } = await import("./account-helpers");
    await runDueNow(acc.id);
    expect((await simOrders(acc.keys.key)).filter((o: any) => /takeprofit|stoploss/.test(o.route)).length).toBe(sent);
    await simPrice(98_900);
    expect(await acc.client.runningTrades()).toEqual([]);
    const closed = await acc.client.closedTrades({ limit: 5 });
    expect(closed.data.find((x) => x.id === t.id)?.exitPrice).toBeLessThanOrEqual(onExchange.stoploss);
  }, 20_000);
});

describe("Auto Entry", () => {
  it("opens exactly once per condition crossing", async () => {
    await simPrice(96_000);
    const u = await proUser("entry");
    const acc = await simAccount(u.token, "Entry");
    cleanup.push(acc.id);
    await automation(u.token, acc.id, {
      type: "auto_entry",
      config: { condition: { type: "price_below", level: 95_000 }, side: "buy", quantity: 100, leverage: 5, maxOpenTrades: 10, cooldownMs: 0, maxPerDay: 10 },
    });
    await settle(acc.id);
    // 95,000 is more than 1 % below 96,000: at rest, the feed watches the entry level.
    expect((await statusOf(acc.id)).marketFeed.hot).toBe(false);
    await watchedByFeed(acc.id);
    const opens = async () => (await simOrders(acc.keys.key)).filter((o: any) => o.route.endsWith("/futures/isolated/trade") && o.status < 300);
    const t0 = Date.now();
    await simPrice(94_900);
    await until("first open", async () => (await opens()).length === 1, 5_000, 50);
    // Through the feed's wake-up (at rest, no socket of its own): within seconds, not at the
    // 60 s backstop.
    expect(Date.now() - t0).toBeLessThan(5_000);
    await simPrice(94_800);
    await simPrice(94_700);
    await new Promise((r) => setTimeout(r, 300));
    expect(await opens()).toHaveLength(1);
    await simPrice(96_000); // leaves the condition: re-armed
    await new Promise((r) => setTimeout(r, 200));
    const t1 = Date.now();
    await simPrice(94_900);
    await until("second open", async () => (await opens()).length === 2, 5_000, 50);
    expect(Date.now() - t1).toBeLessThan(5_000);
    const ids = (await opens()).map((o: any) => o.clientId);
    expect(new Set(ids).size).toBe(2);
    expect((await acc.client.runningTrades()).length).toBe(2);
  }, 20_000);

  it("pauseEntries stops entries while protection keeps running", async () => {
    await simPrice(96_000);
    const u = await proUser("pause");
    const acc = await simAccount(u.token, "Paused");
    cleanup.push(acc.id);
    await api("PATCH", "/v1/me", { token: u.token, body: { pauseEntries: true } });
    await automation(u.token, acc.id, { type: "auto_entry", config: { condition: { type: "price_below", level: 95_000 }, side: "buy", quantity: 100, leverage: 5, cooldownMs: 0 } });
    await settle(acc.id);
    await watchedByFeed(acc.id);
    await simPrice(94_000);
    await new Promise((r) => setTimeout(r, 500));
    const { runDueNow } = await import("./account-helpers");
    await runDueNow(acc.id);
    expect((await simOrders(acc.keys.key)).filter((o: any) => o.route.endsWith("/futures/isolated/trade"))).toHaveLength(0);
    expect((await statusOf(acc.id)).running).toBe(true);
  }, 20_000);
});
