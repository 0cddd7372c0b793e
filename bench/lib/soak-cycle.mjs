// The crash cycle of bench/soak.mjs: its fault sets, the trader's own hands, the accounts it
// seeds (guarded, and bare with no automation), and the three crash steps.
import { createHmac } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { guardedAccount, http, inboxWebhookCode, lnm, must, verifyWebhook, waitStreams } from "./api.mjs";
import { measure, readPlatformLog } from "./soak-measure.mjs";
import { half } from "./stats.mjs";

const GUARD = { warnAt: 0.6, actAt: 0.7, targetRisk: 0.3, maxAddPerTradeSats: 3_000_000, maxAddPerDaySats: 3_000_000 };
const SCHEDULE = { timeoutMs: 12_000, retryAttempts: 3, retryDelayMs: 1_000 };
/** Bare trades (no automation): leverages spread so the crash takes them to 0.9 one after another. */
const BARE_LEVERAGE = [60, 45, 35, 28, 24, 20];
const FUNDING_RATE = 0.0003;
export const log = (...m) => console.error(`[soak ${new Date().toISOString().slice(11, 19)}]`, ...m);
const entryOf = (t) => t.entryPrice ?? t.price;
const riskAt = (t, price) => Math.min(1, Math.max(0, (entryOf(t) - price) / (entryOf(t) - t.liquidation)));
/** The price at which a long is at `risk`, on the tick. */
const priceAtRisk = (t, risk) => half(entryOf(t) - risk * (entryOf(t) - t.liquidation));

/** The background fault set (a POST replaces the whole set). */
const baseFaults = (seed, extra = {}) => ({
  restErrorRate: 0.4,
  rateLimit: { perSecond: 3, retryAfterS: 1 },
  dropSocketsEveryMs: 1_000,
  answerDelay: { rate: 0.02, ms: 11_000 },
  lateLanding: { rate: 0.2, minMs: 10_000, maxMs: 11_500 },
  seed,
  ...extra,
});
/** The spike: every answer 13 s late (applied at once), longer than the 12 s run timeout. */
const spikeFaults = (seed) => ({ ...baseFaults(seed), answerDelay: { rate: 1, ms: 13_000 }, lateLanding: null });

/** The trader, by hand, through the simulator's REST API: never faulted (x-sim-harness). */
async function byHand(sim, keys, path, body) {
  const url = new URL(`${sim}/v3${path}`);
  const data = JSON.stringify(body);
  const ts = Date.now();
  const signature = createHmac("sha256", keys.secret).update(`${ts}post${url.pathname}${data}`).digest("base64");
  return http("POST", url.toString(), data, {
    "content-type": "application/json", "x-sim-harness": "trader",
    "lnm-access-key": keys.key, "lnm-access-passphrase": keys.passphrase, "lnm-access-timestamp": String(ts), "lnm-access-signature": signature,
  });
}

/** The exchange's view of an account's trades (control API: no faults, not in the order log). */
const tradesOf = (stack, a) => must("GET", `${stack.sim}/__sim/trades?key=${encodeURIComponent(a.keys.key)}`);
const tradeOf = async (stack, a) => (await tradesOf(stack, a)).find((t) => t.id === a.trade.id);

async function withWebhook(stack, a) {
  await must("PUT", `${stack.platform}/v1/notifications/channels`, { webhook: { url: `${stack.sim}/__sim/inbox/webhook/${a.accountId}`, secret: "soak-webhook-secret-0123456789" } }, a.auth);
  await verifyWebhook(stack, a.auth, () => inboxWebhookCode(stack, a.accountId));
  return a;
}

let bareSeq = 0;
/** A trader with a running long and no automation at all. */
async function bareAccount(stack, leverage) {
  bareSeq++;
  const email = `soak-bare-${process.pid}-${Date.now()}-${bareSeq}@example.test`;
  const reg = await must("POST", `${stack.platform}/v1/auth/register`, { email, password: `soak-password-${bareSeq}-long` });
  const auth = { authorization: `Bearer ${reg.token}` };
  const keys = await must("POST", `${stack.sim}/__sim/keys`, { balance: 5_000_000 });
  const acc = await must("POST", `${stack.platform}/v1/accounts`, { name: `Bare ${bareSeq}`, network: "simulator", credentials: { key: keys.key, secret: keys.secret, passphrase: keys.passphrase } }, auth);
  const trade = await lnm(stack.sim, keys, "POST", "/futures/isolated/trade", { type: "market", side: "buy", leverage, quantity: 1_000 });
  return { auth, keys, accountId: acc.id, trade, bare: true, leverage };
}

export const faultsInjected = (stack) => must("GET", `${stack.sim}/__sim/faults/injected`);

/**
 * One crash cycle: seeds the fleet and the bare trades, runs the three crash steps under the
 * faults, then measures the cycle into `run`. `fleetSize`, `bareSize`, `evict`: --fleet, --bare, not --no-evict.
 */
export async function cycle(stack, n, deadline, run, { fleetSize, bareSize, evict }) {
  const ev = { n, startedAt: Date.now(), reloads: [], reached: new Map(), revoked: null, traderAdd: null, traderClose: null, spike: null };
  await must("POST", `${stack.sim}/__sim/faults`, {});
  await must("POST", `${stack.sim}/__sim/price`, { price: 100_000 });
  const fleet = [];
  for (let i = 0; i < fleetSize; i++) fleet.push(await withWebhook(stack, await guardedAccount(stack, { guard: GUARD })));
  for (const a of fleet) await must("PATCH", `${stack.platform}/v1/accounts/${a.accountId}/automations/${a.automationId}`, { schedule: SCHEDULE }, a.auth);
  const bare = [];
  for (let i = 0; i < bareSize; i++) bare.push(await withWebhook(stack, await bareAccount(stack, BARE_LEVERAGE[i % BARE_LEVERAGE.length])));
  await waitStreams(stack, fleet, 60_000);
  let seed = n * 1_000;
  await must("POST", `${stack.sim}/__sim/faults`, baseFaults(seed++));

  // Roles: one revoked key, one trader adding margin by hand, one trader closing by hand.
  const [revoked, adder, closer] = fleet;
  const r = await must("POST", `${stack.sim}/__sim/keys/${encodeURIComponent(revoked.keys.key)}/revoke`);
  ev.revoked = { accountId: revoked.accountId, at: r.revokedAt };
  const evictAtStep = Math.floor(Math.random() * 3);
  let price = 100_000;
  for (let step = 0; step < 3 && Date.now() < deadline; step++) {
    const live = [];
    for (const a of fleet) {
      if (a === revoked || a.closedByTrader) continue;
      const t = await tradeOf(stack, a);
      if (t?.running) live.push({ a, t });
    }
    if (!live.length) break;
    const worst = live.reduce((x, y) => (x.t.liquidation > y.t.liquidation ? x : y));
    // Steps 1 and 2 take the most endangered guarded trade to 0.8; step 3 to 0.93 (past 0.9).
    const target = priceAtRisk(worst.t, step === 2 ? 0.93 : 0.8);
    // Bare trades this step would carry past 0.9 are held at 0.93 first, long enough for the
    // monitor to alert (a step straight past their liquidation would leave nothing to see).
    const holds = [];
    for (const b of bare) {
      if (ev.reached.has(b.accountId) || b.heldAt) continue;
      const t = await tradeOf(stack, b);
      if (!t?.running) continue;
      const at = priceAtRisk(t, 0.93);
      if (at >= target && at < price) holds.push({ b, at });
    }
    for (const { b, at } of holds.sort((x, y) => y.at - x.at)) {
      price = at;
      // The time the price was asked for, not when the simulator answered: under the soak's
      // faults that answer can take seconds, and the monitor may alert before it comes back
      // (the run of 2026-12-03T10:12 counted three alerts sent 15 s before the answer as missed).
      b.heldAt = Date.now();
      await must("POST", `${stack.sim}/__sim/price`, { price });
      const now = await tradeOf(stack, b);
      if (now?.running && riskAt(now, price) >= 0.9) ev.reached.set(b.accountId, { at: b.heldAt, risk: riskAt(now, price), price });
      await sleep(15_000);
    }
    if (holds.length) {
      // The guards may have acted meanwhile: judge the step on their trades as they are now.
      for (const x of live) x.t = (await tradeOf(stack, x.a)) ?? x.t;
    }
    // Which guarded trades this step takes to 0.9 or beyond (before the guard can act).
    const stepAt = Date.now();
    for (const { a, t } of live) if (t.running && riskAt(t, target) >= 0.9) ev.reached.set(a.accountId, { at: stepAt, risk: riskAt(t, target), price: target });
    if (step === 2) {
      // The stream goes quiet (open, no frames) as the last step comes: the platform must see
      // the price through REST once the stream is stale.
      await must("POST", `${stack.sim}/__sim/faults`, baseFaults(seed++, { silenceStream: true }));
      ev.silence = { at: Date.now() };
    }
    price = target;
    const movedAt = Date.now();
    await must("POST", `${stack.sim}/__sim/price`, { price });
    for (const b of bare) {
      const t = await tradeOf(stack, b);
      if (t?.running && !ev.reached.has(b.accountId) && riskAt(t, price) >= 0.9) ev.reached.set(b.accountId, { at: movedAt, risk: riskAt(t, price), price });
    }
    run.steps++;
    // The trader's own hands, racing the guard on the same trade.
    if (step === 0 && adder) {
      const res = await byHand(stack.sim, adder.keys, "/futures/isolated/trade/add-margin", { id: adder.trade.id, amount: 15_000 });
      ev.traderAdd = { accountId: adder.accountId, status: res.status, at: Date.now() };
      run.faultsBySoak.trader_add_margin++;
    }
    if (step === 1 && closer) {
      const res = await byHand(stack.sim, closer.keys, "/futures/isolated/trade/close", { id: closer.trade.id });
      ev.traderClose = { accountId: closer.accountId, status: res.status, at: Date.now() };
      if (res.status < 300) closer.closedByTrader = true;
      run.faultsBySoak.trader_close++;
    }
    // Funding is settled while the guards act: margins fall, liquidations rise.
    await sleep(500);
    await must("POST", `${stack.sim}/__sim/funding`, { rate: FUNDING_RATE });
    if (evict && step === evictAtStep) {
      await sleep(200 + Math.floor(Math.random() * 1_000));
      const at = Date.now();
      const outMs = await stack.reloadPlatform();
      ev.reloads.push({ at, outMs });
      run.faultsBySoak.platform_reload++;
      run.faultsBySoak.do_evicted += fleet.length + bare.length;
      log(`cycle ${n} step ${step}: platform reloaded (out ${outMs} ms)`);
    }
    if (step === 1) {
      await must("POST", `${stack.sim}/__sim/faults`, spikeFaults(seed++));
      ev.spike = { at: Date.now() };
      run.spikes++;
      await sleep(15_000);
      await must("POST", `${stack.sim}/__sim/faults`, baseFaults(seed++));
    }
    if (step === 2) {
      await sleep(Math.max(0, ev.silence.at + 20_000 - Date.now()));
      await must("POST", `${stack.sim}/__sim/faults`, baseFaults(seed++));
    }
    // Real alarms now: retries with backoff, the breaker, the monitor. Each step lasts at least
    // 45 s under the faults.
    const stepDeadline = Math.min(deadline + 60_000, stepAt + 90_000);
    for (;;) {
      const st = await Promise.all(live.filter(({ a }) => !a.closedByTrader).map(async ({ a }) => {
        const t = await tradeOf(stack, a);
        return t?.running ? riskAt(t, price) < GUARD.actAt : null;
      }));
      if ((st.every((s) => s !== false) && Date.now() - stepAt >= 45_000) || Date.now() > stepDeadline) break;
      await sleep(1_000);
    }
  }
  // Faults off: pending outcomes reconcile, late landings land, logs reach D1.
  await must("POST", `${stack.sim}/__sim/faults`, {});
  await sleep(15_000);
  const all = [...fleet, ...bare];
  const flushDeadline = Date.now() + 90_000;
  for (;;) {
    const pending = await Promise.all(all.map(async (a) => (await http("GET", `${stack.platform}/v1/automations/status`, undefined, a.auth)).body?.accounts?.[0]?.pendingLogs ?? 0));
    if (pending.every((p) => p === 0) || Date.now() > flushDeadline) break;
    await sleep(2_000);
  }
  await sleep(8_000); // the LOGS and ALERTS queues deliver in batches
  for (const a of all) {
    a.final = await tradeOf(stack, a);
    a.orders = await must("GET", `${stack.sim}/__sim/orders?key=${encodeURIComponent(a.keys.key)}`);
    a.status = (await http("GET", `${stack.platform}/v1/automations/status`, undefined, a.auth)).body?.accounts?.[0] ?? null;
  }
  readPlatformLog(`${process.env.BENCH_LOG_DIR}/platform.log`);
  measure(stack, run, ev, fleet, bare);
  for (const a of all) await http("DELETE", `${stack.platform}/v1/accounts/${a.accountId}`, undefined, a.auth);
}
