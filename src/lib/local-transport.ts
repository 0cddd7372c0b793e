/**
 * Picks how to reach an HTTP endpoint that may be the local simulator, by configuration.
 *
 * Inside workerd (tests, and some dev setups) global fetch to 127.0.0.1 does not reach a
 * sibling worker, but the `LNM_SIM` service binding does. So when a URL's origin is the
 * configured simulator's origin and the binding exists, requests go through the binding;
 * anything else (production LNbits, LN Markets' hosts) uses global fetch. There is no test
 * switch: the choice follows from `LNM_SIMULATOR_URL` and whether `LNM_SIM` is bound.
 */

/** The fetch signature both global fetch and a service binding satisfy. */
export type FetchLike = (input: string | Request | URL, init?: RequestInit) => Promise<Response>;

/** The subset of `Env` this module reads (optional: production has no simulator). */
export interface LocalTransportEnv {
  LNM_SIMULATOR_URL?: string;
  LNM_SIM?: { fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> };
}

/** The origin of `url`, or undefined when it is empty or not a URL. */
export function originOf(url: string | undefined): string | undefined {
  if (!url || url.trim() === "") return undefined;
  try {
    return new URL(url.trim()).origin;
  } catch {
    return undefined;
  }
}

/**
 * The transport for requests to `url`: the `LNM_SIM` binding when `url` points at the
 * configured simulator and the binding is there, else global fetch.
 */
export function fetchFor(env: LocalTransportEnv, url: string): FetchLike {
  const binding = env.LNM_SIM;
  const simOrigin = originOf(env.LNM_SIMULATOR_URL);
  if (binding && typeof binding.fetch === "function" && simOrigin !== undefined && originOf(url) === simOrigin) {
    return (input, init) => binding.fetch(input, init);
  }
  // Called through a closure: workerd throws "Illegal invocation" on an unbound global fetch.
  return (input, init) => fetch(input, init);
}

