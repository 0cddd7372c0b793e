/**
 * The few errors services raise for expected failures. They say what went wrong, not how to
 * answer it: src/api/errors.ts maps each to an HTTP status and the API's error body in one
 * place. (Only `name` and `message` survive DO RPC, so these stay on the calling side.)
 */

/** One refused input field, as the API reports it in `details[]`. */
export interface FieldIssue {
  path: string;
  message: string;
  code: string;
}

export abstract class DomainError extends Error {}

/** The thing does not exist, or is not the caller's (never say which). */
export class NotFoundError extends DomainError {
  override readonly name = "NotFoundError";
  constructor(what: string) {
    super(`${what} not found`);
  }
}

/** Input refused; `issues` name the fields. The message defaults to the first issue. */
export class ValidationError extends DomainError {
  override readonly name = "ValidationError";
  constructor(readonly issues: FieldIssue[], message?: string) {
    super(message ?? (issues[0] ? `Invalid ${issues[0].path}: ${issues[0].message}` : "Invalid request"));
  }
  /** One field refused: `Invalid {path}: {message}`. */
  static field(path: string, message: string, code = "custom"): ValidationError {
    return new ValidationError([{ path, message, code }]);
  }
}

/** A duplicate (a name already taken); `details` say which field. */
export class ConflictError extends DomainError {
  override readonly name = "ConflictError";
  constructor(message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }
}

/** The user's plan does not include it: names the limit, the plan and the plan that lifts it. */
export class PlanLimitError extends DomainError {
  override readonly name = "PlanLimitError";
  constructor(message: string, readonly details: { limit: string; plan: string; upgradeTo: string | null }) {
    super(message);
  }
}

/** A dependency (payment provider, simulator) is down; try again later. */
export class UnavailableError extends DomainError {
  override readonly name = "UnavailableError";
  constructor(message: string, readonly retryAfterSeconds?: number) {
    super(message);
  }
}
