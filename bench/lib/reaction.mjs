// Tick -> order for bench/run.mjs: one price move timed to each crossed guard's add-margin at
// the simulator, over the stream, or over the REST fallback with the stream silenced.
import { setTimeout as sleep } from "node:timers/promises";
import { must, waitRest } from "./api.mjs";
import { createFleet, crossingPrice, feedStatus, trades } from "./fleet.mjs";
import { stats } from "./stats.mjs";

/**
 * One price move from the current price to `price`, timed from the /__sim/price call to each
 * add-margin of `crossed` reaching the simulator (`at` in /__sim/orders). Orders from the
 * other accounts of `fleet` are counted apart (a guard the tick should not have crossed).
 */
export async function reaction(stack, crossed, fleet, price, { timeoutMs = 120_000, lateMs = 30_000 } = {}) {
  const keys = new Set(crossed.map((a) => a.keys.key));
  const others = new Set(fleet.filter((a) => !keys.has(a.keys.key)).map((a) => a.keys.key));
  const quiet0 = stack.cpu();
  await sleep(3_000);
  const quiet1 = stack.cpu();
  const background = { platform: (quiet1.platform - quiet0.platform) / 3_000, sim: (quiet1.sim - quiet0.sim) / 3_000 };
  const t0 = Date.now();
  await must("POST", `${stack.sim}/__sim/price`, { price });
  const deadline = Date.now() + timeoutMs;
  let adds = [];
  let stray = [];
  // Only what arrived since the tick is read, and not too often: the poll runs on the same two
  // cores as the fleet it measures.
  while (Date.now() < deadline) {
    await sleep(250);
    const orders = (await must("GET", `${stack.sim}/__sim/orders?since=${t0}`)).filter((o) => o.route.endsWith("/add-margin") && o.status < 300);
    adds = orders.filter((o) => keys.has(o.key));
    stray = orders.filter((o) => others.has(o.key));
    if (new Set(adds.map((o) => o.key)).size >= crossed.length) break;
  }
  const first = new Map();
  const handled = new Map();
  for (const o of adds) {
    if (!first.has(o.key)) first.set(o.key, o.at - t0);
    if (!handled.has(o.key)) handled.set(o.key, o.handledAt - t0);
  }
  const c = stack.cpu();
  const cost = (k) => (c[k] - quiet1[k]) / Math.max(1, first.size);
  const feed = await feedStatus(stack, crossed[0].auth);
  const fan = feed?.lastFanout && feed.lastFanout.price === price ? feed.lastFanout : null;
  return {
    ...stats([...first.values()]), handled: stats([...handled.values()]), crossed: crossed.length, missed: crossed.length - first.size, duplicates: adds.length - first.size,
    // An order still counts up to timeoutMs after the tick (a saturated machine); how many came after lateMs is told apart.
    late: [...first.values()].filter((ms) => ms > lateMs).length, timeoutMs, lateMs,
    stray: new Set(stray.map((o) => o.key)).size, price, fleet: fleet.length,
    fanout: fan ? { calls: fan.calls, failures: fan.failures, ms: fan.ms, rpcPerS: fan.ms > 0 ? (fan.calls / fan.ms) * 1000 : null } : null,
    cpuPerAccountMs: { platform: cost("platform"), sim: cost("sim") }, backgroundCores: background,
  };
}

/**
 * The REST fallback end to end: the simulator's stream silenced, the market feed's socket goes
 * stale (10 s) and its REST poll (every 5 s) finds the crossing; the guards act on the wake-up.
 */
export async function restReaction(stack, n) {
  const fleet = await createFleet(stack, Array.from({ length: n }, () => ({ leverage: 50, group: "rest" })));
  const ready = await waitRest(stack, fleet, 120_000);
  const price = crossingPrice((await trades(stack, fleet)).filter(Boolean));
  await must("POST", `${stack.sim}/__sim/faults`, { silenceStream: true });
  try {
    await sleep(12_000);
    const r = await reaction(stack, fleet, fleet, price, { timeoutMs: 40_000 });
    return { ...r, ready, fleetAccounts: fleet };
  } finally {
    await must("POST", `${stack.sim}/__sim/faults`, {});
  }
}
