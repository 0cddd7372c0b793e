import { exports } from "cloudflare:workers";
import { signedHeaders, type Credentials } from "../src/signing";

/** Storage is isolated per test file; within a file, tests share the one exchange. */
export const BASE = "http://sim";

/**
 * A request to the simulator with the body already read: an unread body keeps the request in
 * flight in the DO, and evictDurableObject then waits for it.
 */
export async function sim(path: string, init?: RequestInit): Promise<Response> {
  const res = await exports.default.fetch(`${BASE}${path}`, init);
  return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
}

export async function control<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await sim(`/__sim${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  if (!res.ok) throw new Error(`${method} /__sim${path} -> ${res.status} ${await res.text()}`);
  return res.json() as Promise<T>;
}

export type Keys = Credentials & { accountId: string };

export const newKeys = (balance = 10_000_000) => control<Keys>("POST", "/keys", { balance });
export const setPrice = (price: number, spread?: number) =>
  control<{ lastPrice: number; index: number; spread: number; bid: number; offer: number }>("POST", "/price", spread === undefined ? { price } : { price, spread });

/** A signed REST call as the SDK makes it (JSON body string signed and sent byte for byte). */
export async function rest(
  creds: Credentials,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: any; headers: Headers }> {
  const url = `${BASE}/v3${path}`;
  const raw = body === undefined ? "" : JSON.stringify(body);
  const headers: Record<string, string> = await signedHeaders(creds, method, url, raw);
  if (raw) headers["content-type"] = "application/json";
  const res = await exports.default.fetch(url, { method, headers, ...(raw ? { body: raw } : {}) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, headers: res.headers };
}

/** Like rest() but throws unless 200, returning the JSON. */
export async function ok(creds: Credentials, method: string, path: string, body?: unknown): Promise<any> {
  const r = await rest(creds, method, path, body);
  if (r.status !== 200) throw new Error(`${method} ${path} -> ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

export interface Frame {
  jsonrpc: "2.0";
  id?: string | number | null;
  method?: string;
  params?: { topic: string; data: any };
  result?: any;
  error?: { code: number; message: string };
}

/** A stream v1 client over the simulator's WebSocket, recording every frame it receives. */
export async function openStream() {
  const res = await exports.default.fetch(`${BASE}/v1`, { headers: { Upgrade: "websocket" } });
  const ws = res.webSocket;
  if (!ws) throw new Error(`no websocket: ${res.status}`);
  ws.accept();
  const frames: Frame[] = [];
  const listeners = new Set<() => void>();
  let closeEvent: CloseEvent | null = null;
  ws.addEventListener("message", (e) => {
    frames.push(JSON.parse(e.data as string) as Frame);
    for (const l of listeners) l();
  });
  ws.addEventListener("close", (e) => {
    closeEvent = e;
    for (const l of listeners) l();
  });
  let n = 0;

  function waitFor<T>(check: () => T | undefined, timeoutMs = 2000): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        const v = check();
        if (v !== undefined) {
          listeners.delete(attempt);
          clearTimeout(timer);
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(attempt);
        reject(new Error(`timed out; frames: ${JSON.stringify(frames).slice(0, 2000)}`));
      }, timeoutMs);
      listeners.add(attempt);
      attempt();
    });
  }

  return {
    ws,
    frames,
    send(frame: unknown) {
      ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
    },
    async call(method: string, params?: unknown): Promise<Frame> {
      const id = `r${++n}`;
      ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
      return waitFor(() => frames.find((f) => f.id === id));
    },
    waitFor,
    pushes(topic: string): any[] {
      return frames.filter((f) => f.method === "subscription" && f.params?.topic === topic).map((f) => f.params!.data);
    },
    waitForPush(topic: string, match: (data: any) => boolean, timeoutMs?: number): Promise<any> {
      return waitFor(
        () =>
          frames.find((f) => f.method === "subscription" && f.params?.topic === topic && match(f.params.data))?.params!
            .data,
        timeoutMs,
      );
    },
    closed(timeoutMs?: number): Promise<CloseEvent> {
      return waitFor(() => closeEvent ?? undefined, timeoutMs);
    },
    close() {
      try {
        ws.close(1000);
      } catch {
        // already closed
      }
    },
  };
}

export const TRADES_TOPIC = "futures/inverse/btc_usd/isolated/trades";
export const LAST_PRICE_TOPIC = "futures/inverse/btc_usd/lastPrice";
