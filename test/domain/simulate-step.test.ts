import { describe, expect, it } from "vitest";
import { AutoEntryConfig } from "../../src/domain/auto-entry";
import { MarginGuardConfig } from "../../src/domain/margin-guard";
import {
  accumulateSummary,
  createSimulation,
  DEFAULT_SPREAD_USD,
  equityAt,
  feeFor,
  initialSummary,
  marketFill,
  simulateStep,
  type SimState,
  type StepRecord,
} from "../../src/domain/simulate-step";
import { runSimulation } from "../../src/domain/simulation-run";
import { TpSlConfig } from "../../src/domain/tp-sl";

// 10x long of 100 USD at 50,000: margin 20,000 sats, opening fee floor(200,000 * 0.001) = 200.
// The maths tests fill at the last price (spread 0); "fills at the spread" tests the spread.
const tenX = (automations = {}) =>
  createSimulation({ initialPrice: 50_000, position: { side: "buy", quantity: 100, leverage: 10 }, automations, startMs: 0, stepMs: 100, spread: 0 });

function steps(state: SimState, prices: number[]): { state: SimState; records: StepRecord[] } {
  const records: StepRecord[] = [];
  for (const p of prices) {
    const r = simulateStep(state, p);
    state = r.state;
    records.push(r.record);
  }
  return { state, records };
}

describe("createSimulation", () => {
  it("opens the position with its fee and the exchange's tick-rounded liquidation", () => {
    const s = tenX();
    expect(feeFor(100, 50_000)).toBe(200);
    expect(s.balanceSats).toBe(1_000_000);
    expect(s.initialEquitySats).toBe(1_020_200);
    expect(s.trades).toEqual([
      expect.objectContaining({ id: "sim-1", side: "buy", quantity: 100, entryPrice: 50_000, margin: 20_000, liquidation: 45_455 }),
    ]);
  });

  it("sizes from margin and refuses a position too small to open", () => {
    const s = createSimulation({ initialPrice: 50_000, position: { side: "sell", margin: 20_000, leverage: 10 }, spread: 0 });
    expect(s.trades[0]).toMatchObject({ quantity: 100, margin: 20_000, liquidation: 55_555.5 });
    expect(() => createSimulation({ initialPrice: 50_000, position: { side: "buy", margin: 10, leverage: 1 } })).toThrow(RangeError);
    expect(() => createSimulation({ initialPrice: 0 })).toThrow(RangeError);
    expect(createSimulation({ initialPrice: 50_000 })).toMatchObject({ trades: [], balanceSats: 1_000_000, initialEquitySats: 1_000_000 });
  });
});

describe("simulateStep", () => {
  it("marks PnL and equity to the price, net of the opening fee", () => {
    // 1e10 * (1/50000 - 1/55000) = 18181.8; equity 1,038,182; PnL 1,038,182 - 1,020,200.
    const { record } = simulateStep(tenX(), 55_000);
    expect(record).toEqual({ step: 1, price: 55_000, risk: 0, pnlSats: 17_982, equitySats: 1_038_182, actions: [] });
  });

  it("liquidates at the liquidation price: the margin is lost", () => {
    const { state, record } = simulateStep(tenX(), 45_455);
    expect(record.actions).toEqual([{ type: "liquidation", tradeId: "sim-1", amountSats: -20_000 }]);
    expect(record.equitySats).toBe(1_000_000);
    expect(record.pnlSats).toBe(-20_200);
    expect(state.trades).toEqual([]);
    expect(state.liquidations).toBe(1);
  });

  it("does not mutate its input state and rounds prices to the tick", () => {
    const s = tenX();
    const before = structuredClone(s);
    const { record } = simulateStep(s, 50_000.3);
    expect(s).toEqual(before);
    expect(record.price).toBe(50_000.5);
    expect(() => simulateStep(s, 0)).toThrow(RangeError);
  });

  it("the margin guard moves sats from balance to margin: equity unchanged, liquidation further", () => {
    const guard = MarginGuardConfig.parse({ maxAddPerTradeSats: 1_000_000, maxAddPerDaySats: 1_000_000 });
    const guarded = simulateStep(tenX({ margin_guard: guard }), 45_900);
    const bare = simulateStep(tenX(), 45_900);
    const add = guarded.record.actions[0]!;
    expect(add).toMatchObject({ type: "add_margin", tradeId: "sim-1", reason: "add_margin" });
    const t = guarded.state.trades[0]!;
    expect(t.margin).toBe(20_000 + add.amountSats!);
    expect(guarded.state.balanceSats).toBe(1_000_000 - add.amountSats!);
    expect(t.liquidation).toBeLessThan(45_455);
    expect(guarded.record.equitySats).toBe(bare.record.equitySats);
    expect(guarded.record.risk).toBeLessThanOrEqual(0.5);
    expect(bare.record.risk).toBeCloseTo((50_000 - 45_900) / (50_000 - 45_455), 12);
  });

  it("TP/SL land on the trade, then the take profit fires at the next price", () => {
    const s0 = tenX({ tp_sl: TpSlConfig.parse({ takeProfit: { percent: 5 }, stopLoss: { percent: 2 } }) });
    const { state, records } = steps(s0, [50_000, 52_600]);
    expect(records[0]!.actions).toEqual([
      { type: "set_takeprofit", tradeId: "sim-1", value: 52_500 },
      { type: "set_stoploss", tradeId: "sim-1", value: 49_000, reason: "fixed" },
    ]);
    // PnL 1e10*(1/50000 - 1/52600) = 9885.9 -> 9886; closing fee floor(190.1) = 190.
    expect(records[1]!.actions).toEqual([{ type: "takeprofit_hit", tradeId: "sim-1", amountSats: 9_696 }]);
    expect(state.balanceSats).toBe(1_029_696);
    expect(records[1]!.pnlSats).toBe(9_496);
    expect(state.feesSats).toBe(390);
  });

  it("the stop loss fires on the exchange side at the step price", () => {
    const s0 = tenX({ tp_sl: TpSlConfig.parse({ stopLoss: { percent: 2 } }) });
    const { records } = steps(s0, [50_000, 48_000]);
    // 1e10*(1/50000 - 1/48000) = -8333.3 -> -8333; fee floor(208.3) = 208.
    expect(records[1]!.actions).toEqual([{ type: "stoploss_hit", tradeId: "sim-1", amountSats: -8_541 }]);
  });

  it("an exchange trailing stop follows the price up", () => {
    const s0 = tenX({ tp_sl: TpSlConfig.parse({ stopLoss: { priceDistance: 1_000, trailing: true } }) });
    const { state, records } = steps(s0, [50_000, 51_500, 51_000]);
    // 1,000 USD from a 50,000 entry is 0.02 of the price, the unit LN Markets trails by.
    expect(records[0]!.actions).toEqual([{ type: "set_stoploss", tradeId: "sim-1", value: 49_000, reason: "trailing" }]);
    expect(state.trades[0]).toMatchObject({ stoploss: 50_470, stoplossTrailingDistance: 0.02 });
    expect(records[2]!.actions).toEqual([]);
  });

  it("auto entry opens with its fee, and is refused when the balance cannot pay", () => {
    const entry = AutoEntryConfig.parse({ condition: { type: "price_below", level: 49_000 }, side: "buy", quantity: 100, leverage: 10, maxOpenTrades: 5, cooldownMs: 0 });
    const s0 = createSimulation({ initialPrice: 50_000, automations: { auto_entry: entry }, freeBalanceSats: 25_000, spread: 0 });
    const { state, records } = steps(s0, [49_500, 49_000, 50_000, 48_500]);
    // 100 USD at 49,000 and 10x: margin floor(20408.16) = 20408, fee 204.
    expect(records[1]!.actions).toEqual([{ type: "open", tradeId: "sim-1", amountSats: 20_408, reason: "auto_entry" }]);
    expect(records[3]!.actions).toEqual([{ type: "open", tradeId: "", reason: "rejected_insufficient_balance" }]);
    expect(state.trades).toHaveLength(1);
    expect(state.balanceSats).toBe(25_000 - 20_408 - 204);
  });

  it("equityAt never counts a trade below zero", () => {
    const s = tenX();
    expect(equityAt(s, 10_000)).toBe(1_000_000);
  });
});

describe("summary", () => {
  it("tracks final PnL, peak, max drawdown, actions and liquidation", () => {
    const s = tenX();
    const rec = (equitySats: number, actions: StepRecord["actions"] = []): StepRecord => ({
      step: 0,
      price: 1,
      risk: 0,
      pnlSats: equitySats - s.initialEquitySats,
      equitySats,
      actions,
    });
    let sum = initialSummary(s);
    for (const r of [
      rec(1_030_000),
      rec(1_010_000, [{ type: "add_margin", tradeId: "a", amountSats: 5 }]),
      rec(1_040_000),
      rec(1_000_000, [{ type: "liquidation", tradeId: "a" }]),
    ]) {
      sum = accumulateSummary(sum, r);
    }
    expect(sum).toEqual({
      steps: 4,
      finalPrice: 1,
      finalPnlSats: 1_000_000 - 1_020_200,
      finalEquitySats: 1_000_000,
      peakEquitySats: 1_040_000,
      maxDrawdownSats: 40_000,
      maxDrawdownPct: 40_000 / 1_040_000,
      actionsByType: { add_margin: 1, liquidation: 1 },
      liquidated: true,
      liquidations: 1,
    });
  });
});

describe("fills at the spread", () => {
  it("a market buy opens at the offer, a sell at the bid, rounded away from the last price to the tick", () => {
    expect(marketFill("buy", 50_000, 5)).toBe(50_002.5);
    expect(marketFill("sell", 50_000, 5)).toBe(49_997.5);
    expect(marketFill("buy", 50_000, 3)).toBe(50_001.5);
    expect(marketFill("buy", 50_000, 2)).toBe(50_001);
    expect(marketFill("buy", 50_000.5, 1.5)).toBe(50_001.5);
    expect(marketFill("sell", 50_000.5, 1.5)).toBe(49_999.5);
    expect(marketFill("sell", 50_000, 0)).toBe(50_000);
  });

  it("defaults to a 5 USD spread: the long's entry and liquidation come from the offer", () => {
    expect(DEFAULT_SPREAD_USD).toBe(5);
    const s = createSimulation({ initialPrice: 50_000, position: { side: "buy", quantity: 100, leverage: 10 } });
    const t = s.trades[0]!;
    expect(t.entryPrice).toBe(50_002.5);
    // 100 USD at 50,002.5 and 10x: margin floor(19999.0) = 19,999 sats.
    expect(t.margin).toBe(19_999);
    expect(t.liquidation).toBeGreaterThan(45_455);
    // At the last price the position is already down the half spread and the fee.
    const r = simulateStep(s, 50_000);
    expect(r.record.pnlSats).toBeLessThan(-feeFor(100, 50_002.5));
  });

  it("a short opens at the bid; a close fills at the offer; triggers use the last price", () => {
    const tp = TpSlConfig.parse({ takeProfit: { priceDistance: 1_000 } });
    const s0 = createSimulation({ initialPrice: 50_000, position: { side: "sell", quantity: 100, leverage: 10 }, automations: { tp_sl: tp }, spread: 10 });
    expect(s0.trades[0]!.entryPrice).toBe(49_995);
    // Take profit 1,000 under entry (48,995) fires when the LAST price reaches it, although the
    // offer (48,995 + 5) is still above it; the close buys back at that offer.
    const { records } = steps(s0, [49_500, 48_995]);
    expect(records[0]!.actions).toEqual([{ type: "set_takeprofit", tradeId: "sim-1", value: 48_995 }]);
    expect(records[1]!.actions.map((a) => a.type)).toEqual(["takeprofit_hit"]);
    const exit = 49_000;
    const expected = Math.round(100 * 1e8 * (1 / exit - 1 / 49_995)) - feeFor(100, exit);
    expect(records[1]!.actions[0]!.amountSats).toBe(expected);
  });

  it("a liquidation triggers on the last price, not the bid", () => {
    const s0 = createSimulation({ initialPrice: 50_000, position: { side: "buy", quantity: 100, leverage: 10 }, spread: 100 });
    const L = s0.trades[0]!.liquidation;
    // The bid (last - 50) is under the liquidation price, the last is not: no liquidation.
    expect(simulateStep(s0, L + 10).record.actions).toEqual([]);
    expect(simulateStep(s0, L).record.actions.map((a) => a.type)).toEqual(["liquidation"]);
  });
});

describe("runSimulation: crash", () => {
  // 50x: liquidation ~2 % under entry. A crash step moves ~0.45 %: the guard acts at 0.7 so the
  // window between acting and liquidation (0.6 % of price) is wider than one step.
  const base = {
    scenario: { name: "crash" as const, initialPrice: 100_000, seed: 7 },
    steps: 300,
    freeBalanceSats: 5_000_000,
    position: { side: "buy" as const, quantity: 1_000, leverage: 50 },
  };
  const guard = MarginGuardConfig.parse({
    warnAt: 0.6,
    actAt: 0.7,
    targetRisk: 0.3,
    maxAddPerTradeSats: 5_000_000,
    maxAddPerDaySats: 5_000_000,
  });

  it("a guarded 50x long survives the crash that liquidates its unguarded twin", () => {
    const bare = runSimulation(base);
    const guarded = runSimulation({ ...base, automations: { margin_guard: guard } });
    expect(bare.summary.liquidated).toBe(true);
    // Margin and opening fee lost: 1,000 USD bought at the offer, 100,002.5 (spread 5).
    expect(bare.summary.finalPnlSats).toBe(-(19_999 + 999));
    expect(guarded.summary.liquidated).toBe(false);
    expect(guarded.summary.actionsByType.add_margin).toBeGreaterThan(0);
    expect(guarded.state.trades).toHaveLength(1);
    expect(guarded.summary.finalPrice).toBeLessThan(90_000);
  });

  it("survives on every one of 20 seeds", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const scenario = { ...base.scenario, seed };
      expect(runSimulation({ ...base, scenario }).summary.liquidated).toBe(true);
      expect(runSimulation({ ...base, scenario, automations: { margin_guard: guard } }).summary.liquidated).toBe(false);
    }
  });

  it("the same seed gives identical results, another seed different ones", () => {
    const input = { ...base, automations: { margin_guard: guard } };
    const a = runSimulation(input);
    const b = runSimulation(input);
    expect(b.records).toEqual(a.records);
    expect(b.summary).toEqual(a.summary);
    expect(runSimulation({ ...input, scenario: { ...base.scenario, seed: 8 } }).records).not.toEqual(a.records);
  });

  it("can drop records for long runs", () => {
    const r = runSimulation({ ...base, steps: 1_000, keepRecords: false });
    expect(r.records).toEqual([]);
    expect(r.summary.steps).toBe(1_000);
  });
});
