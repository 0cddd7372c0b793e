import { describe, expect, it } from "vitest";
import { AutoEntryConfig, evaluateAutoEntry, initialAutoEntryState } from "../../src/domain/auto-entry";
import { evaluateMarginGuard, initialMarginGuardState, MarginGuardConfig } from "../../src/domain/margin-guard";
import { monitorMargins } from "../../src/domain/margin-monitor";
import { evaluateTpSl, initialTpSlState, TpSlConfig } from "../../src/domain/tp-sl";
import { tradeRisk, type RunningTrade } from "../../src/domain/trade";
import { crossed, deriveTriggerLevels, isHot, levelsKey, nearestAhead, riskLevelPrice, withHotZone, type TriggerLevel } from "../../src/domain/trigger-levels";

const long: RunningTrade = { id: "L", side: "buy", quantity: 100, entryPrice: 50_000, margin: 20_000, liquidation: 45_000 };
const short: RunningTrade = { id: "S", side: "sell", quantity: 100, entryPrice: 50_000, margin: 20_000, liquidation: 55_000 };
const guard = MarginGuardConfig.parse({ warnAt: 0.7, actAt: 0.85, maxAddPerTradeSats: 10_000, maxAddPerDaySats: 10_000 });
const at = (levels: TriggerLevel[], kind: string) => levels.filter((l) => l.kind === kind).map((l) => [l.direction, Number(l.price.toFixed(2))]);

describe("crossed", () => {
  it("down levels fire when the price falls to or through them, up levels when it rises", () => {
    const down = { price: 100, direction: "down" as const };
    const up = { price: 100, direction: "up" as const };
    expect([crossed(down, 101, 100), crossed(down, 101, 99), crossed(down, 100, 99), crossed(down, 99, 101)]).toEqual([true, true, false, false]);
    expect([crossed(up, 99, 100), crossed(up, 99, 101), crossed(up, 100, 101), crossed(up, 101, 99)]).toEqual([true, true, false, false]);
  });
});

describe("deriveTriggerLevels", () => {
  it("monitor levels for every trade: warn 0.8, critical 0.9 and liquidation, down for a long, up for a short", () => {
    const levels = deriveTriggerLevels({ trades: [long, short], automations: [] });
    expect(at(levels, "risk_warn")).toEqual([["down", 46_000], ["up", 54_000]]);
    expect(at(levels, "risk_critical")).toEqual([["down", 45_500], ["up", 54_500]]);
    expect(at(levels, "liquidation")).toEqual([["down", 45_000], ["up", 55_000]]);
  });

  it("a guard adds its warnAt and actAt on the trades its filter covers", () => {
    const levels = deriveTriggerLevels({ trades: [long, short], automations: [{ type: "margin_guard", config: { ...guard, tradeFilter: { side: "buy" } } }] });
    expect(levels.filter((l) => l.kind === "risk_act").map((l) => l.price)).toEqual([45_750]);
    expect(levels.some((l) => l.kind === "risk_warn" && l.price === 46_500)).toBe(true);
    expect(levels.some((l) => l.price === 53_500)).toBe(false); // the short is not the guard's
  });

  it("a short that cannot be liquidated has no risk level", () => {
    const safe: RunningTrade = { ...short, margin: 1e12, liquidation: 0 };
    expect(riskLevelPrice(safe, 0.9)).toBeNull();
    expect(deriveTriggerLevels({ trades: [safe], automations: [] })).toEqual([]);
  });

  it("TP/SL: take profit, fixed stop, break-even trigger, next ladder rung; exchange-held stops from the trade", () => {
    const config = TpSlConfig.parse({ takeProfit: { percent: 10 }, stopLoss: { percent: 5 }, breakEven: { triggerPercent: 4 }, ladder: [{ percent: 2 }, { percent: 3 }] });
    const held: RunningTrade = { ...long, id: "H", takeprofit: 60_000, stoploss: 44_000 };
    const levels = deriveTriggerLevels({ trades: [long, held], automations: [{ type: "tp_sl", config, state: initialTpSlState() }] });
    expect(at(levels, "take_profit")).toEqual([["up", 55_000], ["up", 60_000]]);
    expect(at(levels, "stop_loss")).toEqual([["down", 44_000], ["down", 47_500]]);
    expect(at(levels, "break_even")).toEqual([["up", 52_000]]);
    expect(at(levels, "ladder")).toEqual([["up", 51_000]]);
    // Rung 1 used on L: the next rung is on H; break-even done on L.
    const after = deriveTriggerLevels({ trades: [long, held], automations: [{ type: "tp_sl", config, state: { trades: { L: { best: 52_500, breakEven: true } }, ladderRung: 1, ladderClosing: ["L"] } }] });
    expect(at(after, "ladder")).toEqual([["up", 51_500]]);
    expect(at(after, "break_even")).toEqual([["up", 52_000]]); // H's, only
  });

  it("a managed trailing stop: its stop, and the price at which it would next move", () => {
    const config = TpSlConfig.parse({ stopLoss: { priceDistance: 1_000, trailing: true, trailingMode: "managed" } });
    const t: RunningTrade = { ...long, stoploss: 50_000 };
    const levels = deriveTriggerLevels({ trades: [t], automations: [{ type: "tp_sl", config, state: { trades: { L: { best: 51_000, breakEven: false } }, ladderRung: 0, ladderClosing: [] } }] });
    expect(at(levels, "stop_loss")).toEqual([["down", 50_000]]);
    // held 50,000 + distance 1,000 + step 100 (10 % of the distance)
    expect(at(levels, "trail_refresh")).toEqual([["up", 51_100]]);
    // The tp-sl evaluator agrees: below that price nothing is sent, at it the stop moves.
    const state = { trades: { L: { best: 51_000, breakEven: false } }, ladderRung: 0, ladderClosing: [] };
    expect(evaluateTpSl({ config, trades: [t], price: 51_099, state }).changes).toEqual([]);
    expect(evaluateTpSl({ config, trades: [t], price: 51_100, state }).changes).toEqual([{ type: "stoploss", tradeId: "L", value: 50_100, mode: "fixed" }]);
  });

  it("auto entry: the condition's level, the re-arm level once it entered, and moving windows", () => {
    const below = AutoEntryConfig.parse({ condition: { type: "price_below", level: 90_000 }, side: "buy", quantity: 10, leverage: 2 });
    expect(at(deriveTriggerLevels({ trades: [], automations: [{ type: "auto_entry", config: below }] }), "entry")).toEqual([["down", 90_000]]);
    const entered = { ...initialAutoEntryState(), armed: false };
    expect(at(deriveTriggerLevels({ trades: [], automations: [{ type: "auto_entry", config: below, state: entered }] }), "entry_rearm")).toEqual([["up", 90_000.25]]);
    const drop = AutoEntryConfig.parse({ condition: { type: "drop_from_high", percent: 5, windowMs: 3_600_000 }, side: "buy", quantity: 10, leverage: 2 });
    const state = { ...initialAutoEntryState(), window: [{ start: 0, high: 100_000, low: 98_000 }] };
    const levels = deriveTriggerLevels({ trades: [], automations: [{ type: "auto_entry", config: drop, state }], price: 99_000 });
    expect(at(levels, "entry")).toEqual([["down", 95_000]]);
    expect(at(levels, "entry_window")).toEqual([["up", 100_500]]);
  });

  it("duplicates are kept once, with the most urgent kind; the key changes only with the levels", () => {
    const monitorOnly = deriveTriggerLevels({ trades: [long], automations: [] });
    const sameAsMonitor = deriveTriggerLevels({ trades: [long], automations: [{ type: "margin_guard", config: MarginGuardConfig.parse({ maxAddPerTradeSats: 1, maxAddPerDaySats: 1 }) }] });
    // The default guard (0.8 / 0.9) sits on the monitor's levels: 0.9 is "risk_act", as urgent as critical.
    expect(sameAsMonitor.map((l) => l.price)).toEqual(monitorOnly.map((l) => l.price));
    expect(levelsKey(deriveTriggerLevels({ trades: [long], automations: [] }))).toBe(levelsKey(monitorOnly));
    expect(levelsKey(deriveTriggerLevels({ trades: [{ ...long, margin: 25_000, liquidation: 44_000 }], automations: [] }))).not.toBe(levelsKey(monitorOnly));
  });
});

describe("hot zone", () => {
  const levels = deriveTriggerLevels({ trades: [long], automations: [] }); // 46,000 / 45,500 / 45,000, down
  it("measures the nearest level still ahead of the price", () => {
    expect(nearestAhead(levels, 46_460)).toBeCloseTo(460 / 46_460, 12);
    // 46,000 is behind once the price is under it: the next one ahead is 45,500.
    expect(nearestAhead(levels, 45_900)).toBeCloseTo(400 / 45_900, 12);
    expect(nearestAhead([], 45_900)).toBe(Infinity);
  });
  it("hot-zone boundaries wake a resting account as the price enters its zone; they are not triggers themselves", () => {
    const zoned = withHotZone(levels, 0.01);
    expect(at(zoned, "hot_zone")).toEqual([["down", 45_450], ["down", 45_955], ["down", 46_460]]);
    // Entering the zone of 46,000 (at 46,460) crosses its boundary; the account is then hot.
    expect(zoned.filter((l) => crossed(l, 47_000, 46_450)).map((l) => l.kind)).toEqual(["hot_zone"]);
    expect(isHot(zoned, 46_450, 0.01)).toBe(true);
    expect(nearestAhead(zoned, 47_000)).toBe(nearestAhead(levels, 47_000));
  });
  it("is hot within the distance, at rest beyond it or without a price", () => {
    expect(isHot(levels, 46_400, 0.01)).toBe(true);
    expect(isHot(levels, 47_000, 0.01)).toBe(false);
    expect(isHot(levels, null, 0.01)).toBe(false);
  });
});

/** A small deterministic PRNG: the property below is reproducible. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

describe("property: every decision change between two ticks crosses a registered level", () => {
  it("monitor escalations, guard actions, TP/SL closes and entries, over 5,000 random ticks", () => {
    const r = rng(42);
    const tpsl = TpSlConfig.parse({ takeProfit: { percent: 3 }, stopLoss: { percent: 4 } });
    const entry = AutoEntryConfig.parse({ condition: { type: "price_below", level: 48_000 }, side: "buy", quantity: 10, leverage: 2 });
    let checked = 0;
    for (let i = 0; i < 5_000; i++) {
      const side = r() < 0.5 ? "buy" : "sell";
      const entryPrice = 40_000 + Math.round(r() * 20_000);
      const leverage = 5 + r() * 45;
      const quantity = 1_000;
      const margin = Math.round((quantity * 1e8) / entryPrice / leverage);
      const t: RunningTrade = { id: "T", side, quantity, entryPrice, margin, liquidation: 0 };
      const levels = deriveTriggerLevels({ trades: [t], automations: [{ type: "margin_guard", config: guard }, { type: "tp_sl", config: tpsl }, { type: "auto_entry", config: entry }] });
      const from = entryPrice * (0.9 + r() * 0.2);
      const to = from * (0.97 + r() * 0.06);
      const any = levels.some((l) => crossed(l, from, to));
      const monitorEscalates = monitorMargins([t], to, undefined, monitorMargins([t], from).levels).escalated.length > 0;
      const guardActs = (p: number) => evaluateMarginGuard({ config: guard, trades: [t], price: p, balanceSats: 1e9, state: initialMarginGuardState(), now: 0 }).decisions.some((d) => d.action || d.level !== "ok");
      const closes = (p: number) => evaluateTpSl({ config: tpsl, trades: [t], price: p, state: initialTpSlState() }).changes.some((c) => c.type === "close");
      const enters = (p: number) => evaluateAutoEntry({ config: entry, price: p, now: 0, openTrades: [], state: initialAutoEntryState() }).open !== undefined;
      const changed = monitorEscalates || (guardActs(to) && !guardActs(from)) || (closes(to) && !closes(from)) || (enters(to) && !enters(from));
      if (changed) {
        checked++;
        expect(any, `trade ${JSON.stringify(t)} ${from} -> ${to} risk ${tradeRisk(t, from)} -> ${tradeRisk(t, to)}`).toBe(true);
      }
    }
    expect(checked).toBeGreaterThan(500);
  });
});
