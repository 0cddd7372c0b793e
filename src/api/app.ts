/**
 * The HTTP API: middleware in one place (request ids, secure headers, body limit, JSON
 * logging, one onError), then one sub-app per resource. CORS is off: browsers only reach
 * the API from the same origin (the dashboard).
 */
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { ConfigError, getConfig } from "../config";
import { seedDemoAccount } from "../accounts/demo-account";
import { consoleResponse } from "../app/console";
import { devSimRoutes } from "./routes/dev-sim";
import { devBenchRoutes } from "./routes/dev-bench";
import { runDevSeed } from "../dev-seed";
import { createLogger } from "../lib/logger";
import { dashboardResponse } from "./dashboard";
import { docsResponse } from "./docs";
import { ApiError, errorResponse, toApiError } from "./errors";
import { requireAdmin, requireAuth } from "./middleware/auth";
import { limitPerUser } from "./rate-limit";
import { router } from "./openapi";
import { accountRoutes } from "./routes/accounts";
import { adminRoutes } from "./routes/admin";
import { adminDeadLetterRoutes } from "./routes/admin-dead-letters";
import { adminOpsRoutes, prometheusResponse, requireMetricsAccess } from "./routes/admin-ops";
import { authRoutes } from "./routes/auth";
import { accountAutomationRoutes, automationRoutes } from "./routes/automations";
import { manualRoutes } from "./routes/manual";
import { meRoutes } from "./routes/me";
import { notificationRoutes } from "./routes/notifications";
import { paymentRoutes, planRoutes } from "./routes/payments";
import { backtestRoutes, simulationExportRoutes } from "./routes/backtests";
import { simulationRoutes } from "./routes/simulations";
import { positionsStreamRoutes } from "./routes/positions-stream";
import { telegramRoutes } from "./routes/telegram";

export const MAX_BODY_BYTES = 256 * 1024;

export function createApp() {
  const app = router();

  app.use("*", requestId({ headerName: "x-request-id", limitLength: 64 }));
  app.use("*", secureHeaders());
  app.use("*", async (c, next) => {
    const started = Date.now();
    // The request id is the trace id: it follows the action into DO logs, queue messages and
    // notification deliveries. A caller may give its own in `x-request-id`.
    const logger = createLogger({ level: c.env.LOG_LEVEL, base: { requestId: c.get("requestId"), traceId: c.get("requestId") } });
    c.set("logger", logger);
    await next();
    logger.info("http.request", { method: c.req.method, path: c.req.path, status: c.res.status, durationMs: Date.now() - started });
  });
  app.use("*", bodyLimit({ maxSize: MAX_BODY_BYTES, onError: () => { throw new ApiError("payload_too_large", `Request body exceeds ${MAX_BODY_BYTES} bytes`); } }));
  app.use("/v1/*", async (c, next) => {
    getConfig(c.env); // a misconfigured deployment answers 500 misconfigured, naming nothing secret
    await next();
  });

  // Dev only: the seed `npm run dev` calls once both workers are up. 404 anywhere else.
  app.post("/__dev/seed", async (c) => {
    if (c.env.ENVIRONMENT !== "development") throw new ApiError("not_found", "Route not found");
    return c.json(await runDevSeed(c.env, [seedDemoAccount]));
  });
  app.route("/__dev/sim", devSimRoutes); // dev only (404 elsewhere): the console's simulator buttons
  app.route("/__dev/bench", devBenchRoutes); // dev only (404 elsewhere): npm run bench's queue measure
  app.get("/", (c) => c.redirect("/app", 302)); // a person opening the origin lands on the console
  app.get("/app", (c) => consoleResponse(c)); // trader console (public/app/*); it carries its own CSP
  app.get("/health", (c) => c.json({ ok: true, environment: c.env.ENVIRONMENT, time: Date.now() }));
  app.get("/docs", (c) => docsResponse(c)); // Swagger UI; it carries its own CSP
  app.get("/admin", (c) => dashboardResponse(c)); // operator dashboard; it carries its own CSP
  app.get("/metrics", requireMetricsAccess, (c) => prometheusResponse(c.env)); // METRICS_TOKEN or an admin
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: "LN Markets automation API", version: "1.0.0", description: "Automations that keep LN Markets positions alive." },
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer", description: "A login JWT or an API token" });

  app.use("/v1/me", requireAuth);
  app.use("/v1/me/*", requireAuth);
  app.use("/v1/accounts", requireAuth);
  app.use("/v1/accounts/*", requireAuth);
  app.use("/v1/automations/*", requireAuth);
  app.use("/v1/payments", requireAuth);
  app.use("/v1/payments/*", requireAuth);
  app.use("/v1/notifications", requireAuth);
  app.use("/v1/notifications/*", requireAuth);
  app.use("/v1/simulations", requireAuth);
  app.use("/v1/simulations/*", requireAuth);
  app.use("/v1/backtests/*", requireAuth);
  app.use("/v1/admin/*", requireAuth, requireAdmin);

  // Per-user limits on what costs us or reaches outside (after requireAuth: keyed by user id).
  // Login and registration are limited per IP and per email inside their routes.
  const outbound = limitPerUser("RL_OUTBOUND", "requests that reach outside; slow down");
  app.on("POST", "/v1/notifications/test", outbound); // a message to every channel
  app.on("POST", "/v1/notifications/channels/:channel/verification", outbound); // a code sent to a channel
  app.on("POST", "/v1/payments", outbound); // an invoice at the provider and ~120 queued checks
  app.on("POST", "/v1/accounts", outbound); // a live credential check at the exchange
  app.on("POST", "/v1/accounts/:id/credentials/validate", outbound);

  // Telegram's bot webhook: its own secret header, no user auth (src/api/routes/telegram.ts).
  app.route("/v1/telegram", telegramRoutes);

  // Chained so the route types add up: `hc<AppType>` gives traders a typed client.
  const routes = app
    .route("/v1/auth", authRoutes)
    .route("/v1/me", meRoutes)
    .route("/v1/accounts", accountRoutes)
    .route("/v1/accounts", accountAutomationRoutes)
    .route("/v1/accounts", manualRoutes) // close, close all, add margin, run now (issue 23)
    .route("/v1/accounts", positionsStreamRoutes) // positions pushed live over a WebSocket (issue 23)
    .route("/v1/automations", automationRoutes)
    .route("/v1/plans", planRoutes) // public: a price list
    .route("/v1/payments", paymentRoutes)
    .route("/v1/notifications", notificationRoutes)
    .route("/v1/simulations", simulationRoutes)
    .route("/v1/simulations", simulationExportRoutes)
    .route("/v1/backtests", backtestRoutes)
    .route("/v1/admin", adminRoutes)
    .route("/v1/admin", adminDeadLetterRoutes)
    .route("/v1/admin", adminOpsRoutes);

  app.notFound(() => { throw new ApiError("not_found", "Route not found"); });
  app.onError((err, c) => {
    const apiErr = err instanceof ConfigError ? new ApiError("misconfigured", "Server misconfigured") : toApiError(err);
    const logger = c.get("logger") ?? createLogger();
    if (apiErr.status >= 500) logger.error("http.error", { path: c.req.path, code: apiErr.code, error: err });
    return errorResponse(c, apiErr);
  });
  return routes;
}

export type AppType = ReturnType<typeof createApp>;
