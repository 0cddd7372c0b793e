/**
 * Services throw the domain errors of src/lib/errors.ts; src/api/errors.ts alone turns them
 * into statuses and bodies, the same ones the API answered when services threw ApiError
 * (issue 21). Two mappings no other test reaches end to end are also driven through the API.
 */
import { describe, expect, it } from "vitest";
import { toApiError } from "../src/api/errors";
import { ConflictError, NotFoundError, PlanLimitError, UnavailableError, ValidationError } from "../src/lib/errors";
import { api, registerUser } from "./helpers";

const shape = (e: unknown) => {
  const a = toApiError(e);
  return { status: a.status, code: a.code, message: a.message, details: a.details, headers: a.headers };
};

describe("domain errors map to the API's statuses and bodies", () => {
  it("each kind keeps the status, code, message, details and headers routes answered before", () => {
    expect(shape(new NotFoundError("Payment"))).toEqual({ status: 404, code: "not_found", message: "Payment not found", details: undefined, headers: undefined });
    expect(shape(ValidationError.field("webhook.url", "url must be https"))).toEqual({
      status: 400, code: "validation_error", message: "Invalid webhook.url: url must be https",
      details: [{ path: "webhook.url", message: "url must be https", code: "custom" }], headers: undefined,
    });
    expect(shape(new ValidationError([{ path: "planId", message: "Unknown plan", code: "invalid_plan" }], "Unknown plan"))).toMatchObject({ status: 400, message: "Unknown plan" });
    expect(shape(new ConflictError("An account with this name already exists", { field: "name" }))).toMatchObject({ status: 409, code: "conflict", details: { field: "name" } });
    expect(shape(new PlanLimitError("x", { limit: "maxAccounts", plan: "free", upgradeTo: "pro" }))).toMatchObject({ status: 402, code: "plan_limit", details: { limit: "maxAccounts", plan: "free", upgradeTo: "pro" } });
    expect(shape(new UnavailableError("down", 30))).toEqual({ status: 503, code: "upstream_unavailable", message: "down", details: undefined, headers: { "retry-after": "30" } });
    expect(shape(new UnavailableError("down")).headers).toBeUndefined();
  });

  it("a cursor this API never returned is a 400 naming `cursor` (lib/pagination, thrown by a service)", async () => {
    const u = await registerUser("domain-errors");
    const r = await api("GET", "/v1/payments?cursor=not-a-cursor", { token: u.token });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: { code: "validation_error", message: "Invalid cursor", details: [{ path: "cursor", message: "not a cursor returned by this API", code: "invalid_cursor" }] } });
  });

  it("an unknown payment id is a 404 with the old body", async () => {
    const u = await registerUser("domain-errors-404");
    const r = await api("GET", "/v1/payments/pay_nope", { token: u.token });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: { code: "not_found", message: "Payment not found" } });
  });
});
