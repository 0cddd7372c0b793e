// `npm run bench:backtest` (issue 24): a year of 1-minute candles (about 525,600 steps) for one
// position with a Margin Guard, end to end on the dev stack: POST /v1/simulations with a candle
// source on the simulator's deterministic history, the SimulationDO fetching the candles from
// the exchange (1,000 per chunk, cached in local R2) and walking both runs (guarded and
// baseline), until the simulation reads `completed`. Then the same window again, from the R2
// cache (no exchange request). Appends an entry to bench/RESULTS.md closing with
//   backtest: steps=N seconds=S
// (the first, uncached run's wall time from the POST to `completed`). Loopback only, bounded.
//
//   node bench/backtest-year.mjs [--days 365] [--no-write]
//
// The plans cap a simulation's steps (pro: 10,000); this bench's own stack (its own state
// directory) raises the pro plan's maxSimulationSteps in its local D1 before it starts.
import { appendFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { setTimeout as sleep } from "node:timers/promises";
import { ROOT, commit, machine, must, newTrader, startStack } from "./lib/stack.mjs";

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const DAYS = Math.min(366, Math.max(1, Number(arg("days", "365"))));
const WRITE = !args.includes("--no-write");
const log = (...m) => console.error(`[backtest ${new Date().toISOString().slice(11, 19)}]`, ...m);
const FROM = Date.parse("2025-01-01T00:00:00Z");
const TO = FROM + DAYS * 86_400_000;
const STEPS_CAP = 600_000;
const TIMEOUT_MS = 20 * 60_000;

async function run(stack, auth, label) {
  const body = {
    source: { type: "candles", network: "simulator", range: "1m", from: new Date(FROM).toISOString(), to: new Date(TO).toISOString() },
    position: { side: "buy", quantity: 1_000, leverage: 25 },
    freeBalanceSats: 50_000_000,
    automations: { marginGuard: { warnAt: 0.6, actAt: 0.7, targetRisk: 0.3, maxAddPerTradeSats: 50_000_000, maxAddPerDaySats: 50_000_000 } },
  };
  const t0 = performance.now();
  const created = await must("POST", `${stack.platform}/v1/simulations`, body, auth);
  const deadline = Date.now() + TIMEOUT_MS;
  let sim = created;
  let lastLog = 0;
  while (Date.now() < deadline) {
    await sleep(500);
    sim = await must("GET", `${stack.platform}/v1/simulations/${created.id}`, undefined, auth);
    if (sim.status !== "running") break;
    if (Date.now() - lastLog > 15_000) {
      lastLog = Date.now();
      log(`${label}: step ${sim.progress?.step ?? sim.step ?? "?"}`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  if (sim.status !== "completed") throw new Error(`${label}: ${sim.status} after ${seconds.toFixed(0)} s: ${sim.error ?? ""}`);
  log(`${label}: completed in ${seconds.toFixed(1)} s, ${sim.summary?.steps} steps`);
  return { seconds, sim };
}

/** What each run did, for the console line (liquidations, margin added, fees, funding). */
const pick = (r) => r && { liquidations: r.liquidations, marginAddedSats: r.marginAddedSats, feesSats: r.feesSats, fundingSats: r.fundingSats, finalPnlSats: r.finalPnlSats };

async function main() {
  const date = new Date().toISOString();
  const stack = await startStack({ log, name: "backtest", snapshot: "head" });
  let first;
  let second;
  try {
    const db = new DatabaseSync(stack.d1Path());
    db.prepare("UPDATE plans SET limits = json_set(limits, '$.maxSimulationSteps', ?) WHERE id = 'pro'").run(STEPS_CAP);
    const trader = await newTrader(stack);
    const me = await must("GET", `${stack.platform}/v1/me`, undefined, trader.auth);
    db.prepare("UPDATE users SET plan_id = 'pro', plan_expires_at = ? WHERE id = ?").run(Date.now() + 86_400_000, me.id);
    db.close();
    first = await run(stack, trader.auth, "first run (exchange)");
    second = await run(stack, trader.auth, "second run (R2 cache)");
  } finally {
    await stack.stop();
  }
  const s = first.sim.summary;
  const line = `backtest: steps=${s.steps} seconds=${first.seconds.toFixed(1)}`;
  const runs = { automated: pick(s.automated), baseline: pick(s.baseline) };
  console.log(JSON.stringify({ days: DAYS, first: { seconds: first.seconds, source: s.source, saved: s.saved, runs }, second: { seconds: second.seconds, source: second.sim.summary.source } }));
  console.log(line);
  if (WRITE) {
    appendFileSync(`${ROOT}bench/RESULTS.md`, [
      "",
      `## Year-long backtest (bench/backtest-year.mjs) ${date}`,
      "",
      `commit ${commit()}; machine ${machine()}; platform and simulator in local workerd (wrangler dev, code frozen from commit ${commit()}), loopback.`,
      `${DAYS} days of 1-minute candles from ${new Date(FROM).toISOString().slice(0, 10)} on the simulator's history; one 25x long of 1,000 USD with a Margin Guard (actAt 0.7 -> 0.3) and the baseline run beside it.`,
      "",
      "| run | steps | wall time s (POST -> completed) | candle chunks | from R2 cache | exchange requests | saved |",
      "|---|---|---|---|---|---|---|",
      `| first (history from the exchange) | ${s.steps} | ${first.seconds.toFixed(1)} | ${s.source?.chunks ?? "-"} | ${s.source?.cacheHits ?? "-"} | ${s.source?.exchangeRequests ?? "-"} | ${s.saved?.text ?? "-"} |`,
      `| second (same window) | ${second.sim.summary.steps} | ${second.seconds.toFixed(1)} | ${second.sim.summary.source?.chunks ?? "-"} | ${second.sim.summary.source?.cacheHits ?? "-"} | ${second.sim.summary.source?.exchangeRequests ?? "-"} | ${second.sim.summary.saved?.text ?? "-"} |`,
      "",
      line,
      "",
    ].join("\n"));
  }
}

main().catch((e) => {
  console.error(`[backtest] failed: ${e.stack ?? e}`);
  process.exitCode = 1;
});
