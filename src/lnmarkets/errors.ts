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

/**
 * Which of the exchange's order rules refused a request, when it could be told (from the
 * answer's code, else its message). The simulator answers with the codes in upper case
 * (STOPLOSS_BEYOND_LIQUIDATION...); the real exchange may use other codes or none, so the
 * message patterns decide as well.
 */
export type ExchangeRule =
  | "not_your_trade"
  | "trade_not_running"
  | "stoploss_beyond_liquidation"
  | "stoploss_wrong_side"
  | "takeprofit_wrong_side"
  | "trailing_distance_out_of_range"
  | "price_off_tick"
  | "cash_in_refused"
  | "insufficient_balance"
  | "margin_used_limit"
  | "margin_out_of_range"
  | "quantity_out_of_range"
  | "leverage_out_of_range";

export interface LnMarketsErrorInit {
  kind: LnMarketsErrorKind;
  code: LnMarketsErrorCode;
  rule?: ExchangeRule;
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
  readonly rule: ExchangeRule | undefined;
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
    this.rule = init.rule;
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
      rule: this.rule,
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

interface RuleSpec {
  rule: ExchangeRule;
  kind: LnMarketsErrorKind;
  code: LnMarketsErrorCode;
  what: string;
  /** Codes (upper snake case) that name the rule. */
  codes: readonly string[];
  message: RegExp;
}

/**
 * The exchange's refusals (../shared/lnmarkets-v3.md "Errors seen on the real API" and the
 * futures FAQ's order rules), in the order they are tested. A trade id that is not ours
 * answers 400 "You do not own this trade" on the real API, not 404: it reads as not found
 * (the trade is gone or was never ours), like a trade that no longer runs. Stops and targets
 * on the wrong side or off the 0.5 tick are wrong orders (permanent: resending cannot help);
 * balance and size limits are business refusals (log and alert; the Margin Guard re-reads the
 * balance once after an insufficient-balance refusal, see durable-objects/account/jobs.ts).
 */
const RULES: readonly RuleSpec[] = [
  { rule: "not_your_trade", kind: "permanent", code: "not_found", what: "trade not found", codes: ["NOT_YOUR_TRADE", "TRADE_NOT_OWNED"],
    message: /(do not|don't|does not) own (this|the) trade|not your trade|trade (does not|doesn't) belong/i },
  { rule: "trade_not_running", kind: "permanent", code: "not_found", what: "trade not running", codes: ["TRADE_NOT_RUNNING", "TRADE_NOT_FOUND", "TRADE_NOT_OPEN", "TRADE_CLOSED"],
    message: /trade (is )?not (open or running|running|found|open)|no (such|running) trade|trade (is )?already closed/i },
  { rule: "stoploss_beyond_liquidation", kind: "permanent", code: "invalid_request", what: "stop loss beyond liquidation", codes: ["STOPLOSS_BEYOND_LIQUIDATION"],
    message: /stop ?loss.*liquidation|liquidation.*stop ?loss/i },
  { rule: "stoploss_wrong_side", kind: "permanent", code: "invalid_request", what: "stop loss on the wrong side", codes: ["STOPLOSS_WRONG_SIDE"],
    message: /stop ?loss.*(wrong side|must be (above|below))/i },
  { rule: "trailing_distance_out_of_range", kind: "permanent", code: "invalid_request", what: "trailing distance out of range", codes: ["TRAILING_DISTANCE_OUT_OF_RANGE"],
    message: /trailing.*(distance|stop).*(range|between)|(range|between).*trailing/i },
  { rule: "takeprofit_wrong_side", kind: "permanent", code: "invalid_request", what: "take profit on the wrong side", codes: ["TAKEPROFIT_WRONG_SIDE"],
    message: /take ?profit.*(wrong side|above|below|greater|higher|lower|less)/i },
  { rule: "price_off_tick", kind: "permanent", code: "invalid_request", what: "price off the 0.5 tick", codes: ["PRICE_OFF_TICK"],
    message: /\btick\b|multiple of 0\.5|increments? of 0\.5/i },
  { rule: "cash_in_refused", kind: "permanent", code: "invalid_request", what: "cash-in refused", codes: ["CASH_IN_TOO_LARGE", "CASH_IN_WOULD_LIQUIDATE"],
    message: /cash-?in would liquidate|exceeds the available profit/i },
  { rule: "insufficient_balance", kind: "business", code: "insufficient_balance", what: "insufficient balance", codes: ["INSUFFICIENT_BALANCE", "INSUFFICIENT_FUNDS"],
    message: INSUFFICIENT },
  { rule: "margin_used_limit", kind: "business", code: "limit_violation", what: "margin used limit", codes: ["MARGIN_USED_LIMIT"],
    message: /margin used|used margin|0\.1 ?btc|10,?000,?000 sats/i },
  { rule: "margin_out_of_range", kind: "business", code: "limit_violation", what: "margin out of range", codes: ["MARGIN_OUT_OF_RANGE"],
    message: /margin must be at least|margin .* buys .* quantity must be/i },
  { rule: "quantity_out_of_range", kind: "business", code: "limit_violation", what: "quantity out of range", codes: ["QUANTITY_OUT_OF_RANGE"],
    message: /quantity.*(range|max|min|exceed|between|too (high|low|large|small))/i },
  { rule: "leverage_out_of_range", kind: "business", code: "limit_violation", what: "leverage out of range", codes: ["LEVERAGE_OUT_OF_RANGE"],
    message: /leverage.*(range|max|min|exceed|between|too (high|low)|fall under)/i },
];

/** The rule an answer names: by its code first (a hint), else by its message. */
function ruleOf(message: string, code: string | undefined): RuleSpec | undefined {
  const upper = code?.toUpperCase();
  return (upper ? RULES.find((r) => r.codes.includes(upper)) : undefined) ?? RULES.find((r) => r.message.test(message));
}

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
  const rule = ruleOf(exchangeMessage, extracted.code);
  if (rule) return new LnMarketsError({ ...base, kind: rule.kind, code: rule.code, rule: rule.rule, message: msg(rule.what) });
  if (INSUFFICIENT.test(haystack)) {
    return new LnMarketsError({ ...base, kind: "business", code: "insufficient_balance", rule: "insufficient_balance", message: msg("insufficient balance") });
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
