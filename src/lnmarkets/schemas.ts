/**
 * zod schemas for every LN Markets response the platform reads (REST v3, stream v1).
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

// --- REST v3 -------------------------------------------------------------------------------

export const FuturesTradeSide = z.enum(["buy", "sell"]);
export type FuturesTradeSide = z.infer<typeof FuturesTradeSide>;

export const FuturesTradeType = z.enum(["market", "limit"]);
export type FuturesTradeType = z.infer<typeof FuturesTradeType>;

export const FuturesStoplossMode = z.enum(["fixed", "trailing"]);
export type FuturesStoplossMode = z.infer<typeof FuturesStoplossMode>;

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

// Lenient field kinds: a field the platform does not read is optional and, should it come
// with another type, dropped (`catch`) rather than failing the parse.
const optNumber = z.number().optional().catch(undefined);
const optString = z.string().optional().catch(undefined);
const optBoolean = z.boolean().optional().catch(undefined);
const optNullableNumber = z.number().nullable().optional().catch(undefined);
const optNullableString = z.string().nullable().optional().catch(undefined);

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

// --- Stream v1 -----------------------------------------------------------------------------

export const RpcId = z.union([z.string(), z.number()]);

/** A JSON-RPC error answer to one of our requests. */
export const RpcErrorFrame = z.object({
  jsonrpc: z.literal("2.0").optional(),
  id: RpcId,
  error: z.object({ code: z.number(), message: z.string(), data: z.unknown().optional() }),
});

/** A JSON-RPC success answer. `z.unknown()` accepts a missing key: callers check presence. */
export const RpcResultFrame = z.object({
  jsonrpc: z.literal("2.0").optional(),
  id: RpcId,
  result: z.unknown(),
});

/** A JSON-RPC response to one of our requests. */
export const RpcResponseFrame = z.union([RpcErrorFrame, RpcResultFrame]);
export type RpcResponseFrame = z.infer<typeof RpcResponseFrame>;

/** A server push for a subscribed topic. */
export const SubscriptionFrame = z.object({
  jsonrpc: z.literal("2.0").optional(),
  method: z.literal("subscription"),
  params: z.object({ topic: z.string(), data: z.unknown() }),
});
export type SubscriptionFrame = z.infer<typeof SubscriptionFrame>;

export const HelloResult = z.object({ version: z.string() });
export const AuthenticateResult = z.object({
  authenticated: z.boolean(),
  permissions: z.array(z.string()),
});
export type AuthenticateResult = z.infer<typeof AuthenticateResult>;
export const SubscribeResult = z.object({ subscribed: z.array(z.string()) });
export const UnsubscribeResult = z.object({ unsubscribed: z.array(z.string()) });
export const StreamTimeResult = z.object({ time: z.number() });

/** `futures/inverse/btc_usd/lastPrice` data. */
export const LastPriceData = z.object({ time: z.number(), lastPrice: z.number() });
export type LastPriceData = z.infer<typeof LastPriceData>;

/** `futures/inverse/btc_usd/index` data. */
export const IndexData = z.object({ time: z.number(), index: z.number() });
export type IndexData = z.infer<typeof IndexData>;

/** `futures/inverse/btc_usd/ticker` data. */
export const TickerData = z.object({
  time: z.number(),
  lastPrice: z.number().nullable(),
  index: z.number().nullable(),
  funding: z.object({ rate: z.number().nullable(), time: z.number().nullable() }),
});
export type TickerData = z.infer<typeof TickerData>;

/**
 * `futures/inverse/btc_usd/funding` data: pushed after each settlement (and when the rate or
 * schedule changes); `current.time` is the next settlement (ms). Lenient: unknown keys pass.
 */
export const FundingData = z.object({
  current: z.object({ rate: z.number().nullable().optional(), time: z.number().nullable().optional() }).passthrough().optional(),
}).passthrough();
export type FundingData = z.infer<typeof FundingData>;

const Pair = z.literal("btc_usd");

const OpenedTradePayload = z.object({
  id: z.string(),
  side: FuturesTradeSide,
  quantity: z.number(),
  margin: z.number(),
  leverage: z.number(),
  price: z.number(),
  openingFee: z.number(),
  createdAt: z.number(),
  clientId: z.string().nullable(),
});

const ExitPayload = z.object({
  id: z.string(),
  closedAt: z.number(),
  closingFee: z.number(),
  pl: z.number(),
  exitPrice: z.number(),
  clientId: z.string().nullable(),
});

/** Private `futures/inverse/btc_usd/isolated/trades` events as the SDK types them. */
export const IsolatedTradeEventReference = z.discriminatedUnion("event", [
  z.object({
    pair: Pair,
    event: z.literal("open"),
    trade: OpenedTradePayload.extend({ type: z.literal("limit") }),
  }),
  z.object({
    pair: Pair,
    event: z.literal("filled"),
    trade: OpenedTradePayload.extend({ type: FuturesTradeType }),
  }),
  z.object({ pair: Pair, event: z.literal("closed"), trade: ExitPayload }),
  z.object({ pair: Pair, event: z.literal("stoploss"), trade: ExitPayload }),
  z.object({ pair: Pair, event: z.literal("takeprofit"), trade: ExitPayload }),
  z.object({
    pair: Pair,
    event: z.literal("canceled"),
    trade: z.object({ id: z.string(), closedAt: z.number(), clientId: z.string().nullable() }),
  }),
  z.object({
    pair: Pair,
    event: z.literal("liquidation"),
    trade: z.object({
      id: z.string(),
      closedAt: z.number(),
      closingFee: z.number(),
      exitPrice: z.number(),
      clientId: z.string().nullable(),
    }),
  }),
  z.object({
    pair: Pair,
    event: z.literal("funding"),
    trade: z.object({
      id: z.string(),
      margin: z.number(),
      liquidationPrice: z.number(),
      fundingFee: z.number(),
      fundedAt: z.number(),
      clientId: z.string().nullable(),
    }),
  }),
]);

// Lenient event payloads: the trade's id is all the platform needs to act on an event (a
// close drops the trade, a fill marks the positions for a re-read); the rest is optional.
const EventTrade = z.object({ id: z.string(), clientId: z.string().nullable().catch(null) });
const EventOpened = EventTrade.extend({
  side: FuturesTradeSide.optional().catch(undefined), quantity: optNumber, margin: optNumber, leverage: optNumber,
  price: optNumber, openingFee: optNumber, createdAt: optNumber,
});
const EventExit = EventTrade.extend({ closedAt: optNumber, closingFee: optNumber, pl: optNumber, exitPrice: optNumber });
const lenientEvent = <E extends string, T extends z.ZodType>(event: E, trade: T) =>
  z.object({ pair: optString, event: z.literal(event), trade });

/**
 * Private `futures/inverse/btc_usd/isolated/trades` events, discriminated by `event`. Every
 * event carries `{pair, event, trade}`; `funding` (a settlement charged or credited to an
 * isolated trade) gives its new margin and liquidation price.
 */
export const IsolatedTradeEvent = tolerant(
  "IsolatedTradeEvent",
  IsolatedTradeEventReference,
  z.discriminatedUnion("event", [
    lenientEvent("open", EventOpened.extend({ type: FuturesTradeType.optional().catch(undefined) })),
    lenientEvent("filled", EventOpened.extend({ type: FuturesTradeType.optional().catch(undefined) })),
    lenientEvent("closed", EventExit),
    lenientEvent("stoploss", EventExit),
    lenientEvent("takeprofit", EventExit),
    lenientEvent("canceled", EventTrade.extend({ closedAt: optNumber })),
    lenientEvent("liquidation", EventExit),
    lenientEvent("funding", EventTrade.extend({ margin: optNumber, liquidationPrice: optNumber, fundingFee: optNumber, fundedAt: optNumber })),
  ]),
);
export type IsolatedTradeEvent = z.infer<typeof IsolatedTradeEvent>;

/** Topics the platform subscribes to, with the schema of their data. */
export const TOPICS = {
  lastPrice: "futures/inverse/btc_usd/lastPrice",
  index: "futures/inverse/btc_usd/index",
  ticker: "futures/inverse/btc_usd/ticker",
  funding: "futures/inverse/btc_usd/funding",
  isolatedTrades: "futures/inverse/btc_usd/isolated/trades",
} as const;

/** Data schema per known topic; data of other topics is passed through unvalidated. */
export const TOPIC_DATA: Readonly<Record<string, z.ZodType>> = {
  [TOPICS.lastPrice]: LastPriceData,
  [TOPICS.index]: IndexData,
  [TOPICS.ticker]: TickerData,
  [TOPICS.funding]: FundingData,
  [TOPICS.isolatedTrades]: IsolatedTradeEvent,
};
