/**
 * Trigger levels (issue 20): the prices at which an account's automations or its margin
 * monitor would warn or act, each with the direction the price must cross it in. The account
 * registers them with its network's market feed (durable-objects/market-feed.ts), which wakes
 * it only when a tick crosses one; between crossings the account holds no socket.
 *
 * A level is a hint to wake up, never a decision: the account evaluates its automations on the
 * price it is woken with, exactly as on a stream tick. A missing level costs latency (the next
 * re-sync or the hot zone catches it), a superfluous one a wasted wake-up; so when in doubt a
 * level is registered. Pure: no runtime imports.
 */
import type { AutoEntryConfig, AutoEntryState } from "./auto-entry";
import { PRICE_TICK, roundToTick, type Side } from "./inverse";
import type { MarginGuardConfig, MarginGuardState } from "./margin-guard";
import { CRITICAL_RISK, DEFAULT_WARN_AT } from "./margin-monitor";
import { TRAIL_MIN_STEP_FRACTION, type TpSlConfig, type TpSlState } from "./tp-sl";
import { liquidationOf, type RunningTrade } from "./trade";

/**
 * "down": crossed by a tick from `from` to `to` when to <= price < from (the price fell to or
 * through it); "up": when from < price <= to. Inclusive on the arrival side, like the
 * automations' own tests (`risk >= actAt`, `price <= stoploss`).
 */
export type LevelDirection = "down" | "up";

export type LevelKind =
  | "liquidation"
  | "risk_critical"
  | "risk_act"
  | "risk_warn"
  | "stop_loss"
  | "take_profit"
  | "break_even"
  | "ladder"
  | "trail_refresh"
  | "entry"
  | "entry_rearm"
  | "entry_window"
  | "hot_zone";

export interface TriggerLevel {
  price: number;
  direction: LevelDirection;
  kind: LevelKind;
}

/** Wake order when a tick crosses several accounts: what protects money goes first. */
export const KIND_PRIORITY: Readonly<Record<LevelKind, number>> = {
  liquidation: 0, risk_critical: 0, risk_act: 0, stop_loss: 1, take_profit: 2, risk_warn: 3,
  break_even: 4, ladder: 4, trail_refresh: 5, entry: 6, entry_rearm: 7, entry_window: 7, hot_zone: 8,
};

/** An automation as the level derivation sees it: type, parsed config and parsed state. */
export type LevelAutomation =
  | { type: "margin_guard"; config: MarginGuardConfig; state?: MarginGuardState | null }
  | { type: "tp_sl"; config: TpSlConfig; state?: TpSlState | null }
  | { type: "auto_entry"; config: AutoEntryConfig; state?: AutoEntryState | null }
  | { type: string; config: unknown; state?: unknown };

export interface LevelInput {
  /** Running trades as the exchange last reported them (the monitor watches all of them). */
  trades: readonly RunningTrade[];
  /** Enabled automations in scope; none when only the monitor watches. */
  automations: readonly LevelAutomation[];
  /** The last price known to the account; needed for auto-entry windows without history. */
  price?: number | null;
}

/** Whether a tick from `from` to `to` crosses `level` (see {@link LevelDirection}). */
export function crossed(level: Pick<TriggerLevel, "price" | "direction">, from: number, to: number): boolean {
  return level.direction === "down" ? to <= level.price && level.price < from : from < level.price && level.price <= to;
}

/**
 * The price at which a trade reaches `risk` (0 at entry, 1 at liquidation), and the direction
 * the price moves to get there: down for a long, up for a short. Null when the trade cannot be
 * liquidated (a short whose margin covers its notional).
 */
export function riskLevelPrice(trade: RunningTrade, risk: number): { price: number; direction: LevelDirection } | null {
  const liq = liquidationOf(trade);
  if (!Number.isFinite(liq) || liq <= 0) return null;
  const price = trade.entryPrice + risk * (liq - trade.entryPrice);
  return { price, direction: trade.side === "buy" ? "down" : "up" };
}

/** Towards the trade's profit (up for a long), or against it when `by` is negative. */
const favour = (side: Side, from: number, by: number) => (side === "buy" ? from + by : from - by);
const profitDir = (side: Side): LevelDirection => (side === "buy" ? "up" : "down");
const lossDir = (side: Side): LevelDirection => (side === "buy" ? "down" : "up");
const onTick = (p: number) => Math.max(PRICE_TICK, roundToTick(p));

/**
 * Every level of an account: for each running trade the monitor's warning and critical risk
 * and its liquidation; per enabled Margin Guard its warnAt and actAt on the trades it covers;
 * per TP/SL its take profit, stop loss, break-even trigger, next ladder rung and the price at
 * which a managed trailing stop would next move; stops and targets the exchange holds;
 * per Auto Entry its condition's level (and, once it entered, the level that re-arms it).
 * Duplicates (same price and direction) are kept once, with the most urgent kind.
 */
export function deriveTriggerLevels(input: LevelInput): TriggerLevel[] {
  const out: TriggerLevel[] = [];
  const add = (price: number, direction: LevelDirection, kind: LevelKind) => {
    if (Number.isFinite(price) && price > 0) out.push({ price, direction, kind });
  };
  const risk = (t: RunningTrade, r: number, kind: LevelKind) => {
    const l = riskLevelPrice(t, r);
    if (l) add(l.price, l.direction, kind);
  };

  for (const t of input.trades) {
    // The built-in monitor, guard or no guard (DESIGN.md: warn at 80 %, critical at 90 %).
    risk(t, DEFAULT_WARN_AT, "risk_warn");
    risk(t, CRITICAL_RISK, "risk_critical");
    risk(t, 1, "liquidation");
    // Stops and targets the exchange holds close the trade server-side: wake to see it.
    if (t.takeprofit) add(t.takeprofit, profitDir(t.side), "take_profit");
    if (t.stoploss) add(t.stoploss, lossDir(t.side), "stop_loss");
  }

  for (const a of input.automations) {
    switch (a.type) {
      case "margin_guard":
        guardLevels(a.config as MarginGuardConfig, input.trades, risk);
        break;
      case "tp_sl":
        tpSlLevels(a.config as TpSlConfig, (a.state as TpSlState | null | undefined) ?? null, input.trades, add);
        break;
      case "auto_entry":
        entryLevels(a.config as AutoEntryConfig, (a.state as AutoEntryState | null | undefined) ?? null, input.price ?? null, add);
        break;
    }
  }
  return dedupe(out);
}

function guardLevels(config: MarginGuardConfig, trades: readonly RunningTrade[], risk: (t: RunningTrade, r: number, k: LevelKind) => void): void {
  const f = config.tradeFilter;
  for (const t of trades) {
    if (f?.side && t.side !== f.side) continue;
    if (f?.tradeIds && !f.tradeIds.includes(t.id)) continue;
    risk(t, config.warnAt, "risk_warn");
    risk(t, config.actAt, "risk_act");
  }
}

function distanceOf(d: { percent?: number | undefined; priceDistance?: number | undefined }, entry: number): number {
  return d.percent !== undefined ? (entry * d.percent) / 100 : (d.priceDistance ?? 0);
}

function tpSlLevels(config: TpSlConfig, state: TpSlState | null, trades: readonly RunningTrade[], add: (p: number, d: LevelDirection, k: LevelKind) => void): void {
  const closing = new Set(state?.ladderClosing ?? []);
  // The ladder takes trades strictly in order: only the next rung on the next trade can fire.
  const rung = config.ladder?.[state?.ladderRung ?? 0];
  const next = rung ? trades.find((t) => !closing.has(t.id)) : undefined;
  if (rung && next) add(next.entryPrice * (1 + ((next.side === "buy" ? 1 : -1) * rung.percent) / 100), profitDir(next.side), "ladder");

  for (const t of trades) {
    if (config.takeProfit) add(onTick(favour(t.side, t.entryPrice, distanceOf(config.takeProfit, t.entryPrice))), profitDir(t.side), "take_profit");
    const be = config.breakEven;
    if (be && !state?.trades[t.id]?.breakEven) add(t.entryPrice * (1 + ((t.side === "buy" ? 1 : -1) * be.triggerPercent) / 100), profitDir(t.side), "break_even");
    const sl = config.stopLoss;
    if (!sl || (sl.trailing && sl.trailingMode === "exchange")) continue; // the exchange's own stop is registered from the trade
    const dist = distanceOf(sl, t.entryPrice);
    if (!sl.trailing) {
      add(onTick(favour(t.side, t.entryPrice, -dist)), lossDir(t.side), "stop_loss");
      continue;
    }
    // Managed trailing: the stop follows the best price; it is re-sent once it would gain
    // TRAIL_MIN_STEP_FRACTION of its distance, i.e. when the price passes held + dist + step.
    const best = state?.trades[t.id]?.best ?? t.entryPrice;
    const stop = t.stoploss && t.stoploss > 0 ? t.stoploss : onTick(favour(t.side, best, -dist));
    add(stop, lossDir(t.side), "stop_loss");
    add(favour(t.side, stop, dist + Math.max(PRICE_TICK / 2, dist * TRAIL_MIN_STEP_FRACTION)), profitDir(t.side), "trail_refresh");
  }
}

function entryLevels(config: AutoEntryConfig, state: AutoEntryState | null, price: number | null, add: (p: number, d: LevelDirection, k: LevelKind) => void): void {
  const c = config.condition;
  const armed = state?.armed ?? true;
  switch (c.type) {
    case "price_below":
      add(c.level, "down", "entry");
      if (!armed) add(c.level + PRICE_TICK / 2, "up", "entry_rearm");
      return;
    case "price_above":
      add(c.level, "up", "entry");
      if (!armed) add(c.level - PRICE_TICK / 2, "down", "entry_rearm");
      return;
    case "drop_from_high":
    case "rise_from_low": {
      const w = state?.window ?? [];
      const drop = c.type === "drop_from_high";
      const extreme = drop ? Math.max(...w.map((b) => b.high), price ?? 0) : Math.min(...w.map((b) => b.low), price ?? Infinity);
      if (!Number.isFinite(extreme) || extreme <= 0) return;
      const f = c.percent / 100;
      add(drop ? extreme * (1 - f) : extreme * (1 + f), drop ? "down" : "up", "entry");
      // A new high (low) moves the condition's level: wake in steps of a tenth of the move.
      add(drop ? extreme * (1 + f * TRAIL_MIN_STEP_FRACTION) : extreme * (1 - f * TRAIL_MIN_STEP_FRACTION), drop ? "up" : "down", "entry_window");
      return;
    }
  }
}

function dedupe(levels: TriggerLevel[]): TriggerLevel[] {
  const byKey = new Map<string, TriggerLevel>();
  for (const l of levels) {
    const k = `${l.direction}:${l.price.toFixed(2)}`;
    const seen = byKey.get(k);
    if (!seen || KIND_PRIORITY[l.kind] < KIND_PRIORITY[seen.kind]) byKey.set(k, l);
  }
  return [...byKey.values()].sort((a, b) => a.price - b.price || (a.direction < b.direction ? -1 : 1));
}

/**
 * A stable text of a level set (prices to the cent): an account re-registers only when it
 * changes.
 */
export function levelsKey(levels: readonly TriggerLevel[]): string {
  return levels.map((l) => `${l.direction[0]}${l.price.toFixed(2)}${l.kind}`).join(",");
}

/**
 * The relative distance from `price` to the nearest level still ahead of it: a "down" level
 * below the price or an "up" level above it (a level already passed fires only after the
 * price comes back). Infinity when there is none.
 */
export function nearestAhead(levels: readonly TriggerLevel[], price: number): number {
  let best = Infinity;
  for (const l of levels) {
    if (l.kind === "hot_zone") continue;
    const ahead = l.direction === "down" ? l.price < price : l.price > price;
    if (ahead) best = Math.min(best, Math.abs(l.price - price) / price);
  }
  return best;
}

/**
 * The levels plus, for each one, where its hot zone begins (`hotZoneFraction` before it, in
 * the direction the price must travel): crossing that boundary wakes a resting account, which
 * then opens its own socket. Without these an account at rest would only learn that the price
 * came near a trigger when the trigger itself is crossed.
 */
export function withHotZone(levels: readonly TriggerLevel[], hotZoneFraction: number): TriggerLevel[] {
  if (!(hotZoneFraction > 0)) return [...levels];
  const zone = levels.filter((l) => l.kind !== "hot_zone").map((l): TriggerLevel => ({
    price: l.direction === "down" ? l.price * (1 + hotZoneFraction) : l.price * (1 - hotZoneFraction),
    direction: l.direction,
    kind: "hot_zone",
  }));
  return dedupe([...levels, ...zone]);
}

/**
 * Whether an account is in its hot zone: a level ahead within `hotZoneFraction` of the price
 * (it then holds its own authenticated socket, for fresh prices and private trade events).
 * A managed trailing stop moving is a "trail_refresh" level just ahead of the price, so it
 * counts through the same test.
 */
export function isHot(levels: readonly TriggerLevel[], price: number | null, hotZoneFraction: number): boolean {
  if (price === null || !(price > 0)) return false;
  return nearestAhead(levels, price) <= hotZoneFraction;
}
