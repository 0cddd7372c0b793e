import type { z } from "zod";

/**
 * An expected failure answered as LN Markets does: an HTTP status and `{message, code}`.
 * Thrown inside the DO only (never across RPC), caught by the Hono `onError` of each app.
 */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 429 | 500 | 503,
    message: string,
    readonly code: string,
    readonly field?: string,
  ) {
    super(message);
  }

  toJSON(): { message: string; code: string; field?: string } {
    return this.field === undefined
      ? { message: this.message, code: this.code }
      : { message: this.message, code: this.code, field: this.field };
  }
}

export const badRequest = (message: string, field?: string) => new ApiError(400, message, "BAD_REQUEST", field);
export const notFound = (message = "Not found") => new ApiError(404, message, "NOT_FOUND");

/**
 * The exchange's business refusals: 400 with a stable code each (listed in sim/README.md,
 * "Errors").
 */
export type RefusalCode =
  | "PRICE_OFF_TICK"
  | "QUANTITY_OUT_OF_RANGE"
  | "LEVERAGE_OUT_OF_RANGE"
  | "MARGIN_OUT_OF_RANGE"
  | "MARGIN_USED_LIMIT"
  | "INSUFFICIENT_BALANCE"
  | "NOT_YOUR_TRADE"
  | "TRADE_NOT_RUNNING"
  | "TRADE_NOT_OPEN"
  | "TRADE_CLOSED"
  | "TAKEPROFIT_WRONG_SIDE"
  | "STOPLOSS_WRONG_SIDE"
  | "STOPLOSS_BEYOND_LIQUIDATION"
  | "TRAILING_DISTANCE_OUT_OF_RANGE"
  | "CASH_IN_TOO_LARGE"
  | "CASH_IN_WOULD_LIQUIDATE";

export const refuse = (code: RefusalCode, message: string, field?: string) => new ApiError(400, message, code, field);

/** The real API answers a trade id the caller does not own (unknown or another account's) so. */
export const notYourTrade = () => refuse("NOT_YOUR_TRADE", "You do not own this trade");

/** A 400 naming the first invalid field of a zod error. */
export function validationError(error: z.ZodError): ApiError {
  const issue = error.issues[0];
  const field = issue?.path.length ? issue.path.join(".") : undefined;
  const message = issue ? `${field ?? "body"}: ${issue.message}` : "Invalid input";
  return new ApiError(400, message, "VALIDATION_ERROR", field);
}

/** Parse a JSON body string; "" parses as `{}` so an empty POST reaches zod, not a 500. */
export function parseJsonBody(raw: string): unknown {
  if (raw.trim() === "") return {};
  try {
    return JSON.parse(raw);
  } catch {
    throw new ApiError(400, "Invalid JSON body", "INVALID_JSON");
  }
}
