/**
 * Shared helpers for the LN Markets client tests: the simulator's control API (through the
 * LNM_SIM service binding) and polling. The exchange itself is always the real simulator.
 */
import { env } from "cloudflare:workers";
import { createHttpClient } from "@ln-markets/sdk/rest/v3";
import { vi } from "vitest";
import { type LnMarketsCredentials, LnMarketsRestClient, type RestClientOptions, resolveEndpoints } from "../../src/lnmarkets/index.js";

export const SIM = "http://sim";

async function control<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await env.LNM_SIM!.fetch(`${SIM}/__sim${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`sim control ${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export interface SimKeys extends LnMarketsCredentials {
  accountId: string;
}

export const sim = {
  reset: () => control<unknown>("POST", "/reset"),
  keys: (balance: number) => control<SimKeys>("POST", "/keys", { balance }),
  price: (price: number) => control<{ lastPrice: number; index: number }>("POST", "/price", { price }),
  faults: (faults: Record<string, unknown>) => control<unknown>("POST", "/faults", faults),
  clearFaults: () => control<unknown>("POST", "/faults", {}),
  /** Faults injected by kind since the last reset (rest_5xx, rate_limited_429, ...). */
  injected: () => control<Record<string, number>>("GET", "/faults/injected"),
  orders: (key?: string) =>
    control<Array<{ at: number; key: string; route: string; body: unknown; clientId: string | null; status: number }>>(
      "GET",
      `/orders${key ? `?key=${encodeURIComponent(key)}` : ""}`,
    ),
};

export type Sdk = ReturnType<typeof createHttpClient>;

/**
 * LN Markets' official SDK (`@ln-markets/sdk`) pointed at the simulator: its ky client talks to
 * api.lnmarkets.com, so the isolate's global fetch is routed to LNM_SIM until
 * `vi.unstubAllGlobals()` (the platform's own clients use the binding, not global fetch).
 */
export function sdkFor(keys: LnMarketsCredentials): Sdk {
  vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    const body = req.body ? await req.text() : undefined;
    return env.LNM_SIM!.fetch(`${SIM}${url.pathname}${url.search}`, {
      method: req.method,
      headers: req.headers,
      ...(body === undefined || body === "" ? {} : { body }),
    });
  });
  return createHttpClient({ key: keys.key, secret: keys.secret, passphrase: keys.passphrase });
}

/** The simulator endpoints, resolved the way production resolves an account's network. */
export function simEndpoints() {
  return resolveEndpoints(env, "simulator");
}

/** A REST client on the simulator. */
export function restClient(credentials?: LnMarketsCredentials, opts: Partial<RestClientOptions> = {}) {
  return new LnMarketsRestClient({ endpoints: simEndpoints(), ...(credentials ? { credentials } : {}), ...opts });
}

/** Polls `cond` until true or throws after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Captures what a promise rejects with (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}
