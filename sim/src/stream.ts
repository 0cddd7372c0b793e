/**
 * Stream v1: JSON-RPC 2.0 over hibernatable server WebSockets (the DO sleeps while sockets
 * idle, so thousands of clients cost little). Per-socket state (account, topics) lives in the
 * socket attachment so it survives hibernation; the in-memory map is only a cache of it.
 * Method names, params and result shapes follow @ln-markets/sdk src/stream/v1.
 */
import type { PriceState, TradeEvent } from "./exchange";
import { MAX_QUANTITY, MIN_QUANTITY } from "./maths";
import { liquidationOf, type TradeRecord } from "./positions";

export const TOPIC = {
  lastPrice: "futures/inverse/btc_usd/lastPrice",
  index: "futures/inverse/btc_usd/index",
  ticker: "futures/inverse/btc_usd/ticker",
  buckets: "futures/inverse/btc_usd/buckets",
  funding: "futures/inverse/btc_usd/funding",
  trades: "futures/inverse/btc_usd/isolated/trades",
} as const;

const PRIVATE_TOPICS = new Set<string>([
  TOPIC.trades,
  "futures/inverse/btc_usd/cross/orders",
  "futures/inverse/btc_usd/cross/position",
  "wallet/deposit",
  "wallet/withdrawal",
]);
const PUBLIC_TOPICS = new Set<string>([
  TOPIC.lastPrice,
  TOPIC.index,
  TOPIC.ticker,
  "futures/inverse/btc_usd/buckets",
  "futures/inverse/btc_usd/funding",
  "announcements",
]);
const OHLC = /^futures\/inverse\/btc_usd\/ohlc\/(1m|3m|5m|10m|15m|30m|45m|1h|2h|3h|4h|1d|1w|1month|3months)$/;

/** JSON-RPC error codes: the standard ones plus the simulator's server errors. */
export const RPC_ERROR = {
  parse: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  notAuthenticated: -32001,
  authenticationFailed: -32002,
  rateLimited: -32029,
} as const;

/** Messages per socket per second; a socket that sends 3x that in one second is closed (1008). */
export const STREAM_RATE_LIMIT = 10;

export const PERMISSIONS = ["account:read", "futures:read", "futures:write"];

interface SocketState {
  accountId: string | null;
  apiKey: string | null;
  topics: string[];
}

type AuthResult = { ok: true; accountId: string; apiKey: string } | { ok: false; message: string };

/** The funding the public topics report: the current rate and the next settlement (ms). */
export interface FundingView {
  rate: number;
  time: number;
}

export interface StreamDeps {
  authenticate(params: Record<string, unknown>): Promise<AuthResult>;
  price(): PriceState;
  funding(): FundingView;
  silenced(): boolean;
}

type Id = string | number | null;
class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export class StreamHub {
  #cache = new Map<WebSocket, SocketState>();
  #rate = new Map<WebSocket, { start: number; count: number }>();

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly deps: StreamDeps,
  ) {}

  /** Accept an upgrade request: 101 with the client end of a hibernatable socket. */
  accept(): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, ["stream"]);
    this.#save(server, { accountId: null, apiKey: null, topics: [] });
    return new Response(null, { status: 101, webSocket: client });
  }

  count(): number {
    return this.ctx.getWebSockets("stream").length;
  }

  #state(ws: WebSocket): SocketState {
    let s = this.#cache.get(ws);
    if (!s) {
      s = (ws.deserializeAttachment() as SocketState | null) ?? { accountId: null, apiKey: null, topics: [] };
      this.#cache.set(ws, s);
    }
    return s;
  }

  #save(ws: WebSocket, s: SocketState): void {
    this.#cache.set(ws, s);
    ws.serializeAttachment(s);
  }

  forget(ws: WebSocket): void {
    this.#cache.delete(ws);
    this.#rate.delete(ws);
  }

  async onMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (this.deps.silenced()) return;
    const now = Date.now();
    const w = this.#rate.get(ws);
    if (!w || now - w.start >= 1000) this.#rate.set(ws, { start: now, count: 1 });
    else w.count += 1;
    const count = this.#rate.get(ws)!.count;

    let frame: unknown;
    try {
      frame = JSON.parse(typeof message === "string" ? message : new TextDecoder().decode(message));
    } catch {
      return this.#reply(ws, null, undefined, new RpcError(RPC_ERROR.parse, "Parse error"));
    }
    const f = frame as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };
    const id: Id = typeof f?.id === "string" || typeof f?.id === "number" ? f.id : null;
    if (count > STREAM_RATE_LIMIT * 3) {
      ws.close(1008, "rate limit exceeded");
      this.forget(ws);
      return;
    }
    if (count > STREAM_RATE_LIMIT) {
      return this.#reply(ws, id, undefined, new RpcError(RPC_ERROR.rateLimited, `Rate limit exceeded: ${STREAM_RATE_LIMIT} messages per second`));
    }
    if (typeof f !== "object" || f === null || f.jsonrpc !== "2.0" || typeof f.method !== "string") {
      return this.#reply(ws, id, undefined, new RpcError(RPC_ERROR.invalidRequest, "Invalid request"));
    }
    try {
      const result = await this.#dispatch(ws, f.method, (f.params ?? {}) as Record<string, unknown>);
      if (f.id !== undefined) this.#reply(ws, id, result);
      if (f.method === "subscribe") this.#snapshot(ws, (result as { subscribed: string[] }).subscribed);
    } catch (e) {
      const err = e instanceof RpcError ? e : new RpcError(-32603, "Internal error");
      if (f.id !== undefined) this.#reply(ws, id, undefined, err);
    }
  }

  async #dispatch(ws: WebSocket, method: string, params: Record<string, unknown>): Promise<unknown> {
    const s = this.#state(ws);
    switch (method) {
      case "hello":
        return { version: "1.0.0" };
      case "ping":
        return "pong";
      case "time":
        return { time: Date.now() };
      case "authenticate": {
        const r = await this.deps.authenticate(params);
        if (!r.ok) throw new RpcError(RPC_ERROR.authenticationFailed, r.message);
        this.#save(ws, { ...s, accountId: r.accountId, apiKey: r.apiKey });
        return { authenticated: true, permissions: PERMISSIONS };
      }
      case "whoami":
        if (!s.accountId) throw new RpcError(RPC_ERROR.notAuthenticated, "Not authenticated");
        return { apiKey: s.apiKey, userId: s.accountId, permissions: PERMISSIONS };
      case "subscribe": {
        const topics = this.#topics(params);
        const denied = topics.filter((t) => PRIVATE_TOPICS.has(t));
        if (denied.length > 0 && !s.accountId) {
          throw new RpcError(RPC_ERROR.notAuthenticated, `Authentication required for ${denied.join(", ")}`);
        }
        this.#save(ws, { ...s, topics: [...new Set([...s.topics, ...topics])] });
        return { subscribed: topics };
      }
      case "unsubscribe": {
        const topics = this.#topics(params);
        this.#save(ws, { ...s, topics: s.topics.filter((t) => !topics.includes(t)) });
        return { unsubscribed: topics };
      }
      case "unsubscribeAll":
        this.#save(ws, { ...s, topics: [] });
        return { unsubscribed: s.topics };
      default:
        throw new RpcError(RPC_ERROR.methodNotFound, `Method not found: ${method}`);
    }
  }

  #topics(params: Record<string, unknown>): string[] {
    const topics = params.topics;
    if (!Array.isArray(topics) || topics.length === 0 || !topics.every((t) => typeof t === "string")) {
      throw new RpcError(RPC_ERROR.invalidParams, "params.topics must be a non-empty array of strings");
    }
    const unknown = topics.filter((t) => !PUBLIC_TOPICS.has(t) && !PRIVATE_TOPICS.has(t) && !OHLC.test(t));
    if (unknown.length > 0) throw new RpcError(RPC_ERROR.invalidParams, `Unknown topic: ${unknown.join(", ")}`);
    return topics as string[];
  }

  #reply(ws: WebSocket, id: Id, result?: unknown, error?: RpcError): void {
    const frame = error
      ? { jsonrpc: "2.0", id, error: { code: error.code, message: error.message } }
      : { jsonrpc: "2.0", id, result };
    safeSend(ws, JSON.stringify(frame));
  }

  /** The current price right after a subscribe, so a client has a value before the next tick. */
  #snapshot(ws: WebSocket, topics: string[]): void {
    const frames = priceFrames(this.deps.price(), this.deps.funding());
    frames.set(TOPIC.funding, fundingFrame(this.deps.funding()));
    for (const t of topics) {
      const frame = frames.get(t);
      if (frame) safeSend(ws, frame);
    }
  }

  /** Push lastPrice, index, ticker and buckets (bid/offer) to their subscribers. */
  publishPrice(p: PriceState): void {
    this.#publish(priceFrames(p, this.deps.funding()));
  }

  /** Push the funding topic (after a settlement or a change of rate or schedule). */
  publishFunding(): void {
    const f = this.deps.funding();
    this.#publish(new Map([[TOPIC.funding, fundingFrame(f)], [TOPIC.ticker, tickerFrame(this.deps.price(), f)]]));
  }

  #publish(frames: Map<string, string>): void {
    if (this.deps.silenced()) return;
    for (const ws of this.ctx.getWebSockets("stream")) {
      for (const t of this.#state(ws).topics) {
        const frame = frames.get(t);
        if (frame) safeSend(ws, frame);
      }
    }
  }

  /** Push private trade events, each only to sockets authenticated as the trade's account. */
  publishTrades(events: TradeEvent[]): void {
    if (events.length === 0 || this.deps.silenced()) return;
    const sockets = this.ctx.getWebSockets("stream").filter((ws) => {
      const s = this.#state(ws);
      return s.accountId !== null && s.topics.includes(TOPIC.trades);
    });
    if (sockets.length === 0) return;
    for (const e of events) {
      const frame = push(TOPIC.trades, { pair: "btc_usd", event: e.event, trade: eventTrade(e) });
      for (const ws of sockets) if (this.#state(ws).accountId === e.accountId) safeSend(ws, frame);
    }
  }

  /** Close the sockets authenticated with `apiKey` (a revoked key); returns how many. */
  dropKey(apiKey: string, code = 1008, reason = "api key revoked"): number {
    let n = 0;
    for (const ws of this.ctx.getWebSockets("stream")) {
      if (this.#state(ws).apiKey !== apiKey) continue;
      try {
        ws.close(code, reason);
      } catch {
        // already closing
      }
      this.forget(ws);
      n++;
    }
    return n;
  }

  /** Close every socket: the dropSocketsEveryMs fault and reset. */
  dropAll(code = 1012, reason = "simulated drop"): number {
    const sockets = this.ctx.getWebSockets("stream");
    for (const ws of sockets) {
      try {
        ws.close(code, reason);
      } catch {
        // already closing
      }
      this.forget(ws);
    }
    return sockets.length;
  }
}

function push(topic: string, data: unknown): string {
  return JSON.stringify({ jsonrpc: "2.0", method: "subscription", params: { topic, data } });
}

/** One bucket for all sizes: the simulator's spread does not depend on size. */
function buckets(p: PriceState) {
  return [{ minSize: MIN_QUANTITY, maxSize: MAX_QUANTITY, askPrice: p.offer, bidPrice: p.bid }];
}

/**
 * The ticker push: the SDK's FuturesTickerData (`time, lastPrice, index, funding {rate, time}`)
 * plus the REST ticker's `prices` (bid/offer, field names of the SDK's GetTickerOutput and
 * FuturesBucketData), so a stream client sees the spread without a REST call.
 */
function tickerFrame(p: PriceState, f: FundingView): string {
  return push(TOPIC.ticker, {
    time: p.time,
    lastPrice: p.lastPrice,
    index: p.index,
    funding: { rate: f.rate, time: f.time },
    prices: buckets(p),
  });
}

function fundingFrame(f: FundingView): string {
  return push(TOPIC.funding, { pair: "btc_usd", current: { rate: f.rate, time: f.time } });
}

function priceFrames(p: PriceState, f: FundingView): Map<string, string> {
  return new Map([
    [TOPIC.lastPrice, push(TOPIC.lastPrice, { time: p.time, lastPrice: p.lastPrice })],
    [TOPIC.index, push(TOPIC.index, { time: p.time, index: p.index })],
    [TOPIC.ticker, tickerFrame(p, f)],
    [TOPIC.buckets, push(TOPIC.buckets, { time: p.time, buckets: buckets(p) })],
  ]);
}

/** The `trade` object of each event, exactly the SDK's IsolatedTrade* payload for it. */
function eventTrade({ event, trade: t, fundingFee, fundedAt }: TradeEvent): Record<string, unknown> {
  const closedAt = t.closedAt ?? Date.now();
  switch (event) {
    case "open":
    case "filled":
      return {
        id: t.id,
        side: t.side,
        type: t.type,
        quantity: t.quantity,
        margin: t.margin,
        leverage: t.leverage,
        price: priceOf(t),
        openingFee: t.openingFee,
        createdAt: t.createdAt,
        clientId: t.clientId,
      };
    case "canceled":
      return { id: t.id, closedAt, clientId: t.clientId };
    case "funding":
      // IsolatedTradeFunding; fundingFee signed as sumFundingFees (positive paid by the trader).
      return {
        id: t.id,
        margin: t.margin,
        liquidationPrice: liquidationOf(t),
        fundingFee: fundingFee ?? 0,
        fundedAt: fundedAt ?? Date.now(),
        clientId: t.clientId,
      };
    case "liquidation":
      return { id: t.id, closedAt, closingFee: t.closingFee, exitPrice: t.exitPrice, clientId: t.clientId };
    case "closed":
    case "stoploss":
    case "takeprofit":
      return { id: t.id, closedAt, closingFee: t.closingFee, pl: t.pl, exitPrice: t.exitPrice, clientId: t.clientId };
  }
}

function priceOf(t: TradeRecord): number {
  return t.entryPrice ?? t.price;
}

function safeSend(ws: WebSocket, frame: string): void {
  try {
    ws.send(frame);
  } catch {
    // The socket closed between listing and sending; its close handler cleans up.
  }
}
