import { describe, expect, it } from "vitest";
import { AutomationConfig, parseAutomationConfig } from "../../src/domain/automation-config";

const paths = (v: unknown) => {
  const r = parseAutomationConfig(v);
  return r.ok ? [] : r.issues.map((i) => i.path.join("."));
};

describe("parseAutomationConfig", () => {
  it("parses each type with its schema and fills defaults", () => {
    const mg = parseAutomationConfig({ type: "margin_guard", config: { action: "close" } });
    expect(mg).toEqual({
      ok: true,
      value: { type: "margin_guard", config: { warnAt: 0.8, actAt: 0.9, action: "close", targetRisk: 0.5, cooldownMs: 60_000, onInsufficient: "alert" } },
    });
    expect(parseAutomationConfig({ type: "tp_sl", config: { takeProfit: { percent: 5 } } }).ok).toBe(true);
    const ae = parseAutomationConfig({ type: "auto_entry", config: { condition: { type: "price_below", level: 1 }, side: "buy", quantity: 1, leverage: 2 } });
    expect(ae.ok && ae.value.type === "auto_entry" && ae.value.config.maxPerDay).toBe(5);
  });

  it("names type for an unknown or missing type", () => {
    expect(paths({ type: "grid_bot", config: {} })).toEqual(["type"]);
    expect(paths({ config: {} })).toEqual(["type"]);
    expect(paths("margin_guard")).toEqual([""]);
  });

  it("prefixes config issues with config, for the issue 7 bad configs", () => {
    expect(paths({ type: "margin_guard", config: { action: "close", warnAt: 0.95, actAt: 0.9 } })).toEqual(["config.warnAt"]);
    expect(paths({ type: "margin_guard", config: { maxAddPerTradeSats: -5, maxAddPerDaySats: 1 } })).toEqual(["config.maxAddPerTradeSats"]);
    expect(
      paths({ type: "auto_entry", config: { condition: { type: "price_below", level: 1 }, side: "buy", quantity: 1, leverage: 0 } }),
    ).toEqual(["config.leverage"]);
    expect(paths({ type: "tp_sl", config: { stopLoss: { percent: 2 }, unknown: 1 } })).toEqual(["config"]);
    expect(paths({ type: "tp_sl" })).toEqual(["config"]);
  });

  it("agrees with the discriminated-union schema", () => {
    const ok = { type: "tp_sl", config: { takeProfit: { priceDistance: 100 } } };
    expect(AutomationConfig.parse(ok)).toEqual((parseAutomationConfig(ok) as { value: unknown }).value);
    const bad = AutomationConfig.safeParse({ type: "nope", config: {} });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(["type"]);
  });
});
