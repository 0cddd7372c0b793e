/**
 * What an automation would do if it ran now (issue 23, "dry run"): the same pure decisions its
 * run makes (src/domain), on the positions and price just read, with nothing sent and nothing
 * saved (its decision state, cooldowns and caps stay as they are).
 */
import { AutoEntryState, evaluateAutoEntry, initialAutoEntryState, type AutoEntryConfig } from "../../src/domain/auto-entry";
import { evaluateMarginGuard, initialMarginGuardState, MarginGuardState, type MarginGuardConfig } from "../../src/domain/margin-guard";
import { evaluateTpSl, initialTpSlState, TpSlState, type TpSlConfig } from "../../src/domain/tp-sl";
import type { RunningTrade } from "../../src/domain/trade";
import type { AutomationRow } from "./storage";

/** One order a manual action sends (or, in a dry run, would send). */
export interface ManualOrder {
  action: "close" | "add_margin" | "open" | "takeprofit" | "stoploss";
  tradeId: string | null;
  amountSats?: number;
  value?: number;
  order?: unknown;
  /** planned: a dry run's; the others: what the executor reported. */
  status: "planned" | "sent" | "already_done" | "reconciled" | "uncertain" | "failed";
  clientId: string | null;
  /** The trade as it stands, and as the order would leave it (add-margin), at the current price. */
  before?: TradeFacts;
  after?: TradeFacts;
  /** Close: P&L at the price it would fill at (bid for a long, offer for a short). */
  estimatedPnlSats?: number;
  /** A dry run's warning that the exchange would likely refuse it (e.g. the balance is short). */
  warning?: string;
  error?: { code: string; kind: string; message: string; uncertain: boolean };
}

export interface TradeFacts {
  margin: number;
  liquidation: number;
  risk: number;
}

export interface AutomationPlan {
  orders: ManualOrder[];
  /** The decisions behind them, as the automation logs them. */
  decisions: unknown[];
  summary: string;
}

const state = <T>(row: AutomationRow, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, initial: () => T): T => {
  const s = schema.safeParse(JSON.parse(row.state || "{}"));
  return s.success ? s.data : initial();
};

/**
 * The decisions a run of `row` would make at `price` on `trades`. `balanceSats` sizes a
 * guard's add-margin as its run would (the last balance read).
 */
export function planAutomation(row: AutomationRow, config: unknown, input: { trades: RunningTrade[]; price: number; balanceSats: number; now: number; pauseEntries: boolean }): AutomationPlan {
  const { trades, price, now } = input;
  switch (row.type) {
    case "margin_guard": {
      if (!trades.length) return { orders: [], decisions: [], summary: "no running trades" };
      const { decisions } = evaluateMarginGuard({ config: config as MarginGuardConfig, trades, price, balanceSats: input.balanceSats, state: state(row, MarginGuardState, initialMarginGuardState), now });
      const orders: ManualOrder[] = decisions.flatMap((d) => !d.action ? [] : [d.action.type === "add_margin"
        ? { action: "add_margin" as const, tradeId: d.tradeId, amountSats: d.action.amountSats, status: "planned" as const, clientId: null }
        : { action: "close" as const, tradeId: d.tradeId, status: "planned" as const, clientId: null }]);
      const maxRisk = Math.max(0, ...decisions.map((d) => d.risk));
      return {
        orders,
        decisions: decisions.map((d) => ({ tradeId: d.tradeId, risk: d.risk, level: d.level, reason: d.reason, action: d.action ?? null, ...(d.alert ? { alert: d.alert } : {}), inputs: d.inputs })),
        summary: `${trades.length} trades, ${orders.length} actions, max risk ${maxRisk.toFixed(3)}`,
      };
    }
    case "tp_sl": {
      if (!trades.length) return { orders: [], decisions: [], summary: "no running trades" };
      const { changes } = evaluateTpSl({ config: config as TpSlConfig, trades, price, state: state(row, TpSlState, initialTpSlState) });
      const orders: ManualOrder[] = changes.map((c) => c.type === "close"
        ? { action: "close", tradeId: c.tradeId, status: "planned", clientId: null }
        : { action: c.type, tradeId: c.tradeId, value: c.value, status: "planned", clientId: null });
      return { orders, decisions: changes, summary: `${trades.length} trades, ${changes.length} changes` };
    }
    case "auto_entry": {
      const c = config as AutoEntryConfig;
      const r = evaluateAutoEntry({ config: c, price, now, openTrades: trades.filter((t) => t.side === c.side), state: state(row, AutoEntryState, initialAutoEntryState), paused: input.pauseEntries });
      const decisions = [{ reason: r.reason, ...r.inputs, ...(r.open ? { order: r.open } : {}) }];
      if (!r.open) return { orders: [], decisions, summary: r.reason };
      return { orders: [{ action: "open", tradeId: null, order: r.open, status: "planned", clientId: null }], decisions, summary: "would open" };
    }
    case "noop":
      return { orders: [], decisions: [], summary: "noop" };
    default:
      return { orders: [], decisions: [], summary: `automation type ${row.type} has no runner` };
  }
}
