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
//
// The cycle lives in bench/lib/soak-cycle.mjs, what it measures in bench/lib/soak-measure.mjs.
import { appendFileSync, mkdirSync } from "node:fs";
import os from "node:os";
import { execFileSync } from "node:child_process";
import { http } from "./lib/api.mjs";
import { cycle, faultsInjected, log } from "./lib/soak-cycle.mjs";
import { OUT, ROOT, startStack } from "./lib/stack.mjs";

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
        await cycle(stack, n, Math.max(deadline, Date.now() + 6 * 60_000), run, { fleetSize: FLEET, bareSize: BARE, evict: EVICT });
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
