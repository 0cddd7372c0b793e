/** Test helpers: drive the platform through its real HTTP entry point. */
import { exports } from "cloudflare:workers";

export const BASE = "http://platform.test";

export interface ApiResult<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function api<T = any>(
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<ApiResult<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined && !headers["content-type"]) headers["content-type"] = "application/json";
  const res = await exports.default.fetch(new Request(`${BASE}${path}`, { method, headers, body }));
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

let counter = 0;
export function uniqueEmail(tag = "user"): string {
  counter += 1;
  return `${tag}-${Date.now()}-${counter}-${Math.random().toString(36).slice(2, 8)}@example.test`;
}

export async function registerUser(tag = "user"): Promise<{ email: string; password: string; token: string; userId: string }> {
  const email = uniqueEmail(tag);
  const password = `pw-${Math.random().toString(36).slice(2)}-long`;
  const res = await api("POST", "/v1/auth/register", { body: { email, password } });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { email, password, token: res.body.token, userId: res.body.user.id };
}

/** Captures every console line written while `fn` runs. */
export async function captureLogs<T>(fn: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  const orig = { log: console.log, warn: console.warn, error: console.error, info: console.info, debug: console.debug };
  const grab = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  console.log = console.warn = console.error = console.info = console.debug = grab;
  try {
    return { result: await fn(), lines };
  } finally {
    Object.assign(console, orig);
  }
}

/**
 * How long a test waits for a log row to show in D1: the account flushes its outbox to the
 * LOGS queue, whose batches wait up to 5 s (wrangler.toml `max_batch_timeout`), then the
 * consumer writes. Under a loaded CI machine that is well past 5 s; the wait ends at the row.
 */
export const LOG_ROW_WAIT_MS = 20_000;

/** Polls `fn` until it returns something truthy; fails naming `what` after `timeoutMs`. */
export async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 8_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
