/**
 * Positions, live, pushed (issue 23): `GET /v1/accounts/{id}/positions/stream` upgrades to a
 * WebSocket served by the account's Durable Object (durable-objects/account/viewers.ts), which
 * pushes a snapshot of price and running positions whenever they change. Browsers open it with
 * a single-use ticket (`POST /v1/auth/ws-ticket`, valid 30 s; checked by requireAuth), never
 * with a token in the URL; other clients may send `Authorization: Bearer`.
 */
import { createRoute } from "@hono/zod-openapi";
import { getAccount } from "../../accounts/service";
import { ApiError, ERROR_STATUS, type ErrorCode } from "../errors";
import { commonErrors, errorResponses, router, security, z } from "../openapi";
import { AccountParams } from "./accounts";

const StreamQuery = z.object({
  ticket: z.string().max(100).optional().openapi({ description: "A single-use ticket from `POST /v1/auth/ws-ticket` (browsers cannot set headers on a WebSocket)" }),
});

const description = [
  "Send `Upgrade: websocket`. Messages are JSON text:",
  "- `{type:\"positions\", at, price, bid, offer, feed, trades}`: the same fields as `GET /v1/accounts/{id}/positions` (each trade with `risk` and `riskLevel`), first at once, then whenever they change (a price from the stream or the market feed, a trade event, a run's read of the positions, an add-margin or close answered), at most one a second;",
  "- `{type:\"error\", code, message}`: the exchange could not be read (the stream stays open and recovers).",
  "",
  "The client may send `ping` (answered `pong`) and `{\"type\":\"visibility\",\"visible\":false|true}`: while no console is visible the account stops re-reading price and positions for it (every 3 s otherwise, the shared read of the positions endpoint). 401 for a bad, used or expired ticket; 404 for an account that is not yours; 429 past 20 open streams on one account.",
].join("\n");

export const positionsStreamRoutes = router().openapi(
  createRoute({
    method: "get", path: "/{id}/positions/stream", tags: ["accounts"], security,
    summary: "Running positions, live, pushed over a WebSocket (open it with a ticket from POST /v1/auth/ws-ticket)",
    description,
    request: { params: AccountParams, query: StreamQuery },
    responses: { 101: { description: "Switching protocols: the WebSocket" }, 429: errorResponses[429], 503: errorResponses[503], ...commonErrors },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    await getAccount(c.env, c.get("user").id, id);
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new ApiError("validation_error", "Expected a WebSocket upgrade", [{ path: "upgrade", message: "send Upgrade: websocket", code: "invalid_value" }]);
    }
    // The ticket stays here: the object gets a bare upgrade request.
    const res = await c.env.ACCOUNT.getByName(id).fetch(new Request("https://account.internal/positions/stream", { headers: { upgrade: "websocket" } }));
    if (res.status !== 101 || !res.webSocket) {
      const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
      const code = body?.error?.code && body.error.code in ERROR_STATUS ? (body.error.code as ErrorCode) : "upstream_unavailable";
      throw new ApiError(code, body?.error?.message ?? `The account's stream answered ${res.status}`);
    }
    // A response from a stub has immutable headers; the middleware (secure headers, request id) sets some.
    return new Response(null, { status: 101, webSocket: res.webSocket }) as never;
  },
);
