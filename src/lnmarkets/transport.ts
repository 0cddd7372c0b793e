/**
 * Where an account's LN Markets traffic goes, chosen by configuration.
 *
 * An account's `network` picks the endpoints (DESIGN.md, "Bindings"): mainnet and testnet are
 * LN Markets' hosts from vars, reached with global fetch; simulator goes through the `LNM_SIM`
 * service binding when the worker has one, else global fetch to `LNM_SIMULATOR_URL`. There is
 * no test switch: tests get the simulator because their account says `simulator`.
 */
import { LnMarketsError } from "./errors.js";

export type LnMarketsNetwork = "mainnet" | "testnet" | "simulator";

/** The fetch signature both global fetch and a service binding satisfy. */
export type FetchLike = (input: string | Request | URL, init?: RequestInit) => Promise<Response>;

/** What the REST and stream clients need to reach one exchange. */
export interface LnMarketsEndpoints {
  network: LnMarketsNetwork;
  /** REST base including `/v3`, without trailing slash, e.g. https://api.lnmarkets.com/v3. */
  restBase: string;
  /** Stream URL as configured (wss:// or ws://, or already http(s)://). */
  streamUrl: string;
  /** Transport for both REST calls and the WebSocket upgrade request. */
  fetch: FetchLike;
}

/**
 * The subset of `Env` this module reads. Everything is optional here so a worker without a
 * given network (production has no simulator) is refused with a typed error, not a crash.
 */
export interface LnMarketsEnv {
  LNM_MAINNET_REST_URL?: string;
  LNM_MAINNET_STREAM_URL?: string;
  LNM_TESTNET_REST_URL?: string;
  LNM_TESTNET_STREAM_URL?: string;
  LNM_SIMULATOR_URL?: string;
  LNM_SIM?: { fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> };
}

// Host used for service-binding requests when no simulator URL is configured: a service
// binding ignores the host, but URLs must still be absolute.
const SERVICE_BINDING_ORIGIN = "http://lnm-sim";

/**
 * Resolves the endpoints of a network from the worker's configuration.
 * @throws LnMarketsError code `not_configured` (permanent) when the network has no endpoint.
 */
export function resolveEndpoints(env: LnMarketsEnv, network: LnMarketsNetwork): LnMarketsEndpoints {
  // Global fetch must be called unbound-safe: workerd throws "Illegal invocation" otherwise.
  const globalFetch: FetchLike = (input, init) => fetch(input, init);
  switch (network) {
    case "mainnet":
      return {
        network,
        restBase: requireUrl(env.LNM_MAINNET_REST_URL, "LNM_MAINNET_REST_URL", network),
        streamUrl: requireUrl(env.LNM_MAINNET_STREAM_URL, "LNM_MAINNET_STREAM_URL", network),
        fetch: globalFetch,
      };
    case "testnet":
      return {
        network,
        restBase: requireUrl(env.LNM_TESTNET_REST_URL, "LNM_TESTNET_REST_URL", network),
        streamUrl: requireUrl(env.LNM_TESTNET_STREAM_URL, "LNM_TESTNET_STREAM_URL", network),
        fetch: globalFetch,
      };
    case "simulator": {
      const binding = env.LNM_SIM;
      const configured = nonEmpty(env.LNM_SIMULATOR_URL);
      if (binding && typeof binding.fetch === "function") {
        const origin = trimSlash(configured ?? SERVICE_BINDING_ORIGIN);
        return {
          network,
          restBase: `${origin}/v3`,
          streamUrl: `${origin}/v1`,
          fetch: (input, init) => binding.fetch(input, init),
        };
      }
      if (configured !== undefined) {
        const origin = trimSlash(requireUrl(configured, "LNM_SIMULATOR_URL", network));
        return { network, restBase: `${origin}/v3`, streamUrl: `${origin}/v1`, fetch: globalFetch };
      }
      throw notConfigured(network, "neither the LNM_SIM binding nor LNM_SIMULATOR_URL is configured");
    }
    default: {
      const never: never = network;
      throw notConfigured(String(never), "unknown network");
    }
  }
}

/** The URL to `fetch` for a WebSocket upgrade: workerd wants http(s), not ws(s). */
export function streamFetchUrl(streamUrl: string): string {
  return streamUrl.replace(/^wss:/i, "https:").replace(/^ws:/i, "http:");
}

function requireUrl(value: string | undefined, name: string, network: string): string {
  const v = nonEmpty(value);
  if (v === undefined) throw notConfigured(network, `${name} is not set`);
  try {
    new URL(v);
  } catch {
    throw notConfigured(network, `${name} is not a valid URL`);
  }
  return trimSlash(v);
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

function trimSlash(v: string): string {
  return v.replace(/\/+$/, "");
}

function notConfigured(network: string, why: string): LnMarketsError {
  return new LnMarketsError({
    kind: "permanent",
    code: "not_configured",
    message: `LN Markets network "${network}" is not available in this deployment: ${why}`,
  });
}
