/**
 * Isolated-margin positions of the simulator: the record it stores, the `FuturesTrade` view
 * the REST API returns, triggers and settlement. Pure (no cloudflare:* imports); all the
 * maths comes from ./maths (see sim/README.md, "Maths and conventions").
 *
 * Fees (../shared/lnmarkets-v3.md, FAQ notes): at opening the balance is debited margin +
 * maintenance margin (the tier-1 opening and closing fee reserves); the opening fee, at the
 * account's tier rate and the fill price, is taken from the maintenance margin when the order
 * fills; at settlement the closing fee (exit price, tier rate at that time) is taken from it
 * and the rest comes back with margin + P&L.
 */
import {
  fundingFee,
  impliedLeverage,
  liquidatedAt,
  paysFunding,
  pnlSats,
  reportedLiquidation,
  tradingFee,
  trailingStopLevel,
  type Side,
} from "./maths";

export type TradeStatus = "open" | "running" | "closed" | "canceled";
export type CloseReason = "closed" | "stoploss" | "takeprofit" | "liquidation";

/** What the simulator stores per trade (times in ms). */
export interface TradeRecord {
  id: string;
  uid: string;
  clientId: string | null;
  side: Side;
  type: "market" | "limit";
  status: TradeStatus;
  /** Order price: the limit price, or the fill price of a market order. */
  price: number;
  entryPrice: number | null;
  exitPrice: number | null;
  quantity: number;
  margin: number;
  entryMargin: number;
  leverage: number;
  openingFee: number;
  closingFee: number;
  /** What is left of the reserve: tier-1 opening + closing fee reserves minus fees taken. */
  maintenanceMargin: number;
  sumCashInMargin: number;
  sumCashInPl: number;
  /** Signed: positive = paid by the trader, negative = received. Absent on older records. */
  sumFundingFees?: number;
  takeprofit: number;
  stoploss: number;
  /** Trailing distance as a fraction of price; 0 when the stop is fixed or absent. */
  stoplossTrailingDistance: number;
  /** A trailing stop's best last price since it was set (highest for a long, lowest for a short). */
  trailBest?: number | null;
  /** Realised PnL, set at settlement. */
  pl: number;
  createdAt: number;
  filledAt: number | null;
  closedAt: number | null;
  closeReason: CloseReason | null;
}

/** `FuturesTrade` of @ln-markets/sdk rest/v3 types.ts. */
export interface FuturesTrade {
  canceled: boolean;
  closed: boolean;
  closedAt: string | null;
  closingFee: number;
  createdAt: string;
  entryMargin: number;
  entryPrice: number | null;
  exitPrice: number | null;
  filledAt: string | null;
  id: string;
  leverage: number;
  liquidation: number;
  maintenanceMargin: number;
  margin: number;
  open: boolean;
  openingFee: number;
  pl: number;
  price: number;
  quantity: number;
  running: boolean;
  side: Side;
  stoploss: number;
  stoplossTrailingDistance: number;
  sumCashInMargin: number;
  sumCashInPl: number;
  sumFundingFees: number;
  takeprofit: number;
  type: "market" | "limit";
  uid: string;
  clientId: string | null;
}

/** The entry of a running trade, or the limit price of an open one. */
export function basePrice(t: TradeRecord): number {
  return t.entryPrice ?? t.price;
}

/** The reported liquidation price (0.5 tick, towards the entry; 0 if a short cannot be liquidated). */
export function liquidationOf(t: Pick<TradeRecord, "side" | "quantity" | "margin" | "entryPrice" | "price">): number {
  if (t.margin <= 0) return t.entryPrice ?? t.price;
  return reportedLiquidation(t.side, t.quantity, t.entryPrice ?? t.price, t.margin);
}

/** Unrealised PnL in whole sats at the last price (0 for a trade that is not running). */
export function unrealisedPl(t: TradeRecord, lastPrice: number): number {
  if (t.status !== "running" || t.entryPrice === null) return 0;
  return pnlSats(t.side, t.quantity, t.entryPrice, lastPrice);
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The REST view of a trade; a running trade's `pl` is marked on the last price. */
export function toFuturesTrade(t: TradeRecord, lastPrice: number): FuturesTrade {
  return {
    canceled: t.status === "canceled",
    closed: t.status === "closed",
    closedAt: iso(t.closedAt),
    closingFee: t.closingFee,
    createdAt: new Date(t.createdAt).toISOString(),
    entryMargin: t.entryMargin,
    entryPrice: t.entryPrice,
    exitPrice: t.exitPrice,
    filledAt: iso(t.filledAt),
    id: t.id,
    leverage: t.leverage,
    liquidation: liquidationOf(t),
    maintenanceMargin: t.maintenanceMargin,
    margin: t.margin,
    open: t.status === "open",
    openingFee: t.openingFee,
    pl: t.status === "running" ? unrealisedPl(t, lastPrice) : t.pl,
    price: t.price,
    quantity: t.quantity,
    running: t.status === "running",
    side: t.side,
    stoploss: t.stoploss,
    stoplossTrailingDistance: t.stoplossTrailingDistance,
    sumCashInMargin: t.sumCashInMargin,
    sumCashInPl: t.sumCashInPl,
    sumFundingFees: t.sumFundingFees ?? 0,
    takeprofit: t.takeprofit,
    type: t.type,
    uid: t.uid,
    clientId: t.clientId,
  };
}

/**
 * Close a running trade at `exitPrice` for `reason`, with the closing fee at `feeRate`.
 * Returns the settled record and the sats credited back to the balance.
 * - closed / stoploss / takeprofit: credit = margin + pl + maintenanceMargin - closingFee (>= 0);
 * - liquidation: exit at the reported liquidation price, pl = -margin, the closing fee is
 *   taken from what is left of the maintenance margin (capped by it) and the rest returned.
 */
export function settle(
  t: TradeRecord,
  exitPrice: number,
  reason: CloseReason,
  feeRate: number,
  now: number,
): { trade: TradeRecord; credit: number } {
  const liquidated = reason === "liquidation";
  const exit = liquidated ? liquidationOf(t) || exitPrice : exitPrice;
  const fee = tradingFee(t.quantity, exit, feeRate);
  let pl: number;
  let closingFee: number;
  let credit: number;
  if (liquidated) {
    pl = -t.margin;
    closingFee = Math.min(fee, Math.max(0, t.maintenanceMargin));
    credit = Math.max(0, t.maintenanceMargin - closingFee);
  } else {
    pl = pnlSats(t.side, t.quantity, t.entryPrice!, exit);
    closingFee = fee;
    credit = Math.max(0, t.margin + pl + t.maintenanceMargin - closingFee);
  }
  return {
    trade: {
      ...t,
      status: "closed",
      exitPrice: exit,
      closingFee,
      pl,
      maintenanceMargin: Math.max(0, t.maintenanceMargin - closingFee),
      closedAt: now,
      closeReason: reason,
    },
    credit,
  };
}

/**
 * What the last price does to a running trade: liquidation first, then stop loss, then take
 * profit (all on the last price: docs, Futures, "Price reference").
 */
export function triggerAt(t: TradeRecord, lastPrice: number): Exclude<CloseReason, "closed"> | null {
  const long = t.side === "buy";
  if (liquidatedAt(t.side, liquidationOf(t), lastPrice)) return "liquidation";
  if (t.stoploss > 0 && (long ? lastPrice <= t.stoploss : lastPrice >= t.stoploss)) return "stoploss";
  if (t.takeprofit > 0 && (long ? lastPrice >= t.takeprofit : lastPrice <= t.takeprofit)) return "takeprofit";
  return null;
}

/**
 * A trailing stop after the last price `lastPrice`: the new best price and stop level, or null
 * when nothing changes. The level only tightens.
 */
export function trail(t: TradeRecord, lastPrice: number): { trailBest: number; stoploss: number } | null {
  const d = t.stoplossTrailingDistance;
  if (!(d > 0) || t.stoploss <= 0) return null;
  const long = t.side === "buy";
  const prev = t.trailBest ?? lastPrice;
  const best = long ? Math.max(prev, lastPrice) : Math.min(prev, lastPrice);
  const level = trailingStopLevel(t.side, best, d);
  const tighter = long ? level > t.stoploss : level < t.stoploss;
  if (best === prev && !tighter) return null;
  return { trailBest: best, stoploss: tighter ? level : t.stoploss };
}

/**
 * Whether a limit order fills: a buy when the offer is at or under its price, a sell when the
 * bid is at or over it. It fills at its limit price.
 */
export function limitFills(t: TradeRecord, bid: number, offer: number): boolean {
  return t.side === "buy" ? offer <= t.price : bid >= t.price;
}

/**
 * One settlement at `rate` fixed at `fixingPrice` for a running trade: the fee is
 * fundingFee(quantity, fixing, rate); with a positive rate longs pay and shorts receive
 * (negative: the reverse). The payer's margin falls (capped at the margin it has), the
 * receiver's rises; `sumFundingFees` adds the signed fee (positive paid). Null when the fee
 * is 0.
 */
export function fundTrade(t: TradeRecord, fixingPrice: number, rate: number): { next: TradeRecord; signed: number } | null {
  const fee = fundingFee(t.quantity, fixingPrice, rate);
  if (fee === 0) return null;
  const pays = paysFunding(t.side, rate);
  const signed = pays ? Math.min(fee, Math.max(0, t.margin)) : -fee;
  const margin = t.margin - signed;
  const next: TradeRecord = {
    ...t,
    margin,
    leverage: margin > 0 ? impliedLeverage(t.quantity, margin, t.entryPrice!) : t.leverage,
    sumFundingFees: (t.sumFundingFees ?? 0) + signed,
  };
  return { next, signed };
}
