#!/usr/bin/env node
// Runs .ci/run on fresh clones of HEAD, one after another, and prints a Markdown record of
// each run (result, total time, the slowest test files) for the README's Development section
// (issue 21: "10 green runs in a row, with the total and the slowest files' times").
//
//   npm run ci:record -- [--runs 10] [--dir /tmp/ci-record] [--stop-on-failure]
//
// Each run clones the repository (so nothing untracked or uncommitted takes part), runs
// `CI=true bash .ci/run` there and keeps its log in <dir>/run-<n>.log. Keep the machine quiet
// meanwhile: the figures are wall-clock times.
import { execFileSync, spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const RUNS = Math.max(1, Math.min(50, Number(flag("runs", "10"))));
const DIR = flag("dir", `${os.tmpdir()}/ci-record`);
const STOP = args.includes("--stop-on-failure");


/** Test files and their durations from vitest's report lines ("✓ |project| path (n tests) 1234ms"). */
export function fileTimes(log) {
  const plain = log.replace(/\x1b\[[0-9;]*m/g, "");
  const out = new Map();
  for (const m of plain.matchAll(/^\s*[✓×❯↓]\s+(?:\|?\s*(\w+)\s*\|?\s+)?(\S+\.test\.m?[jt]s)\s+\((\d+) tests?[^)]*\)\s+(\d+(?:\.\d+)?)(ms|s)\s*$/gm)) {
    const ms = Number(m[4]) * (m[5] === "s" ? 1000 : 1);
    out.set(m[2], Math.max(out.get(m[2]) ?? 0, ms));
  }
  return out;
}

function runOnce(n) {
  const dir = `${DIR}/clone-${n}`;
  rmSync(dir, { recursive: true, force: true });
  execFileSync("git", ["clone", "-q", ROOT, dir]);
  const logPath = `${DIR}/run-${n}.log`;
  const log = createWriteStream(logPath);
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn("bash", [".ci/run"], { cwd: dir, env: { ...process.env, CI: "true" }, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.on("close", (code) => {
      log.end();
      const seconds = (Date.now() - started) / 1000;
      const text = readFileSync(logPath, "utf8");
      const vitest = /Duration\s+([\d.]+)s/.exec(text.replace(/\x1b\[[0-9;]*m/g, ""));
      rmSync(dir, { recursive: true, force: true });
      resolve({ n, code: code ?? 1, seconds, vitestSeconds: vitest ? Number(vitest[1]) : null, files: fileTimes(text), logPath });
    });
  });
}

async function main() {
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  mkdirSync(DIR, { recursive: true });
  const results = [];
  for (let n = 1; n <= RUNS; n++) {
    const r = await runOnce(n);
    results.push(r);
    console.error(`[ci-record] run ${n}/${RUNS}: ${r.code === 0 ? "green" : `FAILED (exit ${r.code}, ${r.logPath})`} in ${r.seconds.toFixed(0)} s`);
    if (r.code !== 0 && STOP) break;
  }

  const green = results.filter((r) => r.code === 0).length;
  const slowest = new Map();
  for (const r of results) for (const [f, ms] of r.files) slowest.set(f, Math.max(slowest.get(f) ?? 0, ms));
  const top = [...slowest].sort((a, b) => b[1] - a[1]).slice(0, 8);
  const lines = [
    `Fresh-clone \`.ci/run\` record: commit ${commit}, ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length}x ${os.cpus()[0]?.model.trim() ?? "cpu"}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GB; ${green} of ${results.length} green in a row${green === results.length ? "" : " (not all green)"}.`,
    "",
    "| run | result | `.ci/run` total | vitest |",
    "|---|---|---|---|",
    ...results.map((r) => `| ${r.n} | ${r.code === 0 ? "green" : `failed (exit ${r.code})`} | ${(r.seconds / 60).toFixed(1)} min | ${r.vitestSeconds === null ? "-" : `${r.vitestSeconds.toFixed(0)} s`} |`),
    "",
    `Slowest test files (longest over the runs): ${top.map(([f, ms]) => `${f} ${(ms / 1000).toFixed(0)} s`).join(", ")}.`,
  ];
  console.log(lines.join("\n"));
  process.exit(green === results.length ? 0 : 1);
}

// Imported (tests), nothing runs.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
