// Queue throughput for bench/run.mjs: test notifications queued on the dev stack to a webhook
// receiver in this process.
import { createServer } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { http, must, newTrader, verifyWebhook } from "./api.mjs";
import { fmt, stats } from "./stats.mjs";

// --- queues: notifications sent to delivered ---------------------------------------------
/**
 * `clients` traders, each with its own webhook URL on a receiver in this process (verified, as
 * any channel must be to receive events); `count` test notifications queued by them, one
 * client per trader, through the dev-only POST /__dev/bench/notify, the message POST
 * /v1/notifications/test queues without that route's limit of 10 a minute per user (which the
 * bench would otherwise measure); each one timed from its 202 (in the queue) to its webhook
 * arriving here. Throughput counts from the first request to the last delivery. A webhook URL
 * is paced at its own rate (NOTIFY_GUARDS: 25/s), so one trader alone would measure that
 * pacing, not the queue: twenty receivers make the consumer the bound.
 */
export async function queueThroughput(stack, counts, { clients = 20 } = {}) {
  const received = new Map();
  const codes = new Map();
  const server = createServer((req, res) => {
    const id = req.headers["x-lnma-delivery"];
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      if (typeof id === "string" && !received.has(id)) received.set(id, performance.now());
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        if (body?.data?.code) codes.set(req.url, String(body.data.code));
      } catch {
        // Not JSON: not the verification message.
      }
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const out = [];
  try {
    const auths = [];
    for (let i = 0; i < clients; i++) {
      const { auth } = await newTrader(stack);
      const path = `/hook/${i}`;
      await must("PUT", `${stack.platform}/v1/notifications/channels`, { webhook: { url: `http://127.0.0.1:${server.address().port}${path}`, secret: "bench-webhook-secret-0123456789" } }, auth);
      await verifyWebhook(stack, auth, async () => codes.get(path));
      auths.push(auth);
    }
    for (const count of counts) {
      received.clear();
      const sent = new Map();
      let next = 0;
      let refused = 0;
      const t0 = performance.now();
      await Promise.all(auths.map(async (auth) => {
        while (next < count) {
          next++;
          const r = await http("POST", `${stack.platform}/__dev/bench/notify`, undefined, auth).catch(() => ({ status: 0 }));
          if (r.status === 202) sent.set(r.body.id, performance.now());
          else refused++;
        }
      }));
      const queuedIn = performance.now() - t0;
      const deadline = Date.now() + 60_000 + count * 20;
      while ([...sent.keys()].some((id) => !received.has(id)) && Date.now() < deadline) await sleep(250);
      const lat = [...sent].filter(([id]) => received.has(id)).map(([id, at]) => received.get(id) - at);
      const last = Math.max(...[...sent.keys()].map((id) => received.get(id) ?? -Infinity));
      out.push({ count, ...stats(lat), delivered: lat.length, lost: sent.size - lat.length, refused, enqueuePerS: (sent.size / queuedIn) * 1000, perS: (lat.length / (last - t0)) * 1000 });
      console.error(`[bench] queue ${count}: ${lat.length}/${sent.size} delivered, ${fmt(out.at(-1).perS)} msg/s, p99 ${fmt(out.at(-1).p99)} ms`);
    }
  } finally {
    server.close();
  }
  return out;
}
