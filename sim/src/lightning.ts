/**
 * A fake Lightning provider speaking the subset of LNbits' API the platform uses: create an
 * incoming invoice, check whether it is paid. Invoices are paid by hand through
 * POST /__sim/invoices/:paymentHash/pay. Errors use FastAPI's `{detail}` shape, as LNbits does.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { Faults } from "./faults";
import { randomHex } from "./signing";
import type { Invoice, Store } from "./store";

const CreateInvoice = z.object({
  out: z.literal(false),
  amount: z.number().int().min(1).max(21_000_000 * 100_000_000),
  memo: z.string().max(640).optional(),
  expiry: z.number().int().min(1).max(31 * 24 * 3600).optional(),
});

export const DEFAULT_EXPIRY_S = 3600;

const detail = (status: 400 | 401 | 404 | 503, message: string) => Response.json({ detail: message }, { status });

export function invoiceStatus(i: Invoice, now: number): "success" | "pending" | "expired" {
  if (i.paidMs !== null) return "success";
  return now > i.createdMs + i.expiry * 1000 ? "expired" : "pending";
}

export function lightningRoutes(deps: { store: Store; faults: Faults }) {
  const app = new Hono();

  app.use("*", async (c, next) => {
    const refused = deps.faults.active.lightningDown
      ? detail(503, "Lightning backend unavailable (simulated)")
      : !c.req.header("x-api-key") ? detail(401, "Invoice (or Admin) key required.") : null;
    if (deps.faults.active.lightningDown) deps.faults.count("lightning_down");
    if (refused) {
      // Drain the body first: answering a service-binding request before reading its body
      // makes workerd raise "Can't read from request stream after response has been sent".
      await c.req.raw.arrayBuffer().catch(() => undefined);
      return refused;
    }
    await next();
  });

  return app
    .post("/api/v1/payments", async (c) => {
      let json: unknown;
      try {
        json = await c.req.json();
      } catch {
        return detail(400, "Invalid JSON body");
      }
      const r = CreateInvoice.safeParse(json);
      if (!r.success) {
        const issue = r.error.issues[0];
        return detail(400, `${issue?.path.join(".") || "body"}: ${issue?.message ?? "invalid"}`);
      }
      const paymentHash = randomHex(32);
      const invoice: Invoice = {
        paymentHash,
        // Looks like regtest BOLT11 (amount in units of 0.1 sat with the `n` multiplier); not decodable.
        paymentRequest: `lnbcrt${r.data.amount * 10}n1p${randomHex(40)}`,
        amount: r.data.amount,
        memo: r.data.memo ?? null,
        expiry: r.data.expiry ?? DEFAULT_EXPIRY_S,
        createdMs: Date.now(),
        paidMs: null,
      };
      deps.store.insertInvoice(invoice, c.req.header("x-api-key")!);
      return c.json(
        { payment_hash: paymentHash, payment_request: invoice.paymentRequest, checking_id: paymentHash },
        201,
      );
    })
    .get("/api/v1/payments/:hash", (c) => {
      const i = deps.store.invoice(c.req.param("hash"));
      if (!i) return detail(404, "Payment does not exist.");
      const status = invoiceStatus(i, Date.now());
      return c.json({
        paid: status === "success",
        status,
        preimage: status === "success" ? i.paymentHash.split("").reverse().join("") : null,
        details: {
          payment_hash: i.paymentHash,
          amount: i.amount * 1000,
          memo: i.memo,
          time: Math.floor(i.createdMs / 1000),
          expiry: Math.floor(i.createdMs / 1000) + i.expiry,
        },
      });
    })
    .notFound(() => detail(404, "Not Found"));
}
