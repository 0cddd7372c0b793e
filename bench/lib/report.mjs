// What bench/run.mjs reports: its entry in bench/RESULTS.md (or --results), the table it prints,
// and the closing `cost:` line both end with.
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { PRICES, PRICE_SOURCES } from "./cost.mjs";
import { fmt, usd } from "./stats.mjs";

/** The line a run closes with, in its entry and on stdout. */
export function costLine(r) {
  const c = r.cost;
  const near = r.reaction.find((x) => x.kind === "near");
  return `cost: rest_usd=${usd(c.rest.cost.total)} hot_usd=${c.hot ? usd(c.hot.cost.total) : "-"} d1_writes_per_account_hour=${fmt(c.rest.counters.d1RowsPerH, 2)} p99_ms_100_of_1000=${near ? fmt(near.p99) : "-"} idle_cpu_pct=${fmt(r.rest.cpuPlatformPct, 2)}`;
}

/**
 * Appends the run's entry to `file` (created with a title if missing). `code`, `sizes`, `restWindowS`,
 * `hotWindowS`: the run's settings (--code, --n, --rest-window, --hot-window).
 */
export function appendResults(r, { file, code, sizes, restWindowS, hotWindowS }) {
  if (!existsSync(file)) writeFileSync(file, "# Benchmark results\n\nAppended by the bench scripts; one section per run.\n");
  const c = r.cost;
  const row = (label, x) => `| ${label} | ${x.crossed}/${x.fleet} | ${fmt(x.p50)} | ${fmt(x.p95)} | ${fmt(x.p99)} | ${fmt(x.max)} | first ${fmt(x.min)} ms, mean ${fmt(x.mean)} ms; missed ${x.missed} (no order within ${fmt((x.timeoutMs ?? 30_000) / 1000)} s), after ${fmt((x.lateMs ?? 30_000) / 1000)} s ${x.late ?? "-"}, duplicates ${x.duplicates}, guards not crossed that ordered ${x.stray}; handled by the exchange object p50 ${fmt(x.handled?.p50)} / p99 ${fmt(x.handled?.p99)} ms; feed fan-out ${x.fanout ? `${x.fanout.calls} calls in ${x.fanout.ms} ms (${fmt(x.fanout.rpcPerS)} RPC/s, ${x.fanout.failures} failed)` : "-"}; CPU from the tick to the last order, per account: ${fmt(x.cpuPerAccountMs?.platform, 1)} ms platform + ${fmt(x.cpuPerAccountMs?.sim, 1)} ms simulator |`;
  const counters = (k) => {
    const x = c[k]?.counters;
    if (!x) return "-";
    return `alarms ${fmt(x.alarmsPerH, 1)}/h, feed RPCs ${fmt(x.feedRpcPerH, 2)}/h${x.wsRequestsPerH !== undefined ? `, stream frames ${fmt(x.wsRequestsPerH * PRICES.wsMessagesPerRequest, 0)}/h (billed 20:1)` : ""}, active ${fmt(x.activeSPerH, 2)} s/h, D1 rows ${fmt(x.d1RowsPerH, 2)}/h (${fmt(x.d1MeasuredPerH, 3)} measured in the window + 1 heartbeat carrying the routine runs), queue messages ${fmt(x.queueMessagesPerH, 2)}/h`;
  };
  const bill = (k) => {
    const x = c[k]?.cost;
    if (!x) return "-";
    return `$${usd(x.total)}: DO requests $${usd(x.doRequests)} (${fmt(x.doRequestsPerMonth)}/month), DO duration $${usd(x.doDuration)} (${fmt(x.gbSPerMonth)} GB-s), D1 $${usd(x.d1)}, Queues $${usd(x.queues)}, Workers $${usd(x.workers)}`;
  };
  const lines = [
    "",
    `## Platform bench, at rest (bench/run.mjs, issue 20) ${r.date}`,
    "",
    `commit ${r.commit}; machine ${r.machine}; node ${process.version}; platform and simulator in local workerd (wrangler dev, code frozen from ${code === "head" ? "HEAD" : code === "worktree" ? "the working tree" : `commit ${code.slice(0, 7)}`}), loopback; sizes ${sizes.join(", ")}; rest window ${restWindowS} s, hot window ${hotWindowS} s.`,
    "",
    `Fleet: ${r.fleet.size} guarded accounts, ${r.fleet.near} near (50x longs) and ${r.fleet.far} far (25x longs), each with a Margin Guard (actAt 0.9, warnAt 0.8) and the monitor, at 100,000: at rest ${r.fleet.atRest}/${r.fleet.size} (levels registered with the market feed, no socket of their own; ${r.fleet.levels ?? "-"} levels for ${r.fleet.indexed ?? "-"} accounts in the feed's index), seeded in ${fmt(r.fleet.seededS)} s.`,
    "",
    "| measure | crossed/fleet | p50 ms | p95 ms | p99 ms | max ms | other |",
    "|---|---|---|---|---|---|---|",
    ...[...r.reaction].sort((a, b) => (a.kind === "near" ? -1 : b.kind === "near" ? 1 : a.fleet - b.fleet)).map((x) => row(x.kind === "near" ? "one tick from rest crossing the near guards only (tick -> add-margin at the exchange's front door)" : x.kind === "all" ? "one tick crossing every guard of the fleet" : "one tick crossing every guard (a fleet of 50x longs)", x)),
    ...(r.restReaction ? [`| REST fallback (simulator stream silenced: the feed polls REST every 5 s) | ${r.restReaction.crossed}/${r.restReaction.fleet} | ${fmt(r.restReaction.p50)} | ${fmt(r.restReaction.p95)} | ${fmt(r.restReaction.p99)} | ${fmt(r.restReaction.max)} | missed ${r.restReaction.missed}, ready ${r.restReaction.ready} |`] : []),
    `| feed: stream push to a client | ${r.feed.stream.n} | ${fmt(r.feed.stream.p50, 1)} | ${fmt(r.feed.stream.p95, 1)} | ${fmt(r.feed.stream.p99, 1)} | ${fmt(r.feed.stream.max, 1)} | mean ${fmt(r.feed.stream.mean, 2)} |`,
    `| feed: REST ticker read right after the change | ${r.feed.rest.n} | ${fmt(r.feed.rest.p50, 1)} | ${fmt(r.feed.rest.p95, 1)} | ${fmt(r.feed.rest.p99, 1)} | ${fmt(r.feed.rest.max, 1)} | mean ${fmt(r.feed.rest.mean, 2)} |`,
    ...r.queues.map((q) => `| queue: notification queued (202, /__dev/bench/notify) -> webhook delivered | ${q.count} | ${fmt(q.p50)} | ${fmt(q.p95)} | ${fmt(q.p99)} | ${fmt(q.max)} | ${fmt(q.perS)} msg/s delivered (enqueued at ${fmt(q.enqueuePerS)}/s by 20 traders, a webhook each); delivered ${q.delivered}, not delivered within the wait ${q.lost}, refused ${q.refused} |`),
    ...r.http.map((h) => `| HTTP ${h.route}, ${h.clients} clients, ${h.fleet} guarded accounts at rest | ${h.n} | ${fmt(h.p50, 1)} | ${fmt(h.p95, 1)} | ${fmt(h.p99, 1)} | ${fmt(h.max, 1)} | ${fmt(h.rps)} req/s, errors ${h.errors} |`),
    `| evaluation cost (evaluateMarginGuard + tradeRisk, ${r.evaluation.trades} trades, Node) | ${r.evaluation.ticks} | - | - | - | - | ${r.evaluation.usPerTickMedian.toFixed(2)} us/tick/account (median of ${r.evaluation.runs}) |`,
    "",
    `Growth of one tick crossing every guard: ${[...r.reaction].filter((x) => x.kind !== "near").sort((a, b) => a.fleet - b.fleet).map((x) => `${x.crossed} guards p50 ${fmt(x.p50)} / p99 ${fmt(x.p99)} ms (fan-out ${x.fanout ? `${x.fanout.ms} ms, ${fmt(x.fanout.rpcPerS)} RPC/s` : "-"})`).join("; ") || "-"}.`,
    "",
    "| at rest and in the hot zone, per account | measured |",
    "|---|---|",
    `| platform CPU between ticks, ${r.fleet.size} accounts at rest (${restWindowS} s window) | ${fmt(r.rest.cpuPlatformPct, 2)} % of one core (simulator ${fmt(r.rest.cpuSimPct, 2)} %) |`,
    `| platform + simulator CPU per run at rest (the window's CPU over its runs) | ${fmt(((r.rest.cpuPlatformPct / 100) * 3_600_000) / (r.rest.runsPerH * r.fleet.size), 1)} ms + ${fmt(((r.rest.cpuSimPct / 100) * 3_600_000) / (r.rest.runsPerH * r.fleet.size), 1)} ms, so ${fmt(r.rest.runsPerH * r.fleet.size / 3600, 1)} runs a second make the idle load |`,
    `| runs at rest (monitor + guard REST re-syncs) | ${fmt(r.rest.runsPerH, 1)}/h; a run's wall time (each account's last runs, against the local simulator) p50 ${fmt(r.rest.runMs.p50)} ms, p95 ${fmt(r.rest.runMs.p95)} ms, mean ${fmt(r.rest.runMs.mean)} ms; an alarm's (its runs together) p50 ${fmt(r.rest.alarmMs.p50)} ms, p95 ${fmt(r.rest.alarmMs.p95)} ms (the cost uses the alarm's p50); ${fmt(r.rest.sharedAlarmShare * 100)} % of accounts run both in one alarm |`,
    `| D1 rows written in the rest window (by table and operation, whole fleet) | ${Object.entries(r.rest.d1ByTable).map(([k, v]) => `${k} ${v}`).join(", ") || "none"} |`,
    `| D1 rows written in the hot window (near accounts' and shared rows) | ${r.hot ? Object.entries(r.hot.d1ByTable).map(([k, v]) => `${k} ${v}`).join(", ") || "none" : "-"}${r.hot?.logged ? `; events the window logged: ${JSON.stringify(r.hot.logged)}` : ""} |`,
    `| heartbeats | ${fmt(r.run.heartbeatsPerAccount, 2)} per account over the ${fmt(r.run.minutes)} min run (the first alarm beats, then one an hour) |`,
    `| D1 rows per LOGS message (queue_counters sent and settled) | ${fmt(r.run.queueCounterRowsPerMessage, 2)} |`,
    `| counters at rest | ${counters("rest")} |`,
    `| counters in the hot zone (${r.hot ? `${r.hot.accounts} near accounts, ${r.hot.sockets} holding a socket of their own, price moving every second` : "not measured"}) | ${counters("hot")}${r.hot ? `; an alarm's wall time p50 ${fmt(r.hot.alarmMs.p50)} ms` : ""} |`,
    `| platform CPU in the hot window | ${r.hot ? `${fmt(r.hot.cpuPlatformPct, 2)} % of one core with ${r.hot.accounts} accounts hot (${r.hot.sockets} sockets open)` : "-"} |`,
    `| cost per guarded account-month at rest | ${bill("rest")} |`,
    `| cost per guarded account-month in the hot zone (all month hot) | ${bill("hot")} |`,
    `| the same with a dedicated socket (the Pro plan's dedicatedSocket; computed from the hot counters: active all hour, a frame a second) | ${c.hot?.counters.dedicatedSocket ? `$${usd(c.hot.counters.dedicatedSocket.cost.total)}` : "-"} |`,
    `| the market feed (one object per network, always active) | $${usd(c.feedMonth)}/month, $${usd(c.feedSharePerAccount)} per account at ${r.fleet.size} accounts |`,
    "",
    `List prices (Workers Paid, beyond included usage): ${PRICE_SOURCES.join(", ")}. Not counted: the included allowances and the $5 subscription, Durable Object SQLite storage (each account's own tables; its row writes are billed separately since January 2026), D1 rows read.`,
    "",
    ...(r.notes.length ? [...r.notes.map((n) => `- ${n}`), ""] : []),
    ...(r.errors.length ? [`Errors during this run: ${r.errors.join("; ")}`, ""] : []),
    costLine(r),
    "",
  ];
  appendFileSync(file, lines.join("\n"));
}

/** The table printed when the run ends. */
export function consoleTable(result) {
  const c = result.cost;
  const table = [
    ["measure", "N", "p50", "p95", "p99", "other"],
    ...result.reaction.map((x) => [`tick ${x.kind} ${x.crossed}/${x.fleet}`, x.n, x.p50, x.p95, x.p99, `missed ${x.missed} dup ${x.duplicates} stray ${x.stray} fan-out ${x.fanout ? `${x.fanout.calls} in ${x.fanout.ms} ms` : "-"}`]),
    ...(result.restReaction ? [["REST fallback", result.restReaction.n, result.restReaction.p50, result.restReaction.p95, result.restReaction.p99, `missed ${result.restReaction.missed}`]] : []),
    ["idle CPU % of a core", result.fleet.size, fmt(result.rest.cpuPlatformPct, 2), "", "", `sim ${fmt(result.rest.cpuSimPct, 2)}`],
    ["D1 rows/account-hour", "", fmt(c.rest.counters.d1RowsPerH, 2), "", "", `measured ${fmt(c.rest.counters.d1MeasuredPerH, 3)} + heartbeat + summary`],
    ["USD/account-month rest", "", usd(c.rest.cost.total), "", "", JSON.stringify(Object.fromEntries(Object.entries(c.rest.cost).map(([k, v]) => [k, Number(v.toPrecision(3))])))],
    ["USD/account-month hot", "", c.hot ? usd(c.hot.cost.total) : "-", "", "", c.hot ? JSON.stringify(Object.fromEntries(Object.entries(c.hot.cost).map(([k, v]) => [k, Number(v.toPrecision(3))]))) : ""],
    ...result.queues.map((q) => [`queue sent->delivered`, q.count, fmt(q.p50), fmt(q.p95), fmt(q.p99), `${fmt(q.perS)} msg/s lost ${q.lost}`]),
    ...result.http.map((h) => [`HTTP ${h.route}`, h.n, fmt(h.p50, 1), fmt(h.p95, 1), fmt(h.p99, 1), `${fmt(h.rps)} req/s err ${h.errors}`]),
    ["eval us/tick/account", result.evaluation.ticks, result.evaluation.usPerTickMedian.toFixed(2), "", "", ""],
  ];
  return table.map((r) => r.map((x) => String(x).padEnd(22)).join(" ")).join("\n");
}
