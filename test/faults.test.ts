/**
 * Fault suite, short form (issue 12): a small fleet of guarded 50x longs goes through a crash
 * while the simulator injects REST errors, 429s with retry-after, a latency spike (shorter than
 * a request's 10 s timeout: runs wait it out, since no run timeout may be shorter than a
 * request's) and socket drops every few seconds. Alarms are
 * driven by hand (runDueNow) so the run stays short and repeatable. A third case sends an
 * add-margin that the exchange applies only after the client gave up (the simulator's
 * `lateLanding`), as the soak does. The long form is `npm run soak` (bench/soak.mjs), which
 * adds held answers, spikes past the run timeout, reloads, funding, the trader's own orders and
 * key revocation.
 *
 * Queue consumers fed duplicates and poison messages are covered where they live:
 * notifications.test.ts ("does not send twice when a message is redelivered"),
 * payments.test.ts (duplicate paid message, malformed message, provider outage) and
 * dead-letters.test.ts (malformed bodies, exhausted attempts).
 */
import { env } from "cloudflare:workers";
import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api } from "./helpers";
import { accountCleanup, automation, flushLogs, proUser, runDueNow, settle, simAccount, statusOf, stub } from "./account-helpers";
import { simFaults, simOrders, simPrice } from "./sim-helpers";
import type { LnMarketsRestClient } from "../src/lnmarkets/rest-client";

const FLEET = 5;
const ACT_AT = 0.7;
const GUARD = { warnAt: 0.6, actAt: ACT_AT, targetRisk: 0.3, maxAddPerTradeSats: 3_000_000, maxAddPerDaySats: 3_000_000 };

/** Every fault at once: a POST replaces the whole set. */
const faults = (seed: number, spike = false) => ({
  restErrorRate: 0.3,
  rateLimit: { perSecond: 6, retryAfterS: 1 },
  dropSocketsEveryMs: 3_000,
  ...(spike ? { latencyMs: 2_000 } : {}),
  seed,
});

const cleanup = accountCleanup();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const half = (x: number) => Math.round(x * 2) / 2;

/** The test reads through the same faulty exchange: retry until an answer (bounded). */
async function persist<T>(fn: () => Promise<T>, tries = 30): Promise<T> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      return await fn();
    } catch (e) {
      last = e;
      await sleep(150);
    }
  }
  throw last;
}

const riskOf = (t: { entryPrice?: number | null | undefined; price: number; liquidation: number }, price: number) => {
  const entry = t.entryPrice ?? t.price;
  return Math.min(1, Math.max(0, (entry - price) / (entry - t.liquidation)));
};

interface Member {
  id: string;
  key: string;
  client: LnMarketsRestClient;
  tradeId: string;
}

async function intentsOf(accountId: string) {
  return runInDurableObject(stub(accountId), (_i, s) => s.storage.sql.exec<Record<string, string | number | null>>("SELECT * FROM intents").toArray());
}

/** An open breaker would pause a member for 30 s: age it past its window (time does not move in tests). */
async function ageBreaker(accountId: string): Promise<boolean> {
  return runInDurableObject(stub(accountId), (_i, s) => {
    const row = s.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'breaker'").toArray()[0];
    if (!row) return false;
    const b = JSON.parse(row.value);
    if (typeof b.openedAt !== "number") return false;
    b.openedAt -= 31_000;
    s.storage.sql.exec("UPDATE meta SET value = ? WHERE key = 'breaker'", JSON.stringify(b));
    return true;
  });
}

describe("fault suite (short form)", () => {
  it("a guarded fleet survives a crash under REST errors, 429s, a latency spike and socket drops; no intent twice; every failure logged; schedules continue", async () => {
    await simPrice(100_000);
    const u = await proUser("faults");
    await api("PATCH", "/v1/me", { token: u.token, body: { scheduleScope: "all" } });
    const fleet: Member[] = [];
    for (let i = 0; i < FLEET; i++) {
      const acc = await simAccount(u.token, `Fleet ${i}`, 5_000_000);
      cleanup.push(acc.id);
      const t = await acc.client.newTrade({ type: "market", side: "buy", leverage: 50, quantity: 1_000 });
      // Auto Entry adds open intents (with clientIds) to the mix: one small long below 97,000.
      await automation(u.token, acc.id, { type: "margin_guard", config: GUARD, schedule: { timeoutMs: 12_000, retryAttempts: 3, retryDelayMs: 1_000 } });
      await automation(u.token, acc.id, {
        type: "auto_entry",
        config: { condition: { type: "price_below", level: 97_000 }, side: "buy", quantity: 100, leverage: 2, maxOpenTrades: 10, cooldownMs: 0, maxPerDay: 1 },
        schedule: { timeoutMs: 12_000, retryAttempts: 3, retryDelayMs: 1_000 },
      });
      fleet.push({ id: acc.id, key: acc.keys.key, client: acc.client, tradeId: t.id });
    }
    // A bare twin shows the crash is real: it has no guard and is liquidated.
    const bare = await simAccount(u.token, "Bare", 5_000_000);
    cleanup.push(bare.id);
    const bareTrade = await bare.client.newTrade({ type: "market", side: "buy", leverage: 50, quantity: 1_000 });
    for (const m of fleet) await settle(m.id);

    let seed = 1;
    let rounds = 0;
    let breakerAgings = 0;
    let evicted = false;
    await simFaults(faults(seed++));

    // Three crash steps; each takes the most endangered guarded trade to risk 0.8 (past actAt,
    // short of liquidation), so every trade is one the guard can save.
    let price = 100_000;
    for (let step = 0; step < 3; step++) {
      const trades = await Promise.all(fleet.map((m) => persist(() => m.client.runningTrades())));
      const worst = trades.map((ts, i) => ts.find((t) => t.id === fleet[i]!.tradeId)!).reduce((a, b) => (a.liquidation > b.liquidation ? a : b));
      const entry = worst.entryPrice ?? worst.price;
      price = half(entry - 0.8 * (entry - worst.liquidation));
      await simPrice(price);
      console.info(JSON.stringify({ step, price, worst: { liq: worst.liquidation, entry, margin: worst.margin } }));
      if (step === 2) {
        // Evicted while the tick-triggered runs are in flight: memory gone, storage kept.
        await sleep(50);
        await abortAllDurableObjects();
        evicted = true;
      }
      await sleep(300); // the tick path gets its chance first
      if (step === 1) {
        // The spike: every REST answer takes 2 s (orders whose outcome stays unknown are
        // covered by money-safety.test.ts: a run's timeout now always outlives its requests).
        await simFaults(faults(seed++, true));
        await Promise.all(fleet.map((m) => runDueNow(m.id)));
        await simFaults(faults(seed++));
      }
      let unsaved: string[] = [];
      for (let round = 0; round < 15; round++) {
        const states = await Promise.all(fleet.map(async (m) => {
          const t = (await persist(() => m.client.runningTrades())).find((x) => x.id === m.tradeId);
          return { m, saved: !!t && riskOf(t, price) < ACT_AT, gone: !t };
        }));
        expect(states.filter((s) => s.gone).map((s) => s.m.id), `liquidated at step ${step}`).toEqual([]);
        const pending = states.filter((s) => !s.saved).map((s) => s.m);
        unsaved = pending.map((m) => m.id);
        if (!pending.length) break;
        rounds++;
        // The breaker opens under the spike (every call times out), as it should; time does
        // not move here, so age its 30 s window and restart the instances to reload it.
        let aged = 0;
        for (const m of pending) if ((await statusOf(m.id)).breaker.state === "open" && (await ageBreaker(m.id))) aged++;
        if (aged) {
          breakerAgings += aged;
          await abortAllDurableObjects();
        }
        await Promise.all(pending.map((m) => runDueNow(m.id)));
        unsaved = pending.map((m) => m.id);
      }
      expect(unsaved, `not saved at step ${step} (price ${price})`).toEqual([]);
    }

    // The bare twin goes below its liquidation price; the guarded ones stay alive.
    await simPrice(half(bareTrade.liquidation - 100));
    const liveAfter = await Promise.all(fleet.map(async (m) => (await persist(() => m.client.runningTrades())).some((t) => t.id === m.tradeId)));
    expect(liveAfter).toEqual(fleet.map(() => true));
    expect(await persist(() => bare.client.runningTrades())).toEqual([]);

    // Settle every uncertain intent: faults off, one more alarm each (it reconciles first).
    await simFaults({});
    await Promise.all(fleet.map((m) => runDueNow(m.id)));

    let addMargins = 0;
    let opens = 0;
    let failedOrders = 0;
    let uncertain = 0;
    for (const m of fleet) {
      const orders = await simOrders(m.key);
      const ok = orders.filter((o) => o.status < 300);
      failedOrders += orders.length - ok.length;
      // Opens: each clientId landed at most once.
      const byClientId = new Map<string, number>();
      for (const o of ok) if (o.clientId) byClientId.set(o.clientId, (byClientId.get(o.clientId) ?? 0) + 1);
      for (const [cid, n] of byClientId) expect(n, `clientId ${cid} landed ${n} times`).toBe(1);
      opens += byClientId.size;
      // Add-margin carries no clientId: per trade, landed orders = distinct intents done.
      const intents = await intentsOf(m.id);
      expect(intents.filter((i) => i.status === "pending" || i.status === "uncertain"), "unresolved intents").toEqual([]);
      uncertain += (await env.DB.prepare("SELECT COUNT(*) AS n FROM trade_logs WHERE account_id = ? AND outcome = 'uncertain'").bind(m.id).first<{ n: number }>())?.n ?? 0;
      const trades = new Set(intents.filter((i) => i.action === "add_margin").map((i) => String(i.trade_id)));
      trades.add(m.tradeId);
      for (const tradeId of trades) {
        const landed = ok.filter((o) => o.route.endsWith("/add-margin") && (o.body as { id?: string })?.id === tradeId).length;
        const done = intents.filter((i) => i.action === "add_margin" && i.trade_id === tradeId && i.status === "done").length;
        expect(landed, `add-margin orders for trade ${tradeId}`).toBe(done);
        addMargins += landed;
      }
      const opensDone = intents.filter((i) => i.action === "open" && i.status === "done").length;
      expect(byClientId.size).toBe(opensDone);
    }
    expect(addMargins).toBeGreaterThanOrEqual(FLEET * 3);
    expect(evicted).toBe(true);

    // Every failure is logged: the DO counts failed runs; D1 has a retry/fail job event for
    // each (the LOGS queue delivers in batches of up to 5 s).
    const failures = async (id: string) => {
      const st = await statusOf(id);
      return (st.monitor?.status.failures ?? 0) + st.automations.reduce((n: number, a: any) => n + a.status.failures, 0);
    };
    const expected = new Map<string, number>();
    for (const m of fleet) expected.set(m.id, await failures(m.id));
    expect([...expected.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    // Each account's outbox goes to the LOGS queue now (at rest it waits up to 30 s, which the
    // test's runs never reach), then the consumer writes the batches to D1.
    await Promise.all(fleet.map((m) => flushLogs(m.id)));
    const deadline = Date.now() + 30_000;
    let logged = new Map<string, number>();
    for (;;) {
      logged = new Map();
      for (const m of fleet) {
        const r = await env.DB.prepare("SELECT COUNT(*) AS n FROM job_events WHERE account_id = ? AND event IN ('retry', 'fail')").bind(m.id).first<{ n: number }>();
        logged.set(m.id, r?.n ?? 0);
      }
      const lagging = [...expected].filter(([id, n]) => (logged.get(id) ?? 0) < n).map(([id]) => id);
      if (!lagging.length || Date.now() > deadline) break;
      // Rows that a failed send kept in the outbox go again.
      await Promise.all(lagging.map((id) => flushLogs(id)));
      await sleep(1_000);
    }
    for (const [id, n] of expected) expect(logged.get(id), `job failures logged for ${id}`).toBeGreaterThanOrEqual(n);
    const tradeErrors = await env.DB.prepare(`SELECT COUNT(*) AS n FROM trade_logs WHERE account_id IN (${fleet.map(() => "?").join(",")}) AND outcome IN ('error', 'uncertain')`).bind(...fleet.map((m) => m.id)).first<{ n: number }>();

    // The schedules continue: every member still runs, every enabled row has its next run.
    const status = await api("GET", "/v1/automations/status", { token: u.token });
    expect(status.status).toBe(200);
    for (const m of fleet) {
      const a = status.body.accounts.find((x: any) => x.accountId === m.id);
      expect(a.running).toBe(true);
      for (const row of a.automations) expect(row.status.nextRunAt, `${m.id} ${row.type}`).toBeTypeOf("number");
    }
    console.info(JSON.stringify({ fleet: FLEET, finalPrice: price, rounds, breakerAgings, evicted, addMargins, opens, failedOrders, uncertainTradeLogs: uncertain, tradeErrorLogs: tradeErrors?.n ?? 0, failedRuns: [...expected.values()].reduce((a, b) => a + b, 0) }));
  }, 90_000);
});

describe("eviction", () => {
  it("a DO evicted mid-run resumes without losing the run: the retry keeps its intent and lands once", async () => {
    await simFaults({});
    await simPrice(100_000);
    const u = await proUser("evict-run");
    const acc = await simAccount(u.token, "Evicted", 5_000_000);
    cleanup.push(acc.id);
    const t = await acc.client.newTrade({ type: "market", side: "buy", leverage: 50, quantity: 1_000 });
    await automation(u.token, acc.id, { type: "margin_guard", config: GUARD, schedule: { timeoutMs: 12_000, retryAttempts: 3, retryDelayMs: 1_000 } });
    await settle(acc.id);
    await simPrice(half(100_000 - 0.8 * (100_000 - t.liquidation)));
    // The order is on its way (the exchange answers in 1 s) when the DO is evicted.
    await simFaults({ latencyMs: 1_000 });
    const run = runDueNow(acc.id).catch((e: unknown) => e);
    await sleep(400);
    await abortAllDurableObjects();
    await run;
    await simFaults({});
    await sleep(800); // the request the evicted instance sent still lands, if it left
    // An intent the exchange does not show counts as not landed only once its landing window
    // (12 s after it was sent) is over: age it rather than wait (time does not move here).
    await runInDurableObject(stub(acc.id), (_i, s) => {
      s.storage.sql.exec("UPDATE intents SET settles_at = settles_at - 15000 WHERE status IN ('pending', 'uncertain')");
    });
    await runDueNow(acc.id);
    const running = await acc.client.runningTrades();
    expect(running.find((x) => x.id === t.id)!.margin).toBeGreaterThan(t.margin);
    const adds = (await simOrders(acc.keys.key)).filter((o) => o.route.endsWith("/add-margin") && o.status < 300);
    const intents = await intentsOf(acc.id);
    expect(intents.filter((i) => i.status === "pending" || i.status === "uncertain")).toEqual([]);
    expect(adds.length).toBe(intents.filter((i) => i.action === "add_margin" && i.status === "done").length);
    expect(adds.length).toBeGreaterThanOrEqual(1);
    const st = await statusOf(acc.id);
    expect(st.running).toBe(true);
    expect(st.automations[0].status.nextRunAt).toBeTypeOf("number");
  }, 30_000);
});

describe("late landing", () => {
  it("an add-margin the exchange applies after the client gave up lands once: the retry waits out its window, then finds it", async () => {
    await simFaults({});
    await simPrice(100_000);
    const u = await proUser("late-landing");
    const acc = await simAccount(u.token, "Late", 5_000_000);
    cleanup.push(acc.id);
    const t = await acc.client.newTrade({ type: "market", side: "buy", leverage: 50, quantity: 1_000 });
    await automation(u.token, acc.id, { type: "margin_guard", config: GUARD, schedule: { timeoutMs: 12_000, retryAttempts: 3, retryDelayMs: 1_000 } });
    await settle(acc.id);
    await simPrice(half(100_000 - 0.8 * (100_000 - t.liquidation)));
    // Every write is applied 10.5 s after it arrives: the 10 s request timeout gives up first.
    await simFaults({ lateLanding: { rate: 1, minMs: 10_500, maxMs: 10_500 } });
    await runDueNow(acc.id).catch(() => undefined);
    await simFaults({});
    // Retries inside the 12 s window must not send another order; after it, they find the landed one.
    const deadline = Date.now() + 25_000;
    for (;;) {
      await runDueNow(acc.id).catch(() => undefined);
      const intents = await intentsOf(acc.id);
      if (!intents.some((i) => i.status === "pending" || i.status === "uncertain") || Date.now() > deadline) break;
      await sleep(1_000);
    }
    await sleep(500);
    const adds = (await simOrders(acc.keys.key)).filter((o) => o.route.endsWith("/add-margin") && o.status < 300);
    const late = adds.filter((o) => o.handledAt - o.at >= 10_000);
    expect(late.length).toBe(1);
    const intents = await intentsOf(acc.id);
    expect(intents.filter((i) => i.status === "pending" || i.status === "uncertain")).toEqual([]);
    // One landed order per intent that is done, and the late one among them: never two for one decision.
    expect(adds.length).toBe(intents.filter((i) => i.action === "add_margin" && i.status === "done").length);
    const running = await acc.client.runningTrades();
    expect(running.find((x) => x.id === t.id)!.margin).toBeGreaterThan(t.margin);
  }, 60_000);
});
