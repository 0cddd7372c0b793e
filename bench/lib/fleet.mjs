// Fleets of guarded accounts for bench/run.mjs: seeded through the API (traders reused across
// fleets), deleted with the simulator reset, their longs as the exchange has them, and the
// market feed's status.
import { guardedAccount, http, lnm, must, newTrader } from "./api.mjs";
import { half } from "./stats.mjs";

/** Traders (users) reused across fleets: registration hashes a password, the slowest step. */
const traders = [];
async function trader(stack, i) {
  while (traders.length <= i) traders.push(null);
  if (!traders[i]) traders[i] = await newTrader(stack);
  return traders[i];
}

export async function createFleet(stack, specs) {
  const out = [];
  for (let i = 0; i < specs.length; i += 10) {
    out.push(...(await Promise.all(specs.slice(i, i + 10).map(async (spec, j) => ({ ...(await guardedAccount(stack, { ...spec, trader: await trader(stack, i + j) })), group: spec.group })))));
    if (i && i % 100 === 0) console.error(`[bench]   ${i}/${specs.length} accounts`);
  }
  return out;
}

export async function deleteFleet(stack, fleet) {
  for (let i = 0; i < fleet.length; i += 20) {
    await Promise.all(fleet.slice(i, i + 20).map((a) => http("DELETE", `${stack.platform}/v1/accounts/${a.accountId}`, undefined, a.auth).catch(() => null)));
  }
  await must("POST", `${stack.sim}/__sim/reset`);
  await must("POST", `${stack.sim}/__sim/price`, { price: 100_000 });
}

/** Each account's running long as the exchange has it now (entry, liquidation). */
export async function trades(stack, fleet) {
  const out = [];
  for (let i = 0; i < fleet.length; i += 25) {
    out.push(...(await Promise.all(fleet.slice(i, i + 25).map(async (a) => {
      const t = (await lnm(stack.sim, a.keys, "GET", "/futures/isolated/trades/running"))[0];
      return t ? { entry: t.entryPrice ?? t.price, liq: t.liquidation } : null;
    }))));
  }
  return out;
}
/** The price of a long at `risk` (0 at entry, 1 at liquidation). */
export const atRisk = (t, risk) => t.entry - risk * (t.entry - t.liq);
/** Halfway from the highest liquidation to the lowest act level (risk 0.9) of `tr`: crosses every guard, liquidates none. */
export function crossingPrice(tr) {
  const maxLiq = Math.max(...tr.map((t) => t.liq));
  return half(maxLiq + 0.5 * (Math.min(...tr.map((t) => atRisk(t, 0.9))) - maxLiq));
}

/** The market feed's status (`GET /__dev/sim/feed`, dev stack only). */
export async function feedStatus(stack, auth) {
  return (await http("GET", `${stack.platform}/__dev/sim/feed`, undefined, auth).catch(() => null))?.body ?? null;
}
