/**
 * How notification requests leave the worker, chosen by configuration, never by a test flag:
 * a URL on the simulator's origin (`LNM_SIMULATOR_URL`) goes through the `LNM_SIM` service
 * binding when it is bound (from inside a worker, global fetch to 127.0.0.1 does not reach a
 * sibling worker); everything else goes through global fetch. Every send is bounded by a
 * 10 s timeout (DESIGN.md, Queues).
 *
 * Redirects are never followed blindly (issue 22, item 5): a webhook URL passed the URL policy
 * (src/notify/url-policy.ts) when it was saved, and an automatic redirect would take the
 * request, its body and its signature header anywhere, an internal address included. Requests
 * go out with `redirect: "manual"`; a 307 or 308 (method and body kept) is followed at most
 * MAX_REDIRECTS times, each hop checked against the same policy first; a 301, 302 or 303
 * (which would turn the POST into a GET and drop the message) is not followed and counts as a
 * failed delivery. A hop the policy refuses throws RedirectRefusedError (not retried).
 */
import { checkWebhookUrl, type UrlPolicyMode } from "./url-policy";

export const SEND_TIMEOUT_MS = 10_000;
export const MAX_REDIRECTS = 3;

/** The fetch signature both global fetch and a service binding satisfy. */
export type NotifyFetch = (url: string, init: RequestInit) => Promise<Response>;

export interface NotifyTransportEnv {
  /** development and test accept http and local hosts (src/notify/url-policy.ts). */
  ENVIRONMENT?: string;
  LNM_SIMULATOR_URL?: string;
  LNM_SIM?: { fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> };
}

/** Thrown when a send exceeds its timeout (told apart from network errors for retries and DLQ classes). */
export class SendTimeoutError extends Error {
  override readonly name = "SendTimeoutError";
}

/** A redirect to a URL the webhook policy refuses (or too many hops): never retried. */
export class RedirectRefusedError extends Error {
  override readonly name = "RedirectRefusedError";
}

const FOLLOWED = new Set([307, 308]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** The transport for this worker's configuration. */
export function createNotifyTransport(env: NotifyTransportEnv, timeoutMs = SEND_TIMEOUT_MS): NotifyFetch {
  const simOrigin = originOf(env.LNM_SIMULATOR_URL);
  const binding = env.LNM_SIM && typeof env.LNM_SIM.fetch === "function" ? env.LNM_SIM : undefined;
  const mode: UrlPolicyMode = env.ENVIRONMENT === "development" || env.ENVIRONMENT === "test" ? "dev" : "strict";
  const once = sendOnce(binding, simOrigin, timeoutMs);
  return async (url, init) => {
    let current = url;
    for (let hop = 0; ; hop++) {
      const res = await once(current, { ...init, redirect: "manual" });
      const location = REDIRECTS.has(res.status) ? res.headers.get("location") : null;
      if (!location || !FOLLOWED.has(res.status)) return res;
      await res.body?.cancel();
      const next = new URL(location, current).toString();
      if (hop + 1 > MAX_REDIRECTS) throw new RedirectRefusedError(`more than ${MAX_REDIRECTS} redirects`);
      const reason = checkWebhookUrl(next, mode);
      if (reason) throw new RedirectRefusedError(`redirect to ${new URL(next).origin} refused: the URL ${reason}`);
      current = next;
    }
  };
}

function sendOnce(binding: NotifyTransportEnv["LNM_SIM"], simOrigin: string | null, timeoutMs: number): NotifyFetch {
  return async (url, init) => {
    const viaBinding = binding !== undefined && simOrigin !== null && originOf(url) === simOrigin;
    const signal = AbortSignal.timeout(timeoutMs);
    // A race as well as the signal: a service binding may not honour the abort signal promptly.
    let timer: ReturnType<typeof setTimeout> | null = null;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SendTimeoutError(`timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const request = viaBinding ? binding!.fetch(url, { ...init, signal }) : fetch(url, { ...init, signal });
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
