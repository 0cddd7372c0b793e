/**
 * zod schemas for every LN Markets response the platform reads (REST v3, stream v1).
 *
 * Field names and types mirror `@ln-markets/sdk` 2.0.x; sdk-types-check.ts proves at compile
 * time that the inferred types and the SDK's exported ones are assignable both ways. Objects
 * strip unknown keys (the exchange may add fields without breaking us).
 */
import { z } from "zod";

// --- REST v3 -------------------------------------------------------------------------------

export const FuturesTradeSide = z.enum(["buy", "sell"]);
export type FuturesTradeSide = z.infer<typeof FuturesTradeSide>;

export const FuturesTradeType = z.enum(["market", "limit"]);
export type FuturesTradeType = z.infer<typeof FuturesTradeType>;

export const FuturesStoplossMode = z.enum(["fixed", "trailing"]);
export type FuturesStoplossMode = z.infer<typeof FuturesStoplossMode>;

/** An isolated-margin futures trade (open limit order, running position, closed or canceled). */
export const FuturesTrade = z.object({
  id: z.string(),
  uid: z.string(),
  clientId: z.string().nullable(),
  side: FuturesTradeSide,
  type: FuturesTradeType,
  /** Order price (USD per BTC). */
  price: z.number(),
  entryPrice: z.number().nullable(),
  exitPrice: z.number().nullable(),
  /** USD. */
  quantity: z.number(),
  /** sats. */
  margin: z.number(),
  entryMargin: z.number(),
  leverage: z.number(),
  /** Liquidation price (USD per BTC). */
  liquidation: z.number(),
  maintenanceMargin: z.number(),
  pl: z.number(),
  openingFee: z.number(),
  closingFee: z.number(),
  sumFundingFees: z.number(),
  sumCashInMargin: z.number(),
  sumCashInPl: z.number(),
  /** 0 means none. */
  takeprofit: z.number(),
  /** 0 means none. */
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
export type FuturesTrade = z.infer<typeof FuturesTrade>;

export const FuturesTradeList = z.array(FuturesTrade);
export type FuturesTradeList = z.infer<typeof FuturesTradeList>;

/** `GET /futures/isolated/trades/closed`: a cursor page. */
export const ClosedTradesPage = z.object({
  data: z.array(FuturesTrade),
  nextCursor: z.string().nullable(),
});
export type ClosedTradesPage = z.infer<typeof ClosedTradesPage>;

/**
 * `POST /futures/isolated/trades/cancel-all`. The SDK types it as one canceled trade; an
 * exchange answering with the list of canceled trades is accepted too, and the client
 * normalises both to an array.
 */
export const CancelAllResponse = z.union([z.array(FuturesTrade), FuturesTrade]);
export type CancelAllResponse = z.infer<typeof CancelAllResponse>;

export const TickerPrice = z.object({
  askPrice: z.number(),
  bidPrice: z.number(),
  minSize: z.number(),
  maxSize: z.number(),
});
export type TickerPrice = z.infer<typeof TickerPrice>;

/** `GET /futures/ticker`. */
export const Ticker = z.object({
  index: z.number(),
  lastPrice: z.number(),
  fundingRate: z.number(),
  fundingTime: z.string(),
  prices: z.array(TickerPrice),
});
export type Ticker = z.infer<typeof Ticker>;

/** `GET /account`. Balances in sats. */
export const Account = z.object({
  id: z.string(),
  username: z.string(),
  email: z.string().nullable(),
  balance: z.number(),
  syntheticUsdBalance: z.number(),
  feeTier: z.number(),
  linkingPublicKey: z.string().nullable(),
});
export type Account = z.infer<typeof Account>;

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

/** Private `futures/inverse/btc_usd/isolated/trades` events, discriminated by `event`. */
export const IsolatedTradeEvent = z.discriminatedUnion("event", [
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
export type IsolatedTradeEvent = z.infer<typeof IsolatedTradeEvent>;

/** Topics the platform subscribes to, with the schema of their data. */
export const TOPICS = {
  lastPrice: "futures/inverse/btc_usd/lastPrice",
  index: "futures/inverse/btc_usd/index",
  ticker: "futures/inverse/btc_usd/ticker",
  isolatedTrades: "futures/inverse/btc_usd/isolated/trades",
} as const;

/** Data schema per known topic; data of other topics is passed through unvalidated. */
export const TOPIC_DATA: Readonly<Record<string, z.ZodType>> = {
  [TOPICS.lastPrice]: LastPriceData,
  [TOPICS.index]: IndexData,
  [TOPICS.ticker]: TickerData,
  [TOPICS.isolatedTrades]: IsolatedTradeEvent,
};
