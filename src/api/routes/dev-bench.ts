/**
 * `/__dev/bench/*`: what `npm run bench` needs on the dev stack and the public API does not
 * offer. Every route answers 404 unless ENVIRONMENT=development.
 *
 * `POST /__dev/bench/notify`: queues the same test message as `POST /v1/notifications/test`
 * for the caller, without its per-user limit (10 a minute, RL_OUTBOUND), so the bench measures
 * the queue and its consumer (enqueue -> webhook delivered) rather than the limiter. Only a
 * caller's verified channels receive it, as with any real event.
 */
import { Hono } from "hono";
import { newId } from "../../lib/ids";
import { sendNotification } from "../../messaging/send";
import { TEST_EVENT } from "../../notify/deliver";
import type { AppEnv } from "../context";
import { ApiError } from "../errors";
import { requireAuth } from "../middleware/auth";

export const devBenchRoutes = new Hono<AppEnv>()
  .use("*", async (c, next) => {
    if (c.env.ENVIRONMENT !== "development") throw new ApiError("not_found", "Route not found");
    await next();
  })
  .post("/notify", requireAuth, async (c) => {
    const id = newId("ntf");
    await sendNotification(c.env, {
      v: 1, id, traceId: c.get("requestId"), kind: "notification", userId: c.get("user").id, event: TEST_EVENT, severity: "info",
      title: "Bench notification", body: "Queue throughput measure (npm run bench).", data: { test: true },
    });
    return c.json({ id }, 202);
  });
