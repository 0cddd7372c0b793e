// The dev stack for benchmarks: the simulator and the platform as two `wrangler dev`
// processes on free loopback ports, state on tmpfs where there is one (else bench/.out; wiped at start), and a
// platform config whose LNM_SIM service binding points at this run's simulator only (a
// unique worker name, so a developer's `npm run dev` elsewhere is never picked up).
// Everything started here is stopped by stop(), also on errors and signals.
import { execFileSync, spawn } from "node:child_process";
import { accessSync, constants, copyFileSync, cpSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createHmac } from "node:crypto";
import { createServer } from "node:net";
import { DatabaseSync } from "node:sqlite";
import os from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

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

function d1File(state) {
  const dir = `${state}/v3/d1/miniflare-D1DatabaseObject`;
  const f = existsSync(dir) ? readdirSync(dir).find((x) => x.endsWith(".sqlite") && x !== "metadata.sqlite") : undefined;
  return f ? `${dir}/${f}` : null;
}

/**
 * Row-write counters for the bench (D1 bills rows written: every row an INSERT, UPDATE or
 * DELETE touches). One AFTER trigger per table and operation adds 1 per row to
 * `bench_d1_writes(tbl, op, acc)`, keyed by the account the row belongs to where the table
 * has one (`account_id`, or the `exchange_accounts` row's id), else ''. A heartbeat (an update
 * that changes `exchange_accounts.last_heartbeat_at`) is also counted apart as op `heartbeat`.
 * Installed into the local file before the platform starts; the counters' own writes are not
 * counted. Bench stacks only: never in a migration.
 */
export function installD1WriteCounters(file) {
  if (!file) throw new Error("no local D1 file to instrument (migrations not applied?)");
  const db = new DatabaseSync(file);
  try {
    db.exec("CREATE TABLE IF NOT EXISTS bench_d1_writes (tbl TEXT NOT NULL, op TEXT NOT NULL, acc TEXT NOT NULL, n INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (tbl, op, acc))");
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT IN ('d1_migrations', 'bench_d1_writes')").all().map((r) => r.name);
    for (const t of tables) {
      const cols = new Set(db.prepare(`PRAGMA table_info("${t}")`).all().map((c) => c.name));
      const acc = (row) => (cols.has("account_id") ? `coalesce(${row}.account_id, '')` : t === "exchange_accounts" ? `${row}.id` : "''");
      for (const [op, row] of [["insert", "NEW"], ["update", "NEW"], ["delete", "OLD"]]) {
        db.exec(`CREATE TRIGGER IF NOT EXISTS "bench_w_${t}_${op}" AFTER ${op.toUpperCase()} ON "${t}" BEGIN
          INSERT INTO bench_d1_writes (tbl, op, acc, n) VALUES ('${t}', '${op}', ${acc(row)}, 1) ON CONFLICT (tbl, op, acc) DO UPDATE SET n = n + 1; END`);
      }
    }
    if (tables.includes("exchange_accounts")) {
      db.exec(`CREATE TRIGGER IF NOT EXISTS "bench_w_heartbeat" AFTER UPDATE OF last_heartbeat_at ON exchange_accounts WHEN NEW.last_heartbeat_at IS NOT OLD.last_heartbeat_at BEGIN
        INSERT INTO bench_d1_writes (tbl, op, acc, n) VALUES ('exchange_accounts', 'heartbeat', NEW.id, 1) ON CONFLICT (tbl, op, acc) DO UPDATE SET n = n + 1; END`);
    }
  } finally {
    db.close();
  }
}

/** The row-write counters so far: [{tbl, op, acc, n}] (read-only; empty without countD1Writes). */
export function readD1Writes(file) {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return db.prepare("SELECT tbl, op, acc, n FROM bench_d1_writes").all().map((r) => ({ ...r }));
  } catch {
    return [];
  } finally {
    db.close();
  }
}

/** Messages each queue was sent so far (`queue_counters`, read-only). */
export function readQueueCounters(file) {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return Object.fromEntries(db.prepare("SELECT queue, sent, settled FROM queue_counters").all().map((r) => [r.queue, { sent: r.sent, settled: r.settled }]));
  } catch {
    return {};
  } finally {
    db.close();
  }
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

// --- HTTP helpers (loopback only) ----------------------------------------------------------

export async function http(method, url, body, headers = {}) {
  const res = await fetch(url, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, body: json };
}

export async function must(method, url, body, headers) {
  const r = await http(method, url, body, headers);
  if (r.status >= 300) throw new Error(`${method} ${url}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body;
}

/** A signed LN Markets REST call against the simulator (the SDK's scheme). */
export async function lnm(sim, creds, method, path, body) {
  const url = new URL(`${sim}/v3${path}`);
  const data = body === undefined ? url.search : JSON.stringify(body);
  const ts = Date.now();
  const signature = createHmac("sha256", creds.secret).update(`${ts}${method.toLowerCase()}${url.pathname}${data}`).digest("base64");
  return must(method, url.toString(), body, {
    "lnm-access-key": creds.key, "lnm-access-passphrase": creds.passphrase, "lnm-access-timestamp": String(ts), "lnm-access-signature": signature,
  });
}

let seq = 0;
/** A new trader (user) on the platform: its token and auth header. */
export async function newTrader(stack) {
  seq++;
  const email = `bench-${process.pid}-${Date.now()}-${seq}@example.test`;
  const reg = await must("POST", `${stack.platform}/v1/auth/register`, { email, password: `bench-password-${seq}-long` });
  return { token: reg.token, auth: { authorization: `Bearer ${reg.token}` } };
}

/**
 * A trader with one simulator account (the active one), a long and a Margin Guard. `trader`
 * reuses an existing user (registration hashes a password: the slowest step of seeding),
 * whose earlier account was deleted; the new account is made the active one.
 */
export async function guardedAccount(stack, { guard = {}, balance = 5_000_000, leverage = 50, quantity = 1_000, trader = null } = {}) {
  const t = trader ?? (await newTrader(stack));
  const { token, auth } = t;
  seq++;
  const keys = await must("POST", `${stack.sim}/__sim/keys`, { balance });
  const acc = await must("POST", `${stack.platform}/v1/accounts`, { name: `Bench ${seq}`, network: "simulator", credentials: { key: keys.key, secret: keys.secret, passphrase: keys.passphrase } }, auth);
  if (trader && !acc.active) await must("POST", `${stack.platform}/v1/accounts/${acc.id}/activate`, undefined, auth);
  const trade = await lnm(stack.sim, keys, "POST", "/futures/isolated/trade", { type: "market", side: "buy", leverage, quantity });
  const automation = await must("POST", `${stack.platform}/v1/accounts/${acc.id}/automations`, {
    type: "margin_guard", config: { maxAddPerTradeSats: 2_000_000, maxAddPerDaySats: 2_000_000, ...guard },
  }, auth);
  return { token, auth, trader: t, keys, accountId: acc.id, trade, automationId: automation.id, leverage };
}

/** One account's entry in `GET /v1/automations/status` (null when the call fails); `_at`: when it was read. */
export async function accountStatus(stack, a) {
  const r = await http("GET", `${stack.platform}/v1/automations/status`, undefined, a.auth).catch(() => null);
  const st = r?.body?.accounts?.find((x) => x.accountId === a.accountId) ?? null;
  return st && { ...st, _at: Date.now() };
}

/** Status of many accounts, 25 requests in flight. */
export async function statuses(stack, accounts) {
  const out = [];
  for (let i = 0; i < accounts.length; i += 25) out.push(...(await Promise.all(accounts.slice(i, i + 25).map((a) => accountStatus(stack, a)))));
  return out;
}

/**
 * At rest (issue 20): the account's levels are registered with the market feed, it holds no
 * socket of its own, is not in its hot zone, and its first runs are done.
 */
export function atRest(st) {
  return !!st && st.marketFeed?.registeredAt != null && !st.marketFeed.failed && !st.marketFeed.hot && st.stream?.state !== "open"
    && (st.monitor?.status?.runs ?? 0) >= 1 && (st.automations ?? []).every((x) => x.status.runs >= 1);
}

/** Waits (bounded) until every account is at rest; returns how many are. */
export async function waitRest(stack, accounts, timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs;
  let pending = accounts;
  while (pending.length && Date.now() < deadline) {
    const st = await statuses(stack, pending);
    pending = pending.filter((_, i) => !atRest(st[i]));
    if (pending.length) await sleep(1_000);
  }
  return accounts.length - pending.length;
}

/** Waits until every account's stream is open and its first runs are done (bounded). */
export async function waitStreams(stack, accounts, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  let pending = accounts;
  while (pending.length && Date.now() < deadline) {
    const next = [];
    for (let i = 0; i < pending.length; i += 25) {
      const chunk = pending.slice(i, i + 25);
      const st = await Promise.all(chunk.map((a) => http("GET", `${stack.platform}/v1/automations/status`, undefined, a.auth)));
      st.forEach((r, j) => {
        const acc = r.body?.accounts?.find((x) => x.accountId === chunk[j].accountId);
        const ok = acc && acc.stream?.state === "open" && acc.automations?.every((x) => x.status.runs >= 1);
        if (!ok) next.push(chunk[j]);
      });
    }
    pending = next;
    if (pending.length) await sleep(500);
  }
  return accounts.length - pending.length;
}

export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

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

/**
 * Verifies the user's webhook channel as its owner would (issue 22: an unverified channel gets
 * only throttled test messages and no events): asks for a code, reads it where `readCode`
 * finds it (the receiver), and sends it back.
 */
export async function verifyWebhook(stack, auth, readCode, timeoutMs = 10_000) {
  await must("POST", `${stack.platform}/v1/notifications/channels/webhook/verification`, undefined, auth);
  const deadline = Date.now() + timeoutMs;
  let code = null;
  while (!(code = await readCode()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (!code) throw new Error("the webhook's verification code never arrived");
  await must("POST", `${stack.platform}/v1/notifications/channels/webhook/verify`, { code }, auth);
}

/** The newest verification code the simulator's inbox holds for a webhook target. */
export async function inboxWebhookCode(stack, target) {
  const r = await must("GET", `${stack.sim}/__sim/inbox?channel=webhook&target=${encodeURIComponent(target)}`);
  const codes = r.data.map((e) => e.json?.data?.code).filter((c) => typeof c === "string" || typeof c === "number");
  return codes.length ? String(codes[codes.length - 1]) : null;
}
