/**
 * One signed HTTP exchange with LN Markets REST v3: build, sign exactly the bytes sent,
 * time out, classify, validate. rest-client.ts maps routes onto it.
 */
import type { z } from "zod";
import { type BackoffPolicy, fullJitterDelay, type Random } from "../domain/backoff.js";
import { classifyHttpError, LnMarketsError } from "./errors.js";
import type { RateLimiter } from "./rate-limiter.js";
import { sleep } from "./rate-limiter.js";
import { buildSignaturePayload, type HmacSigner, signatureData } from "./signing.js";
import type { FetchLike } from "./transport.js";

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

/** Measurement of one attempt, for trade logs and metrics. */
export interface CallInfo {
  method: HttpMethod;
  /** Route path after /v3, without query (never carries secrets). */
  path: string;
  /** HTTP status, absent when no response arrived. */
  status?: number;
  ok: boolean;
  /** From just before the request is sent to the body fully read (excludes limiter waits). */
  latencyMs: number;
  /** Time spent waiting for the rate limiter before this attempt. */
  queuedMs: number;
  /** 1 for the first attempt; 2 and more after a waited-out 429 or a retried read. */
  attempt: number;
  errorKind?: LnMarketsError["kind"];
  errorCode?: LnMarketsError["code"];
}

/** Per-call options every client method accepts. */
export interface CallOptions {
  /** Caller cancellation (e.g. the automation's run timeout). */
  signal?: AbortSignal;
  /** Overrides the client's default timeout for this call. */
  timeoutMs?: number;
  /** Receives the measurement of every attempt of this call. */
  onCall?: (info: CallInfo) => void;
}

/** Waiting out a 429 inside the call: at most once and at most `maxWaitMs`. */
export interface RateLimitRetryPolicy {
  maxWaitMs: number;
}

/**
 * Retrying reads (GET) inside the call after a temporary failure: a 5xx, a network error or a
 * 429 (after its retry-after). A read changes nothing at the exchange, so sending it again is
 * always safe; writes are never retried here (the executor reconciles an uncertain write
 * before anything is sent again). Timeouts are not retried: a read that hung for the whole
 * request timeout has used the run's time, and the run decides. Delays use full jitter
 * (src/domain/backoff.ts) so many accounts failing together do not retry in lockstep; a
 * retry-after longer than `backoff.maxMs` ends the retries.
 */
export interface ReadRetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  backoff: BackoffPolicy;
  random?: Random;
}

const READ_RETRY_CODES = new Set<LnMarketsError["code"]>(["server_error", "network", "rate_limited"]);

export interface HttpContext {
  restBase: string;
  fetch: FetchLike;
  auth?: { key: string; passphrase: string; signer: HmacSigner };
  redact: readonly string[];
  timeoutMs: number;
  rateLimiter?: RateLimiter;
  rateLimitRetry?: RateLimitRetryPolicy;
  readRetry?: ReadRetryPolicy;
  onCall?: (info: CallInfo) => void;
  now: () => number;
}

export interface HttpRequestSpec<S extends z.ZodType> {
  method: HttpMethod;
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: Record<string, unknown>;
  schema: S;
  /**
   * Public routes (ticker, ping, time) work without credentials. With credentials they are
   * signed anyway, like the SDK does, which also puts them under the authenticated rate limit.
   */
  public?: boolean;
}

/**
 * Executes a request (with the optional single 429 wait, and read retries when configured)
 * and returns the parsed body.
 */
export async function executeRequest<S extends z.ZodType>(
  ctx: HttpContext,
  spec: HttpRequestSpec<S>,
  opts: CallOptions = {},
): Promise<z.output<S>> {
  let readRetries = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptOnce(ctx, spec, opts, attempt);
    } catch (e) {
      const policy = ctx.rateLimitRetry;
      if (
        attempt === 1 &&
        policy !== undefined &&
        e instanceof LnMarketsError &&
        e.code === "rate_limited" &&
        e.retryAfterMs !== undefined &&
        e.retryAfterMs <= policy.maxWaitMs
      ) {
        // 429 means "not processed", so resending a mutation is safe; it is re-signed with a
        // fresh timestamp on the next attempt.
        await sleep(e.retryAfterMs, opts.signal).catch((reason) => {
          throw abortedError(spec, reason);
        });
        continue;
      }
      const reads = ctx.readRetry;
      if (reads && spec.method === "GET" && e instanceof LnMarketsError && READ_RETRY_CODES.has(e.code) && readRetries < reads.retries) {
        const delay = Math.max(fullJitterDelay(readRetries, reads.backoff, reads.random ?? Math.random), e.retryAfterMs ?? 0);
        if (delay <= reads.backoff.maxMs) {
          readRetries++;
          await sleep(delay, opts.signal).catch((reason) => {
            throw abortedError(spec, reason);
          });
          continue;
        }
      }
      throw e;
    }
  }
}

async function attemptOnce<S extends z.ZodType>(
  ctx: HttpContext,
  spec: HttpRequestSpec<S>,
  opts: CallOptions,
  attempt: number,
): Promise<z.output<S>> {
  const { method, path } = spec;
  const queuedAt = ctx.now();
  if (ctx.rateLimiter) {
    await ctx.rateLimiter.acquire(opts.signal).catch((reason) => {
      throw abortedError(spec, reason);
    });
  }
  const started = ctx.now();
  const report = (info: Omit<CallInfo, "method" | "path" | "latencyMs" | "queuedMs" | "attempt">) => {
    const full: CallInfo = { method, path, latencyMs: ctx.now() - started, queuedMs: started - queuedAt, attempt, ...info };
    ctx.onCall?.(full);
    opts.onCall?.(full);
  };

  const url = new URL(ctx.restBase + path);
  if (spec.query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(spec.query)) if (v !== undefined) params.set(k, String(v));
    const search = params.toString();
    if (search !== "") url.search = search;
  }
  const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
  const headers = new Headers({ accept: "application/json" });
  if (body !== undefined) headers.set("content-type", "application/json");
  if (ctx.auth) {
    const timestamp = Date.now();
    const payload = buildSignaturePayload({ timestamp, method, pathname: url.pathname, data: signatureData(url, body) });
    headers.set("lnm-access-key", ctx.auth.key);
    headers.set("lnm-access-passphrase", ctx.auth.passphrase);
    headers.set("lnm-access-timestamp", String(timestamp));
    headers.set("lnm-access-signature", await ctx.auth.signer.sign(payload));
  }

  // Our own controller so a timeout can be told apart from the caller's abort.
  const timeoutMs = opts.timeoutMs ?? ctx.timeoutMs;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error("timeout"));
  }, timeoutMs);
  const onCallerAbort = () => controller.abort(opts.signal?.reason);
  if (opts.signal?.aborted) onCallerAbort();
  else opts.signal?.addEventListener("abort", onCallerAbort, { once: true });

  let status: number | undefined;
  try {
    const res = await ctx.fetch(url.toString(), {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      signal: controller.signal,
    });
    status = res.status;
    const text = await res.text();
    if (!res.ok) {
      throw classifyHttpError({
        status: res.status,
        bodyText: text,
        retryAfter: res.headers.get("retry-after"),
        method,
        path,
        nowMs: Date.now(),
        redact: ctx.redact,
      });
    }
    const parsed = spec.schema.safeParse(parseBody(text));
    if (!parsed.success) {
      const issues = parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
        .join("; ");
      throw new LnMarketsError({
        kind: "permanent",
        code: "invalid_response",
        message: `LN Markets ${method} ${path}: unexpected response shape: ${issues}`,
        status: res.status,
        // The exchange answered 2xx: a mutation most likely happened.
        uncertain: method !== "GET",
        method,
        path,
      });
    }
    report({ status: res.status, ok: true });
    return parsed.data;
  } catch (e) {
    const err =
      e instanceof LnMarketsError
        ? e
        : !timedOut && opts.signal?.aborted
          ? abortedError(spec, e)
          : transportError(spec, e, timedOut, timeoutMs, status);
    report({ ...(status === undefined ? {} : { status }), ok: false, errorKind: err.kind, errorCode: err.code });
    throw err;
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onCallerAbort);
  }
}

function parseBody(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    // `ping` may answer a bare `pong`.
    return text;
  }
}

function transportError(
  spec: { method: HttpMethod; path: string },
  cause: unknown,
  timedOut: boolean,
  timeoutMs: number,
  status: number | undefined,
): LnMarketsError {
  const { method, path } = spec;
  // Whether the exchange saw a mutation is unknown once the request left: reconcile first.
  const uncertain = method !== "GET";
  if (timedOut) {
    return new LnMarketsError({
      kind: "temporary",
      code: "timeout",
      message: `LN Markets ${method} ${path}: timed out after ${timeoutMs} ms`,
      uncertain,
      method,
      path,
      ...(status === undefined ? {} : { status }),
    });
  }
  if (cause instanceof Error && cause.name === "AbortError") return abortedError(spec, cause);
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new LnMarketsError({
    kind: "temporary",
    code: "network",
    message: `LN Markets ${method} ${path}: network error: ${detail.slice(0, 200)}`,
    uncertain,
    method,
    path,
    cause,
  });
}

function abortedError(spec: { method: HttpMethod; path: string }, reason: unknown): LnMarketsError {
  return new LnMarketsError({
    kind: "temporary",
    code: "aborted",
    message: `LN Markets ${spec.method} ${spec.path}: aborted by caller`,
    uncertain: spec.method !== "GET",
    method: spec.method,
    path: spec.path,
    cause: reason,
  });
}
