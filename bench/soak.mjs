// `npm run soak` (issues 12 and 19): the long fault run. Crash cycles run back to back on the
// dev stack (platform + simulator on loopback, a frozen copy of the code, real alarms) until
// the time is up. Each cycle: a fleet of guarded 50x longs and some running trades with NO
// automation, every fault at once, and three crash steps. Reports faults injected by kind,
// orders per clientId and per decision (duplicates), decisions that produced no order without
// an explanation (skipped), positions saved of those saveable, and critical alerts for every
// account that reached risk 0.9; appends an entry to bench/RESULTS.md closing with one line
//   soak: faults=N duplicates=N skipped=N saved=N/N alerts=N/N
// Loopback only; bounded in time (--minutes, at most 240) and count (at most 500 cycles).
//
//   node bench/soak.mjs [--minutes 10] [--min-faults 0] [--fleet 10] [--bare 5] [--no-evict] [--worktree] [--no-write]
//
// Faults (the simulator counts what it injects, GET /__sim/faults/injected; the soak counts
// what it does itself):
//   simulator: 40 % REST 503s; 429 past 3 req/s per key (retry-after 1 s); 2 % of requests
//     applied at once and answered 11 s later (past the 10 s request timeout); 20 % of writes
//     applied 10-11.5 s after they arrived (after the client gave up, inside the 12 s window
//     the platform guarantees); socket drops every second; a 20 s silent stream over the last
//     step; a 15 s spike per cycle in which every answer takes 13 s (longer than the 12 s run
//     timeout); a funding settlement per step; one key revoked per cycle.
//   soak: the trader's own add-margin racing the guard at step 1 and own close at step 2
//     (x-sim-harness: never faulted, marked in the order log); one platform reload per cycle
//     (wrangler dev restarts the runtime as a deploy does: every account DO evicted, storage
//     and alarms kept).
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import os from "node:os";
import { createHmac } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { setTimeout as sleep } from "node:timers/promises";
import { execFileSync } from "node:child_process";
import { OUT, ROOT, guardedAccount, http, inboxWebhookCode, lnm, must, startStack, verifyWebhook, waitStreams } from "./lib/stack.mjs";

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const MINUTES = Math.min(240, Number(arg("minutes", "10")));
const FLEET = Math.max(4, Math.min(40, Number(arg("fleet", "12"))));
const BARE = Math.min(20, Number(arg("bare", "6")));
const EVICT = !args.includes("--no-evict");
/** Keep cycling past --minutes until this many faults were injected (hard cap: 240 min). */
const MIN_FAULTS = Number(arg("min-faults", "0"));
const WRITE = !args.includes("--no-write");
const SNAPSHOT = args.includes("--worktree") ? "worktree" : "head";
const GUARD = { warnAt: 0.6, actAt: 0.7, targetRisk: 0.3, maxAddPerTradeSats: 3_000_000, maxAddPerDaySats: 3_000_000 };
const SCHEDULE = { timeoutMs: 12_000, retryAttempts: 3, retryDelayMs: 1_000 };
/** Bare trades (no automation): leverages spread so the crash takes them to 0.9 one after another. */
const BARE_LEVERAGE = [60, 45, 35, 28, 24, 20];
const FUNDING_RATE = 0.0003;
const log = (...m) => console.error(`[soak ${new Date().toISOString().slice(11, 19)}]`, ...m);
const half = (x) => Math.round(x * 2) / 2;
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

const faultsInjected = (stack) => must("GET", `${stack.sim}/__sim/faults/injected`);

/**
 * The platform's own JSON log lines (LOG_LEVEL info): every decision and every order as the
 * account DO wrote it, read from wrangler's output. They do not go through the LOGS queue, so a
 * reload cannot lose them; D1's trade_logs are compared with them.
 */
const platformLog = { offset: 0, byAccount: new Map() };
function readPlatformLog(file) {
  let buf;
  try {
    buf = readFileSync(file);
  } catch {
    return;
  }
  const text = buf.subarray(platformLog.offset).toString("utf8");
  const end = text.lastIndexOf("\n");
  if (end < 0) return;
  platformLog.offset += Buffer.byteLength(text.slice(0, end + 1));
  for (const line of text.slice(0, end).split("\n")) {
    const i = line.indexOf('{"ts":');
    if (i < 0) continue;
    let e;
    try {
      e = JSON.parse(line.slice(i, line.lastIndexOf("}") + 1));
    } catch {
      continue;
    }
    if (!e.accountId || !["trade.order", "margin_guard.decision", "automation.action_failed", "margin_guard.balance_reread", "margin_monitor.critical", "margin_monitor.warning", "credentials.rejected", "alarm.error", "notify.failed"].includes(e.event)) continue;
    if (!platformLog.byAccount.has(e.accountId)) platformLog.byAccount.set(e.accountId, []);
    platformLog.byAccount.get(e.accountId).push(e);
  }
}

async function cycle(stack, n, deadline, run) {
  const ev = { n, startedAt: Date.now(), reloads: [], reached: new Map(), revoked: null, traderAdd: null, traderClose: null, spike: null };
  await must("POST", `${stack.sim}/__sim/faults`, {});
  await must("POST", `${stack.sim}/__sim/price`, { price: 100_000 });
  const fleet = [];
  for (let i = 0; i < FLEET; i++) fleet.push(await withWebhook(stack, await guardedAccount(stack, { guard: GUARD })));
  for (const a of fleet) await must("PATCH", `${stack.platform}/v1/accounts/${a.accountId}/automations/${a.automationId}`, { schedule: SCHEDULE }, a.auth);
  const bare = [];
  for (let i = 0; i < BARE; i++) bare.push(await withWebhook(stack, await bareAccount(stack, BARE_LEVERAGE[i % BARE_LEVERAGE.length])));
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
      await must("POST", `${stack.sim}/__sim/price`, { price });
      b.heldAt = Date.now();
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
    await must("POST", `${stack.sim}/__sim/price`, { price });
    for (const b of bare) {
      const t = await tradeOf(stack, b);
      if (t?.running && !ev.reached.has(b.accountId) && riskAt(t, price) >= 0.9) ev.reached.set(b.accountId, { at: Date.now(), risk: riskAt(t, price), price });
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
    if (EVICT && step === evictAtStep) {
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

/** Reads the platform's D1 (read-only) and the exchange's order log for one cycle. */
function measure(stack, run, ev, fleet, bare) {
  const db = new DatabaseSync(stack.d1Path(), { readOnly: true });
  const q = (sql, ...p) => db.prepare(sql).all(...p);
  try {
    for (const a of [...fleet, ...bare]) {
      const landed = a.orders.filter((o) => o.status < 300 && !o.harness);
      // Orders per clientId: the same clientId accepted twice is a duplicate.
      const byCid = new Map();
      for (const o of landed) if (o.clientId) byCid.set(o.clientId, (byCid.get(o.clientId) ?? 0) + 1);
      for (const [cid, k] of byCid) {
        run.clientIds++;
        if (k > 1) {
          run.duplicates += k - 1;
          run.evidence.push({ kind: "duplicate_clientId", account: a.accountId, clientId: cid, orders: a.orders.filter((o) => o.clientId === cid) });
        }
      }
      if (a.bare) continue;
      // The account's decisions and orders as its DO logged them (stdout), and what reached D1.
      const events = platformLog.byAccount.get(a.accountId) ?? [];
      const orders = events.filter((e) => e.event === "trade.order");
      const d1Logs = q("SELECT client_id, outcome, created_at FROM trade_logs WHERE account_id = ?", a.accountId);
      const d1Seen = new Set(d1Logs.map((l) => `${l.client_id}:${l.outcome}`));
      run.tradeLogsMissingInD1 += orders.filter((o) => !d1Seen.has(`${o.clientId}:${o.outcome}`)).length;
      // The DO's own account of each clientId: a landing reported twice (the run's answer and
      // a concurrent run's reconciliation) is one landing at the exchange; the exchange's log
      // (below) is what counts as a duplicate.
      const okPerCid = new Map();
      for (const o of orders) {
        if (!okPerCid.has(o.clientId)) okPerCid.set(o.clientId, 0);
        if (o.outcome === "ok" || o.outcome === "reconciled") okPerCid.set(o.clientId, okPerCid.get(o.clientId) + 1);
      }
      run.clientIds += okPerCid.size;
      for (const k of okPerCid.values()) if (k > 1) run.doubleReports += k - 1;
      // Add-margins per decision: every landed add-margin must belong to a distinct intent
      // (clientId) of that trade and amount; an extra one is a second order for one decision.
      const intents = new Map();
      for (const o of orders.filter((x) => x.action === "add_margin")) intents.set(o.clientId, `${o.request?.tradeId}:${o.request?.amount}`);
      run.addMarginIntents += intents.size;
      const perKey = new Map();
      for (const k of intents.values()) perKey.set(k, (perKey.get(k) ?? 0) + 1);
      const adds = landed.filter((o) => o.route.endsWith("/add-margin"));
      run.addMarginsLanded += adds.length;
      const landedPerKey = new Map();
      for (const o of adds) {
        const k = `${o.body?.id}:${o.body?.amount}`;
        landedPerKey.set(k, (landedPerKey.get(k) ?? 0) + 1);
      }
      for (const [k, c] of landedPerKey) {
        const extra = c - (perKey.get(k) ?? 0);
        if (extra > 0) {
          run.duplicates += extra;
          run.evidence.push({ kind: "add_margin_without_its_own_decision", account: a.accountId, tradeAmount: k, landed: c, intents: perKey.get(k) ?? 0,
            reloads: ev.reloads, orders: a.orders.filter((o) => o.route.endsWith("/add-margin")), platformLog: orders.filter((o) => o.action === "add_margin"),
            decisions: events.filter((e) => e.event === "margin_guard.decision") });
        }
      }
      run.lateLandedAdds += adds.filter((o) => o.handledAt - o.at >= 10_000).length;
      // Decisions to act: each must have produced an order (a trade.order line, any outcome,
      // for the same trade and amount in the same trace within 20 s) or an explained refusal.
      const decisions = events.filter((e) => e.event === "margin_guard.decision" && e.action);
      for (const d of decisions) {
        run.decisions++;
        const within = (t) => t >= d.ts - 1_000 && t <= d.ts + 20_000;
        const order = orders.find((o) => o.tradeId === d.tradeId && o.traceId === d.traceId && within(o.ts) && o.action === (d.action.type === "add_margin" ? "add_margin" : "close")
          && (d.action.type !== "add_margin" || o.request?.amount === d.action.amountSats));
        if (order) continue;
        const failed = events.find((e) => e.event === "automation.action_failed" && e.traceId === d.traceId && within(e.ts));
        const reload = ev.reloads.find((x) => d.ts >= x.at - 15_000 && d.ts <= x.at + x.outMs);
        const gone = a.final && !a.final.running && a.final.closedAt && Date.parse(a.final.closedAt) <= d.ts + 12_000;
        const why = failed ? `action_failed ${failed.code}` : reload ? "platform reload" : gone ? "trade gone" : null;
        if (why) {
          run.explained[why] = (run.explained[why] ?? 0) + 1;
        } else {
          run.skipped++;
          run.evidence.push({ kind: "skipped_decision", account: a.accountId, decision: d, orders: orders.filter((o) => o.tradeId === d.tradeId) });
        }
      }
      const tradeLogs = orders;
      run.tradeLogErrors += orders.filter((l) => l.outcome === "error" || l.outcome === "uncertain").length;
      run.reconciled += tradeLogs.filter((l) => l.outcome === "reconciled").length;
      // Saved of saveable: the caps (3M sats) and balance (5M) cover every step; a revoked
      // key or the trader's own close takes the position out of the guard's hands.
      if (a.accountId === ev.revoked?.accountId || a.closedByTrader) continue;
      run.saveable++;
      if (a.final?.running) run.saved++;
      else {
        run.evidence.push({ kind: "position_lost", account: a.accountId, trade: a.final, orders: a.orders, platformLog: events });
      }
      if (!a.status?.running || !(a.status?.automations ?? []).every((x) => typeof x.status?.nextRunAt === "number")) run.stoppedSchedules++;
    }
    // Critical alerts for every account that reached 0.9 (guarded or not).
    for (const [accountId, r] of ev.reached) {
      const a = [...fleet, ...bare].find((x) => x.accountId === accountId);
      const key = a.bare ? "bare" : "guarded";
      run.reached[key]++;
      const rows = q("SELECT event, created_at FROM notifications WHERE event = 'margin.critical' AND json_extract(data, '$.accountId') = ? AND created_at >= ?", accountId, r.at - 2_000);
      if (rows.length) {
        run.alerted[key]++;
        run.alertLatencyMs.push(Math.min(...rows.map((x) => x.created_at)) - r.at);
      } else {
        const any = q("SELECT event, severity, created_at FROM notifications WHERE json_extract(data, '$.accountId') = ?", accountId);
        run.evidence.push({ kind: "no_critical_alert", account: accountId, bare: !!a.bare, reached: r, trade: a.final, notifications: any,
          platformLog: (platformLog.byAccount.get(accountId) ?? []).filter((e) => e.event !== "trade.order") });
      }
    }
    // The revoked key: its owner must be told (credentials.rejected, critical).
    if (ev.revoked) {
      const rows = q("SELECT event FROM notifications WHERE event = 'credentials.rejected' AND json_extract(data, '$.accountId') = ?", ev.revoked.accountId);
      run.revokedAlerted += rows.length ? 1 : 0;
      run.revokedKeys++;
    }
  } finally {
    db.close();
  }
}

function cpuModel() {
  return os.cpus()[0]?.model?.trim() ?? "cpu";
}

async function main() {
  const started = Date.now();
  const deadline = started + MINUTES * 60_000;
  const run = {
    cycles: 0, steps: 0, spikes: 0, clientIds: 0, duplicates: 0, decisions: 0, skipped: 0, explained: {}, saveable: 0, saved: 0,
    addMarginIntents: 0, addMarginsLanded: 0, tradeLogsMissingInD1: 0, doubleReports: 0, lateLandedAdds: 0, reconciled: 0, tradeLogErrors: 0, stoppedSchedules: 0,
    reached: { guarded: 0, bare: 0 }, alerted: { guarded: 0, bare: 0 }, alertLatencyMs: [], revokedKeys: 0, revokedAlerted: 0,
    faultsBySoak: { trader_add_margin: 0, trader_close: 0, platform_reload: 0, do_evicted: 0 }, evidence: [],
  };
  const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  const load = os.loadavg().map((x) => x.toFixed(1)).join("/");
  process.env.BENCH_LOG_DIR ||= `${OUT}/soak-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  mkdirSync(process.env.BENCH_LOG_DIR, { recursive: true });
  log(`logs in ${process.env.BENCH_LOG_DIR}`);
  const stack = await startStack({ log, name: "soak", snapshot: SNAPSHOT, logLevel: "info" });
  let injected = null;
  let aborted = null;
  let completed = { injected: null, bySoak: { ...run.faultsBySoak }, steps: 0, spikes: 0 };
  try {
    const hardStop = started + 240 * 60_000;
    const soakFaults = () => run.faultsBySoak.trader_add_margin + run.faultsBySoak.trader_close + run.faultsBySoak.platform_reload;
    for (let n = 1; n <= 500; n++) {
      const more = Date.now() < deadline || ((injected?.total ?? 0) + soakFaults() < MIN_FAULTS && Date.now() < hardStop);
      if (!more) break;
      try {
        await cycle(stack, n, Math.max(deadline, Date.now() + 6 * 60_000), run);
      } catch (e) {
        // A cycle that did not finish is not measured: the entry covers the completed ones.
        aborted = `cycle ${n}: ${e?.message ?? e}`;
        log(`ABORTED ${e?.stack ?? e}`);
        break;
      }
      run.cycles++;
      injected = await faultsInjected(stack);
      completed = { injected, bySoak: { ...run.faultsBySoak }, steps: run.steps, spikes: run.spikes };
      const { evidence, alertLatencyMs, allEvidence, ...brief } = run;
      log(`cycle ${n} done: injected ${injected.total}; ${JSON.stringify(brief)}`);
      for (const e of evidence.splice(0)) {
        log(`EVIDENCE ${JSON.stringify(e)}`);
        (run.allEvidence ??= []).push(e);
      }
    }
  } finally {
    await http("POST", `${stack.sim}/__sim/faults`, {}).catch(() => undefined);
    if (!aborted) injected = (await faultsInjected(stack).catch(() => null)) ?? injected;
    await stack.stop();
  }
  if (aborted) {
    injected = completed.injected;
    Object.assign(run, { faultsBySoak: completed.bySoak, steps: completed.steps, spikes: completed.spikes });
  }
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const { total: simTotal, ...byKind } = injected ?? { total: 0 };
  // A reload is counted once (every DO evicted at once; do_evicted says how many).
  const soakTotal = run.faultsBySoak.trader_add_margin + run.faultsBySoak.trader_close + run.faultsBySoak.platform_reload;
  const faults = simTotal + soakTotal;
  const reached = run.reached.guarded + run.reached.bare;
  const alerted = run.alerted.guarded + run.alerted.bare;
  const line = `soak: faults=${faults} duplicates=${run.duplicates} skipped=${run.skipped} saved=${run.saved}/${run.saveable} alerts=${alerted}/${reached}`;
  const lat = run.alertLatencyMs.sort((a, b) => a - b);
  const summary = { minutes, fleet: FLEET, bare: BARE, faults, injected: byKind, bySoak: run.faultsBySoak, ...run, alertLatencyMs: lat.length ? { p50: lat[Math.floor(lat.length / 2)], max: lat[lat.length - 1] } : null, evidence: undefined, allEvidence: run.allEvidence?.length ?? 0 };
  console.log(JSON.stringify(summary));
  console.log(line);
  if (WRITE) {
    const kinds = Object.entries({ ...byKind, ...run.faultsBySoak }).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(", ");
    appendFileSync(`${ROOT}bench/RESULTS.md`, [
      "",
      `## Soak (bench/soak.mjs) ${new Date().toISOString()}`,
      "",
      `Commit ${head} (code frozen from ${SNAPSHOT === "head" ? "HEAD" : "the working tree"}); machine: nproc ${os.cpus().length}, ${cpuModel()}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GB, ${os.platform()} ${os.release()}, load avg ${load} at start (shared machine); ${minutes} min; ${run.cycles} cycles of ${FLEET} guarded 50x longs (Margin Guard actAt 0.7 -> 0.3, caps 3M sats) and ${BARE} running longs with no automation; 3 crash steps per cycle.`,
      "",
      `Faults injected: ${faults} (${kinds}). The simulator counts its own (GET /__sim/faults/injected); the soak counts the trader's own add-margins and closes and the platform reloads (${run.faultsBySoak.do_evicted} account DOs evicted by ${run.faultsBySoak.platform_reload} reloads).`,
      "",
      "| cycles | steps | clientIds | add-margin intents | add-margins landed | landed 10 s+ after arrival | duplicates | guard decisions to act | skipped | explained (no order) | saved / saveable | reached 0.9 guarded / bare | critical alerts guarded / bare | alert latency p50 / max (ms) | revoked keys alerted | reconciled | error/uncertain orders | orders not in D1 trade_logs | landings the DO reported twice (one at the exchange) | schedules stopped |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
      `| ${run.cycles} | ${run.steps} | ${run.clientIds} | ${run.addMarginIntents} | ${run.addMarginsLanded} | ${run.lateLandedAdds} | ${run.duplicates} | ${run.decisions} | ${run.skipped} | ${Object.entries(run.explained).map(([k, v]) => `${k}: ${v}`).join("; ") || 0} | ${run.saved} / ${run.saveable} | ${run.reached.guarded} / ${run.reached.bare} | ${run.alerted.guarded} / ${run.alerted.bare} | ${summary.alertLatencyMs ? `${summary.alertLatencyMs.p50} / ${summary.alertLatencyMs.max}` : "-"} | ${run.revokedAlerted} / ${run.revokedKeys} | ${run.reconciled} | ${run.tradeLogErrors} | ${run.tradeLogsMissingInD1} | ${run.doubleReports} | ${run.stoppedSchedules} |`,
      "",
      ...(aborted ? [`Run aborted (${aborted}): the figures cover the ${run.cycles} completed cycles.`, ""] : []),
      line,
      "",
    ].join("\n"));
  }
  if (aborted) {
    console.error(`[soak] aborted: ${aborted}`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(`[soak] failed: ${e.stack ?? e}`);
  process.exitCode = 1;
});
