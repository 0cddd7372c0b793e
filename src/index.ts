/**
 * Worker entry: wiring only. HTTP goes to the Hono app, queue batches are dispatched by queue
 * name, the cron runs the operations sweep, and the Durable Object classes are re-exported.
 */
import { createApp } from "./api/app";
import { handleQueue } from "../queues";
import { handleScheduled } from "./scheduled";

export { AccountDO } from "../durable-objects/account";
export { SimulationDO } from "../durable-objects/simulation";
export { MarketFeedDO } from "../durable-objects/market-feed";

const app = createApp();

export default {
  fetch: app.fetch,
  queue: handleQueue,
  scheduled: handleScheduled,
} satisfies ExportedHandler<Env>;

export type { AppType } from "./api/app";
