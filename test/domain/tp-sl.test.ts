import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isOnTick } from "../../src/domain/inverse";
import {
  TpSlConfig,
  evaluateTpSl,
  initialTpSlState,
  type TpSlConfigInput,
  type TpSlState,
} from "../../src/domain/tp-sl";
import type { RunningTrade } from "../../src/domain/trade";

const long: RunningTrade = { id: "L", side: "buy", quantity: 100, entryPrice: 50_000, margin: 20_000, liquidation: 45_500, takeprofit: 0, stoploss: 0 };
const short: RunningTrade = { ...long, id: "S", side: "sell", liquidation: 55_500 };
const fixed = TpSlConfig.parse({ takeProfit: { percent: 5 }, stopLoss: { percent: 2 } });

const run = (config: TpSlConfig, trades: RunningTrade[], price: number, state: TpSlState = initialTpSlState()) =>
  evaluateTpSl({ config, trades, price, state });

describe("TpSlConfig", () => {
  const paths = (v: unknown) => {
    const r = TpSlConfig.safeParse(v);
    return r.success ? [] : r.error.issues.map((i) => i.path.join("."));
  };

  it("parses with defaults", () => {
    expect(TpSlConfig.parse({ stopLoss: { priceDistance: 500 } })).toEqual({
      stopLoss: { priceDistance: 500, trailing: false, trailingMode: "exchange" },
    });
  });

  it("names the bad field", () => {
    expect(paths({ takeProfit: { percent: 5, priceDistance: 10 } })).toEqual(["takeProfit"]);
    expect(paths({ takeProfit: {} })).toEqual(["takeProfit"]);
    expect(paths({ stopLoss: { percent: 100 } })).toEqual(["stopLoss.percent"]);
    expect(paths({ stopLoss: { priceDistance: -1 } })).toEqual(["stopLoss.priceDistance"]);
    expect(paths({ breakEven: { triggerPercent: 1, offsetPercent: 1 } })).toEqual(["breakEven.offsetPercent"]);
    expect(paths({ stopLoss: { percent: 2, trailing: true }, breakEven: { triggerPercent: 1 } })).toEqual(["breakEven"]);
    expect(paths({ ladder: [{ percent: 2 }, { percent: 2 }] })).toEqual(["ladder.1.percent"]);
    expect(paths({ ladder: [] })).toEqual(["ladder"]);
    expect(paths({})).toEqual([""]);
    expect(paths({ takeProfit: { percent: 5, trailing: true } })).toEqual(["takeProfit"]);
    expect(paths({ stopLoss: { percent: 2 }, trailingStop: true })).toEqual([""]);
  });

  it("allows break-even with a managed trail", () => {
    expect(paths({ stopLoss: { percent: 2, trailing: true, trailingMode: "managed" }, breakEven: { triggerPercent: 1 } })).toEqual([]);
  });
});

describe("fixed TP/SL", () => {
  it("sets TP and SL on a bare long, in the right direction", () => {
    const r = run(fixed, [long], 50_000);
    expect(r.targets).toEqual([{ tradeId: "L", takeprofit: 52_500, stoploss: 49_000, mode: "fixed" }]);
    expect(r.changes).toEqual([
      { type: "takeprofit", tradeId: "L", value: 52_500 },
      { type: "stoploss", tradeId: "L", value: 49_000, mode: "fixed" },
    ]);
  });

  it("mirrors for a short", () => {
    expect(run(fixed, [short], 50_000).changes).toEqual([
      { type: "takeprofit", tradeId: "S", value: 47_500 },
      { type: "stoploss", tradeId: "S", value: 51_000, mode: "fixed" },
    ]);
  });

  it("sends nothing when the exchange already holds the targets, only the differing one otherwise", () => {
    expect(run(fixed, [{ ...long, takeprofit: 52_500, stoploss: 49_000 }], 50_200).changes).toEqual([]);
    expect(run(fixed, [{ ...long, takeprofit: 52_000, stoploss: 49_000 }], 50_200).changes).toEqual([
      { type: "takeprofit", tradeId: "L", value: 52_500 },
    ]);
  });

  it("uses price distances and rounds percent targets to the 0.5 tick", () => {
    const byPrice = TpSlConfig.parse({ takeProfit: { priceDistance: 750 }, stopLoss: { priceDistance: 250.3 } });
    expect(run(byPrice, [long], 50_000).targets[0]).toMatchObject({ takeprofit: 50_750, stoploss: 49_749.5 });
    // 50123 * 1.03 = 51626.69 -> 51626.5
    const odd = { ...long, entryPrice: 50_123 };
    expect(run(TpSlConfig.parse({ takeProfit: { percent: 3 } }), [odd], 50_123).targets[0]?.takeprofit).toBe(51_626.5);
  });

  it("closes a trade whose target the price already passed", () => {
    expect(run(fixed, [long], 52_600).changes).toEqual([{ type: "close", tradeId: "L", reason: "takeprofit_reached" }]);
    expect(run(fixed, [long], 48_900).changes).toEqual([{ type: "close", tradeId: "L", reason: "stoploss_reached" }]);
    expect(run(fixed, [short], 47_400).changes).toEqual([{ type: "close", tradeId: "S", reason: "takeprofit_reached" }]);
    expect(run(fixed, [short], 51_000).changes).toEqual([{ type: "close", tradeId: "S", reason: "stoploss_reached" }]);
  });

  it("keeps a short's TP above zero for a huge percent", () => {
    const c = TpSlConfig.parse({ takeProfit: { percent: 150 } });
    expect(run(c, [short], 50_000).targets[0]?.takeprofit).toBe(0.5);
  });

  it("throws on a bad price", () => {
    expect(() => run(fixed, [long], 0)).toThrow(RangeError);
  });
});

describe("break-even", () => {
  const c = TpSlConfig.parse({ stopLoss: { percent: 2 }, breakEven: { triggerPercent: 1, offsetPercent: 0.2 } });

  it("moves the long's stop to entry + 0.2 % after a 1 % gain, and keeps it there", () => {
    const held = { ...long, stoploss: 49_000 };
    const a = run(c, [held], 50_400);
    expect(a.changes).toEqual([]);
    const b = run(c, [held], 50_500, a.nextState);
    expect(b.changes).toEqual([{ type: "stoploss", tradeId: "L", value: 50_100, mode: "fixed" }]);
    expect(b.nextState.trades.L?.breakEven).toBe(true);
    const c2 = run(c, [{ ...held, stoploss: 50_100 }], 50_200, b.nextState);
    expect(c2.changes).toEqual([]);
    expect(c2.targets[0]?.stoploss).toBe(50_100);
    const d = run(c, [{ ...held, stoploss: 50_100 }], 50_050, c2.nextState);
    expect(d.changes).toEqual([{ type: "close", tradeId: "L", reason: "stoploss_reached" }]);
  });

  it("mirrors for a short", () => {
    const r = run(c, [{ ...short, stoploss: 51_000 }], 49_500);
    expect(r.changes).toEqual([{ type: "stoploss", tradeId: "S", value: 49_900, mode: "fixed" }]);
  });

  it("works without a stop loss configured", () => {
    const only = TpSlConfig.parse({ breakEven: { triggerPercent: 1 } });
    expect(run(only, [long], 50_400).changes).toEqual([]);
    expect(run(only, [long], 50_400).targets[0]?.stoploss).toBeNull();
    expect(run(only, [long], 50_500).changes).toEqual([{ type: "stoploss", tradeId: "L", value: 50_000, mode: "fixed" }]);
  });
});

describe("trailing stop", () => {
  it("exchange mode: sets LN Markets' trailing stop once, then leaves it to the exchange", () => {
    const c = TpSlConfig.parse({ stopLoss: { percent: 2, trailing: true } }); // 0.02 of the price
    const first = run(c, [long], 50_300);
    expect(first.changes).toEqual([{ type: "stoploss", tradeId: "L", value: 0.02, mode: "trailing" }]);
    // The target is where the exchange puts it: 2 % under the last price, on the tick.
    expect(first.targets[0]?.stoploss).toBe(49_294);
    const armed = { ...long, stoploss: 49_800, stoplossTrailingDistance: 0.02 };
    const r = run(c, [armed], 50_800);
    expect(r.changes).toEqual([]);
    expect(r.targets[0]).toEqual({ tradeId: "L", takeprofit: null, stoploss: 49_800, mode: "trailing" });
    // A fixed stop or another distance on the exchange is replaced.
    expect(run(c, [{ ...armed, stoplossTrailingDistance: 0 }], 50_800).changes).toEqual([
      { type: "stoploss", tradeId: "L", value: 0.02, mode: "trailing" },
    ]);
    expect(run(c, [{ ...armed, stoplossTrailingDistance: 0.05 }], 50_800).changes).toHaveLength(1);
    expect(run(c, [short], 49_000).changes).toEqual([{ type: "stoploss", tradeId: "S", value: 0.02, mode: "trailing" }]);
  });

  it("exchange mode: the value sent is a fraction of price in [0.001, 10], never a price", () => {
    const pct = TpSlConfig.parse({ stopLoss: { percent: 1.5, trailing: true } });
    const dist = TpSlConfig.parse({ stopLoss: { priceDistance: 500, trailing: true } });
    const tiny = TpSlConfig.parse({ stopLoss: { priceDistance: 1, trailing: true } });
    const sent = (c: TpSlConfig) => run(c, [long], 50_300).changes[0];
    expect(sent(pct)).toEqual({ type: "stoploss", tradeId: "L", value: 0.015, mode: "trailing" });
    // A price distance is divided by the entry price (stable while the price moves).
    expect(sent(dist)).toEqual({ type: "stoploss", tradeId: "L", value: 0.01, mode: "trailing" });
    const tinyChange = sent(tiny);
    expect(tinyChange?.type === "stoploss" ? tinyChange.value : undefined).toBe(0.001);
    // A percent under the exchange's minimum distance is refused at configuration.
    expect(TpSlConfig.safeParse({ stopLoss: { percent: 0.05, trailing: true } }).success).toBe(false);
    expect(TpSlConfig.safeParse({ stopLoss: { percent: 0.05, trailing: true, trailingMode: "managed" } }).success).toBe(true);
  });

  it("exchange mode: an unchanged trailing stop is never re-sent, whatever the price does", () => {
    const c = TpSlConfig.parse({ stopLoss: { priceDistance: 750, trailing: true } });
    let s = initialTpSlState();
    const first = run(c, [long], 50_000, s);
    expect(first.changes).toHaveLength(1);
    const sent = first.changes[0] as { value: number };
    s = first.nextState;
    // The exchange echoes the distance, possibly at a coarser precision, and trails the stop.
    for (const [price, reported] of [[50_400, sent.value], [51_200, 0.015], [49_700, 0.015], [53_000, sent.value]] as const) {
      const held = { ...long, stoploss: Math.round(price * (1 - reported)), stoplossTrailingDistance: reported };
      const r = run(c, [held], price, s);
      expect(r.changes).toEqual([]);
      s = r.nextState;
    }
  });

  it("managed mode: follows the best price forward in steps of 10 % of the distance, never back", () => {
    const c = TpSlConfig.parse({ stopLoss: { percent: 2, trailing: true, trailingMode: "managed" } });
    let s = initialTpSlState();
    let t = long;
    const step = (price: number) => {
      const r = run(c, [t], price, s);
      s = r.nextState;
      for (const ch of r.changes) if (ch.type === "stoploss") t = { ...t, stoploss: ch.value };
      return r;
    };
    expect(step(50_000).changes).toEqual([{ type: "stoploss", tradeId: "L", value: 49_000, mode: "fixed" }]);
    expect(step(51_000).changes).toEqual([{ type: "stoploss", tradeId: "L", value: 50_000, mode: "fixed" }]);
    expect(step(51_050).changes).toEqual([]); // +50 < 100
    expect(step(51_050).targets[0]?.stoploss).toBe(50_000);
    expect(step(51_100).changes).toEqual([{ type: "stoploss", tradeId: "L", value: 50_100, mode: "fixed" }]);
    expect(step(50_500).changes).toEqual([]);
    expect(s.trades.L?.best).toBe(51_100);
    expect(step(50_100).changes).toEqual([{ type: "close", tradeId: "L", reason: "stoploss_reached" }]);
  });

  it("managed mode mirrors for a short", () => {
    const c = TpSlConfig.parse({ stopLoss: { priceDistance: 500, trailing: true, trailingMode: "managed" } });
    const a = run(c, [{ ...short, stoploss: 50_500 }], 49_000);
    expect(a.changes).toEqual([{ type: "stoploss", tradeId: "S", value: 49_500, mode: "fixed" }]);
    const b = run(c, [{ ...short, stoploss: 49_500 }], 49_300, a.nextState);
    expect(b.changes).toEqual([]);
    expect(b.nextState.trades.S?.best).toBe(49_000);
  });
});

describe("ladder", () => {
  const c = TpSlConfig.parse({ ladder: [{ percent: 1 }, { percent: 2 }, { percent: 3 }] });
  const A = { ...long, id: "A" };
  const B = { ...long, id: "B" };
  const C = { ...long, id: "C", entryPrice: 49_000 };

  it("closes trades strictly in order as each rung is reached", () => {
    expect(run(c, [A, B, C], 50_400).changes).toEqual([]);
    // A reaches 1 %; C is at +3.06 % but waits for B.
    const r1 = run(c, [A, B, C], 50_500);
    expect(r1.changes).toEqual([{ type: "close", tradeId: "A", reason: "ladder" }]);
    expect(r1.nextState).toMatchObject({ ladderRung: 1, ladderClosing: ["A"] });
    // A still listed (close in flight): re-sent, not counted twice.
    const r2 = run(c, [A, B, C], 50_600, r1.nextState);
    expect(r2.changes).toEqual([{ type: "close", tradeId: "A", reason: "ladder" }]);
    expect(r2.nextState.ladderRung).toBe(1);
    // A gone; B at +2 % takes rung 2, then C at +4.1 % takes rung 3 in the same tick.
    const r3 = run(c, [B, C], 51_000, r2.nextState);
    expect(r3.changes).toEqual([
      { type: "close", tradeId: "B", reason: "ladder" },
      { type: "close", tradeId: "C", reason: "ladder" },
    ]);
    expect(r3.nextState).toMatchObject({ ladderRung: 3, ladderClosing: ["B", "C"] });
    const D = { ...long, id: "D" };
    expect(run(c, [D], 60_000, { ...r3.nextState, ladderClosing: [] }).changes).toEqual([]);
  });
});

describe("properties", () => {
  const trade = fc.record({
    side: fc.constantFrom<"buy" | "sell">("buy", "sell"),
    entry: fc.integer({ min: 2_000, max: 200_000 }).map((x) => x / 2),
  });
  const cfg = fc.record({ tp: fc.double({ min: 0.1, max: 50, noNaN: true }), sl: fc.double({ min: 0.1, max: 50, noNaN: true }) });

  it("targets are on the tick and on the correct side of entry", () => {
    fc.assert(
      fc.property(trade, cfg, ({ side, entry }, { tp, sl }) => {
        const t: RunningTrade = { ...long, side, entryPrice: entry };
        const c = TpSlConfig.parse({ takeProfit: { percent: tp }, stopLoss: { percent: sl } });
        const { takeprofit, stoploss } = run(c, [t], entry).targets[0]!;
        if (!(isOnTick(takeprofit!) && isOnTick(stoploss!))) return false;
        return side === "buy" ? takeprofit! >= entry && stoploss! <= entry : takeprofit! <= entry && stoploss! >= entry;
      }),
    );
  });

  it("applying the changes makes the next evaluation a no-op", () => {
    fc.assert(
      fc.property(trade, cfg, fc.double({ min: -0.05, max: 0.05, noNaN: true }), ({ side, entry }, { tp, sl }, move) => {
        const t: RunningTrade = { ...long, side, entryPrice: entry };
        const c = TpSlConfig.parse({ takeProfit: { percent: tp }, stopLoss: { percent: sl } });
        const price = Math.max(0.5, Math.round(entry * (1 + move) * 2) / 2);
        const first = run(c, [t], price);
        if (first.changes.some((ch) => ch.type === "close")) return true;
        let applied = t;
        for (const ch of first.changes) {
          if (ch.type === "takeprofit") applied = { ...applied, takeprofit: ch.value };
          if (ch.type === "stoploss") applied = { ...applied, stoploss: ch.value };
        }
        return run(c, [applied], price, first.nextState).changes.length === 0;
      }),
    );
  });
});
