/**
 * The platform's only way to talk to LN Markets: REST v3 and stream v1 clients for Workers,
 * their zod schemas, error classes, signing and endpoint resolution.
 */
export {
  classifyHttpError,
  extractErrorMessage,
  isLnMarketsError,
  LnMarketsError,
  type LnMarketsErrorCode,
  type LnMarketsErrorKind,
  parseRetryAfter,
} from "./errors.js";
export { type AccountClients, type AccountClientsInput, createAccountClients } from "./factory.js";
export { LNM_AUTHENTICATED_RATE, LNM_PUBLIC_RATE, type RateLimiter, sleep, TokenBucket, TokenBucketLimiter } from "./rate-limiter.js";
export {
  type CallInfo,
  type CallOptions,
  type ClosedTradesInput,
  type LnMarketsCredentials,
  LnMarketsRestClient,
  type NewTradeInput,
  type RateLimitRetryPolicy,
  type RestClientOptions,
  type StoplossInput,
  type TradeAmountInput,
  type TradeIdInput,
  type TradeValueInput,
  validateNewTrade,
} from "./rest-client.js";
export * from "./schemas.js";
export {
  buildSignaturePayload,
  buildStreamAuthPayload,
  HmacSigner,
  hmacSha256Base64,
  randomNonceHex,
  signatureData,
  signRestRequest,
  signStreamAuth,
} from "./signing.js";
export {
  LnMarketsStreamClient,
  type StreamClientOptions,
  type StreamCounters,
  type StreamHealth,
  type StreamLogger,
  type StreamState,
} from "./stream-client.js";
export { type ParsedFrame, parseStreamFrame } from "./stream-frames.js";
export {
  type FetchLike,
  type LnMarketsEndpoints,
  type LnMarketsEnv,
  type LnMarketsNetwork,
  resolveEndpoints,
  streamFetchUrl,
} from "./transport.js";
