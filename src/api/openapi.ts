/** Small helpers so every route declares bodies and responses the same way. */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "./context";
import { ErrorBody, validationError } from "./errors";

export { z };

/** A router whose validation failures become our 400 shape (field named in details). */
export function router() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error.issues);
    },
  });
}

export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return { body: { content: { "application/json": { schema } }, required: true, ...(description ? { description } : {}) } };
}

export function json<T extends z.ZodType>(schema: T, description: string) {
  return { content: { "application/json": { schema } }, description };
}

const err = (description: string) => ({ content: { "application/json": { schema: ErrorBody } }, description });

/** Error responses most authenticated routes can give. */
export const commonErrors = {
  400: err("Validation error; `details` names the field"),
  401: err("Not authenticated"),
  404: err("Not found, or not yours"),
  413: err("Body too large"),
  415: err("Content-Type is not application/json"),
} as const;

export const errorResponses = {
  402: err("The plan does not include it"),
  403: err("Authenticated but not allowed"),
  409: err("Conflict"),
  429: err("Rate or concurrency limit"),
  503: err("An upstream (the exchange, the Lightning provider) is unavailable"),
} as const;

export const security = [{ bearer: [] as string[] }];
