import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { liquidationPrice, marginFor, riskOf } from "../../src/domain/inverse";
import {
  MarginGuardConfig,
  evaluateMarginGuard,
  initialMarginGuardState,
  utcDay,
  type MarginGuardConfigInput,
  type MarginGuardState,
} from "../../src/domain/margin-guard";
import type { RunningTrade } from "../../src/domain/trade";

// 10x, q=100 USD at 50,000: margin 20,000 sats; liquidation 45,454.55 (long) / 55,555.56 (short).
const long: RunningTrade = { id: "L", side: "buy", quantity: 100, entryPrice: 50_000, margin: 20_000, liquidation: 0 };
const short: RunningTrade = { id: "S", side: "sell", quantity: 100, entryPrice: 50_000, margin: 20_000, liquidation: 0 };
const BIG = 10_000_000;
const cfg = (c: MarginGuardConfigInput = {}) =>
  MarginGuardConfig.parse({ maxAddPerTradeSats: BIG, maxAddPerDaySats: BIG, ...c });

function run(opts: {
  config?: MarginGuardConfig;
  trades?: RunningTrade[];
  price: number;
  balanceSats?: number;
  state?: MarginGuardState;
  now?: number;
}) {
  return evaluateMarginGuard({
    config: opts.config ?? cfg(),
    trades: opts.trades ?? [long],
    price: opts.price,
    balanceSats: opts.balanceSats ?? BIG,
    state: opts.state ?? initialMarginGuardState(),
    now: opts.now ?? 0,
  });
}

describe("MarginGuardConfig", () => {
  const issues = (v: unknown) => {
    const r = MarginGuardConfig.safeParse(v);
    return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join("."), code: i.code }));
  };

  it("fills the documented defaults", () => {
    expect(MarginGuardConfig.parse({ maxAddPerTradeSats: 1, maxAddPerDaySats: 2 })).toEqual({
      warnAt: 0.8,
      actAt: 0.9,
      action: "add_margin",
      onInsufficient: "alert",
      targetRisk: 0.5,
      maxAddPerTradeSats: 1,
      maxAddPerDaySats: 2,
      cooldownMs: 60_000,
    });
  });

  it("requires caps only for add_margin", () => {
    expect(issues({}).map((i) => i.path)).toEqual(["maxAddPerTradeSats", "maxAddPerDaySats"]);
    expect(issues({ action: "close" })).toEqual([]);
  });

  it("names the field of each bad value", () => {
    const caps = { maxAddPerTradeSats: 1, maxAddPerDaySats: 1 };
    expect(issues({ ...caps, warnAt: 0.95 }).map((i) => i.path)).toEqual(["warnAt"]);
    expect(issues({ ...caps, warnAt: 0.9, actAt: 0.9 }).map((i) => i.path)).toEqual(["warnAt"]);
    expect(issues({ ...caps, targetRisk: 0.8 }).map((i) => i.path)).toEqual(["targetRisk"]);
    expect(issues({ ...caps, targetRisk: 0 }).map((i) => i.path)).toContain("targetRisk");
    expect(issues({ ...caps, maxAddPerTradeSats: -1 }).map((i) => i.path)).toEqual(["maxAddPerTradeSats"]);
    expect(issues({ ...caps, maxAddPerDaySats: 1.5 }).map((i) => i.path)).toEqual(["maxAddPerDaySats"]);
    expect(issues({ ...caps, actAt: 1.2 }).map((i) => i.path)).toEqual(["actAt"]);
    expect(issues({ ...caps, action: "reduce" }).map((i) => i.path)).toEqual(["action"]);
    expect(issues({ ...caps, tradeFilter: { side: "long" } }).map((i) => i.path)).toEqual(["tradeFilter.side"]);
  });

  it("rejects unknown fields, nested ones too", () => {
    expect(issues({ action: "close", extra: 1 })).toEqual([{ path: "", code: "unrecognized_keys" }]);
    expect(issues({ action: "close", tradeFilter: { ids: ["a"] } })).toEqual([{ path: "tradeFilter", code: "unrecognized_keys" }]);
  });
});

describe("levels and add_margin amounts", () => {
  it("long: ok near entry, warn at 0.8, critical at 0.9", () => {
    expect(run({ price: 49_000 }).decisions[0]).toMatchObject({ level: "ok", reason: "ok" });
    const warn = run({ price: 46_000 }).decisions[0]!; // 4000/4545.45 = 0.88
    expect(warn).toMatchObject({ level: "warn", reason: "warn" });
    expect(warn.risk).toBeCloseTo(0.88, 9);
    expect(warn.action).toBeUndefined();
  });

  it("long at 0.902 risk adds exactly the sats that bring it to 0.5", () => {
    // target liq = 50000 - 4100/0.5 = 41800; margin = ceil(1e10*(1/41800 - 1/50000)) = 39235.
    const d = run({ price: 45_900 }).decisions[0]!;
    expect(d.level).toBe("critical");
    expect(d.risk).toBeCloseTo(0.902, 9);
    expect(d.action).toEqual({ type: "add_margin", amountSats: 19_235 });
    expect(d.reason).toBe("add_margin");
    expect(d.inputs.riskAfter).toBeCloseTo(0.5, 4);
    expect(d.inputs.riskAfter).toBeLessThanOrEqual(0.5);
  });

  it("short at 0.918 risk mirrors it", () => {
    // target liq = 50000 + 5100/0.5 = 60200; margin = ceil(1e10*(1/50000 - 1/60200)) = 33888.
    const d = run({ trades: [short], price: 55_100 }).decisions[0]!;
    expect(d.risk).toBeCloseTo(5100 / 5555.5556, 6);
    expect(d.action).toEqual({ type: "add_margin", amountSats: 13_888 });
    const riskAfter = riskOf("sell", 50_000, liquidationPrice("sell", 100, 50_000, 20_000 + 13_888), 55_100);
    expect(riskAfter).toBeLessThanOrEqual(0.5);
    expect(riskAfter).toBeGreaterThan(0.4999);
  });

  it("a short falling in price is safe", () => {
    expect(run({ trades: [short], price: 40_000 }).decisions[0]).toMatchObject({ risk: 0, level: "ok" });
  });

  it("uses the exchange's liquidation when given (maintenance margin included)", () => {
    // Exchange liquidation 46,000 instead of 45,454.55: risk at 46,400 is 3600/4000 = 0.9.
    const t = { ...long, liquidation: 46_000 };
    const d = run({ trades: [t], price: 46_400 }).decisions[0]!;
    expect(d.risk).toBeCloseTo(0.9, 12);
    // target liq 50000 - 7200 = 42800; eff margin now 1e10*(1/46000-1/50000) = 17391.30;
    // needed 1e10*(1/42800-1/50000) = 33644.86 -> add ceil(33644.86 - 17391.30) = 16254.
    expect(d.action).toEqual({ type: "add_margin", amountSats: 16_254 });
  });

  it("shows the act level when actAt is below critical", () => {
    const d = run({ config: cfg({ warnAt: 0.7, actAt: 0.85, targetRisk: 0.4 }), price: 46_000 }).decisions[0]!;
    expect(d.level).toBe("act");
    expect(d.action?.type).toBe("add_margin");
  });

  it("throws on a bad price", () => {
    expect(() => run({ price: 0 })).toThrow(RangeError);
    expect(() => run({ price: Number.NaN })).toThrow(RangeError);
  });
});

describe("caps, balance and close", () => {
  it("adds partially when the per-trade cap still brings risk under actAt", () => {
    // +10,000: liq 1/(2e-5+3e-6) = 43478.26; risk 4100/6521.74 = 0.629.
    const d = run({ config: cfg({ maxAddPerTradeSats: 10_000 }), price: 45_900 }).decisions[0]!;
    expect(d.action).toEqual({ type: "add_margin", amountSats: 10_000 });
    expect(d.reason).toBe("add_margin_partial");
    expect(d.inputs.riskAfter).toBeCloseTo(4100 / (50_000 - 1 / 2.3e-5), 9);
  });

  it("with onInsufficient close, closes when the cap is too small to matter, or zero", () => {
    // At 45,600 risk is 4400/4545.45 = 0.968. +1,000: liq 1/2.21e-5 = 45248.87, risk
    // 4400/4751.13 = 0.926, still >= actAt: close. +2,000: liq 45045.05, risk 0.888: add.
    const close = (c: Partial<MarginGuardConfigInput>) => cfg({ onInsufficient: "close", ...c });
    expect(run({ config: close({ maxAddPerTradeSats: 1_000 }), price: 45_600 }).decisions[0]).toMatchObject({
      action: { type: "close" },
      reason: "close_capped",
    });
    expect(run({ config: close({ maxAddPerTradeSats: 2_000 }), price: 45_600 }).decisions[0]).toMatchObject({
      action: { type: "add_margin", amountSats: 2_000 },
      reason: "add_margin_partial",
    });
    expect(run({ config: close({ maxAddPerDaySats: 0 }), price: 45_900 }).decisions[0]).toMatchObject({
      action: { type: "close" },
      reason: "close_capped",
    });
  });

  it("with onInsufficient close, closes when the balance is short", () => {
    const config = cfg({ onInsufficient: "close" });
    expect(run({ config, price: 45_600, balanceSats: 1_000 }).decisions[0]).toMatchObject({
      action: { type: "close" },
      reason: "close_insufficient",
    });
    expect(run({ config, price: 45_900, balanceSats: 0 }).decisions[0]?.reason).toBe("close_insufficient");
  });

  it("by default never closes for want of margin: adds what is allowed and alerts, once per crossing", () => {
    // The cap cannot save it: the allowed 1,000 goes in and the trader is alerted.
    const capped = run({ config: cfg({ maxAddPerTradeSats: 1_000 }), price: 45_600 });
    expect(capped.decisions[0]).toMatchObject({ action: { type: "add_margin", amountSats: 1_000 }, alert: "capped", reason: "alert_capped" });
    // Nothing allowed: no order at all, only the alert.
    const broke = run({ price: 45_900, balanceSats: 0 });
    expect(broke.decisions[0]).toMatchObject({ alert: "insufficient", reason: "alert_insufficient" });
    expect(broke.decisions[0]!.action).toBeUndefined();
    // The alert spends the crossing: the next evaluation cools down instead of alerting again.
    const again = run({ price: 45_900, balanceSats: 0, state: broke.nextState, now: 1_000 });
    expect(again.decisions[0]).toMatchObject({ reason: "cooling_down" });
    expect(again.decisions[0]!.alert).toBeUndefined();
  });

  it("closes when configured", () => {
    const d = run({ config: cfg({ action: "close" }), price: 45_900 }).decisions[0]!;
    expect(d).toMatchObject({ action: { type: "close" }, reason: "close_configured" });
  });

  it("counts earlier adds against the per-trade cap", () => {
    const state: MarginGuardState = {
      trades: { L: { armed: true, lastActionAt: null, lastLevel: "ok", addedSats: 15_000 } },
      day: "",
      addedTodaySats: 0,
    };
    const d = run({ config: cfg({ maxAddPerTradeSats: 25_000 }), price: 45_900, state }).decisions[0]!;
    expect(d.action).toEqual({ type: "add_margin", amountSats: 10_000 });
  });

  it("shares the daily cap, most endangered trade first, and resets at 00:00 UTC", () => {
    const worse = { ...long, id: "W", entryPrice: 50_100, liquidation: liquidationPrice("buy", 100, 50_100, 20_000) };
    const config = cfg({ maxAddPerDaySats: 25_000 });
    const r = run({ config, trades: [long, worse], price: 45_900, now: Date.UTC(2026, 0, 1, 23, 59) });
    const [l, w] = r.decisions;
    expect(w!.risk).toBeGreaterThan(l!.risk);
    expect(w!.action?.type).toBe("add_margin");
    const used = w!.action?.type === "add_margin" ? w!.action.amountSats : 0;
    expect(l!.inputs.allowedSats).toBe(25_000 - used);
    expect(r.nextState.day).toBe("2026-01-01");
    expect(r.nextState.addedTodaySats).toBe(used + (l!.action?.type === "add_margin" ? l!.action.amountSats : 0));
    expect(r.nextState.addedTodaySats).toBeLessThanOrEqual(25_000);
    // Next UTC day: a fresh daily budget for a new crossing.
    const tomorrow = Date.UTC(2026, 0, 2, 0, 1);
    const next = run({ config, trades: [{ ...long, id: "N" }], price: 45_900, state: r.nextState, now: tomorrow });
    expect(next.decisions[0]?.action).toEqual({ type: "add_margin", amountSats: 19_235 });
    expect(next.nextState.addedTodaySats).toBe(19_235);
  });

  it("utcDay formats the UTC date", () => {
    expect(utcDay(Date.UTC(2026, 4, 7, 23, 59, 59))).toBe("2026-05-07");
  });
});

describe("cooldown and re-arming", () => {
  const config = cfg({ cooldownMs: 60_000 });

  it("acts once per crossing, again only after the cooldown if still in danger", () => {
    const a = run({ config, price: 45_900, now: 0 });
    expect(a.decisions[0]?.action?.type).toBe("add_margin");
    // The exchange has not applied it yet: same trade, same risk.
    const b = run({ config, price: 45_900, now: 30_000, state: a.nextState });
    expect(b.decisions[0]).toMatchObject({ reason: "cooling_down", level: "critical" });
    expect(b.decisions[0]?.action).toBeUndefined();
    const c = run({ config, price: 45_900, now: 60_000, state: b.nextState });
    expect(c.decisions[0]?.action?.type).toBe("add_margin");
  });

  it("flags level transitions so a warning is sent once", () => {
    const a = run({ config, price: 46_000, now: 0 });
    expect(a.decisions[0]).toMatchObject({ level: "warn", levelChanged: true });
    const b = run({ config, price: 46_100, now: 1_000, state: a.nextState });
    expect(b.decisions[0]).toMatchObject({ level: "warn", levelChanged: false });
    const c = run({ config, price: 49_000, now: 2_000, state: b.nextState });
    expect(c.decisions[0]).toMatchObject({ level: "ok", levelChanged: true });
  });

  it("re-arms once risk falls under warnAt, then acts at once on a new crossing", () => {
    const a = run({ config, price: 45_900, now: 0 });
    const b = run({ config, price: 49_000, now: 1_000, state: a.nextState });
    expect(b.nextState.trades.L?.armed).toBe(true);
    const c = run({ config, price: 45_900, now: 2_000, state: b.nextState });
    expect(c.decisions[0]?.action?.type).toBe("add_margin");
  });

  it("re-arms when the last action landed, even if the price gapped down before another evaluation", () => {
    const a = run({ config, price: 45_900, now: 0 });
    const added = a.decisions[0]!.action!.type === "add_margin" ? (a.decisions[0]!.action as { amountSats: number }).amountSats : 0;
    // The add landed (margin is higher) and the next evaluation is already at a lower price.
    const helped = { ...long, margin: long.margin + added };
    const liq = liquidationPrice("buy", helped.quantity, helped.entryPrice, helped.margin);
    const gap = Math.round(50_000 - 0.95 * (50_000 - liq));
    const b = run({ config, trades: [helped], price: gap, now: 1_000, state: a.nextState });
    expect(b.decisions[0]?.action?.type).toBe("add_margin");
  });

  it("does not re-arm in the warn zone", () => {
    const a = run({ config, price: 45_900, now: 0 });
    const b = run({ config, price: 46_000, now: 1_000, state: a.nextState }); // 0.88
    expect(b.nextState.trades.L?.armed).toBe(false);
    expect(run({ config, price: 45_900, now: 2_000, state: b.nextState }).decisions[0]?.reason).toBe("cooling_down");
  });

  it("drops state of trades that stopped running", () => {
    const a = run({ config, price: 45_900, now: 0 });
    const b = run({ config, trades: [short], price: 45_900, now: 1, state: a.nextState });
    expect(Object.keys(b.nextState.trades)).toEqual(["S"]);
  });
});

describe("trade filter", () => {
  it("selects by side and by id", () => {
    const trades = [long, short, { ...long, id: "L2" }];
    expect(run({ config: cfg({ tradeFilter: { side: "sell" } }), trades, price: 45_900 }).decisions.map((d) => d.tradeId)).toEqual(["S"]);
    expect(run({ config: cfg({ tradeFilter: { tradeIds: ["L2", "X"] } }), trades, price: 45_900 }).decisions.map((d) => d.tradeId)).toEqual(["L2"]);
    expect(run({ trades, price: 45_900 }).decisions.map((d) => d.tradeId)).toEqual(["L", "S", "L2"]);
  });
});

describe("properties", () => {
  it("never exceeds caps or balance, and every add brings risk under actAt unless it alerts", () => {
    const tradeArb = fc.record({
      side: fc.constantFrom<"buy" | "sell">("buy", "sell"),
      quantity: fc.integer({ min: 1, max: 100_000 }),
      entryPrice: fc.integer({ min: 20_000, max: 150_000 }),
      leverage: fc.integer({ min: 2, max: 100 }),
      move: fc.double({ min: 0, max: 1.2, noNaN: true }),
    });
    fc.assert(
      fc.property(
        fc.array(tradeArb, { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.integer({ min: 0, max: 5_000_000 }),
        (specs, perTrade, perDay, balance) => {
          // One shared price: place it from the first trade's liquidation distance.
          const trades: RunningTrade[] = specs.map((s, i) => {
            const margin = Math.max(1, marginFor(s.quantity, s.entryPrice, s.leverage));
            return { id: `t${i}`, side: s.side, quantity: s.quantity, entryPrice: s.entryPrice, margin, liquidation: liquidationPrice(s.side, s.quantity, s.entryPrice, margin) };
          });
          const t0 = trades[0]!;
          const L = t0.liquidation;
          const price = Math.max(1, t0.entryPrice + specs[0]!.move * (Number.isFinite(L) ? L - t0.entryPrice : 0));
          const config = cfg({ maxAddPerTradeSats: perTrade, maxAddPerDaySats: perDay });
          const r = run({ config, trades, price, balanceSats: balance });
          let total = 0;
          for (const d of r.decisions) {
            if (d.action?.type !== "add_margin") continue;
            const a = d.action.amountSats;
            if (!(Number.isInteger(a) && a > 0 && a <= perTrade)) return false;
            // Only a partial add that comes with a critical alert may leave risk at actAt.
            if (!(d.inputs.riskAfter! < config.actAt) && !d.alert) return false;
            if (d.alert && config.onInsufficient !== "alert") return false;
            total += a;
          }
          return total <= perDay && total <= balance && r.nextState.addedTodaySats === total;
        },
      ),
    );
  });
});
