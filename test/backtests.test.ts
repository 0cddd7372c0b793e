/**
 * Backtests (issue 24) end to end: POST /v1/simulations with a candle `source`, against the
 * simulator's deterministic candle history through the LNM_SIM binding, cached in R2.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { api, registerUser } from "./helpers";

const started: { token: string; id: string }[] = [];
afterEach(async () => {
  while (started.length) {
    const s = started.pop()!;
    await api("DELETE", `/v1/simulations/${s.id}`, { token: s.token });
  }
});

export async function startBacktest(token: string, body: Record<string, unknown>): Promise<string> {
  const r = await api("POST", "/v1/simulations", { token, body });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  started.push({ token, id: r.body.id });
  return r.body.id;
}

export async function waitDone(token: string, id: string, path = `/v1/simulations/${id}`, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await api("GET", path, { token });
    if (r.body.status !== "running") return r.body;
    if (Date.now() > until) throw new Error(`${id} still running: ${JSON.stringify(r.body.progress)}`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

/** 2 January 2025 of the simulator's history: a 100x long is liquidated, a guard saves it. */
const FROM = Date.UTC(2025, 0, 2);
export const day2 = {
  source: { type: "candles", network: "simulator", range: "1m", from: new Date(FROM).toISOString(), to: new Date(FROM + 86_400_000).toISOString() },
  position: { side: "buy", quantity: 1_000, leverage: 100 },
  freeBalanceSats: 5_000_000,
  automations: { marginGuard: { warnAt: 0.6, actAt: 0.7, targetRisk: 0.3, maxAddPerTradeSats: 5_000_000, maxAddPerDaySats: 5_000_000 } },
};

const withoutWallClock = (s: any) => {
  const { durationMs: _d, source: _s, ...rest } = s;
  return rest;
};

describe("backtests on the simulator's candle history", () => {
  it("reports both runs side by side, the same summary twice, and the second run reads no exchange", async () => {
    const u = await registerUser("bt-cache");
    // Another file may have cached this window already: start from an empty cache.
    const listed = await env.CANDLES.list({ prefix: "candles/v1/simulator/1m/" });
    await Promise.all(listed.objects.map((o) => env.CANDLES.delete(o.key)));
    await env.CANDLES.delete(`funding/v1/simulator/${FROM}-${FROM + 86_400_000}.json`);

    const a = await waitDone(u.token, await startBacktest(u.token, day2));
    expect(a.status, a.error).toBe("completed");
    expect(a.scenario).toBe("backtest");
    expect(a.progress).toEqual({ step: 1_440, steps: 1_440 });
    const s = a.summary;
    expect(s.source).toMatchObject({ type: "candles", network: "simulator", range: "1m", candles: 1_440 });
    expect(s.source.exchangeRequests).toBeGreaterThan(0);
    expect(s.baseline.liquidations).toBe(1);
    expect(s.automated.liquidations).toBe(0);
    expect(s.automated.marginAddedSats).toBeGreaterThan(0);
    expect(s.saved).toEqual({ liquidations: 1, of: 1, marginAddedSats: s.automated.marginAddedSats, text: `saved 1 of 1 liquidations for ${s.automated.marginAddedSats.toLocaleString("en-US")} sats` });
    for (const run of [s.automated, s.baseline]) {
      expect(run.feesSats).toBeGreaterThan(0);
      expect(run.fundingSats).toBeGreaterThan(0); // longs pay the default 0.01 % at 04:00, 12:00 and 20:00
      expect(run.actionsByType.funding).toBe(3);
      expect(run).toHaveProperty("maxDrawdownSats");
      expect(run).toHaveProperty("finalPnlSats");
    }

    const b = await waitDone(u.token, await startBacktest(u.token, day2));
    expect(b.summary.source.exchangeRequests).toBe(0);
    expect(b.summary.source.cacheHits).toBeGreaterThanOrEqual(b.summary.source.chunks);
    expect(withoutWallClock(b.summary)).toEqual(withoutWallClock(s));

    const steps = await api("GET", `/v1/simulations/${a.id}/results?limit=2`, { token: u.token });
    expect(steps.body.data[0]).toMatchObject({ step: 1, time: FROM, baseline: { equitySats: expect.any(Number) } });
    expect(steps.body.data[0].low).toBeLessThanOrEqual(steps.body.data[0].high);
  });

  it("refuses what it cannot run, naming the field", async () => {
    const u = await registerUser("bt-invalid");
    const post = (body: unknown) => api("POST", "/v1/simulations", { token: u.token, body });
    const r1 = await post({ ...day2, scenario: "bull" });
    expect(r1.status).toBe(400);
    expect(r1.body.error.details[0].path).toBe("scenario");
    const r2 = await post({ ...day2, source: { ...day2.source, to: day2.source.from } });
    expect(r2.status).toBe(400);
    expect(r2.body.error.details[0].path).toBe("source.to");
    const r3 = await post({ ...day2, source: { ...day2.source, range: "2m" } });
    expect(r3.status).toBe(400);
    expect(r3.body.error.details[0].path).toBe("source.range");
    // 8 days of 1-minute candles: 11,520 steps, over the free plan's 10,000.
    const r4 = await post({ ...day2, source: { ...day2.source, to: new Date(FROM + 8 * 86_400_000).toISOString() } });
    expect(r4.status).toBe(402);
    expect(r4.body.error.details.limit).toBe("maxSimulationSteps");
    const r5 = await post({ ...day2, source: { ...day2.source, from: "2099-01-01T00:00:00Z", to: "2099-01-01T01:00:00Z" } });
    expect(r5.status, JSON.stringify(r5.body)).toBe(400);
    expect(r5.body.error.details[0].path).toBe("source");
    const r6 = await post({ ...day2, position: { side: "buy", margin: 1, leverage: 1 } }); // under 1 USD
    expect(r6.status).toBe(400);
    expect(r6.body.error.details[0].path).toBe("position");
  });

  it("an uploaded CSV or JSON file: validated, size-limited with 413 naming the field", async () => {
    const u = await registerUser("bt-upload");
    const t0 = Date.UTC(2025, 0, 1);
    const rows = Array.from({ length: 120 }, (_, i) => {
      const p = 100_000 - i * 20;
      return `${new Date(t0 + i * 60_000).toISOString()},${p},${p + 30},${p - 40},${p - 20}`;
    });
    const csv = ["time,open,high,low,close", ...rows].join("\n");
    const body = { ...day2, source: { type: "upload", csv } };
    const done = await waitDone(u.token, await startBacktest(u.token, body));
    expect(done.status, done.error).toBe("completed");
    expect(done.summary.steps).toBe(120);
    expect(done.summary.source).toMatchObject({ type: "upload", exchangeRequests: 0 });
    expect(done.summary.baseline.liquidations).toBe(1);

    const json = { ...day2, source: { type: "upload", candles: rows.slice(0, 10).map((r) => { const [time, open, high, low, close] = r.split(","); return { time, open: +open!, high: +high!, low: +low!, close: +close! }; }) } };
    const j = await waitDone(u.token, await startBacktest(u.token, json));
    expect(j.summary.steps).toBe(10);

    const bad = await api("POST", "/v1/simulations", { token: u.token, body: { ...day2, source: { type: "upload", csv: csv.replace(/,99980,/, ",abc,") } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe("source.csv");
    expect(bad.body.error.message).toMatch(/line 3/);
    const big = ["time,open,high,low,close", ...Array.from({ length: 5_001 }, (_, i) => `${i},1,1,1,1`)].join("\n");
    const tooBig = await api("POST", "/v1/simulations", { token: u.token, body: { ...day2, source: { type: "upload", csv: big } } });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.details[0].path).toBe("source.csv");
  });
});

describe("backtest reports and exports", () => {
  it("per-trade report and CSV of steps and trades", async () => {
    const u = await registerUser("bt-export");
    const a = await waitDone(u.token, await startBacktest(u.token, day2));
    const trades = await api("GET", `/v1/simulations/${a.id}/trades`, { token: u.token });
    expect(trades.status).toBe(200);
    const byRun = Object.fromEntries(trades.body.data.map((t: any) => [t.run, t]));
    expect(byRun.baseline).toMatchObject({ reason: "liquidation", side: "buy", quantity: 1_000, entryTime: FROM });
    expect(byRun.baseline.pnlSats).toBeLessThan(0);
    expect(byRun.automated).toMatchObject({ reason: "open", exitTime: null, marginAddedSats: a.summary.automated.marginAddedSats });

    const res = await api("GET", `/v1/simulations/${a.id}/results.csv`, { token: u.token });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
    const lines = (res.body as string).trim().split("\r\n");
    expect(lines[0]).toBe("step,time,price,low,high,risk,pnl_sats,equity_sats,actions,baseline_pnl_sats,baseline_equity_sats,baseline_actions");
    expect(lines).toHaveLength(1_441);
    expect(lines[1]!.startsWith(`1,${new Date(FROM).toISOString()},`)).toBe(true);
    const tcsv = await api("GET", `/v1/simulations/${a.id}/trades.csv`, { token: u.token });
    const tl = (tcsv.body as string).trim().split("\r\n");
    expect(tl[0]).toBe("run,trade_id,side,quantity,leverage,entry_time,entry_price,exit_time,exit_price,reason,margin_added_sats,fees_sats,funding_sats,pnl_sats");
    expect(tl.slice(1).map((l) => l.split(",")[9]).sort()).toEqual(["liquidation", "open"]);

    const other = await registerUser("bt-export-other");
    expect((await api("GET", `/v1/simulations/${a.id}/trades.csv`, { token: other.token })).status).toBe(404);
    const doc = await api("GET", "/openapi.json");
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(["/v1/simulations/{id}/trades", "/v1/simulations/{id}/results.csv", "/v1/simulations/{id}/trades.csv", "/v1/backtests/sweep", "/v1/backtests/sweep/{id}"]));
  });

  it("Auto Entry with TP/SL on the history: each trade with entry, exit, reason and PnL, and the statistics", async () => {
    const u = await registerUser("bt-trades");
    const body = {
      source: { ...day2.source, range: "5m", to: new Date(FROM + 3 * 86_400_000).toISOString() },
      freeBalanceSats: 2_000_000,
      automations: {
        autoEntry: { condition: { type: "drop_from_high", percent: 0.5, windowMs: 3_600_000 }, side: "buy", quantity: 100, leverage: 10, cooldownMs: 0, maxPerDay: 100 },
        tpSl: { takeProfit: { percent: 0.5 }, stopLoss: { percent: 0.5 } },
      },
    };
    const done = await waitDone(u.token, await startBacktest(u.token, body));
    expect(done.status, done.error).toBe("completed");
    const all = await api("GET", `/v1/simulations/${done.id}/trades?limit=1000`, { token: u.token });
    const closed = all.body.data.filter((t: any) => t.reason !== "open");
    expect(closed.length).toBeGreaterThan(1);
    for (const t of closed) {
      expect(t.run).toBe("automated");
      expect(t.exitTime).toBeGreaterThan(t.entryTime);
      expect(["takeprofit", "stoploss", "takeprofit_reached", "stoploss_reached"]).toContain(t.reason);
      expect(t.feesSats).toBeGreaterThan(0);
    }
    const s = done.summary.trades.automated;
    expect(s.trades).toBe(closed.length);
    expect(s.winRate).toBeCloseTo(closed.filter((t: any) => t.pnlSats > 0).length / closed.length);
    expect(s.exposurePct).toBeGreaterThan(0);
    expect(s).toHaveProperty("profitFactor");
    expect(s).toHaveProperty("avgWinSats");
    expect(s).toHaveProperty("avgLossSats");
    expect(done.summary.trades.baseline.trades).toBe(0);
  });
});

describe("parameter sweeps", () => {
  const base = day2;

  it("runs every cell in parallel and sorts the table by the objective", async () => {
    const u = await registerUser("bt-sweep");
    const grid = { "marginGuard.actAt": [0.7, 0.8], "marginGuard.targetRisk": [0.2, 0.4] };
    const r = await api("POST", "/v1/backtests/sweep", { token: u.token, body: { base, grid, objective: "final_equity" } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.progress).toEqual({ done: 0, cells: 4 });
    started.push({ token: u.token, id: r.body.id });
    const done = await waitDone(u.token, r.body.id, `/v1/backtests/sweep/${r.body.id}`, 60_000);
    expect(done.status).toBe("completed");
    expect(done.table).toHaveLength(4);
    expect(done.table.map((row: any) => row.values)).toEqual(expect.arrayContaining([
      { "marginGuard.actAt": 0.7, "marginGuard.targetRisk": 0.2 }, { "marginGuard.actAt": 0.8, "marginGuard.targetRisk": 0.4 },
    ]));
    const equities = done.table.map((row: any) => row.finalEquitySats);
    expect(equities).toEqual([...equities].sort((a, b) => b - a));
    for (const row of done.table) {
      expect(row.status).toBe("completed");
      expect(row.baselineLiquidations).toBe(1);
      expect(row.liquidationsAvoided).toBe(1 - row.liquidations);
    }
    const list = await api("GET", "/v1/simulations?limit=1", { token: u.token });
    expect(list.body.data[0]).toMatchObject({ id: r.body.id, scenario: "sweep", status: "completed" });
  }, 90_000);

  it("refuses more cells than the plan allows (402), bad cells naming the axis (400)", async () => {
    const u = await registerUser("bt-sweep-limits");
    const five = await api("POST", "/v1/backtests/sweep", { token: u.token, body: { base, grid: { "marginGuard.actAt": [0.65, 0.7, 0.75, 0.8, 0.85] } } });
    expect(five.status).toBe(402);
    expect(five.body.error.details).toMatchObject({ limit: "maxSweepCells", max: 4 });
    const bad = await api("POST", "/v1/backtests/sweep", { token: u.token, body: { base, grid: { "marginGuard.targetRisk": [0.3, 0.65] } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe("grid.marginGuard.targetRisk");
    const axis = await api("POST", "/v1/backtests/sweep", { token: u.token, body: { base, grid: { "position.leverage": [10] } } });
    expect(axis.status).toBe(400);
    expect(axis.body.error.details[0].path).toMatch(/^grid/);
    const noSource = await api("POST", "/v1/backtests/sweep", { token: u.token, body: { base: { scenario: "bull", initialPrice: 1, steps: 1 }, grid: { "marginGuard.actAt": [0.7] } } });
    expect(noSource.status).toBe(400);
    expect(noSource.body.error.details[0].path).toBe("base.source");
  });
});
