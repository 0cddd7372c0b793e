/**
 * The built-in margin monitor's run (every account with running trades): risk levels and
 * their alerts, hand-over to the account's Margin Guards, and liquidations told from the
 * closed trades. The automations' runs are in ./jobs.ts.
 */
import { z } from "zod";
import { closedByLiquidation, monitorMargins, type RiskLevel } from "../../src/domain/margin-monitor";
import type { LnMarketsRestClient } from "../../src/lnmarkets/rest-client";
import type { ClosedTradesPage } from "../../src/lnmarkets/schemas";
import type { JobContext, JobOutcome } from "./jobs";
import type { AutomationRow } from "./storage";

/** The monitor's memory: each trade's last alerted level, so a crossing alerts once. */
export const MonitorState = z.object({ levels: z.record(z.string(), z.enum(["ok", "warn", "act", "critical"])).default({}) });

export function monitorLevels(row: AutomationRow | undefined): Record<string, RiskLevel> {
  const parsed = MonitorState.safeParse(JSON.parse(row?.state || "{}"));
  return parsed.success ? parsed.data.levels : {};
}

/**
 * The built-in margin monitor, on every account with running trades and working credentials,
 * automations or not: the risk of every running trade at the current price. A trade that
 * crosses into warning (0.8) or critical (0.9) alerts its owner once per crossing through the
 * ALERTS queue (the levels are kept in the row's state, so an eviction does not repeat an
 * alert; falling back re-arms it). Where a Margin Guard runs, the guard alerts and acts: the
 * monitor runs it at once instead.
 */
export async function marginMonitor(ctx: JobContext, row: AutomationRow, signal: AbortSignal): Promise<JobOutcome> {
  const client = await ctx.client();
  const feed = await ctx.market.refresh(client, ctx.now(), signal);
  const trades = ctx.market.runningTrades();
  const previous = monitorLevels(row);
  // Trades watched last time and gone now: a liquidation among them is told (the private
  // stream's event would have said it; an account without its own socket does not hear it).
  const gone = Object.keys(previous).filter((id) => !trades.some((t) => t.id === id));
  const unresolved = gone.length ? await tellLiquidations(ctx, client, gone, signal) : [];
  const kept = Object.fromEntries(unresolved.map((id) => [id, previous[id]!]));
  if (!trades.length) {
    if (Object.keys(previous).length) ctx.saveState(row, { levels: kept });
    return { ok: true, summary: `no running trades (feed ${feed})` };
  }
  const report = monitorMargins(trades, ctx.market.price!, undefined, previous);
  const guards = ctx.automationsRunning ? ctx.automations().filter((a) => a.type === "margin_guard" && a.enabled) : [];
  ctx.saveState(row, { levels: { ...kept, ...report.levels } });
  for (const r of report.escalated) {
    const critical = r.level === "critical";
    ctx.journal.automation(critical ? "warn" : "info", `margin_monitor.${critical ? "critical" : "warning"}`, null, { tradeId: r.tradeId, risk: r.risk, price: r.price, liquidation: r.liquidation, guards: guards.length, feed }, undefined, ctx.traceId);
    if (guards.length) continue;
    const pct = `${(r.risk * 100).toFixed(0)} %`;
    await ctx.journal.notify(critical ? "margin.critical" : "margin.warning", critical ? "critical" : "warning",
      critical ? "Position at critical risk" : "Position approaching liquidation",
      `Trade ${r.tradeId} risk ${pct} at ${r.price} (liquidation ${r.liquidation.toFixed(1)}); no Margin Guard is protecting it`,
      { tradeId: r.tradeId, risk: r.risk, price: r.price, liquidation: r.liquidation, level: r.level }, ctx.traceId, { urgent: true });
  }
  if (report.maxRisk >= 0.8) for (const g of guards) await ctx.triggerGuard(g, `monitor risk ${report.maxRisk.toFixed(3)}`);
  // Guards size add-margins with the last balance read: keep it recent, off their critical path.
  if (guards.length && ctx.market.balanceStale(ctx.now(), report.maxRisk)) {
    await ctx.market.refreshBalance(client, ctx.now(), signal).catch((e) => ctx.journal.logger.warn("margin_monitor.balance_failed", { error: e }));
  }
  return { ok: true, summary: `${trades.length} trades, max risk ${report.maxRisk.toFixed(3)} (feed ${feed})` };
}

/** How many closed trades are read to learn how the gone ones ended (newest first). */
const CLOSED_LOOKUP = 50;

/**
 * Reads the newest closed trades and tells the owner of each gone trade that was liquidated
 * (src/domain/margin-monitor.ts closedByLiquidation). Returns the ids it could not look up (the
 * read failed): they stay watched, and the next run tries again.
 */
async function tellLiquidations(ctx: JobContext, client: LnMarketsRestClient, gone: string[], signal: AbortSignal): Promise<string[]> {
  let closed: ClosedTradesPage["data"];
  try {
    closed = (await client.closedTrades({ limit: CLOSED_LOOKUP }, { signal })).data;
  } catch (e) {
    ctx.journal.logger.warn("margin_monitor.closed_lookup_failed", { trades: gone, error: e });
    return gone;
  }
  for (const id of gone) {
    const t = closed.find((c) => c.id === id);
    if (!t) {
      ctx.journal.automation("info", "trade.gone", null, { tradeId: id, found: false }, undefined, ctx.traceId);
      continue;
    }
    if (!closedByLiquidation(t)) {
      ctx.journal.automation("info", "trade.closed", null, { tradeId: id, exitPrice: t.exitPrice ?? null }, undefined, ctx.traceId);
      continue;
    }
    ctx.journal.automation("warn", "trade.liquidation", null, { tradeId: id, exitPrice: t.exitPrice ?? null, liquidation: t.liquidation, source: "rest" }, undefined, ctx.traceId);
    await ctx.journal.notify("trade.liquidated", "critical", "Position liquidated", `Trade ${id} was liquidated at ${t.exitPrice}`, { tradeId: id }, ctx.traceId);
  }
  return [];
}
