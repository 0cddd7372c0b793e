/** Simulator control from platform tests (through the LNM_SIM service binding). */
import { env } from "cloudflare:workers";

const SIM = "http://lnm-sim";

export async function sim<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await env.LNM_SIM!.fetch(`${SIM}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`sim ${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : null) as T;
}

export interface SimKeys {
  key: string;
  secret: string;
  passphrase: string;
  accountId: string;
}

export const simKeys = (balance = 5_000_000) => sim<SimKeys>("POST", "/__sim/keys", { balance });
/** Set the last price; `spread` (USD, on the 0.5 tick) persists until changed (default 5). */
export const simPrice = (price: number, spread?: number) =>
  sim<{ lastPrice: number; index: number; spread: number; bid: number; offer: number }>(
    "POST",
    "/__sim/price",
    spread === undefined ? { price } : { price, spread },
  );
/** Settle funding now at `rate` (positive: longs pay shorts), fixing at the last price. */
export const simFunding = (rate: number) =>
  sim<{ settlement: { id: string; time: string; fundingRate: number; fixingPrice: number }; trades: number; liquidated: number }>(
    "POST",
    "/__sim/funding",
    { rate },
  );
export const simReset = () => sim("POST", "/__sim/reset");
export const simFaults = (faults: Record<string, unknown>) => sim("POST", "/__sim/faults", faults);
export const simOrders = (key?: string) => sim<any[]>("GET", `/__sim/orders${key ? `?key=${encodeURIComponent(key)}` : ""}`);
