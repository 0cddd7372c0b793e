/**
 * The exchange's rules for an order's fields (leverage, quantity, tick, take profit and stop
 * loss sides), the record of a new order, and the checked changes of a stop loss and a cash-in.
 */
import { refuse } from "./errors";
import type { NewTradeInput } from "./exchange-types";
import {
  cashInSplit,
  impliedLeverage,
  isOnTick,
  liquidatedAt,
  MAX_LEVERAGE,
  MAX_QUANTITY,
  MAX_TRAILING_DISTANCE,
  MIN_LEVERAGE,
  MIN_QUANTITY,
  MIN_TRAILING_DISTANCE,
  PRICE_TICK,
  quantityForMargin,
  reportedLiquidation,
  tradeMargin,
  trailingStopLevel,
} from "./maths";
import { liquidationOf, type TradeRecord } from "./positions";

export function checkLeverage(v: number, field: string): void {
  if (!(v >= MIN_LEVERAGE && v <= MAX_LEVERAGE)) {
    throw refuse("LEVERAGE_OUT_OF_RANGE", `${field} must be between ${MIN_LEVERAGE} and ${MAX_LEVERAGE}`, field);
  }
}

export function checkQuantity(v: number, field: string): void {
  if (!(v >= MIN_QUANTITY && v <= MAX_QUANTITY)) {
    throw refuse("QUANTITY_OUT_OF_RANGE", `${field} must be between ${MIN_QUANTITY} and ${MAX_QUANTITY}`, field);
  }
}

export function checkTick(v: number, field: string): void {
  if (!(v > 0) || !isOnTick(v)) throw refuse("PRICE_OFF_TICK", `${field} must be a positive multiple of ${PRICE_TICK}`, field);
}

/** A long's take profit above the reference price, a short's below. */
export function checkTakeprofit(t: { side: "buy" | "sell" }, value: number, ref: number): void {
  const long = t.side === "buy";
  if (long ? value <= ref : value >= ref) {
    throw refuse("TAKEPROFIT_WRONG_SIDE", `takeprofit must be ${long ? "above" : "below"} ${ref}`, "takeprofit");
  }
}

/**
 * The FAQ's rule: a long's stop loss above its liquidation price and below the bid; a short's
 * above the offer and below its liquidation price. An unfilled limit order compares with its
 * own price instead of the bid/offer.
 */
export function checkStoploss(
  t: { side: "buy" | "sell"; status: string; price: number; liquidation: number },
  value: number,
  quote: { bid: number; offer: number },
  field = "stoploss",
): void {
  const long = t.side === "buy";
  const open = t.status === "open";
  const ref = open ? t.price : long ? quote.bid : quote.offer;
  const refName = open ? "the order price" : long ? "the bid" : "the offer";
  if (long ? value <= t.liquidation : t.liquidation > 0 && value >= t.liquidation) {
    throw refuse(
      "STOPLOSS_BEYOND_LIQUIDATION",
      `stoploss must be ${long ? "above" : "below"} the liquidation price ${t.liquidation}`,
      field,
    );
  }
  if (long ? value >= ref : value <= ref) {
    throw refuse("STOPLOSS_WRONG_SIDE", `stoploss must be ${long ? "below" : "above"} ${refName} ${ref}`, field);
  }
}

/**
 * An order's size at `price` (the fill price of a market order, a limit order's own price):
 * the quantity from the margin when only the margin is given, and its liquidation price.
 */
export function sizeOrder(input: NewTradeInput, price: number): { quantity: number; margin: number; liquidation: number } {
  const quantity = input.quantity ?? quantityForMargin(input.margin!, price, input.leverage);
  if (quantity < MIN_QUANTITY || quantity > MAX_QUANTITY) {
    throw refuse(
      "MARGIN_OUT_OF_RANGE",
      `margin ${input.margin} at leverage ${input.leverage} buys ${quantity} USD: quantity must be between ${MIN_QUANTITY} and ${MAX_QUANTITY}`,
      "margin",
    );
  }
  const margin = input.margin ?? tradeMargin(quantity, price, input.leverage);
  if (margin < 1) throw refuse("MARGIN_OUT_OF_RANGE", "margin must be at least 1 sat", "margin");
  return { quantity, margin, liquidation: reportedLiquidation(input.side, quantity, price, margin) };
}

/** A new order as stored before it fills (status open; a market order fills at once after). */
export function newTradeRecord(
  uid: string,
  input: NewTradeInput,
  size: { price: number; quantity: number; margin: number; reserve: number },
  now: number,
): TradeRecord {
  const { price, quantity, margin, reserve } = size;
  return {
    id: crypto.randomUUID(),
    uid,
    clientId: input.clientId ?? null,
    side: input.side,
    type: input.type,
    status: "open",
    price,
    entryPrice: null,
    exitPrice: null,
    quantity,
    margin,
    entryMargin: margin,
    leverage: input.leverage,
    openingFee: 0,
    closingFee: 0,
    maintenanceMargin: reserve,
    sumCashInMargin: 0,
    sumCashInPl: 0,
    sumFundingFees: 0,
    takeprofit: input.takeprofit ?? 0,
    stoploss: input.stoploss ?? 0,
    stoplossTrailingDistance: 0,
    trailBest: null,
    pl: 0,
    createdAt: now,
    filledAt: null,
    closedAt: null,
    closeReason: null,
  };
}

/**
 * `mode: "fixed"`: `value` is a price on the tick. `mode: "trailing"`: `value` is a distance as
 * a fraction of price (0.001 to 10) and the level starts that far from the best price (the
 * last price for a running trade, the order price for an open one).
 */
export function withStoploss(
  t: TradeRecord,
  value: number,
  mode: "fixed" | "trailing",
  quote: { bid: number; offer: number; lastPrice: number },
): TradeRecord {
  const view = { ...t, liquidation: liquidationOf(t) };
  if (mode === "trailing") {
    if (!(value >= MIN_TRAILING_DISTANCE && value <= MAX_TRAILING_DISTANCE)) {
      throw refuse(
        "TRAILING_DISTANCE_OUT_OF_RANGE",
        `value must be between ${MIN_TRAILING_DISTANCE} and ${MAX_TRAILING_DISTANCE} for a trailing stop (a fraction of price)`,
        "value",
      );
    }
    const best = t.status === "running" ? quote.lastPrice : t.price;
    const level = trailingStopLevel(t.side, best, value);
    checkStoploss(view, level, quote, "value");
    return { ...t, stoploss: level, stoplossTrailingDistance: value, trailBest: best };
  }
  checkTick(value, "value");
  checkStoploss(view, value, quote, "value");
  return { ...t, stoploss: value, stoplossTrailingDistance: 0, trailBest: null };
}

/**
 * A running trade after taking `amount` sats out at the last price `last`: from its unrealised
 * profit first (moving `entryPrice`), then from its margin; refused when the margin would fall
 * under 1 sat, the leverage exceed the maximum, or the trade be liquidated by it.
 */
export function cashedIn(t: TradeRecord, last: number, amount: number): TradeRecord {
  const split = cashInSplit(t.side, t.quantity, t.entryPrice!, last, amount);
  const margin = t.margin - split.fromMargin;
  if (margin < 1) throw refuse("CASH_IN_TOO_LARGE", "amount exceeds the available profit and margin", "amount");
  const leverage = impliedLeverage(t.quantity, margin, split.entryPrice);
  if (leverage > MAX_LEVERAGE) throw refuse("LEVERAGE_OUT_OF_RANGE", `amount: leverage would exceed ${MAX_LEVERAGE}`, "amount");
  const next: TradeRecord = {
    ...t,
    entryPrice: split.entryPrice,
    margin,
    leverage,
    sumCashInPl: t.sumCashInPl + split.fromPl,
    sumCashInMargin: t.sumCashInMargin + split.fromMargin,
  };
  if (liquidatedAt(t.side, liquidationOf(next), last)) {
    throw refuse("CASH_IN_WOULD_LIQUIDATE", "amount: cash-in would liquidate the trade", "amount");
  }
  return next;
}
