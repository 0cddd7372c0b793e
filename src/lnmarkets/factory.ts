/**
 * One call for an account DO to get its LN Markets clients: endpoints resolved from the
 * account's network, one token bucket shared by every REST call of the account.
 */
import type { StreamClientOptions } from "./stream-types.js";
import { type RateLimiter, TokenBucketLimiter } from "./rate-limiter.js";
import { type LnMarketsCredentials, LnMarketsRestClient, type RestClientOptions } from "./rest-client.js";
import { LnMarketsStreamClient } from "./stream-client.js";
import { type LnMarketsEndpoints, type LnMarketsEnv, type LnMarketsNetwork, resolveEndpoints } from "./transport.js";

export interface AccountClientsInput {
  env: LnMarketsEnv;
  network: LnMarketsNetwork;
  credentials: LnMarketsCredentials;
  /** Defaults to a 5 req/s token bucket; pass the DO's own to persist or share it. */
  rateLimiter?: RateLimiter;
  rest?: Omit<RestClientOptions, "endpoints" | "credentials" | "rateLimiter">;
  stream?: Omit<StreamClientOptions, "endpoints" | "credentials">;
}

export interface AccountClients {
  endpoints: LnMarketsEndpoints;
  rateLimiter: RateLimiter;
  rest: LnMarketsRestClient;
  /** Not opened: call `stream.open()` (or `start()`) when the account has enabled automations. */
  stream: LnMarketsStreamClient;
}

/**
 * Builds the REST and stream clients of one exchange account.
 * @throws LnMarketsError `not_configured` when this deployment has no endpoint for `network`.
 */
export function createAccountClients(input: AccountClientsInput): AccountClients {
  const endpoints = resolveEndpoints(input.env, input.network);
  const rateLimiter = input.rateLimiter ?? new TokenBucketLimiter();
  const rest = new LnMarketsRestClient({ ...input.rest, endpoints, credentials: input.credentials, rateLimiter });
  const stream = new LnMarketsStreamClient({ ...input.stream, endpoints, credentials: input.credentials });
  return { endpoints, rateLimiter, rest, stream };
}
