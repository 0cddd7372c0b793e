/**
 * zod schemas of LN Markets stream v1 (JSON-RPC 2.0) frames and topic data; read leniently
 * like the REST answers (see schemas.ts).
 */
import { z } from "zod";
import { tolerant } from "./drift.js";
import { FuturesTradeSide, FuturesTradeType, optNumber, optString } from "./schema-common.js";

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
