/**
 * Margin Guard (issue 7): per running trade, warn at `warnAt` risk, act at `actAt` by adding
 * the margin that brings risk back to `targetRisk` (capped per trade, per UTC day and by
 * balance) or by closing. Pure: the AccountDO and the simulation feed it trades, price,
 * balance, state and `now`, then execute the actions and keep `nextState`.
 */
import { z } from "zod";
import { marginToReachRisk, riskOf, liquidationPrice } from "./inverse";
import { DEFAULT_ACT_AT, DEFAULT_WARN_AT, riskLevel, type RiskLevel } from "./margin-monitor";
import { effectiveMargin, liquidationOf, RunningTrade, Side, tradeRisk } from "./trade";

const ratio = z.number().gt(0).lt(1);
const sats = z.number().int().nonnegative();

export const TradeFilter = z.strictObject({
  side: Side.optional(),
  tradeIds: z.array(z.string().min(1)).min(1).optional(),
});
export type TradeFilter = z.infer<typeof TradeFilter>;

export const MarginGuardConfig = z
  .strictObject({
    warnAt: ratio.default(DEFAULT_WARN_AT),
    actAt: z.number().gt(0).max(1).default(DEFAULT_ACT_AT),
    action: z.enum(["add_margin", "close"]).default("add_margin"),
    /**
     * With action add_margin, what to do when the caps or the balance cannot bring risk back
     * under actAt: "alert" (default) adds what is allowed, if anything, and alerts critical;
     * "close" closes the position instead (after the balance was re-read).
     */
    onInsufficient: z.enum(["alert", "close"]).default("alert"),
    targetRisk: ratio.default(0.5),
    /** Lifetime sats this guard may add to one trade. Required for add_margin. */
    maxAddPerTradeSats: sats.optional(),
    /** Sats this guard may add across trades per UTC day. Required for add_margin. */
    maxAddPerDaySats: sats.optional(),
    /** Minimum time between two actions on one trade within one crossing. */
    cooldownMs: z.number().int().nonnegative().max(86_400_000).default(60_000),
    tradeFilter: TradeFilter.optional(),
  })
  .superRefine((c, ctx) => {
    // Fields may have failed their own checks already: compare only real numbers.
    const num = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);
    if (num(c.warnAt) && num(c.actAt) && !(c.warnAt < c.actAt)) {
      ctx.addIssue({ code: "custom", path: ["warnAt"], message: "warnAt must be below actAt" });
    }
    if (num(c.targetRisk) && num(c.warnAt) && !(c.targetRisk < c.warnAt)) {
      ctx.addIssue({ code: "custom", path: ["targetRisk"], message: "targetRisk must be below warnAt" });
    }
    if (c.action === "add_margin") {
      for (const k of ["maxAddPerTradeSats", "maxAddPerDaySats"] as const) {
        if (c[k] === undefined) ctx.addIssue({ code: "custom", path: [k], message: `${k} is required when action is add_margin` });
      }
    }
  });
export type MarginGuardConfig = z.infer<typeof MarginGuardConfig>;
export type MarginGuardConfigInput = z.input<typeof MarginGuardConfig>;

export const GuardTradeState = z.object({
  /** False from an action until risk falls back under warnAt: one crossing, one action. */
  armed: z.boolean(),
  lastActionAt: z.number().nullable(),
  lastLevel: z.enum(["ok", "warn", "act", "critical"]),
  addedSats: z.number().nonnegative(),
  /** Price of the last action: a trade whose risk there is now under warnAt was helped (re-arms). */
  lastActionPrice: z.number().nullable().optional(),
});
export type GuardTradeState = z.infer<typeof GuardTradeState>;

export const MarginGuardState = z.object({
  trades: z.record(z.string(), GuardTradeState),
  /** UTC day (YYYY-MM-DD) `addedTodaySats` counts for. */
  day: z.string(),
  addedTodaySats: z.number().nonnegative(),
});
export type MarginGuardState = z.infer<typeof MarginGuardState>;

export function initialMarginGuardState(): MarginGuardState {
  return { trades: {}, day: "", addedTodaySats: 0 };
}

export type GuardAction = { type: "add_margin"; amountSats: number } | { type: "close" };

export type GuardReason =
  | "ok"
  | "warn"
  | "cooling_down"
  | "add_margin"
  | "add_margin_partial"
  | "close_configured"
  | "close_capped"
  | "close_insufficient"
  | "alert_capped"
  | "alert_insufficient";

export interface GuardDecision {
  tradeId: string;
  side: Side;
  risk: number;
  level: RiskLevel;
  /** Level differs from the last evaluation: notify on transitions, not on every tick. */
  levelChanged: boolean;
  action?: GuardAction;
  reason: GuardReason;
  /**
   * The caps or the balance cannot save the trade and the trader chose to be told rather than
   * closed (onInsufficient "alert"): the caller alerts critical. Set with or without a partial
   * add-margin.
   */
  alert?: "capped" | "insufficient";
  /** What led to the decision, for the automation log. */
  inputs: {
    price: number;
    liquidation: number;
    margin: number;
    warnAt: number;
    actAt: number;
    targetRisk: number;
    neededSats?: number;
    allowedSats?: number;
    riskAfter?: number;
  };
}

export interface MarginGuardInput {
  config: MarginGuardConfig;
  trades: readonly RunningTrade[];
  price: number;
  balanceSats: number;
  state: MarginGuardState;
  now: number;
}

/** UTC calendar day of a ms timestamp: the daily cap resets at 00:00 UTC. */
export function utcDay(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

function matches(filter: TradeFilter | undefined, t: RunningTrade): boolean {
  if (!filter) return true;
  if (filter.side && filter.side !== t.side) return false;
  if (filter.tradeIds && !filter.tradeIds.includes(t.id)) return false;
  return true;
}

/**
 * Decide, per trade the filter selects, whether to warn, add margin or close. Trades are
 * served highest risk first so a shared daily cap and balance go to the most endangered one;
 * decisions come back in input order. `nextState` assumes the caller attempts every action.
 *
 * Acting needs risk >= actAt and either an armed trade (first time in this crossing) or
 * `cooldownMs` elapsed since the last action (the last one did not help enough). A trade
 * re-arms once its risk falls under warnAt, e.g. after margin was added.
 *
 * add_margin adds what reaches `targetRisk`, capped by the per-trade cap, the day's cap and
 * the balance. If the affordable amount cannot even bring risk under `actAt`, the trader's
 * `onInsufficient` decides: "close" closes (margin that does not save the trade would only
 * be lost with it), "alert" (default) adds what is allowed and sets `alert`; with nothing
 * allowed it only alerts. A close is never a surprise.
 * @throws RangeError on a price that is not positive and finite.
 */
export function evaluateMarginGuard(input: MarginGuardInput): {
  decisions: GuardDecision[];
  nextState: MarginGuardState;
} {
  const { config, trades, price, now } = input;
  if (!(Number.isFinite(price) && price > 0)) throw new RangeError("price must be positive and finite");
  const day = utcDay(now);
  let addedToday = input.state.day === day ? input.state.addedTodaySats : 0;
  let balance = Math.max(0, Math.floor(input.balanceSats));
  const nextTrades: Record<string, GuardTradeState> = {};
  const byId = new Map<string, GuardDecision>();

  const selected = trades.filter((t) => matches(config.tradeFilter, t));
  const ordered = [...selected].sort((a, b) => tradeRisk(b, price) - tradeRisk(a, price));
  for (const t of ordered) {
    const prev = input.state.trades[t.id] ?? { armed: true, lastActionAt: null, lastLevel: "ok", addedSats: 0 };
    const risk = tradeRisk(t, price);
    const level = riskLevel(risk, config);
    const inputs: GuardDecision["inputs"] = {
      price,
      liquidation: liquidationOf(t),
      margin: t.margin,
      warnAt: config.warnAt,
      actAt: config.actAt,
      targetRisk: config.targetRisk,
    };
    const base = { tradeId: t.id, side: t.side, risk, level, levelChanged: level !== prev.lastLevel, inputs };
    // The last action landed if, at the price it was taken, risk is now under warnAt: that
    // is a new crossing even when no evaluation ran between it landing and a further drop
    // (a gap down would otherwise leave the trade cooling down for cooldownMs).
    const helped = prev.lastActionPrice != null && tradeRisk(t, prev.lastActionPrice) < config.warnAt;
    let next: GuardTradeState = { ...prev, lastLevel: level, armed: prev.armed || risk < config.warnAt || helped };

    if (risk < config.actAt) {
      byId.set(t.id, { ...base, reason: risk >= config.warnAt ? "warn" : "ok" });
    } else if (!next.armed && prev.lastActionAt !== null && now - prev.lastActionAt < config.cooldownMs) {
      byId.set(t.id, { ...base, reason: "cooling_down" });
    } else {
      const d = decideAction(t, price, config, balance, config.maxAddPerDaySats === undefined ? 0 : config.maxAddPerDaySats - addedToday, prev.addedSats);
      byId.set(t.id, { ...base, ...(d.action ? { action: d.action } : {}), ...(d.alert ? { alert: d.alert } : {}), reason: d.reason, inputs: { ...inputs, ...d.inputs } });
      // An alert alone counts as the crossing's action too: one alert per crossing (or cooldown).
      next = { ...next, armed: false, lastActionAt: now, lastActionPrice: price };
      if (d.action?.type === "add_margin") {
        balance -= d.action.amountSats;
        addedToday += d.action.amountSats;
        next = { ...next, addedSats: prev.addedSats + d.action.amountSats };
      }
    }
    nextTrades[t.id] = next;
  }

  return {
    decisions: selected.map((t) => byId.get(t.id)!),
    // Trades no longer running drop out of the state: it stays as small as the book.
    nextState: { trades: nextTrades, day, addedTodaySats: addedToday },
  };
}

function decideAction(
  t: RunningTrade,
  price: number,
  config: MarginGuardConfig,
  balance: number,
  dayLeft: number,
  addedToTrade: number,
): { action?: GuardAction; alert?: "capped" | "insufficient"; reason: GuardReason; inputs: Partial<GuardDecision["inputs"]> } {
  if (config.action === "close") return { action: { type: "close" }, reason: "close_configured", inputs: {} };
  const eff = effectiveMargin(t);
  // eff is fractional: the epsilon stops float dust (18096.0000001) costing an extra sat.
  const needed = Math.ceil(marginToReachRisk(t.side, t.quantity, t.entryPrice, eff, price, config.targetRisk) - 1e-6);
  const capLeft = Math.max(0, Math.min((config.maxAddPerTradeSats ?? 0) - addedToTrade, dayLeft));
  const allowed = Math.max(0, Math.min(capLeft, balance));
  const amount = Math.min(needed, allowed);
  const riskAfter =
    amount > 0
      ? riskOf(t.side, t.entryPrice, liquidationPrice(t.side, t.quantity, t.entryPrice, eff + amount), price)
      : tradeRisk(t, price);
  const inputs = { neededSats: needed, allowedSats: allowed, riskAfter };
  if (amount <= 0 || riskAfter >= config.actAt) {
    const short: "insufficient" | "capped" = balance < capLeft ? "insufficient" : "capped";
    if (config.onInsufficient === "close") return { action: { type: "close" }, reason: `close_${short}`, inputs };
    const alert = { alert: short, reason: `alert_${short}` as const, inputs };
    return amount > 0 ? { ...alert, action: { type: "add_margin", amountSats: amount } } : alert;
  }
  return {
    action: { type: "add_margin", amountSats: amount },
    reason: amount < needed ? "add_margin_partial" : "add_margin",
    inputs,
  };
}
