/**
 * Take Profit / Stop Loss (issue 7): the TP and SL each running trade should carry, and the
 * changes to send, only where they differ from what the exchange holds (every PUT spends the
 * 5 req/s budget). Distances are measured from each trade's entry price; `percent` is a
 * percentage of the entry price, not of the margin.
 */
import { z } from "zod";
import { PRICE_TICK, roundToTick, type Side } from "./inverse";
import type { RunningTrade } from "./trade";

const pct = (max: number) => z.number().gt(0).max(max);
const distance = z.number().gt(0).max(1_000_000);

function exactlyOne(v: { percent?: number | undefined; priceDistance?: number | undefined }, ctx: z.RefinementCtx): void {
  if ((v.percent === undefined) === (v.priceDistance === undefined)) {
    ctx.addIssue({ code: "custom", path: [], message: "give exactly one of percent or priceDistance" });
  }
}

export const TakeProfitConfig = z
  .strictObject({ percent: pct(1_000).optional(), priceDistance: distance.optional() })
  .superRefine(exactlyOne);
export type TakeProfitConfig = z.infer<typeof TakeProfitConfig>;

export const StopLossConfig = z
  .strictObject({
    percent: z.number().gt(0).lt(100).optional(),
    priceDistance: distance.optional(),
    trailing: z.boolean().default(false),
    /** "exchange": LN Markets' trailing mode trails server-side; "managed": we move it. */
    trailingMode: z.enum(["exchange", "managed"]).default("exchange"),
  })
  .superRefine(exactlyOne);
export type StopLossConfig = z.infer<typeof StopLossConfig>;

export const BreakEvenConfig = z.strictObject({
  /** Gain (percent of entry) after which the stop moves to break-even. */
  triggerPercent: pct(1_000),
  /** Where the stop goes: entry plus this gain (percent), to cover fees. */
  offsetPercent: z.number().min(0).max(1_000).default(0),
});
export type BreakEvenConfig = z.infer<typeof BreakEvenConfig>;

export const LadderRung = z.strictObject({ percent: pct(1_000) });

export const TpSlConfig = z
  .strictObject({
    takeProfit: TakeProfitConfig.optional(),
    stopLoss: StopLossConfig.optional(),
    breakEven: BreakEvenConfig.optional(),
    /** Gains (percent) at which to close the 1st, 2nd, ... trade: no partial reduce in v3. */
    ladder: z.array(LadderRung).min(1).max(20).optional(),
  })
  .superRefine((c, ctx) => {
    if (!c.takeProfit && !c.stopLoss && !c.breakEven && !c.ladder) {
      ctx.addIssue({ code: "custom", path: [], message: "configure at least one of takeProfit, stopLoss, breakEven, ladder" });
    }
    if (c.breakEven && typeof c.breakEven.offsetPercent === "number" && !(c.breakEven.offsetPercent < c.breakEven.triggerPercent)) {
      ctx.addIssue({ code: "custom", path: ["breakEven", "offsetPercent"], message: "offsetPercent must be below triggerPercent" });
    }
    if (c.breakEven && c.stopLoss?.trailing && c.stopLoss.trailingMode === "exchange") {
      // The exchange trails the stop itself at the distance we send; moving the stop to
      // break-even would replace that trailing stop with a fixed one.
      ctx.addIssue({ code: "custom", path: ["breakEven"], message: "breakEven needs a fixed or managed trailing stopLoss" });
    }
    const sl = c.stopLoss;
    if (sl?.trailing && sl.trailingMode === "exchange" && typeof sl.percent === "number" && sl.percent < TRAILING_MIN_FRACTION * 100) {
      ctx.addIssue({ code: "custom", path: ["stopLoss", "percent"], message: `an exchange trailing stop needs a distance of at least ${TRAILING_MIN_FRACTION * 100} %` });
    }
    c.ladder?.forEach((r, i) => {
      const prev = c.ladder?.[i - 1];
      if (prev && !(r.percent > prev.percent)) {
        ctx.addIssue({ code: "custom", path: ["ladder", i, "percent"], message: "ladder percents must increase" });
      }
    });
  });
export type TpSlConfig = z.infer<typeof TpSlConfig>;
export type TpSlConfigInput = z.input<typeof TpSlConfig>;

export const TpSlTradeState = z.object({
  /** Best price seen since we first saw the trade (high for a long, low for a short). */
  best: z.number().positive(),
  breakEven: z.boolean(),
});
export const TpSlState = z.object({
  trades: z.record(z.string(), TpSlTradeState),
  /** Ladder rungs already used. */
  ladderRung: z.number().int().nonnegative(),
  /** Trades the ladder closed that the exchange still lists (the close is re-sent). */
  ladderClosing: z.array(z.string()),
});
export type TpSlState = z.infer<typeof TpSlState>;

export function initialTpSlState(): TpSlState {
  return { trades: {}, ladderRung: 0, ladderClosing: [] };
}

/**
 * A managed trailing stop moves only when it gains at least this share of its distance:
 * following every 0.5 USD tick would send a PUT per tick.
 */
export const TRAIL_MIN_STEP_FRACTION = 0.1;

export type StopMode = "fixed" | "trailing";

/**
 * LN Markets' trailing stop: `PUT /futures/isolated/trade/stoploss {id, value, mode:
 * "trailing"}` takes `value` as the trailing distance as a fraction of the price, from 0.001 to
 * 10, and trades report it back as `stoplossTrailingDistance` (0 when not trailing). Source:
 * LN Markets' Python SDK (github ln-markets/sdk-python, rest/v3/models/futures_isolated.py,
 * `UpdateStoplossParams`, `FuturesTrade`); ../shared/lnmarkets-v3.md "Trailing stop loss".
 */
export const TRAILING_MIN_FRACTION = 0.001;
export const TRAILING_MAX_FRACTION = 10;
/** Fractions are sent with this many decimals (0.01 % of the price). */
const TRAILING_DECIMALS = 4;

/**
 * The trailing distance (fraction of price) to send for a configured stop: a percent is taken
 * as is (2 % -> 0.02); a price distance is divided by the trade's entry price, from which every
 * TP/SL distance is measured: a stable value, so the stop is not re-sent as the price moves.
 * Clamped to the exchange's range.
 */
export function trailingFraction(d: { percent?: number | undefined; priceDistance?: number | undefined }, entryPrice: number): number {
  const raw = d.percent !== undefined ? d.percent / 100 : (d.priceDistance ?? 0) / entryPrice;
  const clamped = Math.min(TRAILING_MAX_FRACTION, Math.max(TRAILING_MIN_FRACTION, raw));
  return Number(clamped.toFixed(TRAILING_DECIMALS));
}

/**
 * Whether the distance a trade reports is the one we want. The exchange may store the fraction
 * at a coarser precision than we send (its minimum, 0.001, hints at three decimals), so half of
 * that step, or 1 % of the distance for large ones, is the same stop.
 */
export function sameTrailingFraction(held: number, wanted: number): boolean {
  if (!(held > 0)) return false;
  return Math.abs(held - wanted) <= Math.max(TRAILING_MIN_FRACTION / 2, wanted * 0.01) + 1e-12;
}

export interface TpSlTarget {
  tradeId: string;
  /** Price the trade should carry; null = not managed (left as the exchange holds it). */
  takeprofit: number | null;
  stoploss: number | null;
  mode: StopMode;
}

export type TpSlChange =
  | { type: "takeprofit"; tradeId: string; value: number }
  /** `value` is a price for a fixed stop and a fraction of price for a trailing one. */
  | { type: "stoploss"; tradeId: string; value: number; mode: StopMode }
  | { type: "close"; tradeId: string; reason: "takeprofit_reached" | "stoploss_reached" | "ladder" };

export interface TpSlInput {
  config: TpSlConfig;
  trades: readonly RunningTrade[];
  price: number;
  state: TpSlState;
}

/** Move `by` in the trade's favour (up for a long, down for a short). */
const favour = (side: Side, from: number, by: number) => (side === "buy" ? from + by : from - by);
/** True when `a` is a tighter (more protective) stop than `b`. */
const tighter = (side: Side, a: number, b: number) => (side === "buy" ? a > b : a < b);
const onTick = (p: number) => Math.max(PRICE_TICK, roundToTick(p));
const differs = (a: number, b: number) => Math.abs(a - b) >= PRICE_TICK / 2;

function distanceOf(d: { percent?: number | undefined; priceDistance?: number | undefined }, entry: number): number {
  return d.percent !== undefined ? (entry * d.percent) / 100 : (d.priceDistance ?? 0);
}

function gainPercent(t: RunningTrade, price: number): number {
  return ((t.side === "buy" ? price - t.entryPrice : t.entryPrice - price) / t.entryPrice) * 100;
}

/**
 * Desired TP/SL per trade and the changes to reach them. A target the price has already
 * passed (a long's stop at or above the price) becomes a close, since the exchange refuses
 * such a level. Ladder: trades are taken in the given order (pass them oldest first); rung k
 * closes the next trade once its gain reaches rung k's percent.
 * @throws RangeError on a price that is not positive and finite.
 */
export function evaluateTpSl(input: TpSlInput): { targets: TpSlTarget[]; changes: TpSlChange[]; nextState: TpSlState } {
  const { config, trades, price } = input;
  if (!(Number.isFinite(price) && price > 0)) throw new RangeError("price must be positive and finite");
  const running = new Set(trades.map((t) => t.id));
  const closing = new Set(input.state.ladderClosing.filter((id) => running.has(id)));
  let rung = input.state.ladderRung;
  const changes: TpSlChange[] = [];
  const targets: TpSlTarget[] = [];
  const nextTrades: TpSlState["trades"] = {};

  if (config.ladder) {
    // Strictly in order: a later trade never jumps the queue, whatever its own gain.
    for (const t of trades) {
      if (closing.has(t.id)) continue;
      const r = config.ladder[rung];
      if (!r || gainPercent(t, price) < r.percent) break;
      closing.add(t.id);
      rung += 1;
    }
  }

  for (const t of trades) {
    const prev = input.state.trades[t.id];
    const best = prev ? (tighter(t.side, price, prev.best) ? price : prev.best) : (tighter(t.side, price, t.entryPrice) ? price : t.entryPrice);
    const breakEven = (prev?.breakEven ?? false) || (config.breakEven !== undefined && gainPercent(t, price) >= config.breakEven.triggerPercent);
    nextTrades[t.id] = { best, breakEven };

    if (closing.has(t.id)) {
      changes.push({ type: "close", tradeId: t.id, reason: "ladder" });
      targets.push({ tradeId: t.id, takeprofit: null, stoploss: null, mode: "fixed" });
      continue;
    }
    const { target, changes: own } = tradeTarget(config, t, price, best, breakEven);
    targets.push(target);
    changes.push(...own);
  }
  return { targets, changes, nextState: { trades: nextTrades, ladderRung: rung, ladderClosing: [...closing] } };
}

function tradeTarget(
  config: TpSlConfig,
  t: RunningTrade,
  price: number,
  best: number,
  breakEven: boolean,
): { target: TpSlTarget; changes: TpSlChange[] } {
  const long = t.side === "buy";
  const heldTp = t.takeprofit ?? 0;
  const heldSl = t.stoploss ?? 0;
  const out: TpSlChange[] = [];
  let takeprofit: number | null = null;
  let stoploss: number | null = null;
  let mode: StopMode = "fixed";

  if (config.takeProfit) {
    takeprofit = onTick(favour(t.side, t.entryPrice, distanceOf(config.takeProfit, t.entryPrice)));
    if (long ? price >= takeprofit : price <= takeprofit) {
      return { target: { tradeId: t.id, takeprofit, stoploss: null, mode }, changes: [{ type: "close", tradeId: t.id, reason: "takeprofit_reached" }] };
    }
    if (heldTp === 0 || differs(heldTp, takeprofit)) out.push({ type: "takeprofit", tradeId: t.id, value: takeprofit });
  }

  const sl = config.stopLoss;
  const beLevel = config.breakEven && breakEven ? onTick(favour(t.side, t.entryPrice, (t.entryPrice * config.breakEven.offsetPercent) / 100)) : null;
  if (sl?.trailing && sl.trailingMode === "exchange") {
    const fraction = trailingFraction(sl, t.entryPrice);
    mode = "trailing";
    // Compared as fractions, both sides: the exchange reports the distance it trails by.
    const armed = heldSl > 0 && sameTrailingFraction(t.stoplossTrailingDistance ?? 0, fraction);
    // Once armed the exchange moves the stop itself: report its level, send nothing. Before,
    // the target is where the exchange will put it (the fraction below the last price).
    stoploss = armed ? heldSl : onTick(favour(t.side, price, -price * fraction));
    if (!armed) out.push({ type: "stoploss", tradeId: t.id, value: fraction, mode });
  } else if (sl || beLevel !== null) {
    let level: number | null = null;
    let minMove = PRICE_TICK / 2;
    if (sl) {
      const dist = distanceOf(sl, t.entryPrice);
      level = onTick(favour(t.side, sl.trailing ? best : t.entryPrice, -dist));
      if (sl.trailing) minMove = Math.max(minMove, dist * TRAIL_MIN_STEP_FRACTION);
    }
    if (beLevel !== null && (level === null || tighter(t.side, beLevel, level))) level = beLevel;
    stoploss = level!;
    if (long ? price <= stoploss : price >= stoploss) {
      return { target: { tradeId: t.id, takeprofit, stoploss, mode }, changes: [{ type: "close", tradeId: t.id, reason: "stoploss_reached" }] };
    }
    // A managed trail only moves forward, and in steps; a fixed stop is restored exactly.
    const trailing = sl?.trailing === true;
    const step = stoploss === beLevel ? PRICE_TICK / 2 : minMove;
    const send =
      heldSl === 0 ||
      (trailing ? tighter(t.side, stoploss, heldSl) && Math.abs(stoploss - heldSl) >= step : differs(heldSl, stoploss));
    if (send) out.push({ type: "stoploss", tradeId: t.id, value: stoploss, mode });
    else if (trailing) stoploss = heldSl;
  }
  return { target: { tradeId: t.id, takeprofit, stoploss, mode }, changes: out };
}
