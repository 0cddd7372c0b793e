// `npm run bench` (issues 12 and 20): starts its own dev stack (bench/lib/stack.mjs) on a frozen
// copy of the code (HEAD by default), seeds it through the HTTP API and the simulator's control
// API, measures the at-rest design of issue 20, prints a table, appends to bench/RESULTS.md and
// stops everything it started. Loopback only; every loop and wait is bounded.
//
//   node bench/run.mjs [--n 100,300,1000] [--rest-window 120] [--hot-window 60] [--rest-n 10]
//                      [--http-seconds 5] [--queue 1000,10000] [--code head|worktree|<commit>] [--budget-min 40] [--no-write]
//
// The largest size in --n is the fleet: a tenth of it ("near") 50x longs, the rest ("far")
// 25x longs, every one with a Margin Guard (actAt 0.9), all at rest at 100,000 (levels in the
// market feed's index, no socket of their own). On it: platform CPU over a quiet window, the
// D1 rows, queue messages and Durable Object work an account does at rest and in its hot zone,
// one tick crossing only the near guards (a gap from rest), then one crossing every guard.
// Each smaller size is a fleet of 50x longs that one tick crosses entirely (how the fan-out
// grows). `--n 20` is the quick mode for development (2 near, 18 far, short windows).
import { spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { DatabaseSync } from "node:sqlite";
import { build } from "esbuild";
import { heapAfterGc } from "./lib/inspector.mjs";
import { OUT, ROOT, commit, guardedAccount, http, lnm, machine, must, newTrader, percentile, readD1Writes, readQueueCounters, startStack, statuses, verifyWebhook, waitRest } from "./lib/stack.mjs";

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const SIZES = [...new Set(arg("n", "100,300,1000").split(",").map(Number).filter((n) => n >= 10 && n <= 1000))].sort((a, b) => a - b);
if (!SIZES.length) throw new Error("--n: sizes between 10 and 1000");
const FLEET = SIZES[SIZES.length - 1];
const QUICK = FLEET < 100;
const QUEUE_COUNTS = arg("queue", QUICK ? "0" : "1000,10000").split(",").map(Number).filter((n) => n > 0 && n <= 10_000);
const REST_N = Math.min(50, Number(arg("rest-n", QUICK ? "0" : "10")));
const WRITE = !args.includes("--no-write");
const HTTP_SECONDS = Math.min(30, Number(arg("http-seconds", QUICK ? "0" : "5")));
// At least a re-sync period and a bit (60 s at rest): a shorter window may see no run at all.
const REST_WINDOW_S = Math.max(65, Math.min(600, Number(arg("rest-window", QUICK ? "70" : "120"))));
const HOT_WINDOW_S = Math.max(10, Math.min(300, Number(arg("hot-window", QUICK ? "20" : "60"))));
const CODE = arg("code", "head");
/** Wall-time budget (minutes): phases not started by then are skipped and named in the entry. */
const BUDGET_MIN = Math.max(5, Math.min(120, Number(arg("budget-min", "40"))));
const log = (...m) => console.error(...m);
const half = (x) => Math.round(x * 2) / 2;
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, min: s[0], mean: s.reduce((a, b) => a + b, 0) / (s.length || 1), p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s[s.length - 1] };
};
const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "-");
const sum = (xs) => xs.reduce((a, b) => a + b, 0);

// --- Cloudflare list prices -------------------------------------------------------------------
// Workers Paid, beyond the included allowances, as the docs state them (read 2026-12-02):
// - https://developers.cloudflare.com/durable-objects/platform/pricing/ : requests $0.15 per
//   million; they include HTTP requests, RPC sessions (every RPC method call on a stub is one
//   billed request), WebSocket messages and alarm invocations; incoming WebSocket messages are
//   billed 20:1. Duration $12.50 per million GB-s, billed for the 128 MB the object is allocated
//   whatever it uses, in wall-clock time while the object is active: running, or idle but
//   unable to hibernate. https://developers.cloudflare.com/durable-objects/reference/faq/ : an
//   object waiting on I/O (an open outbound socket, a pending fetch) cannot hibernate, so an
//   account holding its own stream is billed every second; at rest it is billed only around
//   its alarms and RPCs.
// - https://developers.cloudflare.com/d1/platform/pricing/ : rows written $1.00 per million
//   (first 50 million a month included); every row an INSERT, UPDATE or DELETE touches.
// - https://developers.cloudflare.com/queues/pricing/ : $0.40 per million operations; one
//   operation per 64 KB written, read or deleted, so 3 per message delivered.
// - https://developers.cloudflare.com/workers/platform/pricing/ : requests $0.30 per million
//   (10 million a month included); a queue consumer batch counts here at most once per message.
export const PRICES = {
  doRequest: 0.15 / 1e6,
  doGbS: 12.5 / 1e6,
  doGb: 0.128,
  d1RowWritten: 1.0 / 1e6,
  queueOp: 0.4 / 1e6,
  workerRequest: 0.3 / 1e6,
  wsMessagesPerRequest: 20,
};
export const PRICE_SOURCES = [
  "https://developers.cloudflare.com/durable-objects/platform/pricing/",
  "https://developers.cloudflare.com/durable-objects/reference/faq/",
  "https://developers.cloudflare.com/d1/platform/pricing/",
  "https://developers.cloudflare.com/queues/pricing/",
  "https://developers.cloudflare.com/workers/platform/pricing/",
];
const MONTH_H = 720; // 30 days, as the pricing pages' examples count a month
const MONTH_S = MONTH_H * 3600;
/** Funding settles every 8 h (04:00, 12:00, 20:00 UTC): the feed wakes every registered account. */
const FUNDING_WAKES_PER_MONTH = 3 * 30;

/**
 * Monthly bill of one account from per-hour counters, by component (USD).
 * `activeSPerH`: seconds per hour the object is active (billed duration).
 */
export function monthlyCost({ doRequestsPerH, activeSPerH, d1RowsPerH, queueMessagesPerH, workerRequestsPerH = queueMessagesPerH }) {
  const doRequests = doRequestsPerH * MONTH_H;
  const gbS = activeSPerH * MONTH_H * PRICES.doGb;
  const parts = {
    doRequests: doRequests * PRICES.doRequest,
    doDuration: gbS * PRICES.doGbS,
    d1: d1RowsPerH * MONTH_H * PRICES.d1RowWritten,
    queues: queueMessagesPerH * 3 * MONTH_H * PRICES.queueOp,
    workers: workerRequestsPerH * MONTH_H * PRICES.workerRequest,
  };
  return { ...parts, total: sum(Object.values(parts)), doRequestsPerMonth: doRequests, gbSPerMonth: gbS };
}

// --- evaluation cost (no stack) ----------------------------------------------------------
async function evaluationCost() {
  const outfile = `${ROOT}.wrangler/bench/eval.mjs`;
  await build({ entryPoints: [`${ROOT}bench/eval.ts`], bundle: true, platform: "node", format: "esm", target: "node22", outfile, logLevel: "warning" });
  const r = spawnSync(process.execPath, [outfile], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`eval bench failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

// --- fleets ----------------------------------------------------------------------------------
/** Traders (users) reused across fleets: registration hashes a password, the slowest step. */
const traders = [];
async function trader(stack, i) {
  while (traders.length <= i) traders.push(null);
  if (!traders[i]) traders[i] = await newTrader(stack);
  return traders[i];
}

async function createFleet(stack, specs) {
  const out = [];
  for (let i = 0; i < specs.length; i += 10) {
    out.push(...(await Promise.all(specs.slice(i, i + 10).map(async (spec, j) => ({ ...(await guardedAccount(stack, { ...spec, trader: await trader(stack, i + j) })), group: spec.group })))));
    if (i && i % 100 === 0) log(`[bench]   ${i}/${specs.length} accounts`);
  }
  return out;
}

async function deleteFleet(stack, fleet) {
  for (let i = 0; i < fleet.length; i += 20) {
    await Promise.all(fleet.slice(i, i + 20).map((a) => http("DELETE", `${stack.platform}/v1/accounts/${a.accountId}`, undefined, a.auth).catch(() => null)));
  }
  await must("POST", `${stack.sim}/__sim/reset`);
  await must("POST", `${stack.sim}/__sim/price`, { price: 100_000 });
}

/** Each account's running long as the exchange has it now (entry, liquidation). */
async function trades(stack, fleet) {
  const out = [];
  for (let i = 0; i < fleet.length; i += 25) {
    out.push(...(await Promise.all(fleet.slice(i, i + 25).map(async (a) => {
      const t = (await lnm(stack.sim, a.keys, "GET", "/futures/isolated/trades/running"))[0];
      return t ? { entry: t.entryPrice ?? t.price, liq: t.liquidation } : null;
    }))));
  }
  return out;
}
/** The price of a long at `risk` (0 at entry, 1 at liquidation). */
const atRisk = (t, risk) => t.entry - risk * (t.entry - t.liq);

/** The market feed's status (`GET /__dev/sim/feed`, dev stack only). */
async function feedStatus(stack, auth) {
  return (await http("GET", `${stack.platform}/__dev/sim/feed`, undefined, auth).catch(() => null))?.body ?? null;
}

/**
 * One price move from the current price to `price`, timed from the /__sim/price call to each
 * add-margin of `crossed` reaching the simulator (`at` in /__sim/orders). Orders from the
 * other accounts of `fleet` are counted apart (a guard the tick should not have crossed).
 */
async function reaction(stack, crossed, fleet, price, { timeoutMs = 120_000, lateMs = 30_000 } = {}) {
  const keys = new Set(crossed.map((a) => a.keys.key));
  const others = new Set(fleet.filter((a) => !keys.has(a.keys.key)).map((a) => a.keys.key));
  const quiet0 = stack.cpu();
  await sleep(3_000);
  const quiet1 = stack.cpu();
  const background = { platform: (quiet1.platform - quiet0.platform) / 3_000, sim: (quiet1.sim - quiet0.sim) / 3_000 };
  const t0 = Date.now();
  await must("POST", `${stack.sim}/__sim/price`, { price });
  const deadline = Date.now() + timeoutMs;
  let adds = [];
  let stray = [];
  // Only what arrived since the tick is read, and not too often: the poll runs on the same two
  // cores as the fleet it measures.
  while (Date.now() < deadline) {
    await sleep(250);
    const orders = (await must("GET", `${stack.sim}/__sim/orders?since=${t0}`)).filter((o) => o.route.endsWith("/add-margin") && o.status < 300);
    adds = orders.filter((o) => keys.has(o.key));
    stray = orders.filter((o) => others.has(o.key));
    if (new Set(adds.map((o) => o.key)).size >= crossed.length) break;
  }
  const first = new Map();
  const handled = new Map();
  for (const o of adds) {
    if (!first.has(o.key)) first.set(o.key, o.at - t0);
    if (!handled.has(o.key)) handled.set(o.key, o.handledAt - t0);
  }
  const c = stack.cpu();
  const cost = (k) => (c[k] - quiet1[k]) / Math.max(1, first.size);
  const feed = await feedStatus(stack, crossed[0].auth);
  const fan = feed?.lastFanout && feed.lastFanout.price === price ? feed.lastFanout : null;
  return {
    ...stats([...first.values()]), handled: stats([...handled.values()]), crossed: crossed.length, missed: crossed.length - first.size, duplicates: adds.length - first.size,
    // An order still counts up to timeoutMs after the tick (a saturated machine); how many came after lateMs is told apart.
    late: [...first.values()].filter((ms) => ms > lateMs).length, timeoutMs, lateMs,
    stray: new Set(stray.map((o) => o.key)).size, price, fleet: fleet.length,
    fanout: fan ? { calls: fan.calls, failures: fan.failures, ms: fan.ms, rpcPerS: fan.ms > 0 ? (fan.calls / fan.ms) * 1000 : null } : null,
    cpuPerAccountMs: { platform: cost("platform"), sim: cost("sim") }, backgroundCores: background,
  };
}

// --- counters over a window -----------------------------------------------------------------
/** Everything the bench counts, at one moment. */
/**
 * `statusesFirst`: the window's start reads every account's status before the counters, its
 * end after them, so the status calls (a minute for 1,000 accounts here) stay out of the CPU
 * window; per-account rates use each account's own read times (`_at`).
 */
async function snapshotCounters(stack, fleet, { statusesFirst }) {
  const file = stack.d1Path();
  const st0 = statusesFirst ? await statuses(stack, fleet) : null;
  const counters = { at: Date.now(), cpu: stack.cpu(), d1: readD1Writes(file), queues: readQueueCounters(file), feed: await feedStatus(stack, fleet[0].auth) };
  const st = st0 ?? (await statuses(stack, fleet));
  return { ...counters, st };
}

const runsOf = (s) => (s?.monitor?.status?.runs ?? 0) + sum((s?.automations ?? []).map((x) => x.status.runs));
const durationsOf = (s) => [s?.monitor?.status?.lastDurationMs, ...(s?.automations ?? []).map((x) => x.status.lastDurationMs)].filter(Number.isFinite);
/**
 * The wall time of each account's last alarms: the monitor's and the guard's runs are one alarm
 * when they ran within a second of each other (at rest they share the account's re-sync slot,
 * and the second one reuses the first one's reads), else two.
 */
const alarmDurationsOf = (s) => {
  const m = s?.monitor?.status;
  const g = s?.automations?.[0]?.status;
  if (m && g && Number.isFinite(m.lastDurationMs) && Number.isFinite(g.lastDurationMs) && m.lastRunAt && g.lastRunAt && Math.abs(m.lastRunAt - g.lastRunAt) < 1_000) return [m.lastDurationMs + g.lastDurationMs];
  return durationsOf(s);
};

/**
 * Per-account rates over a window, for `group` (accounts of the fleet): runs, active time,
 * D1 rows (attributed by account; rows of no account shared by the whole fleet), queue
 * messages (shared by the fleet), feed RPCs (registrations and wakes, shared), stream frames.
 */
function rates(before, after, fleet, group) {
  const h = (after.at - before.at) / 3_600_000;
  const ids = new Set(group.map((a) => a.accountId));
  const idx = fleet.map((a, i) => (ids.has(a.accountId) ? i : -1)).filter((i) => i >= 0);
  const d1 = (rows, pred) => sum(rows.filter(pred).map((r) => r.n));
  const rowsOf = (snap) => ({
    mine: d1(snap.d1, (r) => ids.has(r.acc) && r.op !== "heartbeat"),
    shared: d1(snap.d1, (r) => r.acc === "" && r.op !== "heartbeat"),
    heartbeats: d1(snap.d1, (r) => ids.has(r.acc) && r.op === "heartbeat"),
  });
  const r0 = rowsOf(before);
  const r1 = rowsOf(after);
  const sent = (snap) => sum(Object.values(snap.queues).map((q) => q.sent));
  const n = idx.length;
  // Each account between its own two reads.
  const spanH = sum(idx.map((i) => (after.st[i]?._at && before.st[i]?._at ? after.st[i]._at - before.st[i]._at : after.at - before.at))) / 3_600_000;
  const runs = sum(idx.map((i) => runsOf(after.st[i]) - runsOf(before.st[i])));
  const durations = idx.flatMap((i) => durationsOf(after.st[i]));
  const alarmDurations = idx.flatMap((i) => alarmDurationsOf(after.st[i]));
  // Monitor and guard due together share one alarm invocation (one billed request).
  const shared = idx.filter((i) => {
    const s = after.st[i];
    const m = s?.monitor?.status?.lastRunAt;
    const g = s?.automations?.[0]?.status?.lastRunAt;
    return m && g && Math.abs(m - g) < 1_000;
  }).length;
  const frames = sum(idx.map((i) => (after.st[i]?.stream?.counters?.messages ?? 0) - (before.st[i]?.stream?.counters?.messages ?? 0)));
  const fc = (snap, k) => snap.feed?.counters?.[k] ?? 0;
  const perAcc = (x) => x / Math.max(1, n) / h;
  return {
    hours: h, accounts: n,
    runsPerH: spanH > 0 ? runs / spanH : NaN,
    sharedAlarmShare: n ? shared / n : 0,
    meanRunMs: durations.length ? sum(durations) / durations.length : NaN,
    // The cost uses the median: one slow read on this shared machine is not what a run costs.
    runMs: stats(durations),
    alarmMs: stats(alarmDurations),
    sockets: idx.filter((i) => after.st[i]?.stream?.state === "open").length,
    d1MinePerH: perAcc(r1.mine - r0.mine),
    d1SharedTotalPerH: (r1.shared - r0.shared) / h,
    d1ByTable: Object.fromEntries([...new Set(after.d1.map((r) => `${r.tbl}.${r.op}`))].map((k) => {
      const pick = (snap) => d1(snap.d1, (r) => `${r.tbl}.${r.op}` === k && (ids.has(r.acc) || r.acc === ""));
      return [k, pick(after) - pick(before)];
    }).filter(([, v]) => v > 0)),
    heartbeatsInWindow: r1.heartbeats - r0.heartbeats,
    queueTotalPerH: (sent(after) - sent(before)) / h,
    feedRpcTotalPerH: (fc(after, "registrations") - fc(before, "registrations") + fc(after, "wakes") - fc(before, "wakes")) / h,
    streamFramesPerS: spanH > 0 ? frames / (spanH * 3600) : 0,
    cpuPlatformPct: ((after.cpu.platform - before.cpu.platform) / (after.at - before.at)) * 100,
    cpuSimPct: ((after.cpu.sim - before.cpu.sim) / (after.at - before.at)) * 100,
  };
}

/** What the accounts logged to D1 between two times: automation_logs and job_events rows by event. */
function loggedEvents(file, accounts, from, to) {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const ids = accounts.map((a) => a.accountId);
    const marks = ids.map(() => "?").join(",");
    const q = (table, ts) => db.prepare(`SELECT event, count(*) AS n FROM ${table} WHERE account_id IN (${marks}) AND ${ts} BETWEEN ? AND ? GROUP BY event`).all(...ids, from, to);
    return {
      automationLogs: Object.fromEntries(q("automation_logs", "created_at").map((r) => [r.event, r.n])),
      jobEvents: Object.fromEntries(q("job_events", "ts").map((r) => [r.event, r.n])),
    };
  } catch (e) {
    return { error: e.message };
  } finally {
    db.close();
  }
}

/** Moves the price by half a dollar every second for `seconds` (a market that ticks). */
async function tickEverySecond(stack, base, seconds) {
  const end = Date.now() + seconds * 1000;
  let i = 0;
  while (Date.now() < end) {
    await must("POST", `${stack.sim}/__sim/price`, { price: base + (i++ % 2) * 0.5 });
    await sleep(1_000);
  }
}

/**
 * Waits (bounded) until `accounts` are in their hot zone with their monitor on the hot cadence
 * (and, on a plan with a dedicated socket, holding it); returns how many are.
 */
async function waitHot(stack, accounts, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let n = 0;
  while (Date.now() < deadline) {
    const st = await statuses(stack, accounts);
    n = st.filter((s) => s?.marketFeed?.hot && (s.stream?.state === "open" || s.monitor?.status?.nextRunAt - s.monitor?.status?.lastRunAt <= 5_000)).length;
    if (n === accounts.length) break;
    await sleep(1_000);
  }
  return n;
}

// --- feed: stream push versus a REST read, client side ------------------------------------
async function feed(stack, rounds = 50) {
  const ws = new WebSocket(`${stack.sim.replace("http", "ws")}/v1`);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
    setTimeout(() => reject(new Error("stream did not open")), 10_000);
  });
  let waiter = null;
  ws.onmessage = (ev) => {
    const m = JSON.parse(String(ev.data));
    if (m.method === "subscription" && m.params?.topic?.endsWith("/lastPrice") && waiter && m.params.data?.lastPrice === waiter.price) {
      waiter.resolve(performance.now());
      waiter = null;
    }
  };
  ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "subscribe", params: { topics: ["futures/inverse/btc_usd/lastPrice"] } }));
  await sleep(300);
  const stream = [];
  const rest = [];
  for (let i = 0; i < rounds; i++) {
    // Stream: the push for this change reaches a subscribed client.
    const p1 = 100_000 + (i + 1) * 0.5;
    const got = new Promise((resolve) => {
      waiter = { price: p1, resolve };
      setTimeout(() => resolve(NaN), 5_000);
    });
    const t1 = performance.now();
    await must("POST", `${stack.sim}/__sim/price`, { price: p1 });
    stream.push((await got) - t1);
    // REST, best case for polling: a ticker read right after the change.
    const p2 = 99_000 - (i + 1) * 0.5;
    const t2 = performance.now();
    await must("POST", `${stack.sim}/__sim/price`, { price: p2 });
    const tick = await must("GET", `${stack.sim}/v3/futures/ticker`);
    if (tick.lastPrice === p2) rest.push(performance.now() - t2);
  }
  ws.close();
  return { stream: stats(stream.filter(Number.isFinite)), rest: stats(rest) };
}

// --- queues: notifications sent to delivered ---------------------------------------------
/**
 * One trader whose webhook channel is a receiver in this process; `count` test notifications
 * queued through the API by 20 clients; each one timed from its 202 (in the queue) to its
 * webhook arriving here. Throughput counts from the first request to the last delivery.
 */
async function queueThroughput(stack, counts, { clients = 20 } = {}) {
  const received = new Map();
  let code = null;
  const server = createServer((req, res) => {
    const id = req.headers["x-lnma-delivery"];
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      if (typeof id === "string" && !received.has(id)) received.set(id, performance.now());
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        if (body?.data?.code) code = String(body.data.code);
      } catch {
        // Not JSON: not the verification message.
      }
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const out = [];
  try {
    const email = `bench-queue-${process.pid}-${Date.now()}@example.test`;
    const { token } = await must("POST", `${stack.platform}/v1/auth/register`, { email, password: "bench-queue-password-long" });
    const auth = { authorization: `Bearer ${token}` };
    await must("PUT", `${stack.platform}/v1/notifications/channels`, { webhook: { url: `http://127.0.0.1:${server.address().port}/hook`, secret: "bench-webhook-secret-0123456789" } }, auth);
    await verifyWebhook(stack, auth, async () => code);
    for (const count of counts) {
      received.clear();
      const sent = new Map();
      let next = 0;
      let refused = 0;
      const t0 = performance.now();
      await Promise.all(Array.from({ length: clients }, async () => {
        while (next < count) {
          next++;
          const r = await http("POST", `${stack.platform}/v1/notifications/test`, undefined, auth).catch(() => ({ status: 0 }));
          if (r.status === 202) sent.set(r.body.id, performance.now());
          else refused++;
        }
      }));
      const queuedIn = performance.now() - t0;
      const deadline = Date.now() + 60_000 + count * 20;
      while ([...sent.keys()].some((id) => !received.has(id)) && Date.now() < deadline) await sleep(250);
      const lat = [...sent].filter(([id]) => received.has(id)).map(([id, at]) => received.get(id) - at);
      const last = Math.max(...[...sent.keys()].map((id) => received.get(id) ?? -Infinity));
      out.push({ count, ...stats(lat), delivered: lat.length, lost: sent.size - lat.length, refused, enqueuePerS: (sent.size / queuedIn) * 1000, perS: (lat.length / (last - t0)) * 1000 });
      log(`[bench] queue ${count}: ${lat.length}/${sent.size} delivered, ${fmt(out.at(-1).perS)} msg/s, p99 ${fmt(out.at(-1).p99)} ms`);
    }
  } finally {
    server.close();
  }
  return out;
}

// --- HTTP API ------------------------------------------------------------------------------
async function load(url, headers, { clients = 50, seconds = HTTP_SECONDS, maxRequests = 20_000 } = {}) {
  const lat = [];
  let errors = 0;
  let sent = 0;
  const end = Date.now() + seconds * 1000;
  const worker = async () => {
    while (Date.now() < end && sent < maxRequests) {
      sent++;
      const t = performance.now();
      try {
        const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        if (res.ok) lat.push(performance.now() - t);
        else errors++;
      } catch {
        errors++;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  return { ...stats(lat), rps: lat.length / elapsed, errors, clients };
}

/**
 * The REST fallback end to end: the simulator's stream silenced, the market feed's socket goes
 * stale (10 s) and its REST poll (every 5 s) finds the crossing; the guards act on the wake-up.
 */
async function restReaction(stack, n) {
  const fleet = await createFleet(stack, Array.from({ length: n }, () => ({ leverage: 50, group: "rest" })));
  const ready = await waitRest(stack, fleet, 120_000);
  const tr = await trades(stack, fleet);
  const ok = tr.filter(Boolean);
  const price = half(Math.max(...ok.map((t) => t.liq)) + 0.5 * (Math.min(...ok.map((t) => atRisk(t, 0.9))) - Math.max(...ok.map((t) => t.liq))));
  await must("POST", `${stack.sim}/__sim/faults`, { silenceStream: true });
  try {
    await sleep(12_000);
    const r = await reaction(stack, fleet, fleet, price, { timeoutMs: 40_000 });
    return { ...r, ready, fleetAccounts: fleet };
  } finally {
    await must("POST", `${stack.sim}/__sim/faults`, {});
  }
}

// --- cost ------------------------------------------------------------------------------------
/**
 * Per guarded account-month at list prices, from the run's counters. At rest: the alarm's runs
 * (monitor and guard share an invocation when due together), the feed's RPCs (registrations,
 * wake-ups), a funding wake-up per settlement, the active time of those runs, the D1 rows and
 * queue messages measured in the window, plus what the window is too short to see: the hourly
 * heartbeat (one row, which carries the routine runs' tally since durable-objects/account/routine.ts). In the hot zone: the same from the
 * hot window, the stream's frames (20:1), and the whole hour active (the socket).
 */
function costs(rest, hot, run, fleetSize, nearSize) {
  const restD1 = rest.d1MinePerH + rest.d1SharedTotalPerH / fleetSize;
  const restCounters = {
    alarmsPerH: rest.runsPerH * (1 - 0.5 * rest.sharedAlarmShare),
    feedRpcPerH: rest.feedRpcTotalPerH / fleetSize + FUNDING_WAKES_PER_MONTH / MONTH_H,
    activeSPerH: (rest.runsPerH * (1 - 0.5 * rest.sharedAlarmShare) * rest.alarmMs.p50) / 1000,
    d1RowsPerH: restD1 + 1,
    d1MeasuredPerH: restD1,
    queueMessagesPerH: rest.queueTotalPerH / fleetSize,
  };
  const restCost = monthlyCost({ doRequestsPerH: restCounters.alarmsPerH + restCounters.feedRpcPerH, ...restCounters });
  let hotCounters = null;
  let hotCost = null;
  if (hot) {
    const extra = (a, b) => Math.max(0, a - b) / nearSize;
    const hotD1 = hot.d1MinePerH + extra(hot.d1SharedTotalPerH, rest.d1SharedTotalPerH);
    // Without a socket of its own the object sleeps between alarms and wake-ups: active for its
    // alarms' wall time and the wake-ups' (each about a run's). With one (a plan with
    // dedicatedSocket), it never hibernates: the whole hour, and the frames it receives.
    const alarmsPerH = hot.runsPerH * (1 - 0.5 * hot.sharedAlarmShare);
    const feedRpcPerH = extra(hot.feedRpcTotalPerH, rest.feedRpcTotalPerH) + FUNDING_WAKES_PER_MONTH / MONTH_H;
    hotCounters = {
      alarmsPerH,
      feedRpcPerH,
      wsRequestsPerH: (hot.streamFramesPerS * 3600) / PRICES.wsMessagesPerRequest,
      activeSPerH: hot.sockets > 0 ? 3600 : Math.min(3600, ((alarmsPerH + feedRpcPerH) * hot.alarmMs.p50) / 1000),
      d1RowsPerH: hotD1 + 1,
      d1MeasuredPerH: hotD1,
      queueMessagesPerH: extra(hot.queueTotalPerH, rest.queueTotalPerH),
    };
    hotCost = monthlyCost({ doRequestsPerH: hotCounters.alarmsPerH + hotCounters.feedRpcPerH + hotCounters.wsRequestsPerH, ...hotCounters });
    // The same account with a dedicated socket, computed: active all hour, one frame a second
    // (the bench ticks every second), the monitor behind the stream every 30 s.
    const socket = { ...hotCounters, alarmsPerH: 3600 / 30 + hotCounters.alarmsPerH / 4, wsRequestsPerH: 3600 / PRICES.wsMessagesPerRequest, activeSPerH: 3600 };
    hotCounters.dedicatedSocket = { counters: socket, cost: monthlyCost({ doRequestsPerH: socket.alarmsPerH + socket.feedRpcPerH + socket.wsRequestsPerH, ...socket }) };
  }
  // The feed itself: one object per network, always active (it holds the public socket).
  const feedMonth = monthlyCost({ doRequestsPerH: 0, activeSPerH: 3600, d1RowsPerH: 0, queueMessagesPerH: 0 }).total;
  return { rest: { counters: restCounters, cost: restCost }, hot: hotCounters && { counters: hotCounters, cost: hotCost }, feedMonth, feedSharePerAccount: feedMonth / fleetSize };
}

// --- results -------------------------------------------------------------------------------
const usd = (x) => (Number.isFinite(x) ? (x < 0.01 ? x.toFixed(5) : x.toFixed(3)) : "-");

function appendResults(r) {
  const file = arg("results", `${ROOT}bench/RESULTS.md`);
  if (!existsSync(file)) writeFileSync(file, "# Benchmark results\n\nAppended by the bench scripts; one section per run.\n");
  const c = r.cost;
  const row = (label, x) => `| ${label} | ${x.crossed}/${x.fleet} | ${fmt(x.p50)} | ${fmt(x.p95)} | ${fmt(x.p99)} | ${fmt(x.max)} | first ${fmt(x.min)} ms, mean ${fmt(x.mean)} ms; missed ${x.missed} (no order within ${fmt((x.timeoutMs ?? 30_000) / 1000)} s), after ${fmt((x.lateMs ?? 30_000) / 1000)} s ${x.late ?? "-"}, duplicates ${x.duplicates}, guards not crossed that ordered ${x.stray}; handled by the exchange object p50 ${fmt(x.handled?.p50)} / p99 ${fmt(x.handled?.p99)} ms; feed fan-out ${x.fanout ? `${x.fanout.calls} calls in ${x.fanout.ms} ms (${fmt(x.fanout.rpcPerS)} RPC/s, ${x.fanout.failures} failed)` : "-"}; CPU from the tick to the last order, per account: ${fmt(x.cpuPerAccountMs?.platform, 1)} ms platform + ${fmt(x.cpuPerAccountMs?.sim, 1)} ms simulator |`;
  const counters = (k) => {
    const x = c[k]?.counters;
    if (!x) return "-";
    return `alarms ${fmt(x.alarmsPerH, 1)}/h, feed RPCs ${fmt(x.feedRpcPerH, 2)}/h${x.wsRequestsPerH !== undefined ? `, stream frames ${fmt(x.wsRequestsPerH * PRICES.wsMessagesPerRequest, 0)}/h (billed 20:1)` : ""}, active ${fmt(x.activeSPerH, 2)} s/h, D1 rows ${fmt(x.d1RowsPerH, 2)}/h (${fmt(x.d1MeasuredPerH, 3)} measured in the window + 1 heartbeat carrying the routine runs), queue messages ${fmt(x.queueMessagesPerH, 2)}/h`;
  };
  const bill = (k) => {
    const x = c[k]?.cost;
    if (!x) return "-";
    return `$${usd(x.total)}: DO requests $${usd(x.doRequests)} (${fmt(x.doRequestsPerMonth)}/month), DO duration $${usd(x.doDuration)} (${fmt(x.gbSPerMonth)} GB-s), D1 $${usd(x.d1)}, Queues $${usd(x.queues)}, Workers $${usd(x.workers)}`;
  };
  const by100 = r.reaction.find((x) => x.kind === "near");
  const lines = [
    "",
    `## Platform bench, at rest (bench/run.mjs, issue 20) ${r.date}`,
    "",
    `commit ${r.commit}; machine ${r.machine}; node ${process.version}; platform and simulator in local workerd (wrangler dev, code frozen from ${CODE === "head" ? "HEAD" : CODE === "worktree" ? "the working tree" : `commit ${CODE.slice(0, 7)}`}), loopback; sizes ${SIZES.join(", ")}; rest window ${REST_WINDOW_S} s, hot window ${HOT_WINDOW_S} s.`,
    "",
    `Fleet: ${r.fleet.size} guarded accounts, ${r.fleet.near} near (50x longs) and ${r.fleet.far} far (25x longs), each with a Margin Guard (actAt 0.9, warnAt 0.8) and the monitor, at 100,000: at rest ${r.fleet.atRest}/${r.fleet.size} (levels registered with the market feed, no socket of their own; ${r.fleet.levels ?? "-"} levels for ${r.fleet.indexed ?? "-"} accounts in the feed's index), seeded in ${fmt(r.fleet.seededS)} s.`,
    "",
    "| measure | crossed/fleet | p50 ms | p95 ms | p99 ms | max ms | other |",
    "|---|---|---|---|---|---|---|",
    ...[...r.reaction].sort((a, b) => (a.kind === "near" ? -1 : b.kind === "near" ? 1 : a.fleet - b.fleet)).map((x) => row(x.kind === "near" ? "one tick from rest crossing the near guards only (tick -> add-margin at the exchange's front door)" : x.kind === "all" ? "one tick crossing every guard of the fleet" : "one tick crossing every guard (a fleet of 50x longs)", x)),
    ...(r.restReaction ? [`| REST fallback (simulator stream silenced: the feed polls REST every 5 s) | ${r.restReaction.crossed}/${r.restReaction.fleet} | ${fmt(r.restReaction.p50)} | ${fmt(r.restReaction.p95)} | ${fmt(r.restReaction.p99)} | ${fmt(r.restReaction.max)} | missed ${r.restReaction.missed}, ready ${r.restReaction.ready} |`] : []),
    `| feed: stream push to a client | ${r.feed.stream.n} | ${fmt(r.feed.stream.p50, 1)} | ${fmt(r.feed.stream.p95, 1)} | ${fmt(r.feed.stream.p99, 1)} | ${fmt(r.feed.stream.max, 1)} | mean ${fmt(r.feed.stream.mean, 2)} |`,
    `| feed: REST ticker read right after the change | ${r.feed.rest.n} | ${fmt(r.feed.rest.p50, 1)} | ${fmt(r.feed.rest.p95, 1)} | ${fmt(r.feed.rest.p99, 1)} | ${fmt(r.feed.rest.max, 1)} | mean ${fmt(r.feed.rest.mean, 2)} |`,
    ...r.queues.map((q) => `| queue: notification sent (202) -> webhook delivered | ${q.count} | ${fmt(q.p50)} | ${fmt(q.p95)} | ${fmt(q.p99)} | ${fmt(q.max)} | ${fmt(q.perS)} msg/s delivered (enqueued at ${fmt(q.enqueuePerS)}/s by 20 clients); delivered ${q.delivered}, lost ${q.lost}, refused ${q.refused} |`),
    ...r.http.map((h) => `| HTTP ${h.route}, ${h.clients} clients, ${h.fleet} guarded accounts at rest | ${h.n} | ${fmt(h.p50, 1)} | ${fmt(h.p95, 1)} | ${fmt(h.p99, 1)} | ${fmt(h.max, 1)} | ${fmt(h.rps)} req/s, errors ${h.errors} |`),
    `| evaluation cost (evaluateMarginGuard + tradeRisk, ${r.evaluation.trades} trades, Node) | ${r.evaluation.ticks} | - | - | - | - | ${r.evaluation.usPerTickMedian.toFixed(2)} us/tick/account (median of ${r.evaluation.runs}) |`,
    "",
    `Growth of one tick crossing every guard: ${[...r.reaction].filter((x) => x.kind !== "near").sort((a, b) => a.fleet - b.fleet).map((x) => `${x.crossed} guards p50 ${fmt(x.p50)} / p99 ${fmt(x.p99)} ms (fan-out ${x.fanout ? `${x.fanout.ms} ms, ${fmt(x.fanout.rpcPerS)} RPC/s` : "-"})`).join("; ") || "-"}.`,
    "",
    "| at rest and in the hot zone, per account | measured |",
    "|---|---|",
    `| platform CPU between ticks, ${r.fleet.size} accounts at rest (${REST_WINDOW_S} s window) | ${fmt(r.rest.cpuPlatformPct, 2)} % of one core (simulator ${fmt(r.rest.cpuSimPct, 2)} %) |`,
    `| platform + simulator CPU per run at rest (the window's CPU over its runs) | ${fmt(((r.rest.cpuPlatformPct / 100) * 3_600_000) / (r.rest.runsPerH * r.fleet.size), 1)} ms + ${fmt(((r.rest.cpuSimPct / 100) * 3_600_000) / (r.rest.runsPerH * r.fleet.size), 1)} ms, so ${fmt(r.rest.runsPerH * r.fleet.size / 3600, 1)} runs a second make the idle load |`,
    `| runs at rest (monitor + guard REST re-syncs) | ${fmt(r.rest.runsPerH, 1)}/h; a run's wall time (each account's last runs, against the local simulator) p50 ${fmt(r.rest.runMs.p50)} ms, p95 ${fmt(r.rest.runMs.p95)} ms, mean ${fmt(r.rest.runMs.mean)} ms; an alarm's (its runs together) p50 ${fmt(r.rest.alarmMs.p50)} ms, p95 ${fmt(r.rest.alarmMs.p95)} ms (the cost uses the alarm's p50); ${fmt(r.rest.sharedAlarmShare * 100)} % of accounts run both in one alarm |`,
    `| D1 rows written in the rest window (by table and operation, whole fleet) | ${Object.entries(r.rest.d1ByTable).map(([k, v]) => `${k} ${v}`).join(", ") || "none"} |`,
    `| D1 rows written in the hot window (near accounts' and shared rows) | ${r.hot ? Object.entries(r.hot.d1ByTable).map(([k, v]) => `${k} ${v}`).join(", ") || "none" : "-"}${r.hot?.logged ? `; events the window logged: ${JSON.stringify(r.hot.logged)}` : ""} |`,
    `| heartbeats | ${fmt(r.run.heartbeatsPerAccount, 2)} per account over the ${fmt(r.run.minutes)} min run (the first alarm beats, then one an hour) |`,
    `| D1 rows per LOGS message (queue_counters sent and settled) | ${fmt(r.run.queueCounterRowsPerMessage, 2)} |`,
    `| counters at rest | ${counters("rest")} |`,
    `| counters in the hot zone (${r.hot ? `${r.hot.accounts} near accounts, ${r.hot.sockets} holding a socket of their own, price moving every second` : "not measured"}) | ${counters("hot")}${r.hot ? `; an alarm's wall time p50 ${fmt(r.hot.alarmMs.p50)} ms` : ""} |`,
    `| platform CPU in the hot window | ${r.hot ? `${fmt(r.hot.cpuPlatformPct, 2)} % of one core with ${r.hot.accounts} accounts hot (${r.hot.sockets} sockets open)` : "-"} |`,
    `| cost per guarded account-month at rest | ${bill("rest")} |`,
    `| cost per guarded account-month in the hot zone (all month hot) | ${bill("hot")} |`,
    `| the same with a dedicated socket (the Pro plan's dedicatedSocket; computed from the hot counters: active all hour, a frame a second) | ${c.hot?.counters.dedicatedSocket ? `$${usd(c.hot.counters.dedicatedSocket.cost.total)}` : "-"} |`,
    `| the market feed (one object per network, always active) | $${usd(c.feedMonth)}/month, $${usd(c.feedSharePerAccount)} per account at ${r.fleet.size} accounts |`,
    "",
    `List prices (Workers Paid, beyond included usage): ${PRICE_SOURCES.join(", ")}. Not counted: the included allowances and the $5 subscription, Durable Object SQLite storage (each account's own tables; its row writes are billed separately since January 2026), D1 rows read.`,
    "",
    ...(r.notes.length ? [...r.notes.map((n) => `- ${n}`), ""] : []),
    ...(r.errors.length ? [`Errors during this run: ${r.errors.join("; ")}`, ""] : []),
    `cost: rest_usd=${usd(c.rest.cost.total)} hot_usd=${c.hot ? usd(c.hot.cost.total) : "-"} d1_writes_per_account_hour=${fmt(c.rest.counters.d1RowsPerH, 2)} p99_ms_100_of_1000=${by100 ? fmt(by100.p99) : "-"} idle_cpu_pct=${fmt(r.rest.cpuPlatformPct, 2)}`,
    "",
  ];
  appendFileSync(file, lines.join("\n"));
}

async function main() {
  const date = new Date().toISOString();
  const t0 = Date.now();
  log("[bench] evaluation cost…");
  const evaluation = await evaluationCost();
  log(`[bench] ${evaluation.usPerTickMedian.toFixed(2)} us/tick/account`);
  const stack = await startStack({ log, snapshot: CODE, countD1Writes: true });
  const ranCommit = CODE === "head" ? commit() : CODE === "worktree" ? `${commit()}+worktree` : CODE.slice(0, 7);
  const result = { date, commit: ranCommit, machine: machine(), evaluation, reaction: [], http: [], queues: [], errors: [], notes: [], feed: { stream: { n: 0 }, rest: { n: 0 } } };
  const overBudget = (name) => {
    if (Date.now() - t0 < BUDGET_MIN * 60_000) return false;
    log(`[bench] skipping ${name}: over the ${BUDGET_MIN} min budget`);
    result.notes.push(`not measured: ${name} (over the ${BUDGET_MIN} min budget)`);
    return true;
  };
  const phase = async (name, fn) => {
    try {
      await fn();
    } catch (e) {
      log(`[bench] ${name} failed: ${e.stack ?? e.message}`);
      result.errors.push(`${name}: ${e.message}`);
    }
  };
  try {
    await heapAfterGc(stack.inspector.platform).catch(() => undefined);
    await must("POST", `${stack.sim}/__sim/price`, { price: 100_000 });
    log("[bench] feed…");
    await phase("feed", async () => { result.feed = await feed(stack, QUICK ? 10 : 50); });
    // The fleet: a tenth near (50x), the rest far (25x).
    const nearN = Math.max(1, Math.round(FLEET / 10));
    let fleet = [];
    await phase(`fleet of ${FLEET}`, async () => {
      log(`[bench] fleet of ${FLEET} (${nearN} near): seeding…`);
      const ts = Date.now();
      fleet = await createFleet(stack, Array.from({ length: FLEET }, (_, i) => (i < nearN ? { leverage: 50, group: "near" } : { leverage: 25, group: "far" })));
      const atRest = await waitRest(stack, fleet, 180_000 + FLEET * 300);
      const feed = await feedStatus(stack, fleet[0].auth);
      result.fleet = { size: FLEET, near: nearN, far: FLEET - nearN, atRest, seededS: (Date.now() - ts) / 1000, levels: feed?.levels, indexed: feed?.accounts };
      log(`[bench] fleet: ${atRest}/${FLEET} at rest after ${fmt(result.fleet.seededS)} s; feed index ${feed?.accounts} accounts, ${feed?.levels} levels`);
    });
    const near = fleet.filter((a) => a.group === "near");
    const far = fleet.filter((a) => a.group === "far");
    if (fleet.length) {
      // Quiet: nothing moves; what the platform spends with every account at rest.
      await phase("rest window", async () => {
        await sleep(5_000);
        log(`[bench] rest window ${REST_WINDOW_S} s…`);
        const before = await snapshotCounters(stack, fleet, { statusesFirst: true });
        await sleep(REST_WINDOW_S * 1000);
        const after = await snapshotCounters(stack, fleet, { statusesFirst: false });
        result.rest = rates(before, after, fleet, fleet);
        log(`[bench] rest D1 ${JSON.stringify(result.rest.d1ByTable)}`);
        log(`[bench] at rest: CPU ${fmt(result.rest.cpuPlatformPct, 2)} % of a core, ${fmt(result.rest.runsPerH, 1)} runs/h per account, D1 ${fmt(result.rest.d1MinePerH, 3)} rows/h per account + ${fmt(result.rest.d1SharedTotalPerH, 1)}/h shared, queue ${fmt(result.rest.queueTotalPerH, 1)} msg/h`);
      });
      if (HTTP_SECONDS > 0) {
        const a = fleet[0];
        for (const route of ["/v1/automations/status", `/v1/accounts/${a.accountId}/positions`]) {
          await phase(`HTTP ${route}`, async () => { result.http.push({ route: route.replace(a.accountId, ":id"), fleet: fleet.length, ...(await load(`${stack.platform}${route}`, a.auth)) }); });
        }
      }
      // Hot zone: the price within 1 % of the near guards' warn level (not of the far ones').
      await phase("hot window", async () => {
        const tn = (await trades(stack, near)).filter(Boolean);
        const tf = (await trades(stack, far)).filter(Boolean);
        const price = half(Math.max(...tn.map((t) => atRisk(t, 0.8))) * 1.005);
        const farHotFrom = Math.max(...tf.map((t) => atRisk(t, 0.8))) * 1.01;
        if (!(price > farHotFrom)) result.notes.push(`hot window: ${price} is also in the far accounts' hot zone (from ${fmt(farHotFrom)})`);
        await must("POST", `${stack.sim}/__sim/price`, { price });
        const hotN = await waitHot(stack, near, 60_000);
        // Past the switch (the schedules armed at rest run out first), ticking as a market does.
        // 45 s: longer than a log flush's wait (30 s), so rows of the switch land before the window.
        await tickEverySecond(stack, price, QUICK ? 10 : 45);
        log(`[bench] hot window ${HOT_WINDOW_S} s at ${price}: ${hotN}/${near.length} near accounts hot`);
        const before = await snapshotCounters(stack, fleet, { statusesFirst: true });
        await tickEverySecond(stack, price, HOT_WINDOW_S);
        const after = await snapshotCounters(stack, fleet, { statusesFirst: false });
        // The LOGS queue lands rows a little later: read what the window's events became.
        await sleep(QUICK ? 5_000 : 10_000);
        result.hot = { ...rates(before, after, fleet, near), holding: hotN, logged: loggedEvents(stack.d1Path(), near, before.at, after.at) };
        log(`[bench] hot: logged ${JSON.stringify(result.hot.logged)}`);
        const show = (x) => x && JSON.stringify({ stream: x.stream?.state, hot: x.marketFeed?.hot, monitor: x.monitor?.status && { runs: x.monitor.status.runs, next: x.monitor.status.nextRunAt - after.at, last: x.monitor.status.lastRunAt - after.at }, guard: x.automations?.[0]?.status && { runs: x.automations[0].status.runs, next: x.automations[0].status.nextRunAt - after.at } });
        log(`[bench] hot: first near account before ${show(before.st[fleet.indexOf(near[0])])} after ${show(after.st[fleet.indexOf(near[0])])}`);
        await must("POST", `${stack.sim}/__sim/price`, { price: 100_000 });
        const back = await waitRest(stack, fleet, 150_000);
        log(`[bench] hot: ${fmt(result.hot.streamFramesPerS, 2)} frames/s per account, ${fmt(result.hot.runsPerH, 1)} runs/h, D1 ${JSON.stringify(result.hot.d1ByTable)}; back at rest ${back}/${fleet.length}`);
        if (back < fleet.length) result.notes.push(`after the hot window ${back}/${fleet.length} accounts were back at rest within 150 s`);
      });
      // A gap from rest across the near guards' act level only.
      await phase("near tick", async () => {
        const tn = (await trades(stack, near)).filter(Boolean);
        const tf = (await trades(stack, far)).filter(Boolean);
        const maxLiq = Math.max(...tn.map((t) => t.liq));
        const price = half(maxLiq + 0.5 * (Math.min(...tn.map((t) => atRisk(t, 0.9))) - maxLiq));
        const farHotFrom = Math.max(...tf.map((t) => atRisk(t, 0.8))) * 1.01;
        if (!(price > farHotFrom)) result.notes.push(`near tick: ${price} also reaches the far accounts' hot zone (from ${fmt(farHotFrom)})`);
        await sleep(5_000);
        const r = await reaction(stack, near, fleet, price);
        result.reaction.push({ ...r, kind: "near" });
        log(`[bench] ${near.length} of ${fleet.length}: p50 ${r.p50} p99 ${r.p99} ms, missed ${r.missed}, stray ${r.stray}, fan-out ${JSON.stringify(r.fanout)}`);
      });
      // Then every guard at once.
      await phase("all tick", async () => {
        const ready = await waitRest(stack, fleet, 120_000);
        const tr = (await trades(stack, fleet)).filter(Boolean);
        const maxLiq = Math.max(...tr.map((t) => t.liq));
        const minAct = Math.min(...tr.map((t) => atRisk(t, 0.9)));
        if (!(minAct > maxLiq)) throw new Error(`no price crosses every act level before a liquidation (act from ${minAct}, liquidation up to ${maxLiq})`);
        await sleep(5_000);
        const r = await reaction(stack, fleet, fleet, half(maxLiq + 0.5 * (minAct - maxLiq)));
        result.reaction.push({ ...r, kind: "all", ready });
        log(`[bench] all of ${fleet.length}: p50 ${r.p50} p99 ${r.p99} ms, missed ${r.missed}, fan-out ${JSON.stringify(r.fanout)}`);
      });
    }
    // Whole-run D1 facts: heartbeats per account, queue_counters rows per message.
    const d1 = readD1Writes(stack.d1Path());
    const qc = readQueueCounters(stack.d1Path());
    const messages = sum(Object.values(qc).map((q) => q.sent));
    const beats = d1.filter((r) => r.op === "heartbeat");
    result.run = {
      minutes: (Date.now() - t0) / 60_000,
      heartbeatsPerAccount: sum(fleet.map((a) => beats.find((b) => b.acc === a.accountId)?.n ?? 0)) / Math.max(1, fleet.length),
      queueCounterRowsPerMessage: messages ? sum(d1.filter((r) => r.tbl === "queue_counters").map((r) => r.n)) / messages : 2,
    };
    if (fleet.length) await phase("cleanup", () => deleteFleet(stack, fleet));
    // Smaller sizes: a fleet of 50x longs, one tick across all of them.
    for (const n of SIZES.slice(0, -1)) {
      if (overBudget(`all of ${n}`)) continue;
      await phase(`all of ${n}`, async () => {
        log(`[bench] all of ${n}: seeding…`);
        const fleet = await createFleet(stack, Array.from({ length: n }, () => ({ leverage: 50, group: "all" })));
        try {
          const ready = await waitRest(stack, fleet, 120_000 + n * 300);
          const tr = (await trades(stack, fleet)).filter(Boolean);
          const price = half(Math.max(...tr.map((t) => t.liq)) + 0.5 * (Math.min(...tr.map((t) => atRisk(t, 0.9))) - Math.max(...tr.map((t) => t.liq))));
          await sleep(5_000);
          const r = await reaction(stack, fleet, fleet, price);
          result.reaction.push({ ...r, kind: "size", ready });
          log(`[bench] all of ${n}: at rest ${ready}, p50 ${r.p50} p99 ${r.p99} ms, missed ${r.missed}, fan-out ${JSON.stringify(r.fanout)}`);
        } finally {
          await deleteFleet(stack, fleet);
        }
      });
    }
    if (REST_N > 0 && !overBudget("REST fallback")) {
      await phase("REST fallback", async () => {
        log(`[bench] REST fallback, ${REST_N} accounts…`);
        const r = await restReaction(stack, REST_N);
        await deleteFleet(stack, r.fleetAccounts);
        delete r.fleetAccounts;
        result.restReaction = r;
      });
    }
    // Queues last, on a platform with no fleet left.
    if (QUEUE_COUNTS.length && !overBudget("queues")) {
      log(`[bench] queues ${QUEUE_COUNTS.join(", ")}…`);
      await phase("queues", async () => { result.queues = await queueThroughput(stack, QUEUE_COUNTS); });
    }
  } finally {
    await stack.stop();
  }
  if (!result.rest || !result.fleet) {
    log(`[bench] no fleet measured: ${result.errors.join("; ")}`);
    process.exitCode = 1;
    return;
  }
  result.cost = costs(result.rest, result.hot, result.run, result.fleet.size, result.fleet.near);
  const c = result.cost;
  const near = result.reaction.find((x) => x.kind === "near");
  const miss = (what, value, target, why) => {
    if (Number.isFinite(value) && value > target) result.notes.push(`${what} ${fmt(value, 3)} misses its target ${target} by ${fmt(value - target, 3)} (${fmt((value / target - 1) * 100)} %): ${why}`);
  };
  miss("rest_usd", c.rest.cost.total, 0.05, "see the cost row at rest for the component");
  if (c.hot) miss("hot_usd", c.hot.cost.total, 1, result.hot.sockets > 0 ? `${result.hot.sockets} hot accounts held a socket of their own: an object holding an outbound socket can never hibernate, so it is billed every second (${fmt(MONTH_S * PRICES.doGb)} GB-s = $${usd(MONTH_S * PRICES.doGb * PRICES.doGbS)} a month of duration alone)` : `no socket held: see the hot cost row for the component (the alarm's wall time is this machine's, where every account and the exchange share two cores)`);
  miss("d1_writes_per_account_hour", c.rest.counters.d1RowsPerH, 1, "the hourly heartbeat (with the routine runs) is one row; the rest was written in the window (see the D1 rows at rest)");
  if (near) miss(`p99_ms_${near.crossed}_of_${near.fleet}`, near.p99, 50, "see the reaction rows (fan-out, cold starts, the two shared cores)");
  // Everything measured, for docs/OPERATIONS.md's "Scale on paper" arithmetic.
  writeFileSync(`${OUT}/bench-result.json`, JSON.stringify(result, null, 2));
  if (WRITE) appendResults(result);
  const table = [
    ["measure", "N", "p50", "p95", "p99", "other"],
    ...result.reaction.map((x) => [`tick ${x.kind} ${x.crossed}/${x.fleet}`, x.n, x.p50, x.p95, x.p99, `missed ${x.missed} dup ${x.duplicates} stray ${x.stray} fan-out ${x.fanout ? `${x.fanout.calls} in ${x.fanout.ms} ms` : "-"}`]),
    ...(result.restReaction ? [["REST fallback", result.restReaction.n, result.restReaction.p50, result.restReaction.p95, result.restReaction.p99, `missed ${result.restReaction.missed}`]] : []),
    ["idle CPU % of a core", result.fleet.size, fmt(result.rest.cpuPlatformPct, 2), "", "", `sim ${fmt(result.rest.cpuSimPct, 2)}`],
    ["D1 rows/account-hour", "", fmt(c.rest.counters.d1RowsPerH, 2), "", "", `measured ${fmt(c.rest.counters.d1MeasuredPerH, 3)} + heartbeat + summary`],
    ["USD/account-month rest", "", usd(c.rest.cost.total), "", "", JSON.stringify(Object.fromEntries(Object.entries(c.rest.cost).map(([k, v]) => [k, Number(v.toPrecision(3))])))],
    ["USD/account-month hot", "", c.hot ? usd(c.hot.cost.total) : "-", "", "", c.hot ? JSON.stringify(Object.fromEntries(Object.entries(c.hot.cost).map(([k, v]) => [k, Number(v.toPrecision(3))]))) : ""],
    ...result.queues.map((q) => [`queue sent->delivered`, q.count, fmt(q.p50), fmt(q.p95), fmt(q.p99), `${fmt(q.perS)} msg/s lost ${q.lost}`]),
    ...result.http.map((h) => [`HTTP ${h.route}`, h.n, fmt(h.p50, 1), fmt(h.p95, 1), fmt(h.p99, 1), `${fmt(h.rps)} req/s err ${h.errors}`]),
    ["eval us/tick/account", evaluation.ticks, evaluation.usPerTickMedian.toFixed(2), "", "", ""],
  ];
  console.log(table.map((r) => r.map((x) => String(x).padEnd(22)).join(" ")).join("\n"));
  for (const n of result.notes) console.log(`note: ${n}`);
  console.log(`cost: rest_usd=${usd(c.rest.cost.total)} hot_usd=${c.hot ? usd(c.hot.cost.total) : "-"} d1_writes_per_account_hour=${fmt(c.rest.counters.d1RowsPerH, 2)} p99_ms_100_of_1000=${near ? fmt(near.p99) : "-"} idle_cpu_pct=${fmt(result.rest.cpuPlatformPct, 2)}`);
  console.log(WRITE ? "results appended to bench/RESULTS.md" : "(--no-write: RESULTS.md untouched)");
}

main().catch((e) => {
  console.error(`[bench] failed: ${e.stack ?? e}`);
  process.exitCode = 1;
});
