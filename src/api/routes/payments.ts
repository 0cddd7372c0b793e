/**
 * Plans and payments. `GET /v1/plans` is public (a price list: a visitor compares plans
 * before registering); every payment route needs authentication and only sees the caller's
 * payments.
 */
import { createRoute } from "@hono/zod-openapi";
import { getDb } from "../../db/client";
import { listPlans } from "../../db/plans";
import { createPayment, getPayment, listPayments, paymentView } from "../../lightning/payments";
import { commonErrors, errorResponses, json, jsonBody, router, security, z } from "../openapi";

const Plan = z.object({
  id: z.string().openapi({ example: "pro" }),
  name: z.string(),
  priceSats: z.number().int(),
  durationDays: z.number().int(),
  limits: z.object({
    maxAccounts: z.number().int(),
    automationTypes: z.array(z.string()),
    maxConcurrentSimulations: z.number().int(),
    maxSimulationSteps: z.number().int(),
  }),
}).openapi("Plan");

const Payment = z.object({
  id: z.string(),
  planId: z.string(),
  status: z.enum(["pending", "paid", "expired", "failed"]),
  amountSats: z.number().int(),
  paymentRequest: z.string().openapi({ description: "BOLT11 invoice to pay" }),
  paymentHash: z.string(),
  expiresAt: z.number().openapi({ description: "Epoch ms; an unpaid invoice expires after 1 h" }),
  paidAt: z.number().nullable(),
  activatedAt: z.number().nullable(),
  lastCheckedAt: z.number().nullable(),
  checks: z.number().int(),
  createdAt: z.number(),
}).openapi("Payment");

const CreatePayment = z.strictObject({ planId: z.string().trim().min(1, "planId is required").max(64) }).openapi("CreatePayment");
const PaymentParams = z.object({ id: z.string().max(100).openapi({ param: { name: "id", in: "path" } }) });
const ListQuery = z.object({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

const unavailable = { 503: errorResponses[503] };

/** `GET /v1/plans`, mounted without authentication. */
export const planRoutes = router().openapi(
  createRoute({ method: "get", path: "/", tags: ["payments"], summary: "Plans, their price in sats, duration and limits (public)",
    responses: { 200: json(z.object({ data: z.array(Plan) }), "Plans") } }),
  async (c) => {
    const plans = (await listPlans(getDb(c.env))).sort((a, b) => a.priceSats - b.priceSats);
    return c.json({ data: plans }, 200);
  },
);

const tags = ["payments"];

/** `/v1/payments`, mounted behind requireAuth. */
export const paymentRoutes = router()
  .openapi(
    createRoute({ method: "post", path: "/", tags, security, summary: "Buy a plan: a Lightning invoice valid 1 h; the plan activates once it is paid",
      request: jsonBody(CreatePayment), responses: { 201: json(Payment, "Invoice created"), ...unavailable, ...commonErrors } }),
    async (c) => {
      const row = await createPayment(c.env, c.get("user").id, c.req.valid("json").planId, { logger: c.get("logger") });
      return c.json(paymentView(row), 201);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/", tags, security, summary: "Your payments, newest first (cursor paginated)",
      request: { query: ListQuery }, responses: { 200: json(z.object({ data: z.array(Payment), nextCursor: z.string().nullable() }), "Payments"), ...commonErrors } }),
    async (c) => {
      const page = await listPayments(getDb(c.env), c.get("user").id, c.req.valid("query"));
      return c.json({ data: page.data.map(paymentView), nextCursor: page.nextCursor }, 200);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/{id}", tags, security, summary: "One of your payments and its status", request: { params: PaymentParams },
      responses: { 200: json(Payment, "Payment"), ...commonErrors } }),
    async (c) => c.json(paymentView(await getPayment(getDb(c.env), c.get("user").id, c.req.valid("param").id)), 200),
  );
