/**
 * `/__dev/sim/*`: the simulator's control API as the console needs it on the dev stack, so a
 * newcomer is paper trading in a minute without leaving the page. In dev the simulator runs on
 * another origin (LNM_SIMULATOR_URL, reached through the `LNM_SIM` service binding) that the
 * console's CSP does not allow, so these routes relay a few calls through the platform.
 *
 * Every route answers 404 unless ENVIRONMENT=development: staging and production have no
 * simulator, and tests (ENVIRONMENT=test) drive the simulator directly.
 */
import { Hono } from "hono";
import { z } from "zod";
import { getAccountCredentials } from "../../accounts/credentials";
import type { AppEnv } from "../context";
import { ApiError, validationError } from "../errors";
import { requireAuth } from "../middleware/auth";
import { LnMarketsRestClient } from "../../lnmarkets/rest-client";
import { resolveEndpoints } from "../../lnmarkets/transport";

/** Paper money a newcomer starts with (sats). */
const DEV_KEYS_BALANCE_SATS = 10_000_000;

const PriceBody = z.strictObject({ price: z.number().positive().max(10_000_000) });
const TradeBody = z.strictObject({
  side: z.enum(["buy", "sell"]),
  quantity: z.number().int().min(1).max(500_000),
  leverage: z.number().min(1).max(100),
});

async function parse<T extends z.ZodType>(schema: T, req: Request): Promise<z.infer<T>> {
  const raw = await req.json().catch(() => {
    throw new ApiError("malformed_json", "Request body is not valid JSON");
  });
  const r = schema.safeParse(raw);
  if (!r.success) throw validationError(r.error.issues);
  return r.data;
}

/** Calls the simulator's control API through LNM_SIM (or its URL) and relays its JSON answer. */
async function control(env: Env, path: string, body?: unknown): Promise<Response> {
  const endpoints = resolveEndpoints(env, "simulator");
  const base = endpoints.restBase.replace(/\/v3$/, "");
  const res = await endpoints.fetch(`${base}/__sim/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body ?? {}),
  });
  if (!res.ok) throw new ApiError("upstream_unavailable", `The simulator refused ${path}: HTTP ${res.status}`);
  return Response.json(await res.json(), { headers: { "cache-control": "no-store" } });
}

export const devSimRoutes = new Hono<AppEnv>()
  .use("*", async (c, next) => {
    if (c.env.ENVIRONMENT !== "development") throw new ApiError("not_found", "Route not found");
    await next();
  })
  /** Fresh simulator keys with paper sats, for the console's "use simulator keys" button. */
  .post("/keys", (c) => control(c.env, "keys", { balance: DEV_KEYS_BALANCE_SATS }))
  /** Moves the simulator's price (every paper account on this dev stack sees it). */
  .post("/price", async (c) => control(c.env, "price", await parse(PriceBody, c.req.raw)))
  /** Pays a fake Lightning invoice of the dev stack (the simulator's LNbits). */
  .post("/invoices/:hash/pay", (c) => {
    const hash = c.req.param("hash");
    if (!/^[0-9a-f]{64}$/i.test(hash)) throw new ApiError("validation_error", "Invalid paymentHash", [{ path: "hash", message: "a 64-hex payment hash", code: "invalid_format" }]);
    return control(c.env, `invoices/${hash}/pay`);
  })
  /**
   * Opens a market trade on one of the caller's simulator accounts with its stored keys: a
   * paper trade to watch the guards work. Not an automation: no executor, no intent.
   */
  .post("/accounts/:id/trade", requireAuth, async (c) => {
    const found = await getAccountCredentials(c.env, c.get("user").id, c.req.param("id"));
    if (!found) throw new ApiError("not_found", "Account not found");
    if (found.account.network !== "simulator") throw new ApiError("validation_error", "Paper trades are for simulator accounts only", [{ path: "id", message: "not a simulator account", code: "custom" }]);
    const body = await parse(TradeBody, c.req.raw);
    const client = new LnMarketsRestClient({ endpoints: resolveEndpoints(c.env, "simulator"), credentials: found.credentials });
    try {
      const trade = await client.newTrade({ type: "market", ...body });
      return c.json({ id: trade.id, side: trade.side, quantity: trade.quantity, entryPrice: trade.entryPrice ?? trade.price, margin: trade.margin }, 201);
    } catch (e) {
      throw new ApiError("validation_error", `The simulator refused the trade: ${e instanceof Error ? e.message : String(e)}`, [{ path: "trade", message: e instanceof Error ? e.message : String(e), code: "custom" }]);
    }
  });

/**
 * The simulator network's market feed (issue 20): price, index size, counters (ticks,
 * crossings, wakes, registrations) and the last fan-out, for the bench (bench/run.mjs reads
 * the fan-out's RPC rate here). Read-only; dev stack only, like every route here. Added
 * outside the chain above so it stays out of the app's exported type (a deeper AppType trips
 * TypeScript's instantiation depth in the typed-client tests).
 */
devSimRoutes.get("/feed", requireAuth, async (c) => c.json(await c.env.MARKET_FEED.getByName("simulator").status(), 200, { "cache-control": "no-store" }));
