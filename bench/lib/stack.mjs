// The dev stack for benchmarks: the simulator and the platform as two `wrangler dev`
// processes on free loopback ports, state on tmpfs where there is one (else bench/.out; wiped at start), and a
// platform config whose LNM_SIM service binding points at this run's simulator only (a
// unique worker name, so a developer's `npm run dev` elsewhere is never picked up).
// Everything started here is stopped by stop(), also on errors and signals.
// The HTTP helpers (api.mjs) and D1 reads (d1.mjs) live apart; they are exported from here too.
import { execFileSync, spawn } from "node:child_process";
import { accessSync, constants, copyFileSync, cpSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { d1File, installD1WriteCounters } from "./d1.mjs";

export * from "./api.mjs";
export * from "./d1.mjs";
export { percentile } from "./stats.mjs";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const OUT = `${ROOT}bench/.out`;

const wranglerEnv = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" };

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(url, label, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      /* not up yet */
    }
    await sleep(500);
  }
  throw new Error(`${label} did not come up at ${url} within ${timeoutMs / 1000}s`);
}

/**
 * Where the local D1 and Durable Object SQLite files go: BENCH_STATE_DIR, else tmpfs
 * (/dev/shm) where there is one, else bench/.out. On disk, the fsync of every DO commit
 * (a thousand DOs each write on a tick) is a cost of this machine's disk, not of the code.
 */
function stateRoot() {
  if (process.env.BENCH_STATE_DIR) return process.env.BENCH_STATE_DIR;
  try {
    accessSync("/dev/shm", constants.W_OK);
    return `/dev/shm/lnma-bench-${process.pid}`;
  } catch {
    return OUT;
  }
}

/**
 * A frozen copy of the code the workers run, so edits made in the working tree while a long
 * run goes on (wrangler dev rebuilds and restarts on every change it sees) neither restart
 * nor change it: `git archive` of HEAD (the commit the results name), or with `worktree` the
 * working tree's tracked and new files. node_modules and the vendored assets are linked in.
 */
function snapshot(dir, { worktree = false, ref = "HEAD" } = {}) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  if (worktree) {
    const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" }).split("\0").filter(Boolean);
    for (const f of files) {
      if (!existsSync(`${ROOT}${f}`)) continue; // deleted in the working tree
      mkdirSync(`${dir}/${f}`.replace(/\/[^/]+$/, ""), { recursive: true });
      copyFileSync(`${ROOT}${f}`, `${dir}/${f}`);
    }
  } else {
    if (!/^[A-Za-z0-9._/-]+$/.test(ref)) throw new Error(`snapshot: not a git ref: ${ref}`);
    execFileSync("sh", ["-c", `git archive --format=tar '${ref}' | tar -x -C '${dir}'`], { cwd: ROOT });
  }
  symlinkSync(`${ROOT}node_modules`, `${dir}/node_modules`);
  if (existsSync(`${ROOT}public/vendor`)) cpSync(`${ROOT}public/vendor`, `${dir}/public/vendor`, { recursive: true });
  return `${dir}/`;
}

/**
 * Starts both workers; returns URLs and stop(). `snapshot`: run a frozen copy of the code
 * ("head" or "worktree", see snapshot()) instead of the live tree; `reloadPlatform()` then
 * restarts the platform's runtime as a deploy would (every Durable Object evicted: memory
 * gone, storage and alarms kept). `logLevel`: the platform's LOG_LEVEL ("info" prints every
 * decision and order as a JSON line; BENCH_LOG_DIR keeps them in platform.log). `vars`: more
 * of the platform's vars (e.g. EMAIL_API_URL at a receiver of the caller's).
 */
export async function startStack({ log = () => {}, name = "bench", snapshot: snap = null, logLevel = "warn", countD1Writes = false, vars = {} } = {}) {
  const state = `${stateRoot()}/state-${name}`;
  rmSync(state, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const simName = `lnm-sim-bench-${process.pid}`;
  // snapshot: "head", "worktree", or a commit to run (a tree known to build while others commit).
  const code = snap ? snapshot(`${stateRoot()}/code-${name}`, { worktree: snap === "worktree", ref: snap === "head" || snap === "worktree" ? "HEAD" : snap }) : ROOT;
  const base = snap ? code : `${OUT}/`;
  const rel = snap ? "" : "../../";
  const cfg = readFileSync(`${code}wrangler.toml`, "utf8")
    .replace(/^main = "(.*)"/m, `main = "${rel}$1"`)
    .replace(/^directory = "\.\/public"/gm, `directory = "${rel || "./"}public"`)
    .replace(/^migrations_dir = "(.*)"/gm, `migrations_dir = "${rel}$1"`)
    .replace(/^service = "lnm-sim"/gm, `service = "${simName}"`);
  const cfgPath = `${base}wrangler.${name}.toml`;
  writeFileSync(cfgPath, cfg);
  copyFileSync(existsSync(`${ROOT}.dev.vars`) ? `${ROOT}.dev.vars` : `${ROOT}.dev.vars.example`, `${base}.dev.vars`);

  const [simPort, platPort, insp1, insp2] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const sim = `http://127.0.0.1:${simPort}`;
  const platform = `http://127.0.0.1:${platPort}`;
  const children = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const c of children) {
      if (c.exitCode !== null) continue;
      try {
        process.kill(-c.pid, "SIGTERM"); // its own process group: wrangler and its workerd
      } catch {
        /* gone */
      }
    }
    const deadline = Date.now() + 5_000;
    while (children.some((c) => c.exitCode === null && c.signalCode === null) && Date.now() < deadline) await sleep(100);
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        try {
          process.kill(-c.pid, "SIGKILL");
        } catch {
          /* gone */
        }
      }
    }
    // tmpfs is memory: a run leaves nothing there.
    if (state.startsWith("/dev/shm/")) rmSync(state.replace(/\/state-[^/]+$/, ""), { recursive: true, force: true });
    else if (snap) rmSync(code, { recursive: true, force: true });
  };
  const onSignal = () => void stop().then(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const start = (name, args) => {
    const c = spawn("wrangler", args, { cwd: code, env: wranglerEnv, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let tail = "";
    const keep = (d) => {
      tail = (tail + d.toString()).slice(-4000);
    };
    c.stdout.on("data", keep);
    c.stderr.on("data", keep);
    if (process.env.BENCH_LOG_DIR) {
      const f = createWriteStream(`${process.env.BENCH_LOG_DIR}/${name}.log`);
      c.stdout.pipe(f);
      c.stderr.pipe(f);
    }
    c.on("exit", (code) => {
      if (!stopped) log(`[${name}] exited ${code}: ${tail.slice(-1500)}`);
    });
    children.push(c);
    return c;
  };

  try {
    log(`[stack] migrations -> ${state}`);
    execFileSync("wrangler", ["d1", "migrations", "apply", "DB", "--local", "-c", cfgPath, "--persist-to", state], { cwd: code, env: wranglerEnv, stdio: "ignore" });
    // Before the platform opens the file: triggers that count every row it writes.
    if (countD1Writes) installD1WriteCounters(d1File(state));
    start("sim", ["dev", "-c", "sim/wrangler.toml", "--name", simName, "--ip", "127.0.0.1", "--port", String(simPort), "--inspector-port", String(insp1), "--persist-to", state, "--log-level", "warn"]);
    await waitFor(`${sim}/v3/ping`, "simulator");
    start("platform", ["dev", "-c", cfgPath, "--ip", "127.0.0.1", "--port", String(platPort), "--inspector-port", String(insp2), "--persist-to", state, "--log-level", logLevel === "warn" ? "warn" : "log",
      "--var", `LNM_SIMULATOR_URL:${sim}`, "--var", `LOG_LEVEL:${logLevel}`, ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`])]);
    await waitFor(`${platform}/health`, "platform");
    log(`[stack] simulator ${sim}, platform ${platform}`);
  } catch (e) {
    await stop();
    throw e;
  }
  const [simProc, platformProc] = children;
  /** CPU time (ms, user + system) used so far by each worker's processes (wrangler and its workerd). */
  const cpu = () => ({ sim: groupCpuMs(simProc.pid), platform: groupCpuMs(platformProc.pid) });
  /** Resident memory (MB) of the platform's processes. */
  const rss = () => groupRssMb(platformProc.pid);
  let reloads = 0;
  /**
   * Restarts the platform's runtime (a config change makes wrangler dev reload it, as a deploy
   * does): every Durable Object is evicted, in-flight requests and sockets are cut, storage
   * and alarms stay. Only on a snapshot (the live tree belongs to whoever edits it). Resolves
   * when the platform answers again; returns how long it was out (ms).
   */
  const reloadPlatform = async (timeoutMs = 60_000) => {
    if (!snap) throw new Error("reloadPlatform needs a snapshot stack");
    const t0 = Date.now();
    reloads++;
    writeFileSync(cfgPath, `${cfg}\n# reload ${reloads} at ${new Date(t0).toISOString()}\n`);
    // The old runtime may answer for a moment: wait for the restart to be seen, then for health.
    const before = platformProc.pid;
    await sleep(1_500);
    await waitFor(`${platform}/health`, "platform after reload", timeoutMs);
    if (platformProc.exitCode !== null || platformProc.pid !== before) throw new Error("platform process exited on reload");
    return Date.now() - t0;
  };
  /** The platform's local D1 database file (read it with node:sqlite, read-only). */
  const d1Path = () => d1File(state);
  return { sim, platform, stop, cpu, rss, reloadPlatform, d1Path, state, code, inspector: { sim: insp1, platform: insp2 } };
}

/**
 * CPU time of every process in a process group, from /proc (Linux; NaN elsewhere). Each
 * `wrangler dev` runs detached, in its own group with its workerd processes.
 */
export function groupCpuMs(pgid) {
  return groupSum(pgid, (stat) => {
    // Fields after the command name (which may hold spaces) start at its closing paren.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
  });
}

/** Resident memory (MB) of every process in a process group, from /proc. */
export function groupRssMb(pgid) {
  return groupSum(pgid, (_stat, pid) => {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  });
}

function groupSum(pgid, value) {
  let total = 0;
  try {
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      let stat;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      } catch {
        continue; // gone meanwhile
      }
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(f[2]) !== pgid) continue;
      try {
        total += value(stat, pid);
      } catch {
        /* gone meanwhile */
      }
    }
  } catch {
    return NaN;
  }
  return total;
}
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export function machine() {
  const cpus = os.cpus();
  return `${cpus[0]?.model?.trim() ?? "cpu"} x${cpus.length}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GB, ${os.platform()} ${os.release()}, load avg ${os.loadavg().map((x) => x.toFixed(1)).join("/")} at start (shared machine)`;
}

export function commit() {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}
