/**
 * Public types of the stream client: options, state, counters, health.
 */
import type { BackoffPolicy, Random } from "../domain/backoff.js";
import type { Logger } from "../lib/logger.js";
import type { LnMarketsError } from "./errors.js";
import type { LnMarketsCredentials } from "./rest-client.js";
import type { IsolatedTradeEvent } from "./schemas.js";
import type { LnMarketsEndpoints } from "./transport.js";

export type StreamState = "connecting" | "open" | "stale" | "closed";

export type StreamLogger = Pick<Logger, "debug" | "info" | "warn" | "error">;

export interface StreamCounters {
  /** Frames received (valid or not). */
  messages: number;
  /** Reconnect attempts started after the first open. */
  reconnects: number;
  malformedFrames: number;
  /** Time of the last frame received, ms; null before the first. */
  lastMessageAt: number | null;
  /** Successful opens (hello, auth and subscribe done). */
  opens: number;
  rpcTimeouts: number;
}

export interface StreamClientOptions {
  /** From {@link resolveEndpoints}: stream URL and transport of the account's network. */
  endpoints: Pick<LnMarketsEndpoints, "streamUrl" | "fetch">;
  /** When present the client authenticates and may subscribe to private topics. */
  credentials?: LnMarketsCredentials;
  /** Default: lastPrice, plus isolated trades when authenticated. */
  topics?: readonly string[];
  clientName?: string;
  clientVersion?: string;
  logger?: StreamLogger;
  pingIntervalMs?: number;
  staleAfterMs?: number;
  requestTimeoutMs?: number;
  /**
   * The longest wait between two health checks. By default the check runs when the socket
   * would go stale (last message + staleAfterMs) and is re-armed after each check.
   */
  healthCheckIntervalMs?: number;
  backoff?: BackoffPolicy;
  random?: Random;
  now?: () => number;
  onPrice?: (lastPrice: number, time: number) => void;
  onTradeEvent?: (event: IsolatedTradeEvent) => void;
  onStateChange?: (state: StreamState, previous: StreamState, reason: string) => void;
  /** Every valid push, including topics without a dedicated callback. */
  onSubscription?: (topic: string, data: unknown) => void;
  /** Connection failures (each attempt) and the final authentication refusal. */
  onError?: (error: LnMarketsError) => void;
}

/** What checkHealth and snapshot report. */
export interface StreamHealth {
  state: StreamState;
  counters: StreamCounters;
  topics: string[];
  /** When the next reconnect attempt is due, if one is scheduled. */
  reconnectDueAt: number | null;
  lastError: { code: string; message: string } | null;
}
