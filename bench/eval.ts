/**
 * Evaluation cost (issue 12): the pure work of one price tick for one account, as the
 * AccountDO's tick path does it: Margin Guard's dry evaluation plus the risk of each trade.
 * Prints one JSON line; bench/run.mjs bundles and runs it.
 */
import { evaluateMarginGuard, initialMarginGuardState, MarginGuardConfig } from "../src/domain/margin-guard";
import { tradeRisk, type RunningTrade } from "../src/domain/trade";

const config = MarginGuardConfig.parse({ warnAt: 0.8, actAt: 0.9, targetRisk: 0.5, maxAddPerTradeSats: 2_000_000, maxAddPerDaySats: 2_000_000 });
const trades: RunningTrade[] = [
  { id: "a", side: "buy", quantity: 1_000, entryPrice: 100_000, margin: 20_000, liquidation: 98_039.5 },
  { id: "b", side: "buy", quantity: 500, entryPrice: 98_000, margin: 50_000, liquidation: 89_000 },
  { id: "c", side: "sell", quantity: 2_000, entryPrice: 101_000, margin: 100_000, liquidation: 106_000 },
];

function tick(price: number, now: number): number {
  const { decisions } = evaluateMarginGuard({ config, trades, price, balanceSats: Number.MAX_SAFE_INTEGER, state: initialMarginGuardState(), now });
  let max = 0;
  for (const t of trades) max = Math.max(max, tradeRisk(t, price));
  return decisions.length + max;
}

function run(n: number): number {
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sink += tick(99_000 + (i % 2_000) * 0.5, 1_795_000_000_000 + i);
  const ns = Number(process.hrtime.bigint() - t0);
  if (sink === -1) console.log(sink);
  return ns / n / 1000;
}

run(20_000); // warm-up (JIT)
const samples = Array.from({ length: 7 }, () => run(100_000)).sort((a, b) => a - b);
console.log(JSON.stringify({ trades: trades.length, ticks: 100_000, runs: samples.length, usPerTickMedian: samples[3], usPerTickMin: samples[0], usPerTickMax: samples[6] }));
