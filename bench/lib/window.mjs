// Counters over a window for bench/run.mjs: everything the bench counts at one moment, per-account
// rates between two such moments, what the window logged to D1, and the market moves that make
// the hot window.
import { setTimeout as sleep } from "node:timers/promises";
import { DatabaseSync } from "node:sqlite";
import { must, statuses } from "./api.mjs";
import { readD1Writes, readQueueCounters } from "./d1.mjs";
import { feedStatus } from "./fleet.mjs";
import { stats, sum } from "./stats.mjs";

/**
 * Everything the bench counts, at one moment. `statusesFirst`: the window's start reads every
 * account's status before the counters, its end after them, so the status calls (a minute for
 * 1,000 accounts here) stay out of the CPU window; per-account rates use each account's own
 * read times (`_at`).
 */
export async function snapshotCounters(stack, fleet, { statusesFirst }) {
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
export function rates(before, after, fleet, group) {
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
export function loggedEvents(file, accounts, from, to) {
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
export async function tickEverySecond(stack, base, seconds) {
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
export async function waitHot(stack, accounts, timeoutMs) {
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
