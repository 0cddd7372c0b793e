import { describe, expect, it } from "vitest";
import { AutoEntryConfig } from "../../src/domain/auto-entry";
import { backtestSummary, createBacktest, fundingRateLookup, openTradeReports, stepCandle, type BacktestConfig, type TradeReport } from "../../src/domain/backtest";
import { candleWalk, chunkKey, chunkStart, MAX_UPLOAD_CANDLES, parseCandleCsv, parseCandleJson, type BtCandle } from "../../src/domain/backtest-candles";
import { fundingFeeSats, tradingFeeSats } from "../../src/domain/backtest-exchange";
import { MarginGuardConfig } from "../../src/domain/margin-guard";
import { TpSlConfig } from "../../src/domain/tp-sl";

const MIN = 60_000;
const T0 = Date.UTC(2025, 0, 1, 0, 0); // 00:00 UTC: the first funding slot is at 04:00

/** Candles from a list of closes: open = previous close, high/low around them. */
function candles(closes: number[], opts: { wick?: number; start?: number; stepMs?: number } = {}): BtCandle[] {
  const wick = opts.wick ?? 0;
  let open = closes[0]!;
  return closes.map((close, i) => {
    const c = { time: (opts.start ?? T0) + i * (opts.stepMs ?? MIN), open, high: Math.max(open, close) + wick, low: Math.min(open, close) - wick, close };
    open = close;
    return c;
  });
}

function run(config: BacktestConfig, cs: BtCandle[], durationMs = MIN, rates: Array<{ time: number; rate: number }> = []) {
  const bt = createBacktest(config, cs[0]!);
  const rateAt = fundingRateLookup(rates, config.fundingRate);
  const steps = [];
  const trades: TradeReport[] = [];
  for (const c of cs) {
    const r = stepCandle(bt, c, durationMs, rateAt);
    steps.push(r.step);
    trades.push(...r.trades);
  }
  trades.push(...openTradeReports(bt));
  return { bt, steps, trades, summary: backtestSummary(bt, cs[cs.length - 1]!.time + durationMs) };
}

const guard = MarginGuardConfig.parse({ warnAt: 0.6, actAt: 0.7, targetRisk: 0.3, maxAddPerTradeSats: 5_000_000, maxAddPerDaySats: 5_000_000, cooldownMs: 0 });
const long50x = { side: "buy" as const, quantity: 1_000, leverage: 50 };

describe("the walk through a candle", () => {
  const c = { time: 0, open: 100, high: 110, low: 90, close: 105 };
  it("a long sees the low first, a short the high first; flat follows the candle", () => {
    expect(candleWalk(c, "long", 4 * MIN).map((p) => p.price)).toEqual([100, 90, 110, 105]);
    expect(candleWalk(c, "short", 4 * MIN).map((p) => p.price)).toEqual([100, 110, 90, 105]);
    expect(candleWalk(c, "flat", 4 * MIN).map((p) => p.price)).toEqual([100, 90, 110, 105]);
    expect(candleWalk({ ...c, close: 95 }, "flat", 4 * MIN).map((p) => p.price)).toEqual([100, 110, 90, 95]);
    expect(candleWalk(c, "long", 4 * MIN).map((p) => p.at)).toEqual([0, MIN, 2 * MIN, 3 * MIN]);
  });

  it("an intra-candle liquidation is never missed: a wick through the liquidation price liquidates a long", () => {
    // 50x long at ~100,002.5: liquidation ~98,041. One candle wicks to 97,000 and closes at 100,500.
    const cs: BtCandle[] = [
      { time: T0, open: 100_000, high: 100_100, low: 99_900, close: 100_000 },
      { time: T0 + MIN, open: 100_000, high: 101_000, low: 97_000, close: 100_500 },
    ];
    const { summary, trades } = run({ position: long50x, automations: {}, fundingRate: 0 }, cs);
    expect(summary.baseline.liquidations).toBe(1);
    expect(summary.automated.liquidations).toBe(1);
    const liq = trades.find((t) => t.run === "baseline")!;
    expect(liq).toMatchObject({ reason: "liquidation", exitTime: T0 + MIN + 15_000 });
    // Lost: the margin, the opening fee and the closing fee at the liquidation price (from the reserve).
    expect(liq.feesSats).toBe(tradingFeeSats(1_000, 100_002.5) + tradingFeeSats(1_000, liq.exitPrice));
    expect(liq.pnlSats).toBe(-(1_000 * 1e8 / 100_002.5 / 50 | 0) - liq.feesSats);
  });
});

describe("backtest: side by side, fees and funding", () => {
  // A slow slide of 0.1 % a minute for 40 minutes: -3.9 %, through a 50x long's liquidation.
  const slide = candles(Array.from({ length: 40 }, (_, i) => Math.round(100_000 * (1 - 0.001 * i))), { wick: 10 });

  it("the guarded run survives the slide that liquidates the bare position, and says what it cost", () => {
    const { summary } = run({ position: long50x, automations: { margin_guard: guard }, fundingRate: 0 }, slide);
    expect(summary.baseline.liquidations).toBe(1);
    expect(summary.automated.liquidations).toBe(0);
    expect(summary.automated.marginAddedSats).toBeGreaterThan(0);
    expect(summary.saved).toMatchObject({ liquidations: 1, of: 1, marginAddedSats: summary.automated.marginAddedSats });
    expect(summary.saved.text).toBe(`saved 1 of 1 liquidations for ${summary.automated.marginAddedSats.toLocaleString("en-US")} sats`);
    expect(summary.automated.maxDrawdownSats).toBeGreaterThan(0);
    expect(summary.automated.feesSats).toBe(tradingFeeSats(1_000, 100_002.5));
  });

  it("funding at 04:00, 12:00 and 20:00 UTC: the settled rate where the history has one, else the configured one", () => {
    const hours = candles(Array.from({ length: 24 }, () => 100_000), { stepMs: 3_600_000 });
    const config = { position: { side: "buy" as const, quantity: 1_000, leverage: 10 }, automations: {}, fundingRate: 0.0001 };
    const settled = [{ time: T0 + 12 * 3_600_000 + 5_000, rate: -0.0003 }];
    const { summary, steps } = run(config, hours, 3_600_000, settled);
    const fee = fundingFeeSats(1_000, 100_000, 0.0001);
    const got = fundingFeeSats(1_000, 100_000, 0.0003);
    expect(summary.automated.fundingSats).toBe(fee - got + fee);
    expect(summary.baseline.fundingSats).toBe(summary.automated.fundingSats);
    const fundingSteps = steps.filter((s) => s.actions.some((a) => a.type === "funding")).map((s) => new Date(s.time).toISOString().slice(11, 16));
    expect(fundingSteps).toEqual(["04:00", "12:00", "20:00"]);
  });

  it("the same candles give the same summary twice", () => {
    const config = { position: long50x, automations: { margin_guard: guard }, fundingRate: 0.0001 };
    expect(run(config, slide).summary).toEqual(run(config, slide).summary);
  });
});

describe("backtest: per-trade report", () => {
  it("Auto Entry with TP/SL: each trade with entry, exit, reason and PnL; win rate, profit factor, exposure", () => {
    // Dips of 1.5 % then recoveries of 3 %, then a dip that keeps falling.
    const path: number[] = [];
    let p = 100_000;
    for (let k = 0; k < 3; k++) {
      for (let i = 0; i < 10; i++) path.push((p = Math.round(p * 0.9985)));
      for (let i = 0; i < 20; i++) path.push((p = Math.round(p * 1.0015)));
    }
    for (let i = 0; i < 40; i++) path.push((p = Math.round(p * 0.999)));
    const config: BacktestConfig = {
      automations: {
        auto_entry: AutoEntryConfig.parse({ condition: { type: "drop_from_high", percent: 1, windowMs: 3_600_000 }, side: "buy", quantity: 100, leverage: 10, cooldownMs: 0, maxPerDay: 100 }),
        tp_sl: TpSlConfig.parse({ takeProfit: { percent: 2 }, stopLoss: { percent: 2 } }),
      },
      freeBalanceSats: 1_000_000,
      fundingRate: 0,
    };
    const { summary, trades } = run(config, candles(path));
    const auto = trades.filter((t) => t.run === "automated");
    expect(auto.length).toBeGreaterThanOrEqual(2);
    expect(trades.filter((t) => t.run === "baseline")).toEqual([]);
    for (const t of auto) {
      expect(t).toMatchObject({ side: "buy", quantity: 100 });
      expect(t.entryTime).toBeGreaterThanOrEqual(T0);
      expect(["takeprofit", "stoploss", "takeprofit_reached", "stoploss_reached", "open"]).toContain(t.reason);
    }
    const closed = auto.filter((t) => t.reason !== "open");
    const wins = closed.filter((t) => t.pnlSats > 0);
    const s = summary.trades.automated;
    expect(s.trades).toBe(closed.length);
    expect(s.winRate).toBeCloseTo(wins.length / closed.length);
    expect(wins.length).toBeGreaterThan(0);
    expect(s.exposurePct).toBeGreaterThan(0);
    expect(s.exposurePct).toBeLessThanOrEqual(1);
    const won = wins.reduce((a, t) => a + t.pnlSats, 0);
    const lost = -closed.filter((t) => t.pnlSats <= 0).reduce((a, t) => a + t.pnlSats, 0);
    expect(s.profitFactor).toBe(lost > 0 ? won / lost : null);
    // Every trade's PnL is net of both fees.
    for (const t of closed) expect(t.feesSats).toBe(tradingFeeSats(100, t.entryPrice) + tradingFeeSats(100, t.exitPrice));
  });
});

describe("uploaded candle files", () => {
  it("CSV: a header, one candle a line; errors name the field and the line", () => {
    const ok = parseCandleCsv("time,open,high,low,close,volume\n2025-01-01T00:00:00Z,100,110,90,105,1\n1735689660000,105,106,100,101,2\n");
    expect(ok).toEqual({ ok: true, candles: [{ time: T0, open: 100, high: 110, low: 90, close: 105 }, { time: T0 + MIN, open: 105, high: 106, low: 100, close: 101 }] });
    expect(parseCandleCsv("time,open,high,close\n1,1,1,1")).toMatchObject({ ok: false, status: 400, path: "source.csv", message: expect.stringContaining("missing low") });
    expect(parseCandleCsv("time,open,high,low,close\n1,100,110,90,105\n2,100,99,90,105")).toMatchObject({ ok: false, status: 400, path: "source.csv", message: expect.stringMatching(/^line 3 \(high\)/) });
    expect(parseCandleCsv("time,open,high,low,close\n2,100,110,90,105\n1,100,110,90,105")).toMatchObject({ ok: false, message: expect.stringContaining("oldest first") });
    const big = ["time,open,high,low,close", ...Array.from({ length: MAX_UPLOAD_CANDLES + 1 }, (_, i) => `${i},1,1,1,1`)].join("\n");
    expect(parseCandleCsv(big)).toMatchObject({ ok: false, status: 413, path: "source.csv" });
  });

  it("JSON: the same checks, naming the candle", () => {
    expect(parseCandleJson([{ time: 0, open: 1, high: 1, low: 1, close: 1 }, { time: 1, open: -1, high: 1, low: 1, close: 1 }])).toMatchObject({ ok: false, status: 400, path: "source.candles.1.open" });
  });

  it("cache chunks are aligned to the epoch and keyed by network, range and window", () => {
    const s = chunkStart("1m", T0 + 123_456);
    expect(s % (1_000 * MIN)).toBe(0);
    expect(chunkKey("simulator", "1m", s)).toBe(`candles/v1/simulator/1m/${s}-${s + 1_000 * MIN}.json`);
  });
});
