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
//
// The measures live in bench/lib/: fleet.mjs (seeding), window.mjs (counters over a window),
// reaction.mjs (tick -> order), latency.mjs (feed, HTTP), queue-bench.mjs, cost.mjs, report.mjs.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { build } from "esbuild";
import { must, waitRest } from "./lib/api.mjs";
import { costs, missedTargets } from "./lib/cost.mjs";
import { readD1Writes, readQueueCounters } from "./lib/d1.mjs";
import { atRisk, createFleet, crossingPrice, deleteFleet, feedStatus, trades } from "./lib/fleet.mjs";
import { heapAfterGc } from "./lib/inspector.mjs";
import { feed, load } from "./lib/latency.mjs";
import { queueThroughput } from "./lib/queue-bench.mjs";
import { reaction, restReaction } from "./lib/reaction.mjs";
import { appendResults, consoleTable, costLine } from "./lib/report.mjs";
import { OUT, ROOT, commit, machine, startStack } from "./lib/stack.mjs";
import { fmt, half, sum } from "./lib/stats.mjs";
import { loggedEvents, rates, snapshotCounters, tickEverySecond, waitHot } from "./lib/window.mjs";

export { PRICES, PRICE_SOURCES, monthlyCost } from "./lib/cost.mjs";

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

// --- evaluation cost (no stack) ----------------------------------------------------------
async function evaluationCost() {
  const outfile = `${ROOT}.wrangler/bench/eval.mjs`;
  await build({ entryPoints: [`${ROOT}bench/eval.ts`], bundle: true, platform: "node", format: "esm", target: "node22", outfile, logLevel: "warning" });
  const r = spawnSync(process.execPath, [outfile], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`eval bench failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
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
          await phase(`HTTP ${route}`, async () => { result.http.push({ route: route.replace(a.accountId, ":id"), fleet: fleet.length, ...(await load(`${stack.platform}${route}`, a.auth, { seconds: HTTP_SECONDS })) }); });
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
        const price = crossingPrice((await trades(stack, near)).filter(Boolean));
        const tf = (await trades(stack, far)).filter(Boolean);
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
          const price = crossingPrice((await trades(stack, fleet)).filter(Boolean));
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
  result.notes.push(...missedTargets(result));
  // Everything measured, for docs/OPERATIONS.md's "Scale on paper" arithmetic.
  writeFileSync(`${OUT}/bench-result.json`, JSON.stringify(result, null, 2));
  if (WRITE) appendResults(result, { file: arg("results", `${ROOT}bench/RESULTS.md`), code: CODE, sizes: SIZES, restWindowS: REST_WINDOW_S, hotWindowS: HOT_WINDOW_S });
  console.log(consoleTable(result));
  for (const n of result.notes) console.log(`note: ${n}`);
  console.log(costLine(result));
  console.log(WRITE ? "results appended to bench/RESULTS.md" : "(--no-write: RESULTS.md untouched)");
}

main().catch((e) => {
  console.error(`[bench] failed: ${e.stack ?? e}`);
  process.exitCode = 1;
});
