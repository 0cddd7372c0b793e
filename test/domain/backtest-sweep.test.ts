import { describe, expect, it } from "vitest";
import { applyCell, expandGrid, Grid, gridSize, sortRows, sweepRow } from "../../src/domain/backtest-sweep";

const summary = (equity: number, dd: number, liq: number, baseLiq: number, added: number) => ({
  finalEquitySats: equity, finalPnlSats: equity - 1_000, maxDrawdownSats: dd,
  automated: { liquidations: liq, marginAddedSats: added }, baseline: { liquidations: baseLiq },
});

describe("parameter sweep grid and table", () => {
  it("expands every combination, first axis slowest, and sets values at their paths", () => {
    const grid = Grid.parse({ "marginGuard.actAt": [0.7, 0.8], "marginGuard.targetRisk": [0.2, 0.3, 0.4] });
    expect(gridSize(grid)).toBe(6);
    const cells = expandGrid(grid);
    expect(cells[0]).toEqual({ "marginGuard.actAt": 0.7, "marginGuard.targetRisk": 0.2 });
    expect(cells[5]).toEqual({ "marginGuard.actAt": 0.8, "marginGuard.targetRisk": 0.4 });
    const base = { marginGuard: { actAt: 0.9, warnAt: 0.6 } };
    expect(applyCell(base, cells[0]!)).toEqual({ marginGuard: { actAt: 0.7, warnAt: 0.6, targetRisk: 0.2 } });
    expect(base.marginGuard.actAt).toBe(0.9);
    expect(applyCell({}, { "tpSl.takeProfit.percent": 2 })).toEqual({ tpSl: { takeProfit: { percent: 2 } } });
    expect(Grid.safeParse({ "position.leverage": [1] }).success).toBe(false);
    expect(Grid.safeParse({}).success).toBe(false);
  });

  it("sorts by the objective, ties by final equity, unfinished cells last", () => {
    const rows = [
      sweepRow("a", {}, "completed", summary(900, 50, 0, 1, 200_000)),
      sweepRow("b", {}, "completed", summary(950, 80, 0, 1, 100_000)),
      sweepRow("c", {}, "running", null),
      sweepRow("d", {}, "completed", summary(990, 10, 1, 1, 0)),
    ];
    expect(rows[0]!.avoidedPerMillionSats).toBe(5);
    expect(sortRows(rows, "liquidations_avoided_per_sat").map((r) => r.cellId)).toEqual(["b", "a", "d", "c"]);
    expect(sortRows(rows, "final_equity").map((r) => r.cellId)).toEqual(["d", "b", "a", "c"]);
    expect(sortRows(rows, "max_drawdown").map((r) => r.cellId)).toEqual(["d", "a", "b", "c"]);
  });
});
