// The cost arithmetic of bench/run.mjs: list prices, one account's monthly bill from per-hour
// counters, the bill at rest and in the hot zone from a run's windows, and the targets it is held to.
import { fmt, sum, usd } from "./stats.mjs";

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

/**
 * Per guarded account-month at list prices, from the run's counters. At rest: the alarm's runs
 * (monitor and guard share an invocation when due together), the feed's RPCs (registrations,
 * wake-ups), a funding wake-up per settlement, the active time of those runs, the D1 rows and
 * queue messages measured in the window, plus what the window is too short to see: the hourly
 * heartbeat (one row, which carries the routine runs' tally since durable-objects/account/routine.ts). In the hot zone: the same from the
 * hot window, the stream's frames (20:1), and the whole hour active (the socket).
 */
export function costs(rest, hot, run, fleetSize, nearSize) {
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

/** A note for every figure of the run over its target (issue 20), with where to look. */
export function missedTargets(result) {
  const notes = [];
  const c = result.cost;
  const near = result.reaction.find((x) => x.kind === "near");
  const miss = (what, value, target, why) => {
    if (Number.isFinite(value) && value > target) notes.push(`${what} ${fmt(value, 3)} misses its target ${target} by ${fmt(value - target, 3)} (${fmt((value / target - 1) * 100)} %): ${why}`);
  };
  miss("rest_usd", c.rest.cost.total, 0.05, "see the cost row at rest for the component");
  if (c.hot) miss("hot_usd", c.hot.cost.total, 1, result.hot.sockets > 0 ? `${result.hot.sockets} hot accounts held a socket of their own: an object holding an outbound socket can never hibernate, so it is billed every second (${fmt(MONTH_S * PRICES.doGb)} GB-s = $${usd(MONTH_S * PRICES.doGb * PRICES.doGbS)} a month of duration alone)` : `no socket held: see the hot cost row for the component (the alarm's wall time is this machine's, where every account and the exchange share two cores)`);
  miss("d1_writes_per_account_hour", c.rest.counters.d1RowsPerH, 1, "the hourly heartbeat (with the routine runs) is one row; the rest was written in the window (see the D1 rows at rest)");
  if (near) miss(`p99_ms_${near.crossed}_of_${near.fleet}`, near.p99, 50, "see the reaction rows (fan-out, cold starts, the two shared cores)");
  return notes;
}
