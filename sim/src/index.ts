/**
 * The LN Markets simulator: REST v3 at /v3, stream v1 at /v1 (WebSocket), control API at
 * /__sim/ (dev and test only), a fake LNbits at /lnbits/. Wiring only: everything but the
 * mode guard happens in the single ExchangeDO.
 */
import { isControlAllowed } from "./control";
import { EXCHANGE_NAME } from "./exchange-do";
import { RECEIVED_AT_HEADER } from "./received-at";
import { handleInbox, isInboxPath } from "./inbox";

// Only entrypoints are exported here: every named export of an entry module is taken for one.
export { ExchangeDO } from "./exchange-do";

export default {
  async fetch(request, env): Promise<Response> {
    const { pathname } = new URL(request.url);
    if ((pathname === "/__sim" || pathname.startsWith("/__sim/")) && !isControlAllowed(env.SIM_MODE)) {
      // Drained first: over a service binding, an unread request body fails the caller's side.
      await request.arrayBuffer().catch(() => undefined);
      return Response.json(
        { message: "The control API is only available when SIM_MODE is dev or test", code: "FORBIDDEN" },
        { status: 403 },
      );
    }
    if (pathname === "/") {
      return Response.json({ name: "lnm-sim", rest: "/v3", stream: "/v1", control: "/__sim", lightning: "/lnbits", inbox: "/__sim/inbox" });
    }
    // Notification receivers (Telegram, email, webhooks) for dev and tests: see inbox.ts.
    if (isInboxPath(pathname)) return handleInbox(request);
    // The order log's `at` is when a request reached the exchange's front door, before it
    // queues for the one exchange object (a matching engine's input queue is the exchange's
    // time, not the client's); the object records when it started on it as `handledAt`.
    const headers = new Headers(request.headers);
    headers.set(RECEIVED_AT_HEADER, String(Date.now()));
    return env.EXCHANGE.getByName(EXCHANGE_NAME).fetch(new Request(request, { headers }));
  },
} satisfies ExportedHandler<SimEnv>;
