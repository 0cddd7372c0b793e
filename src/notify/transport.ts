/**
 * How notification requests leave the worker, chosen by configuration, never by a test flag:
 * a URL on the simulator's origin (`LNM_SIMULATOR_URL`) goes through the `LNM_SIM` service
 * binding when it is bound (from inside a worker, global fetch to 127.0.0.1 does not reach a
 * sibling worker); everything else goes through global fetch. Every send is bounded by a
 * 10 s timeout (DESIGN.md, Queues).
 */

export const SEND_TIMEOUT_MS = 10_000;

/** The fetch signature both global fetch and a service binding satisfy. */
export type NotifyFetch = (url: string, init: RequestInit) => Promise<Response>;

export interface NotifyTransportEnv {
  LNM_SIMULATOR_URL?: string;
  LNM_SIM?: { fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> };
}

/** Thrown when a send exceeds its timeout (told apart from network errors for retries and DLQ classes). */
export class SendTimeoutError extends Error {
  override readonly name = "SendTimeoutError";
}

/** The transport for this worker's configuration. */
export function createNotifyTransport(env: NotifyTransportEnv, timeoutMs = SEND_TIMEOUT_MS): NotifyFetch {
  const simOrigin = originOf(env.LNM_SIMULATOR_URL);
  const binding = env.LNM_SIM && typeof env.LNM_SIM.fetch === "function" ? env.LNM_SIM : undefined;
  return async (url, init) => {
    const viaBinding = binding !== undefined && simOrigin !== null && originOf(url) === simOrigin;
    const signal = AbortSignal.timeout(timeoutMs);
    // A race as well as the signal: a service binding may not honour the abort signal promptly.
    let timer: ReturnType<typeof setTimeout> | null = null;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SendTimeoutError(`timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const request = viaBinding ? binding.fetch(url, { ...init, signal }) : fetch(url, { ...init, signal });
      return await Promise.race([request, timeout]);
    } catch (e) {
      if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")) throw new SendTimeoutError(`timed out after ${timeoutMs} ms`);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  };
}

function originOf(url: string | undefined): string | null {
  if (!url || url.trim() === "") return null;
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}
