/**
 * Benchmark (not a test): a 10,000-step fast simulation with all three automations through
 * the pure runner (src/domain/simulation-run.ts), the same step function the SimulationDO
 * uses. Reports steps per second and heap, and appends a dated line to bench/RESULTS.md.
 *
 * Run: PATH=/work/main/node_modules/.bin:$PATH node bench/run-simulation.mjs
 * (bundles this file with esbuild first: the domain imports have no .ts extensions, which
 * Node's type stripping alone cannot resolve).
 */
import { execSync } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { AutoEntryConfig } from "../src/domain/auto-entry";
import { MarginGuardConfig } from "../src/domain/margin-guard";
import { runSimulation, type RunSimulationInput } from "../src/domain/simulation-run";
import { TpSlConfig } from "../src/domain/tp-sl";

const STEPS = 10_000;
const RUNS = 5;

const input: RunSimulationInput = {
  scenario: { name: "volatile", initialPrice: 60_000, seed: 42 },
  steps: STEPS,
  stepMs: 100,
  freeBalanceSats: 5_000_000,
  position: { side: "buy", quantity: 500, leverage: 20 },
  automations: {
    margin_guard: MarginGuardConfig.parse({ warnAt: 0.6, actAt: 0.7, targetRisk: 0.3, maxAddPerTradeSats: 5_000_000, maxAddPerDaySats: 5_000_000 }),
    tp_sl: TpSlConfig.parse({ takeProfit: { percent: 5 }, stopLoss: { percent: 3, trailing: true, trailingMode: "managed" } }),
    auto_entry: AutoEntryConfig.parse({ condition: { type: "drop_from_high", percent: 1, windowMs: 60_000 }, side: "buy", quantity: 100, leverage: 10, cooldownMs: 1_000, maxPerDay: 100 }),
  },
  // Kept, as the DO keeps every step (in SQLite): the heap figure includes the records.
  keepRecords: true,
};

const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
const gc = (globalThis as { gc?: () => void }).gc;

runSimulation({ ...input, steps: 1_000 }); // warm-up: JIT
const times: number[] = [];
let heapDelta = 0;
let last: ReturnType<typeof runSimulation> | null = null;
for (let i = 0; i < RUNS; i++) {
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  last = runSimulation(input);
  times.push(performance.now() - t0);
  heapDelta = Math.max(heapDelta, process.memoryUsage().heapUsed - before);
}
const heapUsed = process.memoryUsage().heapUsed;
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)]!;
const stepsPerSec = Math.round(STEPS / (median / 1000));
const s = last!.summary;
const actions = Object.entries(s.actionsByType).map(([k, v]) => `${k}:${v}`).join(" ");
const cpu = cpus();
let rev = "unknown";
try {
  rev = execSync("git rev-parse --short HEAD", { encoding: "utf8" }).trim();
} catch {
  /* not a git checkout */
}
const line = `| ${new Date().toISOString()} | ${rev} | ${cpu[0]?.model.trim() ?? "?"} x${cpu.length} | node ${process.version} | ${STEPS} | ${stepsPerSec.toLocaleString("en-US")} | ${median.toFixed(1)} | ${mb(heapDelta)} | ${mb(heapUsed)} | ${actions} |`;

console.log(`simulation bench: ${STEPS} steps, all three automations, median of ${RUNS} runs${gc ? "" : " (run with --expose-gc for a cleaner heap figure)"}`);
console.log(`  ${stepsPerSec.toLocaleString("en-US")} steps/s (${median.toFixed(1)} ms per run; min ${times[0]!.toFixed(1)}, max ${times[times.length - 1]!.toFixed(1)})`);
console.log(`  heap: +${mb(heapDelta)} MB during a run (records kept), ${mb(heapUsed)} MB used after`);
console.log(`  final PnL ${s.finalPnlSats} sats, liquidated ${s.liquidated}, actions ${actions}`);

// The bundle runs from .wrangler/bench: resolve RESULTS.md from the repo root instead.
const file = `${process.env.BENCH_ROOT ?? `${process.cwd()}/`}bench/RESULTS.md`;
const section = "## Simulation (bench/simulation.ts)";
if (!existsSync(file)) writeFileSync(file, "# Benchmark results\n\nAppended by the bench scripts; one line per run.\n");
const header = `\n${section}\n\n10,000-step fast simulation, volatile scenario, margin guard + TP/SL + auto entry, pure runner, median of ${RUNS} runs.\n\n| date | commit | machine | runtime | steps | steps/s | ms/run | heap delta MB | heap used MB | actions |\n|---|---|---|---|---|---|---|---|---|---|\n`;
const current = readFileSync(file, "utf8");
appendFileSync(file, current.includes(section) ? `${line}\n` : `${header}${line}\n`);
console.log(`  appended to bench/RESULTS.md`);
