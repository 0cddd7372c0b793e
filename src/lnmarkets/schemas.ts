/**
 * zod schemas for every LN Markets response the platform reads: REST v3 here, stream v1 in
 * stream-schemas.ts (re-exported), the shared enums and field kinds in schema-common.ts.
 *
 * Field names and types mirror `@ln-markets/sdk` 2.0.x. Exchange answers are read leniently
 * (issue 18, "Tolerant reads"): only what the platform uses is required, unknown keys are
 * stripped, and a field missing or of another type than the SDK says is a drift, logged and
 * counted (drift.ts) but never a failed parse that would stop monitoring. sdk-types-check.ts
 * proves at compile time that the reference shapes equal the SDK's types and that every SDK
 * value is assignable to what we parse.
 */
import { z } from "zod";
import { tolerant } from "./drift.js";
import {
  FuturesTradeSide,
  FuturesTradeType,
  optBoolean,
  optNullableNumber,
  optNullableString,
  optNumber,
  optString,
} from "./schema-common.js";

export { FuturesStoplossMode, FuturesTradeSide, FuturesTradeType } from "./schema-common.js";
// The stream v1 schemas live beside these; importers of this module see both.
export * from "./stream-schemas.js";

// --- REST v3 -------------------------------------------------------------------------------

/**
 * Reference shapes: the SDK's types field for field (sdk-types-check.ts proves both ways).
 * They never reject an answer: they only tell a drift (drift.ts) when the exchange's answer
 * differs from what the SDK says.
 */
export const FuturesTradeReference = z.object({
  id: z.string(),
  uid: z.string(),
  clientId: z.string().nullable(),
  side: FuturesTradeSide,
  type: FuturesTradeType,
  price: z.number(),
  entryPrice: z.number().nullable(),
  exitPrice: z.number().nullable(),
  quantity: z.number(),
  margin: z.number(),
  entryMargin: z.number(),
  leverage: z.number(),
  liquidation: z.number(),
  maintenanceMargin: z.number(),
  pl: z.number(),
  openingFee: z.number(),
  closingFee: z.number(),
  sumFundingFees: z.number(),
  sumCashInMargin: z.number(),
  sumCashInPl: z.number(),
  takeprofit: z.number(),
  stoploss: z.number(),
  stoplossTrailingDistance: z.number(),
  open: z.boolean(),
  running: z.boolean(),
  closed: z.boolean(),
  canceled: z.boolean(),
  createdAt: z.string(),
  filledAt: z.string().nullable(),
  closedAt: z.string().nullable(),
});

export const TickerPriceReference = z.object({
  askPrice: z.number(),
  bidPrice: z.number(),
  minSize: z.number(),
  maxSize: z.number(),
});

export const TickerReference = z.object({
  index: z.number(),
  lastPrice: z.number(),
  fundingRate: z.number(),
  fundingTime: z.string(),
  prices: z.array(TickerPriceReference),
});

export const AccountReference = z.object({
  id: z.string(),
  username: z.string(),
  email: z.string().nullable(),
  balance: z.number(),
  syntheticUsdBalance: z.number(),
  feeTier: z.number(),
  linkingPublicKey: z.string().nullable(),
});


/**
 * An isolated-margin futures trade (open limit order, running position, closed or canceled),
 * as the platform reads it. Required: what identifies and sizes it (id, side, order price,
 * quantity, margin, running). What the automations read has a safe default (takeprofit,
 * stoploss and trailing distance 0 = none; liquidation 0 = unknown, computed from margin;
 * clientId null). `entryPrice` is the fill price the exchange reports (null until filled):
 * read it with `entryPriceOf` (src/domain/trade.ts).
 */
export const FuturesTrade = tolerant(
  "FuturesTrade",
  FuturesTradeReference,
  z.object({
    id: z.string(),
    side: FuturesTradeSide,
    /** Order price (USD per BTC). */
    price: z.number(),
    /** USD. */
    quantity: z.number(),
    /** sats. */
    margin: z.number(),
    running: z.boolean(),
    entryPrice: optNullableNumber,
    /** Liquidation price (USD per BTC); 0 = not reported. */
    liquidation: z.number().catch(0),
    clientId: z.string().nullable().catch(null),
    leverage: optNumber,
    /** 0 means none. */
    takeprofit: z.number().catch(0),
    /** 0 means none. */
    stoploss: z.number().catch(0),
    /** Fraction of price the exchange trails the stop by; 0 when not trailing. */
    stoplossTrailingDistance: z.number().catch(0),
    /** Funding paid so far (sats, positive = paid); undefined when not reported. */
    sumFundingFees: optNumber,
    uid: optString,
    type: FuturesTradeType.optional().catch(undefined),
    exitPrice: optNullableNumber,
    entryMargin: optNumber,
    maintenanceMargin: optNumber,
    pl: optNumber,
    openingFee: optNumber,
    closingFee: optNumber,
    sumCashInMargin: optNumber,
    sumCashInPl: optNumber,
    open: optBoolean,
    closed: optBoolean,
    canceled: optBoolean,
    createdAt: optString,
    filledAt: optNullableString,
    closedAt: optNullableString,
  }),
);
export type FuturesTrade = z.infer<typeof FuturesTrade>;

export const FuturesTradeList = z.array(FuturesTrade);
export type FuturesTradeList = z.infer<typeof FuturesTradeList>;

/** A cursor page (`{data, nextCursor}`) as every paged v3 route answers. */
function page<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), nextCursor: z.string().nullable().catch(null) });
}

/** `GET /futures/isolated/trades/closed`: a cursor page. */
export const ClosedTradesPage = page(FuturesTrade);
export type ClosedTradesPage = z.infer<typeof ClosedTradesPage>;

/**
 * `POST /futures/isolated/trades/cancel-all`. The SDK types it as one canceled trade; an
 * exchange answering with the list of canceled trades is accepted too, and the client
 * normalises both to an array.
 */
export const CancelAllResponse = z.union([z.array(FuturesTrade), FuturesTrade]);
export type CancelAllResponse = z.infer<typeof CancelAllResponse>;

export const TickerPrice = z.object({
  askPrice: optNumber,
  bidPrice: optNumber,
  minSize: optNumber,
  maxSize: optNumber,
});
export type TickerPrice = z.infer<typeof TickerPrice>;

/**
 * `GET /futures/ticker`. Only the last price is required: it is the price LN Markets triggers
 * P&L, liquidation, take profit and stop loss on (docs, Futures, "Price reference"). Bid and
 * offer (`prices[0]`) are what market orders fill at; see {@link bidOffer}.
 */
export const Ticker = tolerant(
  "Ticker",
  TickerReference,
  z.object({
    lastPrice: z.number(),
    index: optNumber,
    fundingRate: optNumber,
    fundingTime: optString,
    prices: z.array(TickerPrice).catch([]),
  }),
);
export type Ticker = z.infer<typeof Ticker>;

/** Best bid and offer of a ticker (its first bucket), null where not quoted. */
export function bidOffer(t: Pick<Ticker, "prices">): { bid: number | null; offer: number | null } {
  const p = t.prices[0];
  return { bid: p?.bidPrice ?? null, offer: p?.askPrice ?? null };
}

/** `GET /account`. Balances in sats; only the balance is required. */
export const Account = tolerant(
  "Account",
  AccountReference,
  z.object({
    balance: z.number(),
    id: optString,
    username: optString,
    email: optNullableString,
    syntheticUsdBalance: optNumber,
    feeTier: optNumber,
    linkingPublicKey: optNullableString,
  }),
);
export type Account = z.infer<typeof Account>;

/** One isolated funding fee (`GET /futures/isolated/funding-fees`). */
export const FundingFee = z.object({
  /** sats; positive = paid by the trader. */
  fee: z.number(),
  settlementId: optString,
  time: optString,
  tradeId: optNullableString,
});
export type FundingFee = z.infer<typeof FundingFee>;
export const FundingFeesPage = page(FundingFee);
export type FundingFeesPage = z.infer<typeof FundingFeesPage>;

/** One funding settlement (`GET /futures/funding-settlements`). */
export const FundingSettlement = z.object({
  id: optString,
  time: z.string(),
  fundingRate: z.number(),
  fixingPrice: optNumber,
});
export type FundingSettlement = z.infer<typeof FundingSettlement>;
export const FundingSettlementsPage = page(FundingSettlement);
export type FundingSettlementsPage = z.infer<typeof FundingSettlementsPage>;

/** One OHLC candle (`GET /futures/candles`). */
export const Candle = z.object({
  time: z.string(),
  open: z.number(),
  high: z.number(),
  low: z.number(),
  close: z.number(),
  volume: optNumber,
});
export type Candle = z.infer<typeof Candle>;
export const CandlesPage = page(Candle);
export type CandlesPage = z.infer<typeof CandlesPage>;

/** `GET /time`. */
export const ServerTime = z.object({ time: z.string() });
export type ServerTime = z.infer<typeof ServerTime>;

/** `GET /ping`. */
export const Pong = z.literal("pong");
export type Pong = z.infer<typeof Pong>;

/** Error bodies: LN Markets answers JSON with a message (and sometimes a code). */
export const ErrorBody = z.object({
  message: z.string().optional(),
  code: z.union([z.string(), z.number()]).optional(),
  error: z.union([z.string(), z.object({ message: z.string().optional() })]).optional(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;
