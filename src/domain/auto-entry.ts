/**
 * Auto Entry (issue 7): open a position when a price condition holds, once per crossing.
 * After an entry the automation must see the condition stop holding before it can enter
 * again (re-arm), on top of the cooldown, the daily cap and the open-trades cap.
 */
import { z } from "zod";
import { MAX_LEVERAGE, MAX_QUANTITY, MIN_LEVERAGE, MIN_QUANTITY, PRICE_TICK, roundToTick } from "./inverse";
import { utcDay } from "./margin-guard";
import { TakeProfitConfig } from "./tp-sl";
import { Side } from "./trade";

const price = z.number().positive().max(10_000_000);
const windowMs = z.number().int().min(1_000).max(7 * 86_400_000);

export const EntryCondition = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("price_below"), level: price }),
  z.strictObject({ type: z.literal("price_above"), level: price }),
  z.strictObject({ type: z.literal("drop_from_high"), percent: z.number().gt(0).lt(100), windowMs }),
  z.strictObject({ type: z.literal("rise_from_low"), percent: z.number().gt(0).max(1_000), windowMs }),
]);
export type EntryCondition = z.infer<typeof EntryCondition>;

export const AutoEntryConfig = z
  .strictObject({
    condition: EntryCondition,
    side: Side,
    /** USD; give this or `margin`. */
    quantity: z.number().int().min(MIN_QUANTITY).max(MAX_QUANTITY).optional(),
    /** Sats; give this or `quantity`. */
    margin: z.number().int().positive().optional(),
    leverage: z.number().min(MIN_LEVERAGE).max(MAX_LEVERAGE),
    /**
     * Initial TP/SL, measured from the last price the entry was decided at: the fill (at the
     * offer for a buy, the bid for a sell) is only known from the trade the exchange reports,
     * from which a TP/SL automation then measures.
     */
    takeprofit: TakeProfitConfig.optional(),
    stoploss: TakeProfitConfig.optional(),
    maxOpenTrades: z.number().int().min(1).max(50).default(1),
    cooldownMs: z.number().int().nonnegative().max(7 * 86_400_000).default(300_000),
    maxPerDay: z.number().int().min(1).max(100).default(5),
  })
  .superRefine((c, ctx) => {
    if ((c.quantity === undefined) === (c.margin === undefined)) {
      ctx.addIssue({ code: "custom", path: ["quantity"], message: "give exactly one of quantity or margin" });
    }
    if (c.stoploss?.percent !== undefined && c.stoploss.percent >= 100) {
      ctx.addIssue({ code: "custom", path: ["stoploss", "percent"], message: "stoploss percent must be below 100" });
    }
  });
export type AutoEntryConfig = z.infer<typeof AutoEntryConfig>;
export type AutoEntryConfigInput = z.input<typeof AutoEntryConfig>;

/** The high/low window is kept in this many buckets: bounded state whatever the tick rate. */
export const WINDOW_BUCKETS = 60;

export const PriceBucket = z.object({ start: z.number(), high: z.number(), low: z.number() });
export type PriceBucket = z.infer<typeof PriceBucket>;

export const AutoEntryState = z.object({
  armed: z.boolean(),
  lastOpenAt: z.number().nullable(),
  day: z.string(),
  openedToday: z.number().int().nonnegative(),
  window: z.array(PriceBucket),
});
export type AutoEntryState = z.infer<typeof AutoEntryState>;

/** Armed from the start: enabling it while the condition already holds enters at once. */
export function initialAutoEntryState(): AutoEntryState {
  return { armed: true, lastOpenAt: null, day: "", openedToday: 0, window: [] };
}

/** Body of LN Markets `POST /futures/isolated/trade` (the executor adds `clientId`). */
export interface EntryOrder {
  type: "market";
  side: Side;
  leverage: number;
  quantity?: number;
  margin?: number;
  takeprofit?: number;
  stoploss?: number;
}

export type EntryReason =
  | "opened"
  | "condition_not_met"
  | "waiting_rearm"
  | "paused"
  | "cooldown"
  | "daily_cap"
  | "max_open_trades";

export interface AutoEntryInput {
  config: AutoEntryConfig;
  price: number;
  now: number;
  /** Running trades that count against `maxOpenTrades`. */
  openTrades: readonly unknown[];
  state: AutoEntryState;
  /** The user's `pauseEntries` kill switch: evaluate, never open. */
  paused?: boolean;
}

export interface AutoEntryResult {
  open?: EntryOrder;
  reason: EntryReason;
  /** What led to the decision, for the automation log. */
  inputs: { price: number; conditionMet: boolean; high?: number; low?: number; movePercent?: number };
  nextState: AutoEntryState;
}

function updateWindow(window: readonly PriceBucket[], price: number, now: number, span: number): PriceBucket[] {
  const size = Math.max(1, Math.floor(span / WINDOW_BUCKETS));
  const start = Math.floor(now / size) * size;
  const kept = window.filter((b) => b.start > now - span && b.start !== start);
  const cur = window.find((b) => b.start === start);
  const bucket = cur ? { start, high: Math.max(cur.high, price), low: Math.min(cur.low, price) } : { start, high: price, low: price };
  return [...kept, bucket].sort((a, b) => a.start - b.start);
}

function checkCondition(c: EntryCondition, price: number, window: readonly PriceBucket[]): AutoEntryResult["inputs"] {
  switch (c.type) {
    case "price_below":
      return { price, conditionMet: price <= c.level };
    case "price_above":
      return { price, conditionMet: price >= c.level };
    case "drop_from_high": {
      const high = Math.max(price, ...window.map((b) => b.high));
      const movePercent = ((high - price) / high) * 100;
      return { price, conditionMet: movePercent >= c.percent, high, movePercent };
    }
    case "rise_from_low": {
      const low = Math.min(price, ...window.map((b) => b.low));
      const movePercent = ((price - low) / low) * 100;
      return { price, conditionMet: movePercent >= c.percent, low, movePercent };
    }
  }
}

function target(side: Side, price: number, d: TakeProfitConfig, towardsProfit: boolean): number {
  const dist = d.percent !== undefined ? (price * d.percent) / 100 : (d.priceDistance ?? 0);
  const up = (side === "buy") === towardsProfit;
  return Math.max(PRICE_TICK, roundToTick(up ? price + dist : price - dist));
}

/**
 * Decide whether to open a position at `price`. Blocked entries (cooldown, caps, pause) keep
 * the automation armed, so the crossing's one entry happens once the block lifts if the
 * condition still holds.
 * @throws RangeError on a price that is not positive and finite.
 */
export function evaluateAutoEntry(input: AutoEntryInput): AutoEntryResult {
  const { config, price, now, state } = input;
  if (!(Number.isFinite(price) && price > 0)) throw new RangeError("price must be positive and finite");
  const c = config.condition;
  const window = c.type === "drop_from_high" || c.type === "rise_from_low" ? updateWindow(state.window, price, now, c.windowMs) : [];
  const inputs = checkCondition(c, price, window);
  const day = utcDay(now);
  const base: AutoEntryState = { ...state, window, day, openedToday: state.day === day ? state.openedToday : 0 };

  if (!inputs.conditionMet) return { reason: "condition_not_met", inputs, nextState: { ...base, armed: true } };
  if (!state.armed) return { reason: "waiting_rearm", inputs, nextState: base };
  const blocked: EntryReason | null = input.paused
    ? "paused"
    : state.lastOpenAt !== null && now - state.lastOpenAt < config.cooldownMs
      ? "cooldown"
      : base.openedToday >= config.maxPerDay
        ? "daily_cap"
        : input.openTrades.length >= config.maxOpenTrades
          ? "max_open_trades"
          : null;
  if (blocked) return { reason: blocked, inputs, nextState: base };

  const open: EntryOrder = { type: "market", side: config.side, leverage: config.leverage };
  if (config.quantity !== undefined) open.quantity = config.quantity;
  if (config.margin !== undefined) open.margin = config.margin;
  if (config.takeprofit) open.takeprofit = target(config.side, price, config.takeprofit, true);
  if (config.stoploss) open.stoploss = target(config.side, price, config.stoploss, false);
  return {
    open,
    reason: "opened",
    inputs,
    nextState: { ...base, armed: false, lastOpenAt: now, openedToday: base.openedToday + 1 },
  };
}
