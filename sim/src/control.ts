/**
 * The control API under /__sim/ (DESIGN.md, "The LN Markets simulator"): no LN Markets auth,
 * refused with 403 unless SIM_MODE is "dev" or "test". Bodies are validated with zod and a
 * 400 names the field.
 */
import { Hono, type Context } from "hono";
import { z } from "zod";
import type { ScenarioState } from "./engine";
import { ScenarioInput } from "./engine";
import { ApiError, validationError } from "./errors";
import type { NewKeysInput, PriceState } from "./exchange";
import { FaultsInput, normalizeFaults, type ActiveFaults, type FaultCounts } from "./faults";
import { errorResponse } from "./rest-routes";
import type { OrderLogEntry } from "./store";

/** The only modes in which the control API answers. */
export function isControlAllowed(mode: string | undefined): boolean {
  return mode === "dev" || mode === "test";
}

export const KeysInput = z
  .object({
    balance: z.number().int().min(0),
    key: z.string().min(1).max(128).optional(),
    secret: z.string().min(1).max(256).optional(),
    passphrase: z.string().min(1).max(128).optional(),
    username: z.string().min(1).max(64).optional(),
  })
  .strict();

export const PriceInput = z
  .object({
    price: z.number().positive().finite(),
    index: z.number().positive().finite().optional(),
    /** Bid/offer spread in USD, on the 0.5 tick; persists until changed. */
    spread: z
      .number()
      .finite()
      .min(0)
      .max(100_000)
      .refine((v) => Math.abs(v * 2 - Math.round(v * 2)) < 1e-9, { message: "spread must be a multiple of 0.5" })
      .optional(),
  })
  .strict();

/** A funding rate as a fraction per period (0.0001 = 0.01 %). */
const Rate = z.number().finite().min(-1).max(1);
export const FundingNowInput = z.object({ rate: Rate }).strict();
export const FundingConfigInput = z
  .object({ rate: Rate, periodMs: z.number().int().min(1_000).max(30 * 86_400_000).optional() })
  .strict();

export interface FundingState {
  rate: number;
  periodMs: number;
  periodic: boolean;
  nextAt: string | null;
  fundingTime: string;
}

const StepInput = z.object({ count: z.number().int().min(1).max(100_000).optional() }).strict();

/** Operations the DO performs for the control API. */
export interface ControlOps {
  createKeys(input: NewKeysInput): { key: string; secret: string; passphrase: string; accountId: string };
  setPrice(price: number, index?: number, spread?: number): PriceState;
  settleFunding(rate: number): unknown;
  configureFunding(rate: number, periodMs?: number): FundingState;
  disableFunding(): FundingState;
  fundingState(): FundingState;
  startScenario(input: ScenarioInput): ScenarioState;
  stopScenario(): void;
  stepScenario(count: number): { steps: number; price: PriceState; scenario: ScenarioState | null };
  setFaults(faults: ActiveFaults): ActiveFaults;
  faults(): ActiveFaults;
  /** Faults injected so far by kind, and their total. */
  injected(): FaultCounts & { total: number };
  resetInjected(): FaultCounts & { total: number };
  /** The owner revokes an API key: its REST calls get 401, its stream sockets are closed. */
  revokeKey(key: string): { key: string; revoked: true; revokedAt: number; socketsClosed: number };
  restoreKey(key: string): { key: string; revoked: false };
  /** Every trade of the key's account (any status), as the REST API shows them; no faults, no order log. */
  trades(key: string): unknown[];
  orders(key?: string, since?: number): OrderLogEntry[];
  payInvoice(paymentHash: string): { paid: true; payment_hash: string };
  reset(): void;
  state(): unknown;
}

async function json<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  const text = await c.req.text();
  let data: unknown = {};
  if (text.trim() !== "") {
    try {
      data = JSON.parse(text);
    } catch {
      throw new ApiError(400, "Invalid JSON body", "INVALID_JSON");
    }
  }
  const r = schema.safeParse(data);
  if (!r.success) throw validationError(r.error);
  return r.data;
}

export function controlRoutes(ops: ControlOps) {
  const app = new Hono();
  app.onError((e) => errorResponse(e));
  return app
    .post("/keys", async (c) => c.json(ops.createKeys(await json(c, KeysInput))))
    .post("/price", async (c) => {
      const { price, index, spread } = await json(c, PriceInput);
      const p = ops.setPrice(price, index, spread);
      return c.json({ lastPrice: p.lastPrice, index: p.index, spread: p.spread, bid: p.bid, offer: p.offer });
    })
    .post("/funding", async (c) => c.json(ops.settleFunding((await json(c, FundingNowInput)).rate)))
    .get("/funding", (c) => c.json(ops.fundingState()))
    .put("/funding", async (c) => {
      const { rate, periodMs } = await json(c, FundingConfigInput);
      return c.json(ops.configureFunding(rate, periodMs));
    })
    .delete("/funding", (c) => c.json(ops.disableFunding()))
    .post("/scenario", async (c) => c.json({ running: true, scenario: ops.startScenario(await json(c, ScenarioInput)) }))
    .delete("/scenario", (c) => {
      ops.stopScenario();
      return c.json({ running: false });
    })
    .post("/scenario/step", async (c) => {
      const { count } = await json(c, StepInput);
      return c.json(ops.stepScenario(count ?? 1));
    })
    .post("/keys/:key/revoke", (c) => c.json(ops.revokeKey(c.req.param("key"))))
    .post("/keys/:key/restore", (c) => c.json(ops.restoreKey(c.req.param("key"))))
    .get("/trades", (c) => {
      const key = c.req.query("key");
      if (!key) throw new ApiError(400, "key is required", "VALIDATION_ERROR", "key");
      return c.json(ops.trades(key));
    })
    .get("/faults/injected", (c) => c.json(ops.injected()))
    .delete("/faults/injected", (c) => c.json(ops.resetInjected()))
    .get("/faults", (c) => c.json(ops.faults()))
    .post("/faults", async (c) => c.json(ops.setFaults(normalizeFaults(await json(c, FaultsInput)))))
    .delete("/faults", (c) => c.json(ops.setFaults(normalizeFaults({}))))
    .get("/orders", (c) => {
      const since = c.req.query("since");
      if (since !== undefined && !/^\d{1,16}$/.test(since)) throw new ApiError(400, "since must be a time in ms", "INVALID_SINCE");
      return c.json(ops.orders(c.req.query("key") || undefined, since === undefined ? 0 : Number(since)));
    })
    .post("/invoices/:paymentHash/pay", (c) => c.json(ops.payInvoice(c.req.param("paymentHash"))))
    .post("/reset", (c) => {
      ops.reset();
      return c.json({ reset: true });
    })
    .get("/state", (c) => c.json(ops.state()))
    .notFound(() => Response.json({ message: "Not found", code: "NOT_FOUND" }, { status: 404 }));
}
