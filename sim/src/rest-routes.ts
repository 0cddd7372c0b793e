/**
 * REST v3: the routes, bodies and outputs of @ln-markets/sdk src/rest/v3 (isolated futures,
 * account, ticker, ping, time). Faults and the order log wrap every route; authentication
 * wraps all but the public ones.
 */
import { Hono, type Context } from "hono";
import { z } from "zod";
import { authenticateRest } from "./auth";
import { candles, CANDLE_RANGES, DEFAULT_CANDLE_RANGE } from "./candles";
import { ApiError, parseJsonBody, validationError } from "./errors";
import type { Exchange } from "./exchange";
import type { Faults, RestVerdict } from "./faults";
import { RECEIVED_AT_HEADER } from "./received-at";
import { toFuturesTrade, type TradeRecord } from "./positions";
import type { Account, Store } from "./store";

/** What the routes need from the DO. */
export interface Sim {
  store: Store;
  exchange: Exchange;
  faults: Faults;
  /** Push the events the last operation produced. */
  publish(): void;
}

type Env = { Variables: { account: Account; raw: string } };

/**
 * Marks a request from a test harness acting as the trader: never faulted, and logged with
 * this value as `harness` in the order log. Dev and test only, like the whole simulator.
 */
export const HARNESS_HEADER = "x-sim-harness";

const PUBLIC_PATHS = new Set([
  "/v3/ping",
  "/v3/time",
  "/v3/futures/ticker",
  "/v3/futures/candles",
  "/v3/futures/funding-settlements",
]);

// Shapes only: ranges, ticks and the exchange's rules are checked by the exchange, each
// refusal with its own code (errors.ts).
const NewTrade = z
  .object({
    type: z.enum(["market", "limit"]),
    side: z.enum(["buy", "sell"]),
    leverage: z.number().finite(),
    quantity: z.number().int().optional(),
    margin: z.number().int().optional(),
    price: z.number().finite().optional(),
    takeprofit: z.number().finite().min(0).optional(),
    stoploss: z.number().finite().min(0).optional(),
    clientId: z.string().min(1).max(64).optional(),
  })
  .superRefine((v, ctx) => {
    if ((v.margin === undefined) === (v.quantity === undefined)) {
      ctx.addIssue({ code: "custom", path: ["quantity"], message: "exactly one of margin and quantity is required" });
    }
    if (v.type === "limit" && v.price === undefined) {
      ctx.addIssue({ code: "custom", path: ["price"], message: "price is required for a limit order" });
    }
    if (v.type === "market" && v.price !== undefined) {
      ctx.addIssue({ code: "custom", path: ["price"], message: "price is only allowed for a limit order" });
    }
  });

const Id = z.object({ id: z.string().min(1) });
const IdAmount = Id.extend({ amount: z.number().int().positive() });
const IdValue = Id.extend({ value: z.number().finite() });
const Stoploss = Id.extend({ value: z.number().finite().min(0), mode: z.enum(["fixed", "trailing"]).optional() });

function parse<T extends z.ZodType>(schema: T, data: unknown): z.infer<T> {
  const r = schema.safeParse(data);
  if (!r.success) throw validationError(r.error);
  return r.data;
}

const body = <T extends z.ZodType>(c: Context<Env>, schema: T) => parse(schema, parseJsonBody(c.get("raw")));
const query = <T extends z.ZodType>(c: Context<Env>, schema: T) => parse(schema, c.req.query());

export function errorResponse(e: unknown): Response {
  if (e instanceof ApiError) return Response.json(e.toJSON(), { status: e.status });
  console.error(JSON.stringify({ level: "error", msg: "sim unhandled error", error: String(e) }));
  return Response.json({ message: "Internal server error", code: "INTERNAL" }, { status: 500 });
}

function clientIdOf(raw: string): string | null {
  try {
    const v = (JSON.parse(raw) as { clientId?: unknown }).clientId;
    return typeof v === "string" ? v : null;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function restRoutes(sim: Sim) {
  const { exchange } = sim;
  const view = (t: TradeRecord) => toFuturesTrade(t, exchange.price.lastPrice);

  const app = new Hono<Env>();
  app.onError((e) => errorResponse(e));

  app.use("*", async (c, next) => {
    let handledAt = Date.now();
    const front = Number(c.req.header(RECEIVED_AT_HEADER));
    const at = Number.isSafeInteger(front) && front > 0 && front <= handledAt ? front : handledAt;
    const raw = await c.req.text();
    c.set("raw", raw);
    const url = new URL(c.req.url);
    const key = c.req.header("lnm-access-key") ?? null;
    const write = c.req.method !== "GET" && c.req.method !== "HEAD";
    // A test harness acting as the trader (its own add-margins and closes) is not faulted.
    const harness = c.req.header(HARNESS_HEADER)?.slice(0, 32) || null;
    let res: Response;
    let holdAfterMs = 0;
    try {
      const f = sim.faults.active;
      if (!harness && f.latencyMs > 0) {
        sim.faults.count("latency");
        await sleep(f.latencyMs);
      }
      const verdict: RestVerdict = harness
        ? { kind: "pass", holdBeforeMs: 0, holdAfterMs: 0 }
        : sim.faults.judgeRest(key ?? c.req.header("cf-connecting-ip") ?? "anonymous", Date.now(), write);
      if (verdict.kind === "pass" && verdict.holdBeforeMs > 0) {
        // Lands late: the exchange applies it after the hold, whether the client still waits
        // or not (a request's handler here runs on after its caller has gone).
        await sleep(verdict.holdBeforeMs);
        handledAt = Date.now();
      }
      if (verdict.kind === "pass") holdAfterMs = verdict.holdAfterMs;
      if (verdict.kind === "rate-limited") {
        res = Response.json(
          { message: "Too many requests", code: "RATE_LIMITED" },
          { status: 429, headers: { "retry-after": String(verdict.retryAfterS) } },
        );
      } else if (verdict.kind === "error") {
        res = Response.json({ message: "Simulated server error", code: "SIMULATED_FAULT" }, { status: verdict.status });
      } else {
        if (!PUBLIC_PATHS.has(url.pathname)) {
          c.set("account", await authenticateRest(sim.store, { method: c.req.method, url, headers: c.req.raw.headers, body: raw }));
        }
        await next();
        res = c.res;
      }
    } catch (e) {
      res = errorResponse(e);
    }
    if (write) {
      sim.store.logOrder({ at, handledAt, key, route: `${c.req.method} ${url.pathname}`, body: raw, clientId: clientIdOf(raw), status: res.status, harness });
    }
    // Applied (and logged) already; only the answer waits (the client may time out first).
    if (holdAfterMs > 0) await sleep(holdAfterMs);
    return res;
  });

  return app
    .get("/ping", (c) => c.json("pong"))
    .get("/time", (c) => c.json({ time: new Date().toISOString() }))
    .get("/futures/ticker", (c) => c.json(exchange.ticker()))
    .get("/account", (c) => c.json(exchange.account(c.get("account"))))
    .get("/futures/isolated/trades/running", (c) =>
      c.json(sim.store.tradesOf(c.get("account").id, "running").map(view)),
    )
    .get("/futures/isolated/trades/open", (c) => c.json(sim.store.tradesOf(c.get("account").id, "open").map(view)))
    .get("/futures/isolated/trades/canceled", (c) =>
      c.json(sim.store.tradesOf(c.get("account").id, "canceled").reverse().map(view)),
    )
    .get("/futures/funding-settlements", (c) => {
      const q = query(c, PageQuery);
      const rows = sim.store.settlements({ ...q, limit: q.limit + 1 });
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      return c.json({
        data: page.map((r) => ({ id: r.id, time: new Date(r.time).toISOString(), fundingRate: r.rate, fixingPrice: r.fixingPrice })),
        nextCursor: rows.length > q.limit && last ? encodePage({ t: last.time, s: last.seq }) : null,
      });
    })
    .get("/futures/isolated/funding-fees", (c) => {
      const q = query(c, FundingFeesQuery);
      const rows = sim.store.fundingFees(c.get("account").id, { ...q, limit: q.limit + 1 });
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      return c.json({
        data: page.map((r) => ({ fee: r.fee, settlementId: r.settlementId, time: new Date(r.time).toISOString(), tradeId: r.tradeId })),
        nextCursor: rows.length > q.limit && last ? encodePage({ t: last.time, s: last.seq }) : null,
      });
    })
    .get("/futures/candles", (c) => {
      const q = query(c, CandlesQuery);
      const r = candles({ ...q, now: Date.now() });
      return c.json({ data: r.data, nextCursor: r.next === null ? null : encodePage({ t: r.next, s: 0 }) });
    })
    .get("/futures/isolated/trades/closed", (c) => {
      const q = query(c, ClosedQuery);
      const rows = sim.store.finishedTrades(c.get("account").id, { ...q, limit: q.limit + 1 });
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      const nextCursor = rows.length > q.limit && last ? encodeCursor(last) : null;
      return c.json({ data: page.map(view), nextCursor });
    })
    .post("/futures/isolated/trade", (c) => {
      const t = exchange.newTrade(c.get("account"), body(c, NewTrade));
      sim.publish();
      return c.json(view(t));
    })
    .post("/futures/isolated/trade/add-margin", (c) => {
      const { id, amount } = body(c, IdAmount);
      return c.json(view(exchange.addMargin(c.get("account"), id, amount)));
    })
    .post("/futures/isolated/trade/cash-in", (c) => {
      const { id, amount } = body(c, IdAmount);
      return c.json(view(exchange.cashIn(c.get("account"), id, amount)));
    })
    .put("/futures/isolated/trade/takeprofit", (c) => {
      const { id, value } = body(c, IdValue);
      return c.json(view(exchange.setTakeprofit(c.get("account"), id, value)));
    })
    .delete("/futures/isolated/trade/takeprofit", (c) => {
      const { id } = query(c, Id);
      return c.json(view(exchange.removeTakeprofit(c.get("account"), id)));
    })
    .put("/futures/isolated/trade/stoploss", (c) => {
      const { id, value, mode } = body(c, Stoploss);
      return c.json(view(exchange.setStoploss(c.get("account"), id, value, mode ?? "fixed")));
    })
    .delete("/futures/isolated/trade/stoploss", (c) => {
      const { id } = query(c, Id);
      return c.json(view(exchange.removeStoploss(c.get("account"), id)));
    })
    .post("/futures/isolated/trade/close", (c) => {
      const t = exchange.close(c.get("account"), body(c, Id).id);
      sim.publish();
      return c.json(view(t));
    })
    .post("/futures/isolated/trade/cancel", (c) => {
      const t = exchange.cancel(c.get("account"), body(c, Id).id);
      sim.publish();
      return c.json(view(t));
    })
    .post("/futures/isolated/trades/cancel-all", (c) => {
      const ts = exchange.cancelAll(c.get("account"));
      sim.publish();
      return c.json(ts.map(view));
    })
    .notFound(() => Response.json({ message: "Not found", code: "NOT_FOUND" }, { status: 404 }));
}

/** A date as ISO string or Unix ms. */
const DateParam = z.string().transform((s, ctx) => {
  const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: "custom", message: "must be an ISO date or Unix ms" });
    return z.NEVER;
  }
  return ms;
});

const ClosedQuery = z.object({
  from: DateParam.optional().transform((v) => v ?? 0),
  to: DateParam.optional().transform((v) => v ?? Number.MAX_SAFE_INTEGER),
  limit: z.coerce.number().int().min(1).max(1000).optional().transform((v) => v ?? 100),
  cursor: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined) return undefined;
      const c = decodeCursor(s);
      if (!c) {
        ctx.addIssue({ code: "custom", message: "invalid cursor" });
        return z.NEVER;
      }
      return c;
    }),
}).transform(({ cursor, ...rest }) => (cursor ? { ...rest, after: cursor } : rest));

function encodeCursor(t: TradeRecord): string {
  return btoa(JSON.stringify({ t: t.closedAt, id: t.id })).replace(/=+$/, "");
}

function decodeCursor(s: string): { t: number; id: string } | null {
  try {
    const v = JSON.parse(atob(s)) as { t?: unknown; id?: unknown };
    return typeof v.t === "number" && typeof v.id === "string" ? { t: v.t, id: v.id } : null;
  } catch {
    return null;
  }
}

/** Paging for the funding listings: newest first, cursor = (time, row sequence) of the last row. */
const Cursor = z
  .string()
  .optional()
  .transform((s, ctx) => {
    if (s === undefined) return undefined;
    const c = decodePage(s);
    if (!c) {
      ctx.addIssue({ code: "custom", message: "invalid cursor" });
      return z.NEVER;
    }
    return c;
  });

const PageFields = {
  from: DateParam.optional().transform((v) => v ?? 0),
  to: DateParam.optional().transform((v) => v ?? Number.MAX_SAFE_INTEGER),
  limit: z.coerce.number().int().min(1).max(1000).optional().transform((v) => v ?? 100),
  cursor: Cursor,
};

const PageQuery = z.object(PageFields).transform(({ cursor, ...rest }) => (cursor ? { ...rest, after: cursor } : rest));

const FundingFeesQuery = z
  .object({ ...PageFields, tradeId: z.string().min(1).optional() })
  .transform(({ cursor, tradeId, ...rest }) => ({ ...rest, ...(tradeId ? { tradeId } : {}), ...(cursor ? { after: cursor } : {}) }));

/** `from` is required (as in the SDK); candles come oldest first. */
const CandlesQuery = z
  .object({
    from: DateParam,
    to: DateParam.optional().transform((v) => v ?? Number.MAX_SAFE_INTEGER),
    range: z.enum(CANDLE_RANGES).optional().transform((v) => v ?? DEFAULT_CANDLE_RANGE),
    limit: z.coerce.number().int().min(1).max(1000).optional().transform((v) => v ?? 100),
    cursor: Cursor,
  })
  .transform(({ cursor, ...rest }) => (cursor ? { ...rest, cursor: cursor.t } : rest));

function encodePage(p: { t: number; s: number }): string {
  return btoa(JSON.stringify(p)).replace(/=+$/, "");
}

function decodePage(s: string): { t: number; s: number } | null {
  try {
    const v = JSON.parse(atob(s)) as { t?: unknown; s?: unknown };
    return typeof v.t === "number" && typeof v.s === "number" ? { t: v.t, s: v.s } : null;
  } catch {
    return null;
  }
}
