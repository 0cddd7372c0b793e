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
export const notFound = (message = "Trade not found") => new ApiError(404, message, "NOT_FOUND");

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
