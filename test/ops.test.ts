import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { evaluateAlertRules, loadThresholds, Thresholds } from "../src/ops/alert-rules";
import { collectMetrics, windowStart } from "../src/ops/metrics";
import { runRetention } from "../src/ops/retention";
import { automation, proUser, quiesce, settle, simAccount, stub } from "./account-helpers";
import { api, registerUser } from "./helpers";

const METRICS_TOKEN = "test-metrics-token";
let seq = 0;
const rid = (p: string) => `${p}_ops${Date.now().toString(16)}${(seq++).toString(16).padStart(6, "0")}`;

async function admin() {
  const u = await registerUser("ops-admin");
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(u.userId).run();
  return u;
}

async function jobEvent(worker: string, event: string, ts: number, durationMs: number | null = null) {
  await env.DB.prepare("INSERT INTO job_events (id, ts, worker, job_id, event, duration_ms) VALUES (?, ?, ?, ?, ?, ?)")
    .bind(rid("job"), ts, worker, rid("j"), event, durationMs).run();
}

/** An account row written straight to D1 (no DO involved): for counts and rules only. */
async function fakeAccount(userId: string, fields: { enabled: number; feed: string | null; heartbeat: number | null }) {
  const id = rid("acc");
  await env.DB.prepare(`INSERT INTO exchange_accounts (id, user_id, name, network, credentials_enc, credentials_key_id, enabled_automations, last_heartbeat_at, feed, created_at, updated_at)
    VALUES (?, ?, ?, 'simulator', 'v1:x:y:z', 'k1', ?, ?, ?, ?, ?)`).bind(id, userId, id, fields.enabled, fields.heartbeat, fields.feed, Date.now(), Date.now()).run();
  return id;
}

const alertRows = async (rule: string, subject: string) =>
  (await env.DB.prepare("SELECT * FROM alerts WHERE rule = ? AND subject = ? ORDER BY opened_at").bind(rule, subject).all<any>()).results;

/** A minimal exposition-format parser: families with HELP/TYPE and their samples. */
function parseProm(text: string) {
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      (m[1] === "HELP" ? help : type).set(m[2]!, m[3]!);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`bad sample line: ${line}`);
    const labels: Record<string, string> = {};
    let rest = m[2] ?? "";
    while (rest) {
      const l = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/.exec(rest);
      if (!l) throw new Error(`bad labels: ${m[2]}`);
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
      rest = rest.slice(l[0].length);
    }
    const value = Number(m[3] === "+Inf" ? Infinity : m[3]);
    if (Number.isNaN(value) && m[3] !== "NaN") throw new Error(`bad value: ${line}`);
    const family = m[1]!.replace(/_(sum|count)$/, "");
    const base = type.has(m[1]!) ? m[1]! : family;
    if (!help.has(base) || !type.has(base)) throw new Error(`sample without HELP/TYPE: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return { help, type, samples };
}

const cleanup: string[] = [];
afterEach(async () => {
  while (cleanup.length) {
    const id = cleanup.pop()!;
    await quiesce(id);
    await env.DB.prepare("UPDATE exchange_accounts SET enabled_automations = 0 WHERE id = ?").bind(id).run();
  }
});

describe("metrics", () => {
  it("reflect seeded job events, queue counters, accounts and dead letters exactly", async () => {
    const u = await registerUser("ops-metrics");
    const now = Date.now();
    const before = await collectMetrics(env, { now, minutes: 15 });
    const w = `w-metrics-${seq++}`;
    // 20 completes (10..200 ms) and 5 fails (300..700 ms) inside the window, plus noise.
    const durations: number[] = [];
    for (let i = 1; i <= 20; i++) { await jobEvent(w, "complete", now - 60_000 * (i % 3), i * 10); durations.push(i * 10); }
    for (let i = 3; i <= 7; i++) { await jobEvent(w, "fail", now - 120_000, i * 100); durations.push(i * 100); }
    await jobEvent(w, "start", now - 1000);
    await jobEvent(w, "retry", now - 1000);
    await jobEvent(w, "complete", now - 20 * 60_000, 99_999); // before the window
    await jobEvent(w, "complete", now + 60_000, 99_999); // after now
    await env.DB.prepare("INSERT INTO queue_counters (queue, sent, settled, updated_at) VALUES ('ops-q', 10, 4, ?)").bind(now).run();
    const accs = [
      await fakeAccount(u.userId, { enabled: 2, feed: "stream", heartbeat: now }),
      await fakeAccount(u.userId, { enabled: 1, feed: "rest", heartbeat: now }),
      await fakeAccount(u.userId, { enabled: 1, feed: null, heartbeat: now }),
      await fakeAccount(u.userId, { enabled: 0, feed: "stream", heartbeat: now }),
    ];
    await env.DB.prepare("INSERT INTO dead_letters (id, queue, message_id, body, attempts, error_class, received_at) VALUES (?, 'logs', ?, '{}', 3, 'd1', ?)")
      .bind(rid("dlq"), rid("m"), now).run();

    const m = await collectMetrics(env, { now, minutes: 15 });
    const wm = m.workers.find((x) => x.worker === w)!;
    const sorted = [...durations].sort((a, b) => a - b);
    expect(wm.events).toEqual({ start: 1, complete: 20, fail: 5, retry: 1 });
    expect(wm.processed).toBe(25);
    expect(wm.perMinute).toBeCloseTo(25 / 15, 10);
    expect(wm.successRate).toBe(0.8);
    expect(wm.failureRate).toBe(0.2);
    expect(wm.avgDurationMs).toBe(durations.reduce((a, b) => a + b, 0) / 25); // 184
    expect(wm.p95DurationMs).toBe(sorted[Math.ceil(0.95 * 25) - 1]); // nearest rank: 600
    expect(wm.p95DurationMs).toBe(600);
    // Per-minute buckets: i % 3 spreads the completes over the last three minutes.
    const from = windowStart(now, 15);
    expect(m.window).toMatchObject({ from, to: now, minutes: 15 });
    const pts = m.series.filter((p) => p.worker === w);
    expect(pts).toHaveLength(15);
    const at = (ts: number) => pts.find((p) => p.ts === Math.floor(ts / 60_000) * 60_000)!;
    expect(at(now).complete).toBe(6); // i = 3, 6, …, 18
    expect(at(now - 60_000).complete).toBe(7);
    expect(at(now - 120_000)).toMatchObject({ complete: 7, fail: 5 });
    expect(pts.reduce((s, p) => s + p.complete + p.fail, 0)).toBe(25);
    expect(m.queues.find((q) => q.queue === "ops-q")).toEqual({ queue: "ops-q", sent: 10, settled: 4, backlog: 6 });
    expect(m.accounts.active - before.accounts.active).toBe(3);
    expect(m.accounts.feeds.stream - before.accounts.feeds.stream).toBe(1);
    expect(m.accounts.inFallback - before.accounts.inFallback).toBe(2);
    expect(m.deadLetters.open - before.deadLetters.open).toBe(1);

    // The same through the API (as an admin).
    const a = await admin();
    const r = await api("GET", "/v1/admin/metrics?minutes=15", { token: a.token });
    expect(r.status).toBe(200);
    expect(r.body.workers.find((x: any) => x.worker === w)).toMatchObject({ processed: 25, p95DurationMs: 600, avgDurationMs: 184 });
    expect((await api("GET", "/v1/admin/accounts/fallback", { token: a.token })).body.data.map((x: any) => x.id)).toEqual(expect.arrayContaining([accs[1], accs[2]]));

    for (const id of accs) await env.DB.prepare("DELETE FROM exchange_accounts WHERE id = ?").bind(id).run();
    await env.DB.prepare("DELETE FROM dead_letters WHERE queue = 'logs' AND error_class = 'd1'").run();
  });

  it("/metrics is Prometheus text that parses; METRICS_TOKEN or an admin, else 401/403", async () => {
    const now = Date.now();
    const odd = 'we"ird\\worker\nx';
    await jobEvent(odd, "complete", now - 1000, 42);
    expect((await api("GET", "/metrics")).status).toBe(401);
    expect((await api("GET", "/metrics", { token: "wrong-token" })).status).toBe(401);
    const user = await registerUser("ops-nonadmin");
    expect((await api("GET", "/metrics", { token: user.token })).status).toBe(403);
    const a = await admin();
    expect((await api("GET", "/metrics", { token: a.token })).status).toBe(200);
    const r = await api("GET", "/metrics", { token: METRICS_TOKEN });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const p = parseProm(r.body as string);
    for (const name of ["lnma_jobs", "lnma_job_duration_ms", "lnma_queue_backlog", "lnma_dead_letters_open", "lnma_active_accounts", "lnma_stream_feeds", "lnma_job_failure_ratio"]) {
      expect(p.type.has(name), name).toBe(true);
    }
    expect(p.type.get("lnma_job_duration_ms")).toBe("summary");
    expect(p.type.get("lnma_queue_sent_total")).toBe("counter");
    // The label with a quote, a backslash and a newline survives escaping.
    const s = (name: string, labels: Record<string, string>) => p.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
    expect(s("lnma_jobs", { worker: odd, event: "complete" })?.value).toBe(1);
    expect(s("lnma_job_duration_ms", { worker: odd, quantile: "0.95" })?.value).toBe(42);
    expect(s("lnma_job_duration_ms_count", { worker: odd })?.value).toBe(1);
    expect(s("lnma_stream_feeds", { feed: "stream" })).toBeDefined();
    expect(p.samples.find((x) => x.name === "lnma_dead_letters_open")).toBeDefined();
  });
});

describe("admin routes", () => {
  it("a non-admin gets 403 on every /v1/admin route (read from the OpenAPI document)", async () => {
    const doc = (await api("GET", "/openapi.json")).body;
    const routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .filter(([path]) => path.startsWith("/v1/admin"))
      .flatMap(([path, item]) => Object.keys(item).map((m) => [m.toUpperCase(), path.replace(/\{[^}]+\}/g, "dlq_0")] as const));
    expect(routes.map(([, p]) => p)).toEqual(expect.arrayContaining(["/v1/admin/metrics", "/v1/admin/alerts", "/v1/admin/health", "/v1/admin/dead-letters"]));
    const user = await registerUser("ops-403");
    for (const [method, path] of routes) {
      const r = await api(method, path, { token: user.token, body: method === "GET" ? undefined : {} });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect((await api(method, path)).status, `${method} ${path} anonymous`).toBe(401);
    }
  });

  it("health reports D1, KV, queues, DO reachability and a stale cron", async () => {
    const a = await admin();
    const setCron = (at: number) => env.DB.prepare("INSERT INTO system_state (key, value, updated_at) VALUES ('last_cron_run', ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
      .bind(String(at), at).run();
    await setCron(Date.now());
    const ok = await api("GET", "/v1/admin/health", { token: a.token });
    expect(ok.status).toBe(200);
    expect(ok.body.checks).toMatchObject({ d1: { ok: true }, kv: { ok: true }, queues: { ok: true }, durableObjects: { ok: true }, cron: { ok: true, stale: false } });
    expect(ok.body.ok).toBe(true);
    await setCron(Date.now() - 10 * 60_000);
    const stale = await api("GET", "/v1/admin/health", { token: a.token });
    expect(stale.body.ok).toBe(false);
    expect(stale.body.checks.cron).toMatchObject({ ok: false, stale: true });
  });

  it("/admin serves the dashboard with a nonce CSP for that route only", async () => {
    const r = await api("GET", "/admin");
    expect(r.status).toBe(200);
    const csp = r.headers.get("content-security-policy")!;
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).not.toContain("unsafe-inline");
    expect(r.body as string).toContain(`<script nonce="${nonce}">`);
    // Scripts come only from this origin (the charting library bundled from npm), nonce'd too.
    const srcs = [...(r.body as string).matchAll(/<script[^>]+src="([^"]+)"[^>]*>/g)];
    expect(srcs.map((m) => m[1])).toEqual(["/vendor/uPlot.iife.min.js"]);
    expect(srcs[0]![0]).toContain(`nonce="${nonce}"`);
    const again = await api("GET", "/admin");
    expect(again.headers.get("content-security-policy")).not.toBe(csp); // a fresh nonce per request
    // /docs (Swagger UI from this origin) has its own CSP: no inline or foreign scripts.
    const docsCsp = (await api("GET", "/docs")).headers.get("content-security-policy")!;
    expect(docsCsp).toContain("script-src 'self'");
    expect(/script-src[^;]*unsafe-inline/.test(docsCsp)).toBe(false);
  });
});

describe("alert rules", () => {
  it("each rule fires once, is deduplicated while open, is sent to operators, and resolves", async () => {
    const u = await registerUser("ops-rules");
    // Evaluated a day ahead so real job events and heartbeats from other tests are all old.
    const N = Date.now() + 86_400_000;
    const t = Thresholds.parse({ backlogMax: 10, failureRateMax: 0.5, failureMinJobs: 5, p95MaxMs: 10_000, workerInactiveMinutes: 5, deadLettersMax: 0 });
    await env.DB.prepare("INSERT INTO queue_counters (queue, sent, settled, updated_at) VALUES ('ops-rules-q', 50, 0, ?)").bind(N).run();
    for (let i = 0; i < 6; i++) await jobEvent("w-fail", "fail", N - 1000, 100);
    await jobEvent("w-slow", "complete", N - 1000, 50_000);
    const dlq = rid("dlq");
    await env.DB.prepare("INSERT INTO dead_letters (id, queue, message_id, body, attempts, error_class, received_at) VALUES (?, 'payments', ?, '{}', 3, 'http_5xx', ?)")
      .bind(dlq, rid("m"), N).run();
    // Active, beat 10 minutes ago: not stale (2 h 5 min), but no sign of life for worker_inactive's 5 min.
    const acc = await fakeAccount(u.userId, { enabled: 1, feed: "stream", heartbeat: N - 600_000 });
    const expected: [string, string][] = [["queue_backlog", "ops-rules-q"], ["failure_rate", "w-fail"], ["processing_time", "w-slow"], ["worker_inactive", "account"], ["dead_letters", "dlq"]];
    const sentBefore = (await env.DB.prepare("SELECT sent FROM queue_counters WHERE queue = 'alerts'").first<number>("sent")) ?? 0;

    const first = await evaluateAlertRules(env, { now: N, thresholds: t });
    for (const [rule, subject] of expected) {
      const rows = await alertRows(rule, subject);
      expect(rows, `${rule}/${subject}`).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: "open", opened_at: N, last_seen_at: N });
    }
    expect(first.firing.some((f) => f.rule === "stale_heartbeat")).toBe(false);
    expect(first.woken).toEqual([]);
    // Every opened alert went to operators through ALERTS (counted by the producer).
    const sentAfter = (await env.DB.prepare("SELECT sent FROM queue_counters WHERE queue = 'alerts'").first<number>("sent")) ?? 0;
    expect(sentAfter - sentBefore).toBe(first.opened.length);
    expect(first.opened.length).toBeGreaterThanOrEqual(expected.length);

    const second = await evaluateAlertRules(env, { now: N + 60_000, thresholds: t });
    expect(second.opened).toEqual([]);
    for (const [rule, subject] of expected) {
      const rows = await alertRows(rule, subject);
      expect(rows, `${rule}/${subject} deduplicated`).toHaveLength(1);
      expect(rows[0].last_seen_at).toBe(N + 60_000);
    }
    const listed = await api("GET", "/v1/admin/alerts?status=open", { token: (await admin()).token });
    expect(listed.body.data.map((a: any) => `${a.rule}/${a.subject}`)).toEqual(expect.arrayContaining(expected.map(([r, s]) => `${r}/${s}`)));

    // Conditions clear: backlog drained, window moved past the failures, DLQ retried, account events flowing.
    const N2 = N + 3_600_000;
    await env.DB.prepare("UPDATE queue_counters SET settled = 50 WHERE queue = 'ops-rules-q'").run();
    await env.DB.prepare("UPDATE dead_letters SET status = 'retried' WHERE id = ?").bind(dlq).run();
    // The account's heartbeat alone is a sign of life: at rest accounts write no job event (their
    // routine runs ride in the beat, durable-objects/account/routine.ts).
    await env.DB.prepare("UPDATE exchange_accounts SET last_heartbeat_at = ? WHERE id = ?").bind(N2, acc).run();
    const third = await evaluateAlertRules(env, { now: N2, thresholds: t });
    for (const [rule, subject] of expected) {
      const rows = await alertRows(rule, subject);
      expect(rows, `${rule}/${subject} resolved`).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: "resolved", resolved_at: N2 });
    }
    expect(third.resolved.length).toBeGreaterThanOrEqual(expected.length);
    const resolved = await api("GET", "/v1/admin/alerts?status=resolved", { token: (await admin()).token });
    expect(resolved.body.data.every((a: any) => a.status === "resolved")).toBe(true);

    // Firing again after resolution opens a new alert (the unique index only covers open ones).
    await env.DB.prepare("UPDATE queue_counters SET sent = 100 WHERE queue = 'ops-rules-q'").run();
    await evaluateAlertRules(env, { now: N2 + 60_000, thresholds: t });
    expect((await alertRows("queue_backlog", "ops-rules-q")).map((r) => r.status)).toEqual(["resolved", "open"]);
    await env.DB.prepare("DELETE FROM queue_counters WHERE queue = 'ops-rules-q'").run();
    await env.DB.prepare("DELETE FROM exchange_accounts WHERE id = ?").bind(acc).run();
  });
});

describe("retention", () => {
  it("deletes only what is older than its age, in bounded batches", async () => {
    const now = Date.now();
    const day = 86_400_000;
    const ids = { oldLogs: [] as string[], newLogs: [] as string[], oldTrades: [] as string[], newTrades: [] as string[], oldJobs: [] as string[], newJobs: [] as string[] };
    const log = async (at: number, into: string[]) => {
      const id = rid("log");
      await env.DB.prepare("INSERT INTO automation_logs (id, user_id, account_id, level, event, created_at) VALUES (?, 'u', 'a', 'info', 'x', ?)").bind(id, at).run();
      into.push(id);
    };
    const trade = async (at: number, into: string[]) => {
      const id = rid("log");
      await env.DB.prepare("INSERT INTO trade_logs (id, user_id, account_id, action, outcome, created_at) VALUES (?, 'u', 'a', 'open', 'ok', ?)").bind(id, at).run();
      into.push(id);
    };
    const job = async (at: number, into: string[]) => {
      const id = rid("job");
      await env.DB.prepare("INSERT INTO job_events (id, ts, worker, job_id, event) VALUES (?, ?, 'w-ret', 'j', 'complete')").bind(id, at).run();
      into.push(id);
    };
    for (let i = 0; i < 5; i++) await log(now - 31 * day - i, ids.oldLogs);
    for (let i = 0; i < 2; i++) await log(now - 29 * day, ids.newLogs);
    await trade(now - 40 * day, ids.oldTrades);
    await trade(now - 1 * day, ids.newTrades);
    for (let i = 0; i < 3; i++) await job(now - 8 * day, ids.oldJobs);
    await job(now - 6 * day, ids.newJobs);
    const exists = async (table: string, list: string[]) => {
      let n = 0;
      for (const id of list) n += (await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE id = ?`).bind(id).first<number>("n")) ?? 0;
      return n;
    };

    // Batches of 2, at most 2 per table: 4 of the 5 old automation logs go on the first run.
    const first = await runRetention(env, { now, batch: 2, maxBatches: 2 });
    expect(first).toMatchObject({ automation_logs: 4, trade_logs: 1, job_events: 3 });
    expect(await exists("automation_logs", ids.oldLogs)).toBe(1);
    const second = await runRetention(env, { now, batch: 2, maxBatches: 2 });
    expect(second.automation_logs).toBe(1);
    expect(await exists("automation_logs", ids.oldLogs)).toBe(0);
    expect(await exists("automation_logs", ids.newLogs)).toBe(2);
    expect(await exists("trade_logs", ids.oldTrades)).toBe(0);
    expect(await exists("trade_logs", ids.newTrades)).toBe(1);
    expect(await exists("job_events", ids.oldJobs)).toBe(0);
    expect(await exists("job_events", ids.newJobs)).toBe(1);
  });
});

describe("watchdog", () => {
  it("wakes an account whose alarm was deleted and whose heartbeat is stale; the alert resolves once it beats", async () => {
    const u = await proUser("ops-watchdog");
    const acc = await simAccount(u.token);
    cleanup.push(acc.id);
    await automation(u.token, acc.id, { type: "noop", config: {}, schedule: { intervalMs: 60_000 } });
    await settle(acc.id);
    await runInDurableObject(stub(acc.id), async (_i, state) => { await state.storage.deleteAlarm(); });
    expect(await runInDurableObject(stub(acc.id), (_i, s) => s.storage.getAlarm())).toBeNull();
    const now = Date.now();
    // Beats reach D1 hourly: stale means older than the configured threshold (two beats missed).
    const { heartbeatStaleMs } = loadThresholds(env);
    expect(heartbeatStaleMs).toBeGreaterThan(3_600_000);
    // A beat an hour old (the normal cadence) is not stale: nothing to wake, nothing to alert.
    await env.DB.prepare("UPDATE exchange_accounts SET last_heartbeat_at = ? WHERE id = ?").bind(now - 3_600_000, acc.id).run();
    expect((await evaluateAlertRules(env, { now })).woken.map((w) => w.accountId)).not.toContain(acc.id);
    expect(await alertRows("stale_heartbeat", acc.id)).toEqual([]);
    // Stale: its alarm is gone, so its own last beat (kept in the DO's SQLite) is as old as D1's.
    const staleAt = now - heartbeatStaleMs - 10 * 60_000;
    await env.DB.prepare("UPDATE exchange_accounts SET last_heartbeat_at = ? WHERE id = ?").bind(staleAt, acc.id).run();
    // The DO's private beat state (storage meta and its in-memory copy), set as a long outage leaves it.
    await runInDurableObject<DurableObject, void>(stub(acc.id) as unknown as DurableObjectStub, (i) => {
      const inst = i as unknown as { store: { setMeta(k: string, v: string): void }; liveness: { lastHeartbeat: number } };
      inst.store.setMeta("heartbeatAt", String(staleAt));
      inst.liveness.lastHeartbeat = staleAt;
    });

    const r = await evaluateAlertRules(env, { now });
    // Woken with an alarm armed. The monitor is due at once, so that alarm may be running as we
    // look (getAlarm is null until it re-arms at its end): the loop must have re-armed itself.
    expect(r.woken).toEqual(expect.arrayContaining([expect.objectContaining({ accountId: acc.id, ok: true, alarm: expect.any(Number) })]));
    const armedBy = Date.now() + 5_000;
    let alarm: number | null = null;
    while ((alarm = await runInDurableObject(stub(acc.id), (_i, s) => s.storage.getAlarm())) === null && Date.now() < armedBy) await new Promise((res) => setTimeout(res, 50));
    expect(alarm).toBeTypeOf("number");
    const rows = await alertRows("stale_heartbeat", acc.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: "open", severity: "critical" });

    // The woken account beats at its first alarm (its last beat is over an hour old), not an
    // hour later: D1 sees it, and the next run resolves the alert.
    const beat = async () => (await env.DB.prepare("SELECT last_heartbeat_at AS at FROM exchange_accounts WHERE id = ?").bind(acc.id).first<{ at: number }>())!.at;
    const beatBy = Date.now() + 5_000;
    while ((await beat()) < now && Date.now() < beatBy) await new Promise((res) => setTimeout(res, 50));
    expect(await beat()).toBeGreaterThanOrEqual(now);
    const after = await evaluateAlertRules(env, { now: Date.now() });
    expect(after.woken.map((w) => w.accountId)).not.toContain(acc.id);
    expect((await alertRows("stale_heartbeat", acc.id))[0]).toMatchObject({ status: "resolved" });
  });
});
