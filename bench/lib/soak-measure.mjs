// What bench/soak.mjs measures of a cycle: the platform's own log lines (decisions and orders),
// D1's trade logs and notifications, and the exchange's order log, into the run's counts.
import { readFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";

/**
 * The platform's own JSON log lines (LOG_LEVEL info): every decision and every order as the
 * account DO wrote it, read from wrangler's output. They do not go through the LOGS queue, so a
 * reload cannot lose them; D1's trade_logs are compared with them.
 */
const platformLog = { offset: 0, byAccount: new Map() };
export function readPlatformLog(file) {
  let buf;
  try {
    buf = readFileSync(file);
  } catch {
    return;
  }
  const text = buf.subarray(platformLog.offset).toString("utf8");
  const end = text.lastIndexOf("\n");
  if (end < 0) return;
  platformLog.offset += Buffer.byteLength(text.slice(0, end + 1));
  for (const line of text.slice(0, end).split("\n")) {
    const i = line.indexOf('{"ts":');
    if (i < 0) continue;
    let e;
    try {
      e = JSON.parse(line.slice(i, line.lastIndexOf("}") + 1));
    } catch {
      continue;
    }
    if (!e.accountId || !["trade.order", "margin_guard.decision", "automation.action_failed", "margin_guard.balance_reread", "margin_monitor.critical", "margin_monitor.warning", "credentials.rejected", "alarm.error", "notify.failed"].includes(e.event)) continue;
    if (!platformLog.byAccount.has(e.accountId)) platformLog.byAccount.set(e.accountId, []);
    platformLog.byAccount.get(e.accountId).push(e);
  }
}

/** Reads the platform's D1 (read-only) and the exchange's order log for one cycle. */
export function measure(stack, run, ev, fleet, bare) {
  const db = new DatabaseSync(stack.d1Path(), { readOnly: true });
  const q = (sql, ...p) => db.prepare(sql).all(...p);
  try {
    for (const a of [...fleet, ...bare]) {
      const landed = a.orders.filter((o) => o.status < 300 && !o.harness);
      // Orders per clientId: the same clientId accepted twice is a duplicate.
      const byCid = new Map();
      for (const o of landed) if (o.clientId) byCid.set(o.clientId, (byCid.get(o.clientId) ?? 0) + 1);
      for (const [cid, k] of byCid) {
        run.clientIds++;
        if (k > 1) {
          run.duplicates += k - 1;
          run.evidence.push({ kind: "duplicate_clientId", account: a.accountId, clientId: cid, orders: a.orders.filter((o) => o.clientId === cid) });
        }
      }
      if (a.bare) continue;
      // The account's decisions and orders as its DO logged them (stdout), and what reached D1.
      const events = platformLog.byAccount.get(a.accountId) ?? [];
      const orders = events.filter((e) => e.event === "trade.order");
      const d1Logs = q("SELECT client_id, outcome, created_at FROM trade_logs WHERE account_id = ?", a.accountId);
      const d1Seen = new Set(d1Logs.map((l) => `${l.client_id}:${l.outcome}`));
      run.tradeLogsMissingInD1 += orders.filter((o) => !d1Seen.has(`${o.clientId}:${o.outcome}`)).length;
      // The DO's own account of each clientId: a landing reported twice (the run's answer and
      // a concurrent run's reconciliation) is one landing at the exchange; the exchange's log
      // (below) is what counts as a duplicate.
      const okPerCid = new Map();
      for (const o of orders) {
        if (!okPerCid.has(o.clientId)) okPerCid.set(o.clientId, 0);
        if (o.outcome === "ok" || o.outcome === "reconciled") okPerCid.set(o.clientId, okPerCid.get(o.clientId) + 1);
      }
      run.clientIds += okPerCid.size;
      for (const k of okPerCid.values()) if (k > 1) run.doubleReports += k - 1;
      // Add-margins per decision: every landed add-margin must belong to a distinct intent
      // (clientId) of that trade and amount; an extra one is a second order for one decision.
      const intents = new Map();
      for (const o of orders.filter((x) => x.action === "add_margin")) intents.set(o.clientId, `${o.request?.tradeId}:${o.request?.amount}`);
      // The DO's trade logs in D1 too: its stdout lines are lost while the platform reloads
      // (an order sent in that second had its own clientId and decision in D1 but no line; the
      // soak of 2026-12-03 counted it as a duplicate).
      for (const l of q("SELECT client_id, request FROM trade_logs WHERE account_id = ? AND action = 'add_margin'", a.accountId)) {
        if (intents.has(l.client_id)) continue;
        try {
          const r = JSON.parse(l.request);
          intents.set(l.client_id, `${r?.tradeId}:${r?.amount}`);
        } catch {
          // Not a request we can read: left to the stdout lines.
        }
      }
      run.addMarginIntents += intents.size;
      const perKey = new Map();
      for (const k of intents.values()) perKey.set(k, (perKey.get(k) ?? 0) + 1);
      const adds = landed.filter((o) => o.route.endsWith("/add-margin"));
      run.addMarginsLanded += adds.length;
      const landedPerKey = new Map();
      for (const o of adds) {
        const k = `${o.body?.id}:${o.body?.amount}`;
        landedPerKey.set(k, (landedPerKey.get(k) ?? 0) + 1);
      }
      for (const [k, c] of landedPerKey) {
        const extra = c - (perKey.get(k) ?? 0);
        if (extra > 0) {
          run.duplicates += extra;
          run.evidence.push({ kind: "add_margin_without_its_own_decision", account: a.accountId, tradeAmount: k, landed: c, intents: perKey.get(k) ?? 0,
            reloads: ev.reloads, orders: a.orders.filter((o) => o.route.endsWith("/add-margin")), platformLog: orders.filter((o) => o.action === "add_margin"),
            decisions: events.filter((e) => e.event === "margin_guard.decision") });
        }
      }
      run.lateLandedAdds += adds.filter((o) => o.handledAt - o.at >= 10_000).length;
      // Decisions to act: each must have produced an order (a trade.order line, any outcome,
      // for the same trade and amount in the same trace within 20 s) or an explained refusal.
      const decisions = events.filter((e) => e.event === "margin_guard.decision" && e.action);
      for (const d of decisions) {
        run.decisions++;
        const within = (t) => t >= d.ts - 1_000 && t <= d.ts + 20_000;
        const order = orders.find((o) => o.tradeId === d.tradeId && o.traceId === d.traceId && within(o.ts) && o.action === (d.action.type === "add_margin" ? "add_margin" : "close")
          && (d.action.type !== "add_margin" || o.request?.amount === d.action.amountSats));
        if (order) continue;
        const failed = events.find((e) => e.event === "automation.action_failed" && e.traceId === d.traceId && within(e.ts));
        const reload = ev.reloads.find((x) => d.ts >= x.at - 15_000 && d.ts <= x.at + x.outMs);
        const gone = a.final && !a.final.running && a.final.closedAt && Date.parse(a.final.closedAt) <= d.ts + 12_000;
        const why = failed ? `action_failed ${failed.code}` : reload ? "platform reload" : gone ? "trade gone" : null;
        if (why) {
          run.explained[why] = (run.explained[why] ?? 0) + 1;
        } else {
          run.skipped++;
          run.evidence.push({ kind: "skipped_decision", account: a.accountId, decision: d, orders: orders.filter((o) => o.tradeId === d.tradeId) });
        }
      }
      const tradeLogs = orders;
      run.tradeLogErrors += orders.filter((l) => l.outcome === "error" || l.outcome === "uncertain").length;
      run.reconciled += tradeLogs.filter((l) => l.outcome === "reconciled").length;
      // Saved of saveable: the caps (3M sats) and balance (5M) cover every step; a revoked
      // key or the trader's own close takes the position out of the guard's hands.
      if (a.accountId === ev.revoked?.accountId || a.closedByTrader) continue;
      run.saveable++;
      if (a.final?.running) run.saved++;
      else {
        run.evidence.push({ kind: "position_lost", account: a.accountId, trade: a.final, orders: a.orders, platformLog: events });
      }
      if (!a.status?.running || !(a.status?.automations ?? []).every((x) => typeof x.status?.nextRunAt === "number")) run.stoppedSchedules++;
    }
    // Critical alerts for every account that reached 0.9 (guarded or not).
    for (const [accountId, r] of ev.reached) {
      const a = [...fleet, ...bare].find((x) => x.accountId === accountId);
      const key = a.bare ? "bare" : "guarded";
      run.reached[key]++;
      const rows = q("SELECT event, created_at FROM notifications WHERE event = 'margin.critical' AND json_extract(data, '$.accountId') = ? AND created_at >= ?", accountId, r.at - 2_000);
      if (rows.length) {
        run.alerted[key]++;
        run.alertLatencyMs.push(Math.min(...rows.map((x) => x.created_at)) - r.at);
      } else {
        const any = q("SELECT event, severity, created_at FROM notifications WHERE json_extract(data, '$.accountId') = ?", accountId);
        run.evidence.push({ kind: "no_critical_alert", account: accountId, bare: !!a.bare, reached: r, trade: a.final, notifications: any,
          platformLog: (platformLog.byAccount.get(accountId) ?? []).filter((e) => e.event !== "trade.order") });
      }
    }
    // The revoked key: its owner must be told (credentials.rejected, critical).
    if (ev.revoked) {
      const rows = q("SELECT event FROM notifications WHERE event = 'credentials.rejected' AND json_extract(data, '$.accountId') = ?", ev.revoked.accountId);
      run.revokedAlerted += rows.length ? 1 : 0;
      run.revokedKeys++;
    }
  } finally {
    db.close();
  }
}
