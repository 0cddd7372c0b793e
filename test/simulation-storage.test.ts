/**
 * The SimulationDO's storage (issue 24): steps packed per chunk row (one INSERT per chunk, not
 * per step), read back exactly as the row-per-step table read them (runs saved before keep
 * their rows), no step serialised for sockets when none listens, and a finished run's storage
 * emptied by its own alarm once past the simulations retention age.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { api, registerUser } from "./helpers";

const DAY_MS = 86_400_000;
const started: { token: string; id: string }[] = [];
afterEach(async () => {
  while (started.length) {
    const s = started.pop()!;
    await api("DELETE", `/v1/simulations/${s.id}`, { token: s.token });
  }
});

async function startSim(token: string, body: Record<string, unknown>): Promise<string> {
  const r = await api("POST", "/v1/simulations", { token, body });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  started.push({ token, id: r.body.id });
  return r.body.id;
}

async function waitDone(token: string, id: string, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await api("GET", `/v1/simulations/${id}`, { token });
    if (r.body.status !== "running") return r.body;
    if (Date.now() > until) throw new Error(`${id} still running: ${JSON.stringify(r.body.progress)}`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

/** 2 January 2025 of the simulator's history (as test/backtests.test.ts): a 100x long is liquidated, a guard saves it. */
const FROM = Date.UTC(2025, 0, 2);
const day2 = {
  source: { type: "candles", network: "simulator", range: "1m", from: new Date(FROM).toISOString(), to: new Date(FROM + DAY_MS).toISOString() },
  position: { side: "buy", quantity: 1_000, leverage: 100 },
  freeBalanceSats: 5_000_000,
  automations: { marginGuard: { warnAt: 0.6, actAt: 0.7, targetRisk: 0.3, maxAddPerTradeSats: 5_000_000, maxAddPerDaySats: 5_000_000 } },
};

// Untyped stub and explicit type arguments: inferring SimulationDO's RPC type is too deep for tsc.
const stubOf = (id: string) => env.SIMULATION.getByName(id) as unknown as DurableObjectStub;
const count = (sql: SqlStorage, table: string) => sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).one().n;

describe("simulation step storage", () => {
  it("a backtest's 1,440 steps are a few packed rows, and pages read them back in order with every field", async () => {
    const u = await registerUser("sim-store-bt");
    const id = await startSim(u.token, day2);
    const done = await waitDone(u.token, id);
    expect(done.status, done.error).toBe("completed");
    const rows = await runInDurableObject<DurableObject, { chunks: number; steps: number }>(stubOf(id), async (_i, state) => ({
      chunks: count(state.storage.sql, "step_chunks"),
      steps: count(state.storage.sql, "steps"),
    }));
    expect(rows.steps).toBe(0);
    expect(rows.chunks).toBeGreaterThanOrEqual(6); // 250 steps a row at most
    expect(rows.chunks).toBeLessThanOrEqual(12);
    // Pages of 333 cross row boundaries.
    const all: any[] = [];
    let cursor = "";
    for (;;) {
      const r = await api("GET", `/v1/simulations/${id}/results?limit=333${cursor ? `&cursor=${cursor}` : ""}`, { token: u.token });
      expect(r.status).toBe(200);
      all.push(...r.body.data);
      if (!r.body.nextCursor) break;
      cursor = r.body.nextCursor;
    }
    expect(all.map((s) => s.step)).toEqual(Array.from({ length: 1_440 }, (_, i) => i + 1));
    expect(Object.keys(all[0])).toEqual(["step", "time", "price", "risk", "pnlSats", "equitySats", "actions", "low", "high", "baseline"]);
    expect(all[0].time).toBe(Date.parse(day2.source.from));
    expect(all[1439].equitySats).toBe(done.summary.finalEquitySats);
    expect(all[1439].baseline.equitySats).toBe(done.summary.baseline.finalEquitySats);
    expect(all.some((s) => s.actions.length > 0)).toBe(true);
  });

  it("steps saved one row each before the packing still read, in order with the packed ones", async () => {
    const out = await runInDurableObject<DurableObject, { pages: number[][]; last: unknown; first: unknown }>(stubOf(`legacy-${crypto.randomUUID()}`), async (i, state) => {
      const store = (i as any).store;
      for (const s of [1, 2, 3]) {
        state.storage.sql.exec("INSERT INTO steps (step, price, risk, pnl_sats, equity_sats, actions, time, extra) VALUES (?, ?, 0.1, -5, 995, '[]', NULL, NULL)", s, 100 + s);
      }
      store.insertSteps([4, 5, 6].map((s) => ({ step: s, price: 100 + s, risk: 0.1, pnlSats: -5, equitySats: 995, actions: [] })));
      const page = (after: number, n: number) => store.stepsAfter(after, n).map((r: { step: number }) => r.step);
      return { pages: [page(0, 10), page(2, 2), page(3, 2), page(5, 10), page(6, 10)], last: store.lastStep(), first: store.stepsAfter(0, 1)[0] };
    });
    expect(out.pages).toEqual([[1, 2, 3, 4, 5, 6], [3, 4], [4, 5], [6], []]);
    expect(out.first).toEqual({ step: 1, price: 101, risk: 0.1, pnlSats: -5, equitySats: 995, actions: [] });
    expect(out.last).toEqual({ step: 6, price: 106, risk: 0.1, pnlSats: -5, equitySats: 995, actions: [] });
  });

  it("with no socket connected, no step is serialised for one", async () => {
    const u = await registerUser("sim-store-quiet");
    const body = { scenario: "volatile", initialPrice: 60_000, steps: 600, seed: 3, speed: "realtime", stepMs: 60_000, position: { side: "buy", quantity: 500, leverage: 20 } };
    const id = await startSim(u.token, body);
    const out = await runInDurableObject<DurableObject, { serialised: number; step: number }>(stubOf(id), async (i) => {
      const instance = i as any;
      instance.store.setJson("run", { ...instance.store.getJson("run"), startedAt: Date.now() - 40.5 * 60_000 });
      const stringify = JSON.stringify;
      let serialised = 0;
      JSON.stringify = ((v: any, ...rest: any[]) => {
        if (v && typeof v === "object" && v.type === "step") serialised += 1;
        return (stringify as any)(v, ...rest);
      }) as typeof JSON.stringify;
      try {
        await instance.alarm();
      } finally {
        JSON.stringify = stringify;
      }
      return { serialised, step: instance.store.getJson("run").step };
    });
    expect(out).toEqual({ serialised: 0, step: 40 });
  });
});

describe("simulation storage retention", () => {
  it("a finished run keeps its steps until the simulations retention age, then its alarm empties it", async () => {
    const u = await registerUser("sim-store-expire");
    const id = await startSim(u.token, { scenario: "volatile", initialPrice: 60_000, steps: 300, seed: 4, position: { side: "buy", quantity: 500, leverage: 20 } });
    expect((await waitDone(u.token, id)).status).toBe("completed");
    const before = await runInDurableObject<DurableObject, { alarm: number | null; finishedAt: number; synced: boolean }>(stubOf(id), async (i, state) => {
      const run = (i as any).store.getJson("run");
      return { alarm: await state.storage.getAlarm(), finishedAt: run.finishedAt, synced: run.d1Synced };
    });
    expect(before.synced).toBe(true);
    // wrangler.toml: RETENTION_DAYS simulations 30, the age at which the cron deletes the D1 row.
    expect(before.alarm).toBe(before.finishedAt + 30 * DAY_MS);
    expect((await api("GET", `/v1/simulations/${id}/results?limit=5`, { token: u.token })).body.data).toHaveLength(5);

    const after = await runInDurableObject<DurableObject, { tables: number[]; alarm: number | null; info: any }>(stubOf(id), async (i, state) => {
      const instance = i as any;
      // An early alarm changes nothing but re-arms for the age.
      await instance.alarm();
      const kept = count(state.storage.sql, "step_chunks");
      instance.store.setJson("run", { ...instance.store.getJson("run"), finishedAt: Date.now() - 30 * DAY_MS - 1 });
      await instance.alarm();
      const sql = state.storage.sql;
      return { tables: [kept, count(sql, "step_chunks"), count(sql, "steps"), count(sql, "trades"), count(sql, "meta")], alarm: await state.storage.getAlarm(), info: await instance.info() };
    });
    expect(after.tables[0]).toBeGreaterThan(0);
    expect(after.tables.slice(1)).toEqual([0, 0, 0, 0]);
    expect(after.alarm).toBeNull();
    expect(after.info).toMatchObject({ ok: false, code: "not_found" });
  });

  it("a finished sweep's record goes the same way", async () => {
    const out = await runInDurableObject<DurableObject, { armed: number | null; kept: number; gone: number; alarm: number | null }>(stubOf(`sweep-${crypto.randomUUID()}`), async (i, state) => {
      const instance = i as any;
      const finishedAt = Date.now() - DAY_MS;
      instance.store.setJson("sweep", { id: "s", objective: "finalEquity", status: "completed", startedAt: finishedAt - 1_000, finishedAt, cells: [], d1Synced: true });
      await instance.alarm();
      const armed = await state.storage.getAlarm();
      const kept = count(state.storage.sql, "meta");
      instance.store.setJson("sweep", { ...instance.store.getJson("sweep"), finishedAt: Date.now() - 31 * DAY_MS });
      await instance.alarm();
      return { armed: armed === null ? null : armed - finishedAt, kept, gone: count(state.storage.sql, "meta"), alarm: await state.storage.getAlarm() };
    });
    expect(out).toEqual({ armed: 30 * DAY_MS, kept: 1, gone: 0, alarm: null });
  });
});
