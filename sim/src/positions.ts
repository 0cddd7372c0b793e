/**
 * Isolated-margin positions of the simulator: the record it stores, the `FuturesTrade` view
 * the REST API returns, and settlement. Pure (no cloudflare:* imports).
 *
 * Fees: one tier, 0.1 % of the notional in sats (quantity * 1e8 / price), floored, charged at
 * the entry price when opening (`openingFee`) and at the exit price when closing
 * (`closingFee`). `maintenanceMargin` is the closing-fee reserve: an estimate of the closing fee
 * at the entry price, debited with the margin at opening and given back at settlement, where
 * the real closing fee is charged instead.
 *
 * Prices: no spread; bid = ask = lastPrice. Liquidation prices are rounded to the 0.5 tick
 * towards the entry (a long up, a short down), so the exchange liquidates a tick early rather
 * than late.
 */
import {
  liquidationPrice,
  pnl,
  PRICE_TICK,
  roundToTick,
  SATS_PER_BTC,
  type Side,
} from "../../src/domain/inverse";

export const FEE_RATE = 0.001;

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
  maintenanceMargin: number;
  sumCashInMargin: number;
  sumCashInPl: number;
  takeprofit: number;
  stoploss: number;
  stoplossTrailingDistance: number;
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

/** Trading fee in sats for `quantity` USD at `price`. */
export function feeFor(quantity: number, price: number): number {
  return Math.floor(((quantity * SATS_PER_BTC) / price) * FEE_RATE);
}

/** The entry of a running trade, or the limit price of an open one. */
export function basePrice(t: TradeRecord): number {
  return t.entryPrice ?? t.price;
}

/** Liquidation price on the tick (long rounded up, short down); 0 if a short cannot be liquidated. */
export function liquidationOf(t: Pick<TradeRecord, "side" | "quantity" | "margin" | "entryPrice" | "price">): number {
  const raw = liquidationPrice(t.side, t.quantity, t.entryPrice ?? t.price, t.margin);
  if (!Number.isFinite(raw)) return 0;
  return t.side === "buy"
    ? Math.ceil(raw / PRICE_TICK - 1e-9) * PRICE_TICK
    : Math.floor(raw / PRICE_TICK + 1e-9) * PRICE_TICK;
}

/** Unrealised PnL in whole sats at `price` (0 for a trade that is not running). */
export function unrealisedPl(t: TradeRecord, price: number): number {
  if (t.status !== "running" || t.entryPrice === null) return 0;
  return Math.round(pnl(t.side, t.quantity, t.entryPrice, price));
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The REST view of a trade; `price` marks a running trade's `pl`. */
export function toFuturesTrade(t: TradeRecord, price: number): FuturesTrade {
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
    pl: t.status === "running" ? unrealisedPl(t, price) : t.pl,
    price: t.price,
    quantity: t.quantity,
    running: t.status === "running",
    side: t.side,
    stoploss: t.stoploss,
    stoplossTrailingDistance: t.stoplossTrailingDistance,
    sumCashInMargin: t.sumCashInMargin,
    sumCashInPl: t.sumCashInPl,
    sumFundingFees: 0,
    takeprofit: t.takeprofit,
    type: t.type,
    uid: t.uid,
    clientId: t.clientId,
  };
}

/**
 * Close a running trade at `price` for `reason`. Returns the settled record and the sats
 * credited back to the balance. A liquidation loses the whole margin; the closing fee then
 * comes out of the reserve only.
 */
export function settle(
  t: TradeRecord,
  price: number,
  reason: CloseReason,
  now: number,
): { trade: TradeRecord; credit: number } {
  const liquidated = reason === "liquidation";
  const exitPrice = liquidated ? liquidationOf(t) || price : price;
  const fee = feeFor(t.quantity, exitPrice);
  const closingFee = liquidated ? Math.min(fee, t.maintenanceMargin) : fee;
  const pl = liquidated ? -t.margin : unrealisedPl(t, exitPrice);
  const credit = Math.max(0, t.margin + pl + t.maintenanceMargin - closingFee);
  return {
    trade: { ...t, status: "closed", exitPrice, closingFee, pl, closedAt: now, closeReason: reason },
    credit,
  };
}

/** What a price does to a running trade: liquidation first, then stop loss, then take profit. */
export function triggerAt(t: TradeRecord, price: number): Exclude<CloseReason, "closed"> | null {
  const long = t.side === "buy";
  const liq = liquidationOf(t);
  if (liq > 0 && (long ? price <= liq : price >= liq)) return "liquidation";
  if (t.stoploss > 0 && (long ? price <= t.stoploss : price >= t.stoploss)) return "stoploss";
  if (t.takeprofit > 0 && (long ? price >= t.takeprofit : price <= t.takeprofit)) return "takeprofit";
  return null;
}

/** A trailing stop's new level at `price`, or null when it does not move (it only tightens). */
export function trailedStop(t: TradeRecord, price: number): number | null {
  if (!(t.stoplossTrailingDistance > 0) || t.stoploss <= 0) return null;
  const long = t.side === "buy";
  const candidate = roundToTick(long ? price - t.stoplossTrailingDistance : price + t.stoplossTrailingDistance);
  if (long ? candidate > t.stoploss : candidate < t.stoploss) return candidate;
  return null;
}

/** Whether a limit order fills at `price` (a buy at or under its price, a sell at or over). */
export function limitFills(t: TradeRecord, price: number): boolean {
  return t.side === "buy" ? price <= t.price : price >= t.price;
}
