/**
 * Error classification for LN Markets calls.
 *
 * The executor decides what to do from `kind` alone (DESIGN.md, "Execution"):
 * - temporary: network, timeout, 429, 5xx -> retry with backoff (after reconciling when
 *   `uncertain`);
 * - permanent: auth, validation, unexpected responses -> stop and alert;
 * - business: insufficient balance, exchange limits -> log and alert, do not retry.
 *
 * Messages never contain credentials or signatures: they are built only from the method,
 * the path (no query: a query may carry ids only, but we keep it out anyway) and the
 * exchange's own message, truncated.
 */

export type LnMarketsErrorKind = "temporary" | "permanent" | "business";

/** Stable codes; `kind` follows from the code. */
export type LnMarketsErrorCode =
  | "network"
  | "timeout"
  | "aborted"
  | "rate_limited"
  | "server_error"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "invalid_request"
  | "invalid_response"
  | "insufficient_balance"
  | "limit_violation"
  | "not_configured"
  | "stream_closed"
  | "stream_rpc";

export interface LnMarketsErrorInit {
  kind: LnMarketsErrorKind;
  code: LnMarketsErrorCode;
  message: string;
  status?: number;
  retryAfterMs?: number;
  /** True when the request may have reached the exchange (reconcile before retrying). */
  uncertain?: boolean;
  method?: string;
  path?: string;
  /** JSON-RPC error code of a stream answer. */
  rpcCode?: number;
  cause?: unknown;
}

/** Every failure of the LN Markets client is one of these. */
export class LnMarketsError extends Error {
  override readonly name = "LnMarketsError";
  readonly kind: LnMarketsErrorKind;
  readonly code: LnMarketsErrorCode;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly uncertain: boolean;
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly rpcCode: number | undefined;

  constructor(init: LnMarketsErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = init.kind;
    this.code = init.code;
    this.status = init.status;
    this.retryAfterMs = init.retryAfterMs;
    this.uncertain = init.uncertain ?? false;
    this.method = init.method;
    this.path = init.path;
    this.rpcCode = init.rpcCode;
  }

  /** Whether retrying the same call later can succeed. */
  get retryable(): boolean {
    return this.kind === "temporary";
  }

  /** Plain object for logs and DO RPC results (only name and message survive RPC). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      code: this.code,
      message: this.message,
      status: this.status,
      retryAfterMs: this.retryAfterMs,
      uncertain: this.uncertain,
      method: this.method,
      path: this.path,
      rpcCode: this.rpcCode,
    };
  }
}

/** Type guard usable on values crossing module or RPC boundaries. */
export function isLnMarketsError(e: unknown): e is LnMarketsError {
  return e instanceof LnMarketsError;
}

// Business rules of the exchange, recognised from the message the API returns. The patterns
// are deliberately about money and limits, so a plain validation error ("leverage must be a
// number") stays permanent.
const INSUFFICIENT = /insufficient|not enough (balance|funds|margin)|balance (is )?too low/i;
const LIMIT =
  /limit (reached|exceeded)|exceeds? (the )?(max|maximum|limit)|too many (open|running)|max(imum)? (number|amount|quantity|leverage|margin|position|open)|(above|below) (the )?(max|min)/i;

/** Parses `retry-after` (delta seconds or HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/** Pulls a human message out of an error body (JSON `{message}` / `{error}` or text). */
export function extractErrorMessage(bodyText: string): { message: string; code?: string } {
  const text = bodyText.trim();
  if (text === "") return { message: "" };
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json === "string") return { message: truncate(json) };
    if (json !== null && typeof json === "object") {
      const o = json as Record<string, unknown>;
      const err = o.error;
      const message =
        typeof o.message === "string"
          ? o.message
          : typeof err === "string"
            ? err
            : err !== null && typeof err === "object" && typeof (err as { message?: unknown }).message === "string"
              ? (err as { message: string }).message
              : "";
      const code =
        typeof o.code === "string" || typeof o.code === "number" ? String(o.code) : undefined;
      return code === undefined ? { message: truncate(message) } : { message: truncate(message), code };
    }
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return { message: truncate(text) };
}

export interface HttpErrorContext {
  status: number;
  bodyText: string;
  retryAfter: string | null;
  method: string;
  path: string;
  nowMs: number;
  /** Values to scrub from the exchange's message should it echo them (passphrase, signature). */
  redact?: readonly string[];
}

/** Classifies a non-2xx HTTP answer of LN Markets. */
export function classifyHttpError(ctx: HttpErrorContext): LnMarketsError {
  const { status, method, path } = ctx;
  const extracted = extractErrorMessage(ctx.bodyText);
  const exchangeMessage = redactAll(extracted.message, ctx.redact ?? []);
  // Codes such as INSUFFICIENT_BALANCE read as words for the business patterns.
  const haystack = `${exchangeMessage} ${(extracted.code ?? "").replace(/_/g, " ")}`;
  const base = { status, method, path };
  const msg = (what: string) =>
    `LN Markets ${method} ${path}: ${what} (${status})${exchangeMessage ? `: ${exchangeMessage}` : ""}`;

  if (status === 429) {
    const retryAfterMs = parseRetryAfter(ctx.retryAfter, ctx.nowMs);
    return new LnMarketsError({
      ...base,
      kind: "temporary",
      code: "rate_limited",
      message: msg("rate limited"),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  if (status >= 500 || status === 408) {
    const retryAfterMs = parseRetryAfter(ctx.retryAfter, ctx.nowMs);
    // A 5xx on a mutation may have been applied before the failure: reconcile first.
    return new LnMarketsError({
      ...base,
      kind: "temporary",
      code: "server_error",
      message: msg("server error"),
      uncertain: method !== "GET",
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  if (status === 401) {
    return new LnMarketsError({ ...base, kind: "permanent", code: "unauthorized", message: msg("unauthorized") });
  }
  if (status === 403) {
    return new LnMarketsError({ ...base, kind: "permanent", code: "forbidden", message: msg("forbidden") });
  }
  if (INSUFFICIENT.test(haystack)) {
    return new LnMarketsError({
      ...base,
      kind: "business",
      code: "insufficient_balance",
      message: msg("insufficient balance"),
    });
  }
  if (LIMIT.test(haystack)) {
    return new LnMarketsError({ ...base, kind: "business", code: "limit_violation", message: msg("limit violated") });
  }
  if (status === 404) {
    return new LnMarketsError({ ...base, kind: "permanent", code: "not_found", message: msg("not found") });
  }
  return new LnMarketsError({ ...base, kind: "permanent", code: "invalid_request", message: msg("rejected") });
}

/** Replaces every occurrence of the given secrets (non-empty) with "[redacted]". */
export function redactAll(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join("[redacted]");
  return out;
}

function truncate(s: string, max = 300): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
