/**
 * The exchange's value types (price, funding, trade events, inputs) and their defaults.
 */
import { bidOffer, DEFAULT_FUNDING_PERIOD_MS, PRICE_TICK } from "./maths";
import type { CloseReason, TradeRecord } from "./positions";

export const DEFAULT_PRICE = 100_000;
/** The simulator's default bid/offer spread in USD (a chosen default: the real one varies by size). */
export const DEFAULT_SPREAD = 5;

export interface PriceState {
  lastPrice: number;
  index: number;
  time: number;
  /** Bid/offer spread in USD, on the tick; persists until changed. */
  spread: number;
  bid: number;
  offer: number;
}

export interface FundingConfig {
  /** Rate of periodic settlements (and the ticker's `fundingRate`). */
  rate: number;
  periodMs: number;
  /** When the next periodic settlement runs on the alarm; null when periodic funding is off. */
  nextAt: number | null;
}

export interface FundingSettlementView {
  id: string;
  time: string;
  fundingRate: number;
  fixingPrice: number;
}

export type TradeEventName = "open" | "filled" | "canceled" | "funding" | CloseReason;
export interface TradeEvent {
  accountId: string;
  event: TradeEventName;
  trade: TradeRecord;
  /** funding only: the signed fee (positive paid) and when. */
  fundingFee?: number;
  fundedAt?: number;
}

export interface NewTradeInput {
  type: "market" | "limit";
  side: "buy" | "sell";
  leverage: number;
  quantity?: number;
  margin?: number;
  price?: number;
  takeprofit?: number;
  stoploss?: number;
  clientId?: string;
}

export interface NewKeysInput {
  balance: number;
  key?: string;
  secret?: string;
  passphrase?: string;
  username?: string;
}

export function priceState(lastPrice: number, index: number, spread: number, time: number): PriceState {
  const { bid, offer } = bidOffer(lastPrice, spread);
  return { lastPrice, index, time, spread, bid: Math.max(PRICE_TICK, bid), offer };
}

export const defaultFunding = (): FundingConfig => ({ rate: 0, periodMs: DEFAULT_FUNDING_PERIOD_MS, nextAt: null });
