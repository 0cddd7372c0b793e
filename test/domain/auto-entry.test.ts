import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AutoEntryConfig,
  WINDOW_BUCKETS,
  evaluateAutoEntry,
  initialAutoEntryState,
  type AutoEntryConfigInput,
  type AutoEntryState,
} from "../../src/domain/auto-entry";

const base: AutoEntryConfigInput = {
  condition: { type: "price_below", level: 48_000 },
  side: "buy",
  quantity: 100,
  leverage: 10,
};
const cfg = (c: Partial<AutoEntryConfigInput> = {}) => AutoEntryConfig.parse({ ...base, ...c });

function driver(config: AutoEntryConfig, openTrades: unknown[] = []) {
  let state: AutoEntryState = initialAutoEntryState();
  return (price: number, now: number, paused = false) => {
    const r = evaluateAutoEntry({ config, price, now, openTrades, state, paused });
    state = r.nextState;
    return r;
  };
}

describe("AutoEntryConfig", () => {
  const paths = (v: unknown) => {
    const r = AutoEntryConfig.safeParse(v);
    return r.success ? [] : r.error.issues.map((i) => i.path.join("."));
  };

  it("fills defaults", () => {
    expect(cfg()).toEqual({ ...base, maxOpenTrades: 1, cooldownMs: 300_000, maxPerDay: 5 });
  });

  it("names the bad field", () => {
    expect(paths({ ...base, quantity: undefined })).toEqual(["quantity"]);
    expect(paths({ ...base, margin: 10_000 })).toEqual(["quantity"]);
    expect(paths({ ...base, quantity: undefined, margin: 10_000 })).toEqual([]);
    expect(paths({ ...base, leverage: 0 })).toEqual(["leverage"]);
    expect(paths({ ...base, leverage: 101 })).toEqual(["leverage"]);
    expect(paths({ ...base, quantity: 500_001 })).toEqual(["quantity"]);
    expect(paths({ ...base, side: "long" })).toEqual(["side"]);
    expect(paths({ ...base, condition: { type: "price_near", level: 1 } })).toEqual(["condition.type"]);
    expect(paths({ ...base, condition: { type: "drop_from_high", percent: 5 } })).toEqual(["condition.windowMs"]);
    expect(paths({ ...base, condition: { type: "price_below", level: 1, percent: 2 } })).toEqual(["condition"]);
    expect(paths({ ...base, stoploss: { percent: 100 } })).toEqual(["stoploss.percent"]);
    expect(paths({ ...base, maxPerDay: 0 })).toEqual(["maxPerDay"]);
    expect(paths({ ...base, extra: true })).toEqual([""]);
  });
});

describe("price level conditions", () => {
  it("opens once per crossing and re-arms after leaving the condition", () => {
    const step = driver(cfg({ cooldownMs: 0 }));
    expect(step(49_000, 0).reason).toBe("condition_not_met");
    const opened = step(48_000, 1_000);
    expect(opened.reason).toBe("opened");
    expect(opened.open).toEqual({ type: "market", side: "buy", leverage: 10, quantity: 100 });
    expect(step(47_500, 2_000)).toMatchObject({ reason: "waiting_rearm" });
    expect(step(47_000, 3_000).open).toBeUndefined();
    expect(step(48_500, 4_000).reason).toBe("condition_not_met");
    expect(step(47_900, 5_000).reason).toBe("opened");
  });

  it("price_above mirrors it, with margin instead of quantity", () => {
    const step = driver(cfg({ condition: { type: "price_above", level: 52_000 }, side: "sell", quantity: undefined, margin: 50_000 }));
    expect(step(51_999.5, 0).reason).toBe("condition_not_met");
    expect(step(52_000, 1).open).toEqual({ type: "market", side: "sell", leverage: 10, margin: 50_000 });
  });

  it("honours the cooldown but keeps the crossing armed", () => {
    const step = driver(cfg({ cooldownMs: 60_000 }));
    step(47_000, 0);
    step(49_000, 10_000); // re-armed
    expect(step(47_000, 20_000).reason).toBe("cooldown");
    expect(step(47_000, 59_999).reason).toBe("cooldown");
    expect(step(47_000, 60_000).reason).toBe("opened");
  });

  it("stops at the daily cap and resumes the next UTC day", () => {
    const step = driver(cfg({ cooldownMs: 0, maxPerDay: 2 }));
    const day1 = Date.UTC(2026, 2, 1, 10);
    expect(step(47_000, day1).reason).toBe("opened");
    step(49_000, day1 + 1);
    expect(step(47_000, day1 + 2).reason).toBe("opened");
    step(49_000, day1 + 3);
    expect(step(47_000, day1 + 4).reason).toBe("daily_cap");
    expect(step(47_000, Date.UTC(2026, 2, 2, 0, 0, 1)).reason).toBe("opened");
  });

  it("respects maxOpenTrades and the pause switch", () => {
    expect(driver(cfg({ maxOpenTrades: 2 }), [{}, {}])(47_000, 0).reason).toBe("max_open_trades");
    expect(driver(cfg({ maxOpenTrades: 2 }), [{}])(47_000, 0).reason).toBe("opened");
    const step = driver(cfg());
    expect(step(47_000, 0, true).reason).toBe("paused");
    expect(step(47_000, 1).reason).toBe("opened");
  });

  it("sets initial TP/SL from the entry price on the tick, right side for each direction", () => {
    const tpsl = { takeprofit: { percent: 5 }, stoploss: { priceDistance: 1_000 } };
    expect(driver(cfg(tpsl))(48_000, 0).open).toMatchObject({ takeprofit: 50_400, stoploss: 47_000 });
    const short = cfg({ ...tpsl, condition: { type: "price_above", level: 48_000 }, side: "sell" });
    expect(driver(short)(48_000, 0).open).toMatchObject({ takeprofit: 45_600, stoploss: 49_000 });
    expect(driver(cfg({ takeprofit: { percent: 3 } }))(47_123, 0).open?.takeprofit).toBe(48_536.5); // 48536.69
  });

  it("opens exactly once per crossing along any path (no cooldown, no caps)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 46_000, max: 50_000 }), { minLength: 1, maxLength: 200 }), (prices) => {
        const step = driver(cfg({ cooldownMs: 0, maxPerDay: 100, maxOpenTrades: 50 }));
        let opens = 0;
        let crossings = 0;
        let was = false;
        prices.forEach((p, i) => {
          if (step(p, i).open) opens++;
          const is = p <= 48_000;
          if (is && !was) crossings++;
          was = is;
        });
        return opens === crossings;
      }),
    );
  });

  it("throws on a bad price", () => {
    expect(() => driver(cfg())(Number.POSITIVE_INFINITY, 0)).toThrow(RangeError);
  });
});

describe("drop and rise conditions", () => {
  it("drop_from_high: opens on a 5 % drop from the window's high; the high ages out", () => {
    const step = driver(cfg({ condition: { type: "drop_from_high", percent: 5, windowMs: 60_000 }, cooldownMs: 0 }));
    expect(step(100_000, 0).reason).toBe("condition_not_met");
    expect(step(96_000, 10_000)).toMatchObject({ reason: "condition_not_met", inputs: { high: 100_000, movePercent: 4 } });
    const r = step(95_000, 20_000);
    expect(r.reason).toBe("opened");
    expect(r.inputs).toMatchObject({ high: 100_000, movePercent: 5 });
    expect(step(94_000, 30_000).reason).toBe("waiting_rearm");
    // At 65 s the 100,000 bucket has left the 60 s window: high 96,000, drop 1 %: re-armed.
    const later = step(95_000, 65_000);
    expect(later.inputs.high).toBe(96_000);
    expect(later.reason).toBe("condition_not_met");
    expect(later.nextState.armed).toBe(true);
  });

  it("rise_from_low mirrors it", () => {
    const step = driver(cfg({ condition: { type: "rise_from_low", percent: 2, windowMs: 60_000 }, side: "sell" }));
    step(50_000, 0);
    expect(step(50_999.5, 1_000).reason).toBe("condition_not_met");
    expect(step(51_000, 2_000)).toMatchObject({ reason: "opened", inputs: { low: 50_000, movePercent: 2 } });
  });

  it("keeps the window bounded whatever the tick rate", () => {
    const step = driver(cfg({ condition: { type: "drop_from_high", percent: 50, windowMs: 3_600_000 } }));
    let last;
    for (let i = 0; i < 20_000; i++) last = step(50_000 + (i % 100), i * 100);
    expect(last!.nextState.window.length).toBeLessThanOrEqual(WINDOW_BUCKETS + 1);
    expect(last!.inputs.high).toBe(50_099);
  });
});
