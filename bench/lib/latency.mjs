// Client-side latency for bench/run.mjs: the simulator's price stream against a REST read, and
// the platform's HTTP API under load.
import { setTimeout as sleep } from "node:timers/promises";
import { must } from "./api.mjs";
import { stats } from "./stats.mjs";

// --- feed: stream push versus a REST read, client side ------------------------------------
export async function feed(stack, rounds = 50) {
  const ws = new WebSocket(`${stack.sim.replace("http", "ws")}/v1`);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
    setTimeout(() => reject(new Error("stream did not open")), 10_000);
  });
  let waiter = null;
  ws.onmessage = (ev) => {
    const m = JSON.parse(String(ev.data));
    if (m.method === "subscription" && m.params?.topic?.endsWith("/lastPrice") && waiter && m.params.data?.lastPrice === waiter.price) {
      waiter.resolve(performance.now());
      waiter = null;
    }
  };
  ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "subscribe", params: { topics: ["futures/inverse/btc_usd/lastPrice"] } }));
  await sleep(300);
  const stream = [];
  const rest = [];
  for (let i = 0; i < rounds; i++) {
    // Stream: the push for this change reaches a subscribed client.
    const p1 = 100_000 + (i + 1) * 0.5;
    const got = new Promise((resolve) => {
      waiter = { price: p1, resolve };
      setTimeout(() => resolve(NaN), 5_000);
    });
    const t1 = performance.now();
    await must("POST", `${stack.sim}/__sim/price`, { price: p1 });
    stream.push((await got) - t1);
    // REST, best case for polling: a ticker read right after the change.
    const p2 = 99_000 - (i + 1) * 0.5;
    const t2 = performance.now();
    await must("POST", `${stack.sim}/__sim/price`, { price: p2 });
    const tick = await must("GET", `${stack.sim}/v3/futures/ticker`);
    if (tick.lastPrice === p2) rest.push(performance.now() - t2);
  }
  ws.close();
  return { stream: stats(stream.filter(Number.isFinite)), rest: stats(rest) };
}

// --- HTTP API ------------------------------------------------------------------------------
/** `clients` loops on one GET for `seconds` (at most `maxRequests`): latency of the 2xx answers. */
export async function load(url, headers, { clients = 50, seconds, maxRequests = 20_000 }) {
  const lat = [];
  let errors = 0;
  let sent = 0;
  const end = Date.now() + seconds * 1000;
  const worker = async () => {
    while (Date.now() < end && sent < maxRequests) {
      sent++;
      const t = performance.now();
      try {
        const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        if (res.ok) lat.push(performance.now() - t);
        else errors++;
      } catch {
        errors++;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  return { ...stats(lat), rps: lat.length / elapsed, errors, clients };
}
