/**
 * LN Markets REST v3 client for Workers: the routes the automations need, signed with
 * WebCrypto, every response validated with zod, every failure an {@link LnMarketsError}.
 *
 * Request bodies list their keys in the same order as the official SDK, so for the same
 * inputs and timestamp our requests are byte-identical to its requests (and so are the
 * signatures); test/lnmarkets/sdk-parity.test.ts checks it.
 */
import { registerSecret } from "../lib/logger.js";
import { LnMarketsError } from "./errors.js";
import { type CallInfo, type CallOptions, executeRequest, type HttpContext, type HttpRequestSpec, type RateLimitRetryPolicy, type ReadRetryPolicy } from "./rest-http.js";
import type { RateLimiter } from "./rate-limiter.js";
import {
  Account,
  CancelAllResponse,
  CandlesPage,
  ClosedTradesPage,
  FundingFeesPage,
  FundingSettlementsPage,
  FuturesTrade,
  FuturesTradeList,
  Pong,
  ServerTime,
  type FuturesStoplossMode,
  Ticker,
} from "./schemas.js";
import { HmacSigner } from "./signing.js";
import type { LnMarketsEndpoints } from "./transport.js";
import type { z } from "zod";

export type { CallInfo, CallOptions, RateLimitRetryPolicy, ReadRetryPolicy } from "./rest-http.js";

/** An LN Markets API key trio. */
export interface LnMarketsCredentials {
  key: string;
  secret: string;
  passphrase: string;
}

export interface RestClientOptions {
  /** From {@link resolveEndpoints}: base URL and transport of the account's network. */
  endpoints: Pick<LnMarketsEndpoints, "restBase" | "fetch">;
  /** Required for every route except ticker, ping and time. */
  credentials?: LnMarketsCredentials;
  /** Per-attempt timeout; default 10 000 ms. */
  timeoutMs?: number;
  /** Awaited before every attempt: the account's token bucket. */
  rateLimiter?: RateLimiter;
  /** Wait out one 429 when its retry-after is at most `maxWaitMs`; default: never wait. */
  rateLimitRetry?: RateLimitRetryPolicy;
  /** Retry reads (GET) after a 5xx, network error or 429; default: never (see ReadRetryPolicy). */
  readRetry?: ReadRetryPolicy;
  /** Receives the measurement of every attempt (latency for trade logs, metrics). */
  onCall?: (info: CallInfo) => void;
  /** Clock for latency measurement; default Date.now. */
  now?: () => number;
}

/** Market or limit order, margin XOR quantity (as the SDK's `FuturesOrder`). */
export type NewTradeInput = {
  side: "buy" | "sell";
  leverage: number;
  takeprofit?: number;
  stoploss?: number;
  /** 1 to 64 chars; the executor's idempotency key (automation, run, action). */
  clientId?: string;
} & ({ margin: number; quantity?: undefined } | { quantity: number; margin?: undefined }) &
  ({ type: "market"; price?: undefined } | { type: "limit"; price: number });

export interface TradeAmountInput {
  id: string;
  amount: number;
}
export interface TradeValueInput {
  id: string;
  value: number;
}
export interface StoplossInput extends TradeValueInput {
  mode?: FuturesStoplossMode;
}
export interface TradeIdInput {
  id: string;
}
export interface ClosedTradesInput {
  /** ISO date-time bounds and page size as the SDK's `PaginationInput`. */
  from?: string;
  to?: string;
  limit?: number;
  cursor?: string;
}

/** `GET /futures/isolated/funding-fees`: SDK `FuturesIsolatedGetFundingFeesInput`. */
export interface FundingFeesInput extends ClosedTradesInput {
  tradeId?: string;
}
/** `GET /futures/funding-settlements`: SDK `GetFundingSettlementsInput`. */
export type FundingSettlementsInput = ClosedTradesInput;
/** Candle resolutions (SDK `CandlesResolution`). */
export type CandlesRange =
  | "1m" | "3m" | "5m" | "10m" | "15m" | "30m" | "45m" | "1h" | "2h" | "3h" | "4h" | "1d" | "1w" | "1month" | "3months";
/** `GET /futures/candles`: SDK `GetCandlesInput` (`from` required, ISO). */
export interface CandlesInput {
  from: string;
  to?: string;
  range?: CandlesRange;
  limit?: number;
  cursor?: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * The platform's only REST client for LN Markets. One per account (per DO); cheap to create.
 */
export class LnMarketsRestClient {
  readonly #ctx: HttpContext;

  constructor(opts: RestClientOptions) {
    const creds = opts.credentials;
    // Anything that later echoes these values into a log line gets them redacted.
    registerSecret(creds?.secret);
    registerSecret(creds?.passphrase);
    this.#ctx = {
      restBase: opts.endpoints.restBase.replace(/\/+$/, ""),
      fetch: opts.endpoints.fetch,
      ...(creds ? { auth: { key: creds.key, passphrase: creds.passphrase, signer: new HmacSigner(creds.secret) } } : {}),
      redact: creds ? [creds.secret, creds.passphrase] : [],
      timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      ...(opts.rateLimiter ? { rateLimiter: opts.rateLimiter } : {}),
      ...(opts.rateLimitRetry ? { rateLimitRetry: opts.rateLimitRetry } : {}),
      ...(opts.readRetry ? { readRetry: opts.readRetry } : {}),
      ...(opts.onCall ? { onCall: opts.onCall } : {}),
      now: opts.now ?? Date.now,
    };
  }

  /** Never let credentials reach a log through JSON.stringify(client). */
  toJSON(): Record<string, unknown> {
    return { restBase: this.#ctx.restBase, authenticated: this.#ctx.auth !== undefined };
  }

  // --- public market data ------------------------------------------------------------------

  /** `GET /ping` -> "pong". */
  ping(opts?: CallOptions): Promise<"pong"> {
    return this.#call({ method: "GET", path: "/ping", schema: Pong, public: true }, opts);
  }

  /** `GET /time` -> `{time}` (ISO string). */
  time(opts?: CallOptions): Promise<ServerTime> {
    return this.#call({ method: "GET", path: "/time", schema: ServerTime, public: true }, opts);
  }

  /** `GET /futures/ticker`: index, last price, funding, bid/ask buckets. */
  ticker(opts?: CallOptions): Promise<Ticker> {
    return this.#call({ method: "GET", path: "/futures/ticker", schema: Ticker, public: true }, opts);
  }

  /** `GET /futures/funding-settlements?cursor&from&limit&to`: one cursor page of settlements. */
  getFundingSettlements(input: FundingSettlementsInput = {}, opts?: CallOptions): Promise<FundingSettlementsPage> {
    const query = { cursor: input.cursor, from: input.from, limit: input.limit, to: input.to };
    return this.#call({ method: "GET", path: "/futures/funding-settlements", query, schema: FundingSettlementsPage, public: true }, opts);
  }

  /** `GET /futures/candles?cursor&from&limit&range&to`: one cursor page of OHLC candles. */
  getCandles(input: CandlesInput, opts?: CallOptions): Promise<CandlesPage> {
    const query = { cursor: input.cursor, from: input.from, limit: input.limit, range: input.range, to: input.to };
    return this.#call({ method: "GET", path: "/futures/candles", query, schema: CandlesPage, public: true }, opts);
  }

  // --- account and trades ------------------------------------------------------------------

  /** `GET /account`: balance (sats) and profile. Also the cheapest credential check. */
  account(opts?: CallOptions): Promise<Account> {
    return this.#call({ method: "GET", path: "/account", schema: Account }, opts);
  }

  /** `GET /futures/isolated/trades/running`. */
  runningTrades(opts?: CallOptions): Promise<FuturesTrade[]> {
    return this.#call({ method: "GET", path: "/futures/isolated/trades/running", schema: FuturesTradeList }, opts);
  }

  /** `GET /futures/isolated/trades/open`: unfilled limit orders. */
  openTrades(opts?: CallOptions): Promise<FuturesTrade[]> {
    return this.#call({ method: "GET", path: "/futures/isolated/trades/open", schema: FuturesTradeList }, opts);
  }

  /** `GET /futures/isolated/trades/closed?from&to&limit&cursor`: one cursor page. */
  closedTrades(input: ClosedTradesInput = {}, opts?: CallOptions): Promise<ClosedTradesPage> {
    // Same key order as the SDK's searchParams so the query string (and signature) match.
    const query = { cursor: input.cursor, from: input.from, limit: input.limit, to: input.to };
    return this.#call(
      { method: "GET", path: "/futures/isolated/trades/closed", query, schema: ClosedTradesPage },
      opts,
    );
  }

  /**
   * `GET /futures/isolated/trades/canceled`: canceled limit orders. Not in the TypeScript SDK
   * 2.0.x; listed in ../shared/lnmarkets-v3.md (LN Markets' API reference).
   */
  getCanceledTrades(opts?: CallOptions): Promise<FuturesTrade[]> {
    return this.#call({ method: "GET", path: "/futures/isolated/trades/canceled", schema: FuturesTradeList }, opts);
  }

  /**
   * `GET /futures/isolated/funding-fees?cursor&from&limit&to&tradeId`: the funding each
   * isolated trade paid (positive) or received, one cursor page.
   */
  getFundingFees(input: FundingFeesInput = {}, opts?: CallOptions): Promise<FundingFeesPage> {
    const query = { cursor: input.cursor, from: input.from, limit: input.limit, to: input.to, tradeId: input.tradeId };
    return this.#call({ method: "GET", path: "/futures/isolated/funding-fees", query, schema: FundingFeesPage }, opts);
  }

  /**
   * `POST /futures/isolated/trade`: market or limit order. Checked locally first (margin XOR
   * quantity, price only on limit orders, bounds): a malformed intent never reaches the
   * exchange and fails `permanent` / `invalid_request`.
   */
  async newTrade(input: NewTradeInput, opts?: CallOptions): Promise<FuturesTrade> {
    validateNewTrade(input);
    const body = {
      leverage: input.leverage,
      margin: input.margin,
      price: input.price,
      quantity: input.quantity,
      side: input.side,
      stoploss: input.stoploss,
      takeprofit: input.takeprofit,
      type: input.type,
      clientId: input.clientId,
    };
    return await this.#call({ method: "POST", path: "/futures/isolated/trade", body, schema: FuturesTrade }, opts);
  }

  /** `POST /futures/isolated/trade/add-margin {amount, id}` (sats). */
  addMargin(input: TradeAmountInput, opts?: CallOptions): Promise<FuturesTrade> {
    const body = { amount: input.amount, id: input.id };
    return this.#call({ method: "POST", path: "/futures/isolated/trade/add-margin", body, schema: FuturesTrade }, opts);
  }

  /** `POST /futures/isolated/trade/cash-in {amount, id}`: removes margin; no partial reduce. */
  cashIn(input: TradeAmountInput, opts?: CallOptions): Promise<FuturesTrade> {
    const body = { amount: input.amount, id: input.id };
    return this.#call({ method: "POST", path: "/futures/isolated/trade/cash-in", body, schema: FuturesTrade }, opts);
  }

  /** `PUT /futures/isolated/trade/takeprofit {id, value}`. */
  setTakeprofit(input: TradeValueInput, opts?: CallOptions): Promise<FuturesTrade> {
    const body = { id: input.id, value: input.value };
    return this.#call({ method: "PUT", path: "/futures/isolated/trade/takeprofit", body, schema: FuturesTrade }, opts);
  }

  /** `DELETE /futures/isolated/trade/takeprofit?id=`. */
  removeTakeprofit(input: TradeIdInput, opts?: CallOptions): Promise<FuturesTrade> {
    return this.#call(
      { method: "DELETE", path: "/futures/isolated/trade/takeprofit", query: { id: input.id }, schema: FuturesTrade },
      opts,
    );
  }

  /**
   * `PUT /futures/isolated/trade/stoploss {id, value, mode?}`. `value` is a price for
   * `mode: "fixed"` (the default) and the trailing distance as a fraction of price, 0.001 to
   * 10, for `mode: "trailing"` (LN Markets' Python SDK, `UpdateStoplossParams`;
   * ../shared/lnmarkets-v3.md). A trailing value out of that range fails locally, `permanent`.
   */
  setStoploss(input: StoplossInput, opts?: CallOptions): Promise<FuturesTrade> {
    if (input.mode === "trailing" && !(Number.isFinite(input.value) && input.value >= 0.001 && input.value <= 10)) {
      return Promise.reject(
        new LnMarketsError({
          kind: "permanent",
          code: "invalid_request",
          message: `LN Markets PUT /futures/isolated/trade/stoploss: a trailing distance is a fraction of price from 0.001 to 10, got ${input.value}`,
          method: "PUT",
          path: "/futures/isolated/trade/stoploss",
        }),
      );
    }
    const body = { id: input.id, value: input.value, mode: input.mode };
    return this.#call({ method: "PUT", path: "/futures/isolated/trade/stoploss", body, schema: FuturesTrade }, opts);
  }

  /** `DELETE /futures/isolated/trade/stoploss?id=`. */
  removeStoploss(input: TradeIdInput, opts?: CallOptions): Promise<FuturesTrade> {
    return this.#call(
      { method: "DELETE", path: "/futures/isolated/trade/stoploss", query: { id: input.id }, schema: FuturesTrade },
      opts,
    );
  }

  /** `POST /futures/isolated/trade/close {id}` -> the closed trade. */
  close(input: TradeIdInput, opts?: CallOptions): Promise<FuturesTrade> {
    const body = { id: input.id };
    return this.#call({ method: "POST", path: "/futures/isolated/trade/close", body, schema: FuturesTrade }, opts);
  }

  /** `POST /futures/isolated/trade/cancel {id}`: cancels an unfilled limit order. */
  cancel(input: TradeIdInput, opts?: CallOptions): Promise<FuturesTrade> {
    const body = { id: input.id };
    return this.#call({ method: "POST", path: "/futures/isolated/trade/cancel", body, schema: FuturesTrade }, opts);
  }

  /** `POST /futures/isolated/trades/cancel-all` (no body), normalised to a list. */
  async cancelAll(opts?: CallOptions): Promise<FuturesTrade[]> {
    const res = await this.#call(
      { method: "POST", path: "/futures/isolated/trades/cancel-all", schema: CancelAllResponse },
      opts,
    );
    return Array.isArray(res) ? res : [res];
  }

  #call<S extends z.ZodType>(spec: HttpRequestSpec<S>, opts?: CallOptions): Promise<z.output<S>> {
    if (!spec.public && this.#ctx.auth === undefined) {
      return Promise.reject(
        new LnMarketsError({
          kind: "permanent",
          code: "unauthorized",
          message: `LN Markets ${spec.method} ${spec.path}: this client has no credentials`,
          method: spec.method,
          path: spec.path,
        }),
      );
    }
    const body = spec.body === undefined ? undefined : dropUndefined(spec.body);
    return executeRequest(this.#ctx, body === undefined ? spec : { ...spec, body }, opts);
  }
}

/**
 * Local checks of an order against LN Markets' documented limits (lnmarkets-v3.md).
 * @throws LnMarketsError permanent / invalid_request
 */
export function validateNewTrade(input: NewTradeInput): void {
  const problems: string[] = [];
  const hasMargin = input.margin !== undefined;
  const hasQuantity = input.quantity !== undefined;
  if (hasMargin === hasQuantity) problems.push("exactly one of margin or quantity is required");
  if (hasMargin && !(Number.isInteger(input.margin) && (input.margin as number) > 0)) {
    problems.push("margin must be a positive integer (sats)");
  }
  if (hasQuantity && !(Number.isInteger(input.quantity) && (input.quantity as number) >= 1 && (input.quantity as number) <= 500_000)) {
    problems.push("quantity must be an integer from 1 to 500000 (USD)");
  }
  if (!(Number.isFinite(input.leverage) && input.leverage >= 1 && input.leverage <= 100)) {
    problems.push("leverage must be from 1 to 100");
  }
  if (input.side !== "buy" && input.side !== "sell") problems.push("side must be buy or sell");
  if (input.type === "limit") {
    if (!(typeof input.price === "number" && input.price > 0 && Number.isInteger(input.price * 2))) {
      problems.push("limit price must be positive, in ticks of 0.5");
    }
  } else if (input.type === "market") {
    if (input.price !== undefined) problems.push("market orders take no price");
  } else {
    problems.push("type must be market or limit");
  }
  for (const k of ["takeprofit", "stoploss"] as const) {
    const v = input[k];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) problems.push(`${k} must be a non-negative price`);
  }
  if (input.clientId !== undefined && (input.clientId.length < 1 || input.clientId.length > 64)) {
    problems.push("clientId must be 1 to 64 characters");
  }
  if (problems.length > 0) {
    throw new LnMarketsError({
      kind: "permanent",
      code: "invalid_request",
      message: `LN Markets POST /futures/isolated/trade: invalid order: ${problems.join("; ")}`,
      method: "POST",
      path: "/futures/isolated/trade",
    });
  }
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}
