/**
 * Cloudflare's rate limiting binding counts in fixed windows; miniflare's simulation aligns them
 * to the clock (node_modules/miniflare/dist/src/workers/ratelimit/ratelimit-object.worker.js:
 * `epoch = Math.floor(Date.now() / (period * 1e3))`), so a count that straddles a boundary
 * starts again and the request that should be refused passes. A test that asserts an exact
 * limit first makes sure the window it counts in has room for the whole sequence.
 * Plain TypeScript with no runtime imports: used by the workerd tests and the browser tests.
 */

/** The clock-aligned window `now` falls in, as miniflare numbers it. */
export function rateWindow(periodS = 60, now = Date.now()): number {
  return Math.floor(now / (periodS * 1000));
}

/**
 * Resolves at once when at least `needS` seconds are left in the current window, else just
 * after the next one begins. Answers the window the sequence starts in: assert it is still the
 * current one after the sequence, so a sequence slower than `needS` fails saying so.
 */
export async function freshRateWindow(needS: number, periodS = 60): Promise<number> {
  const periodMs = periodS * 1000;
  const left = periodMs - (Date.now() % periodMs);
  if (left < needS * 1000) await new Promise((r) => setTimeout(r, left + 50));
  return rateWindow(periodS);
}
