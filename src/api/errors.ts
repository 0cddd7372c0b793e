/**
 * One error shape for the whole API: `{"error":{"code","message","details"}}`, one map from
 * code to HTTP status, one onError. Routes throw `ApiError`; services throw the domain errors
 * of src/lib/errors.ts, mapped here; nothing else decides a status.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { z } from "@hono/zod-openapi";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ConflictError, NotFoundError, PlanLimitError, UnavailableError, ValidationError } from "../lib/errors";

export const ERROR_STATUS = {
  validation_error: 400,
  malformed_json: 400,
  unauthenticated: 401,
  invalid_credentials: 401,
  forbidden: 403,
  /** An API token without the scope the route needs (read < trade < admin). */
  insufficient_scope: 403,
  plan_limit: 402,
  not_found: 404,
  conflict: 409,
  /** A cap on how many of something a user may have (API tokens, automations…). */
  limit_reached: 409,
  /** The account's state refuses a manual action (issue 23): disabled, keys refused, automations stopped... */
  account_disabled: 409,
  credentials_rejected: 409,
  automations_stopped: 409,
  automation_disabled: 409,
  entries_paused: 409,
  automation_running: 409,
  /** An Idempotency-Key still held by a request in progress, or an earlier order on the trade that may still land. */
  request_in_progress: 409,
  order_in_flight: 409,
  /** An Idempotency-Key sent again with another action. */
  idempotency_key_reused: 422,
  /** The exchange refused the order (insufficient balance, an exchange rule): business or permanent, not retried. */
  exchange_refused: 422,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal_error: 500,
  misconfigured: 500,
  upstream_unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
  get status(): ContentfulStatusCode {
    return ERROR_STATUS[this.code];
  }
}

export const notFound = (what: string) => new ApiError("not_found", `${what} not found`);

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "validation_error" }),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi("Error");

/** Zod issues as `[{path: "a.b", message}]`: the field is named, nothing else echoed. */
export function issuesToDetails(issues: readonly z.core.$ZodIssue[]): { path: string; message: string; code: string }[] {
  return issues.map((i) => ({ path: i.path.map(String).join(".") || "(body)", message: i.message, code: i.code }));
}

export function validationError(issues: readonly z.core.$ZodIssue[]): ApiError {
  const details = issuesToDetails(issues);
  const first = details[0];
  return new ApiError("validation_error", first ? `Invalid ${first.path}: ${first.message}` : "Invalid request", details);
}

export function errorResponse(c: Context, err: ApiError): Response {
  for (const [k, v] of Object.entries(err.headers ?? {})) c.header(k, v);
  const body: Record<string, unknown> = { code: err.code, message: err.message };
  if (err.details !== undefined) body.details = err.details;
  return c.json({ error: body }, err.status);
}

/** Maps anything thrown in a route to the error shape; unknown errors become a bare 500. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ValidationError) return new ApiError("validation_error", err.message, err.issues);
  if (err instanceof NotFoundError) return new ApiError("not_found", err.message);
  if (err instanceof ConflictError) return new ApiError("conflict", err.message, err.details);
  if (err instanceof PlanLimitError) return new ApiError("plan_limit", err.message, err.details);
  if (err instanceof UnavailableError) {
    return new ApiError("upstream_unavailable", err.message, undefined, err.retryAfterSeconds !== undefined ? { "retry-after": String(err.retryAfterSeconds) } : undefined);
  }
  if (err instanceof z.ZodError) return validationError(err.issues);
  if (err instanceof HTTPException) {
    if (err.status === 413) return new ApiError("payload_too_large", "Request body too large");
    if (err.status === 401) return new ApiError("unauthenticated", "Authentication required");
    if (err.status === 400 && /json/i.test(err.message)) return new ApiError("malformed_json", "Malformed JSON in request body");
    if (err.status === 400) return new ApiError("validation_error", err.message || "Bad request");
    if (err.status === 404) return new ApiError("not_found", "Not found");
    // zod-openapi's media-type gate: a JSON route sent text/plain, form data or no type (issue 22).
    if (err.status === 415) return new ApiError("unsupported_media_type", "Content-Type must be application/json");
    if (err.status === 429) return new ApiError("rate_limited", "Too many requests");
    if (err.status >= 400 && err.status < 500) return new ApiError("validation_error", err.message || "Bad request");
  }
  return new ApiError("internal_error", "Internal error");
}
