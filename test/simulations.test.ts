import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { api, BASE, registerUser } from "./helpers";

// Alarms leak between tests: every simulation a test starts is canceled afterwards (a
// finished one is left as it is).
const started: { token: string; id: string }[] = [];
afterEach(async () => {
  while (started.length) {
    const s = started.pop()!;
    await api("DELETE", `/v1/simulations/${s.id}`, { token: s.token });
  }
});

const guard = { warnAt: 0.6, actAt: 0.7, targetRisk: 0.3, maxAddPerTradeSats: 5_000_000, maxAddPerDaySats: 5_000_000 };
const allThree = {
  marginGuard: guard,
  tpSl: { takeProfit: { percent: 5 }, stopLoss: { percent: 3, trailing: true, trailingMode: "managed" } },
  autoEntry: { condition: { type: "drop_from_high", percent: 1, windowMs: 60_000 }, side: "buy", quantity: 100, leverage: 10, cooldownMs: 1_000, maxPerDay: 100 },
};
const crash50x = { scenario: "crash", initialPrice: 100_000, steps: 300, seed: 7, freeBalanceSats: 5_000_000, position: { side: "buy", quantity: 1_000, leverage: 50 } };

async function start(token: string, body: Record<string, unknown>): Promise<string> {
  const r = await api("POST", "/v1/simulations", { token, body });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  expect(r.body.status).toBe("running");
  started.push({ token, id: r.body.id });
  return r.body.id;
}

async function waitDone(token: string, id: string, timeoutMs = 20_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await api("GET", `/v1/simulations/${id}`, { token });
    if (r.body.status !== "running") return r.body;
    if (Date.now() > until) throw new Error(`simulation ${id} still running: ${JSON.stringify(r.body.progress)}`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

async function allSteps(token: string, id: string) {
  const out: any[] = [];
  let cursor: string | null = null;
  do {
    const r: any = await api("GET", `/v1/simulations/${id}/results?limit=1000${cursor ? `&cursor=${cursor}` : ""}`, { token });
    expect(r.status).toBe(200);
    out.push(...r.body.data);
    cursor = r.body.nextCursor;
  } while (cursor);
  return out;
}

/** Open the stream through the worker's fetch and collect every message until it closes. */
async function openStream(token: string, id: string, query = "") {
  const res = await exports.default.fetch(new Request(`${BASE}/v1/simulations/${id}/stream${query}`, { headers: { upgrade: "websocket", authorization: `Bearer ${token}` } }));
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  const messages: { at: number; msg: any }[] = [];
  const closed = new Promise<void>((resolve) => ws.addEventListener("close", () => resolve()));
  ws.addEventListener("message", (e) => {
    messages.push({ at: Date.now(), msg: JSON.parse(e.data as string) });
  });
  ws.accept();
  return { ws, messages, closed };
}

describe("simulations", () => {
  it("the same seed twice gives identical results; the summary lands in D1", async () => {
    const u = await registerUser("sim-seed");
    const body = { scenario: "volatile", initialPrice: 60_000, steps: 1_200, seed: 42, automations: allThree, position: { side: "buy", quantity: 500, leverage: 20 }, freeBalanceSats: 5_000_000 };
    const [a, b] = [await start(u.token, body), await start(u.token, body)];
    const [da, db] = [await waitDone(u.token, a), await waitDone(u.token, b)];
    expect(da.status).toBe("completed");
    expect(da.progress).toEqual({ step: 1_200, steps: 1_200 });
    const [ra, rb] = [await allSteps(u.token, a), await allSteps(u.token, b)];
    expect(ra).toHaveLength(1_200);
    expect(ra.map((r) => r.step)).toEqual(Array.from({ length: 1_200 }, (_, i) => i + 1));
    expect(rb).toEqual(ra);
    const { durationMs: _a, ...sa } = da.summary;
    const { durationMs: _b, ...sb } = db.summary;
    expect(sb).toEqual(sa);
    expect(sa.steps).toBe(1_200);
    const list = await api("GET", "/v1/simulations?limit=1", { token: u.token });
    expect(list.body.data[0]).toMatchObject({ id: b, status: "completed", scenario: "volatile", steps: 1_200 });
    expect(list.body.data[0].summary.finalPnlSats).toBe(sa.finalPnlSats);
    expect(list.body.data[0].finishedAt).toBeTypeOf("number");
    const next = await api("GET", `/v1/simulations?limit=1&cursor=${list.body.nextCursor}`, { token: u.token });
    expect(next.body.data[0].id).toBe(a);
    expect(next.body.nextCursor).toBeNull();
    const doc = await api("GET", "/openapi.json");
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(["/v1/simulations", "/v1/simulations/{id}", "/v1/simulations/{id}/results"]));
  });

  it("fills at the spread: 5 USD by default, or the one given", async () => {
    const u = await registerUser("sim-spread");
    const body = { scenario: "sideways", initialPrice: 50_000, steps: 1, seed: 1, position: { side: "buy", quantity: 100, leverage: 10 } };
    const entry = async (extra: Record<string, unknown>) => {
      const id = await start(u.token, { ...body, ...extra });
      await waitDone(u.token, id);
      return runInDurableObject(env.SIMULATION.getByName(id), async (_i, state) => {
        const row = state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'state'").toArray()[0];
        return (JSON.parse(row!.value) as { trades: { entryPrice: number }[] }).trades[0]?.entryPrice;
      });
    };
    expect(await entry({})).toBe(50_002.5);
    expect(await entry({ spread: 0 })).toBe(50_000);
    expect(await entry({ spread: 20 })).toBe(50_010);
  });

  it("a guarded 50x long survives the crash that liquidates the unguarded one", async () => {
    const u = await registerUser("sim-guard");
    const bare = await start(u.token, crash50x);
    const guarded = await start(u.token, { ...crash50x, automations: { marginGuard: guard } });
    const [b, g] = [await waitDone(u.token, bare), await waitDone(u.token, guarded)];
    expect(b.summary.liquidated).toBe(true);
    expect(g.summary.liquidated).toBe(false);
    expect(g.summary.actionsByType.add_margin).toBeGreaterThan(0);
    expect(g.summary.finalPrice).toBeLessThan(90_000);
  });

  it("bear: the guard keeps alive what the bear liquidates", async () => {
    const u = await registerUser("sim-bear");
    const body = { ...crash50x, scenario: "bear", steps: 2_000, seed: 3 };
    const [b, g] = [await start(u.token, body), await start(u.token, { ...body, automations: { marginGuard: guard } })];
    const [sb, sg] = [(await waitDone(u.token, b)).summary, (await waitDone(u.token, g)).summary];
    expect(sb.liquidated).toBe(true);
    expect(sg.liquidated).toBe(false);
  });

  it("the third concurrent simulation is refused with 429; a slot frees on cancel", async () => {
    const u = await registerUser("sim-limit");
    const slow = { scenario: "sideways", initialPrice: 50_000, steps: 1_000, speed: "realtime", stepMs: 1_000 };
    const a = await start(u.token, slow);
    await start(u.token, slow);
    const third = await api("POST", "/v1/simulations", { token: u.token, body: slow });
    expect(third.status).toBe(429);
    expect(third.body.error.code).toBe("rate_limited");
    expect(third.body.error.message).toMatch(/2 simulations running/);
    const del = await api("DELETE", `/v1/simulations/${a}`, { token: u.token });
    expect(del.status).toBe(200);
    expect(del.body.status).toBe("canceled");
    await start(u.token, slow);
  });

  it("cancel stops steps", async () => {
    const u = await registerUser("sim-cancel");
    const id = await start(u.token, { scenario: "bull", initialPrice: 50_000, steps: 5_000, speed: "realtime", stepMs: 20 });
    await new Promise((r) => setTimeout(r, 300));
    const del = await api("DELETE", `/v1/simulations/${id}`, { token: u.token });
    expect(del.body.status).toBe("canceled");
    const at = del.body.progress.step;
    expect(at).toBeGreaterThan(0);
    expect(del.body.summary.steps).toBe(at);
    await new Promise((r) => setTimeout(r, 300));
    const after = await api("GET", `/v1/simulations/${id}`, { token: u.token });
    expect(after.body.status).toBe("canceled");
    expect(after.body.progress.step).toBe(at);
    expect((await allSteps(u.token, id)).length).toBe(at);
    const row = (await api("GET", "/v1/simulations", { token: u.token })).body.data[0];
    expect(row).toMatchObject({ id, status: "canceled" });
  });

  it("the stream delivers every step in order, and a late joiner gets the latest state", async () => {
    const u = await registerUser("sim-stream");
    const id = await start(u.token, { scenario: "volatile", initialPrice: 50_000, steps: 2_000, seed: 5 });
    const s = await openStream(u.token, id, "?after=0");
    await s.closed;
    const kinds = s.messages.map((m) => m.msg.type);
    expect(kinds[0]).toBe("state");
    expect(kinds[kinds.length - 1]).toBe("end");
    const steps = s.messages.filter((m) => m.msg.type === "step").map((m) => m.msg.record);
    expect(steps.map((r) => r.step)).toEqual(Array.from({ length: 2_000 }, (_, i) => i + 1));
    expect(steps).toEqual(await allSteps(u.token, id));
    expect(s.messages[kinds.length - 1]!.msg).toMatchObject({ status: "completed", summary: { steps: 2_000 } });

    // Live only: a joiner without ?after gets the state, then contiguous steps after it.
    const live = await start(u.token, { scenario: "bull", initialPrice: 50_000, steps: 40, speed: "realtime", stepMs: 25 });
    await new Promise((r) => setTimeout(r, 200));
    const l = await openStream(u.token, live);
    await l.closed;
    const state = l.messages[0]!.msg;
    expect(state.type).toBe("state");
    expect(state.last.step).toBe(state.progress.step);
    const liveSteps = l.messages.filter((m) => m.msg.type === "step").map((m) => m.msg.record.step);
    expect(liveSteps).toEqual(Array.from({ length: 40 - state.progress.step }, (_, i) => state.progress.step + i + 1));

    // A browser cannot set headers on a WebSocket: it opens it with a single-use ticket
    // (POST /v1/auth/ws-ticket), never with its token in the URL.
    const { ticket } = (await api("POST", "/v1/auth/ws-ticket", { token: u.token })).body;
    const viaTicket = await exports.default.fetch(new Request(`${BASE}/v1/simulations/${live}/stream?ticket=${ticket}`, { headers: { upgrade: "websocket" } }));
    expect(viaTicket.status).toBe(101);
    viaTicket.webSocket!.accept();
    viaTicket.webSocket!.close();
    // ?access_token= is refused, on an upgrade too.
    const viaQuery = await exports.default.fetch(new Request(`${BASE}/v1/simulations/${live}/stream?access_token=${encodeURIComponent(u.token)}`, { headers: { upgrade: "websocket" } }));
    expect(viaQuery.status).toBe(401);

    // After the end: state, then end, then closed.
    const late = await openStream(u.token, live);
    await late.closed;
    expect(late.messages.map((m) => m.msg.type)).toEqual(["state", "end"]);
    expect(late.messages[0]!.msg.last.step).toBe(40);
  });

  it("realtime pacing is within 10 % over 50 steps", async () => {
    const u = await registerUser("sim-pace");
    const stepMs = 40;
    const t0 = Date.now();
    const id = await start(u.token, { scenario: "sideways", initialPrice: 50_000, steps: 50, speed: "realtime", stepMs });
    const s = await openStream(u.token, id, "?after=0");
    await s.closed;
    const elapsed = Date.now() - t0;
    const steps = s.messages.filter((m) => m.msg.type === "step");
    expect(steps).toHaveLength(50);
    expect(Math.abs(elapsed - 50 * stepMs)).toBeLessThanOrEqual(0.1 * 50 * stepMs);
    const info = (await api("GET", `/v1/simulations/${id}`, { token: u.token })).body;
    expect(Math.abs(info.summary.durationMs - 50 * stepMs)).toBeLessThanOrEqual(0.1 * 50 * stepMs);
  });

  it("bad inputs are 400 naming the field; steps above the plan are 402", async () => {
    const u = await registerUser("sim-bad");
    const ok = { scenario: "bull", initialPrice: 50_000, steps: 10 };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...ok, scenario: "moon" }, "scenario"],
      [{ ...ok, initialPrice: -1 }, "initialPrice"],
      [{ ...ok, steps: 0 }, "steps"],
      [{ ...ok, steps: 1.5 }, "steps"],
      [{ ...ok, stepMs: 1 }, "stepMs"],
      [{ ...ok, speed: "warp" }, "speed"],
      [{ ...ok, bogus: 1 }, ""],
      [{ ...ok, scenario: "replay" }, "prices"],
      [{ ...ok, scenario: "replay", prices: [100, -5] }, "prices.1"],
      [{ ...ok, position: { side: "buy", leverage: 10 } }, "position.quantity"],
      [{ ...ok, position: { side: "buy", quantity: 10, margin: 10, leverage: 10 } }, "position.quantity"],
      [{ ...ok, position: { side: "up", quantity: 10, leverage: 10 } }, "position.side"],
      [{ ...ok, position: { side: "buy", quantity: 10, leverage: 500 } }, "position.leverage"],
      [{ ...ok, automations: { marginGuard: { warnAt: 0.95, actAt: 0.9, maxAddPerTradeSats: 1, maxAddPerDaySats: 1 } } }, "automations.marginGuard.warnAt"],
      [{ ...ok, automations: { tpSl: {} } }, "automations.tpSl"],
      [{ ...ok, automations: { autoEntry: { side: "buy", quantity: 1, leverage: 2 } } }, "automations.autoEntry.condition"],
      [{ ...ok, automations: { other: {} } }, "automations"],
      [{ ...ok, spread: -1 }, "spread"],
      [{ ...ok, spread: 2.3 }, "spread"],
      [{ ...ok, spread: "5" }, "spread"],
    ];
    for (const [body, field] of cases) {
      const r = await api("POST", "/v1/simulations", { token: u.token, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      const paths = r.body.error.details.map((d: { path: string }) => d.path);
      if (field) expect(paths, JSON.stringify(body)).toContain(field);
    }
    const big = await api("POST", "/v1/simulations", { token: u.token, body: { ...ok, steps: 10_001 } });
    expect(big.status).toBe(402);
    expect(big.body.error.details).toMatchObject({ limit: "maxSimulationSteps", plan: "free" });
    expect(big.body.error.message).toMatch(/maxSimulationSteps/);
    expect((await api("GET", "/v1/simulations", { token: u.token })).body.data).toEqual([]);
    const badCursor = await api("GET", "/v1/simulations/sim_x/results?cursor=abc", { token: u.token });
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.error.details[0].path).toBe("cursor");
  });

  it("another user's simulation is 404 everywhere", async () => {
    const owner = await registerUser("sim-owner");
    const other = await registerUser("sim-other");
    const id = await start(owner.token, { scenario: "replay", initialPrice: 50_000, steps: 5, prices: [50_000, 50_100, 49_900] });
    for (const [m, p] of [["GET", ""], ["GET", "/results"], ["DELETE", ""]] as const) {
      expect((await api(m, `/v1/simulations/${id}${p}`, { token: other.token })).status).toBe(404);
    }
    const res = await exports.default.fetch(new Request(`${BASE}/v1/simulations/${id}/stream`, { headers: { upgrade: "websocket", authorization: `Bearer ${other.token}` } }));
    expect(res.status).toBe(404);
    expect((await api("GET", "/v1/simulations", { token: other.token })).body.data).toEqual([]);
    const done = await waitDone(owner.token, id);
    expect(done.status).toBe("completed");
    expect((await allSteps(owner.token, id)).map((r) => r.price)).toEqual([50_000, 50_100, 49_900, 49_900, 49_900]);
  });

  it("a 10,000-step fast run with all three automations completes in chunks", async () => {
    const u = await registerUser("sim-max");
    const t0 = Date.now();
    const id = await start(u.token, { scenario: "volatile", initialPrice: 60_000, steps: 10_000, seed: 42, automations: allThree, position: { side: "buy", quantity: 500, leverage: 20 }, freeBalanceSats: 5_000_000 });
    const done = await waitDone(u.token, id, 60_000);
    expect(done.status).toBe("completed");
    expect(done.summary.steps).toBe(10_000);
    expect(done.summary.actionsByType.open).toBeGreaterThan(0);
    console.info(JSON.stringify({ bench: "do-fast-10k", ms: Date.now() - t0 }));
  });

  it("realtime catches up from the start time after a late alarm, and resumes after losing its in-memory scenario", async () => {
    const u = await registerUser("sim-catchup");
    const body = { scenario: "volatile", initialPrice: 60_000, steps: 600, seed: 9, automations: allThree, position: { side: "buy", quantity: 500, leverage: 20 }, freeBalanceSats: 5_000_000 };
    const id = await start(u.token, { ...body, speed: "realtime", stepMs: 60_000 });
    // Untyped stub and explicit type arguments: inferring SimulationDO's RPC type is too deep for tsc.
    const stub = env.SIMULATION.getByName(id) as unknown as DurableObjectStub;
    const progress = await runInDurableObject<DurableObject, { seven: number; chunk: number }>(stub, async (i) => {
      const instance = i as any;
      const run = instance.store.getJson("run");
      // The alarm is "late" by 7.5 steps: exactly 7 are due, none more.
      instance.store.setJson("run", { ...run, startedAt: Date.now() - 7.5 * 60_000 });
      await instance.alarm();
      const seven = instance.store.getJson("run").step;
      // As after an eviction: the scenario generator is rebuilt from the seed.
      instance.engine = null;
      instance.store.setJson("run", { ...instance.store.getJson("run"), startedAt: Date.now() - 10_000 * 60_000 });
      await instance.alarm(); // at most one chunk (500 steps) per invocation
      const chunk = instance.store.getJson("run").step;
      instance.engine = null;
      await instance.alarm();
      return { seven, chunk };
    });
    expect(progress).toEqual({ seven: 7, chunk: 507 });
    const done = await waitDone(u.token, id);
    expect(done.status).toBe("completed");
    // Same stepMs: the simulated clock (cooldowns, windows) runs at step * stepMs in both modes.
    const fast = await start(u.token, { ...body, stepMs: 60_000 });
    await waitDone(u.token, fast);
    expect(await allSteps(u.token, id)).toEqual(await allSteps(u.token, fast));
  });
});

describe("stuck simulation rows", () => {
  it("the cron frees a slot held by a row whose DO never started, and leaves live runs alone", async () => {
    const { env } = await import("cloudflare:workers");
    const { sweepSimulations, STUCK_AFTER_MS } = await import("../src/ops/simulation-sweeper");
    const { createLogger } = await import("../src/lib/logger");
    const u = await registerUser("sim-stuck");
    const old = Date.now() - STUCK_AFTER_MS - 1_000;
    const ghost = `sim_${"ab".repeat(16)}`;
    await env.DB.prepare("INSERT INTO simulations (id, user_id, scenario, status, steps, params, created_at) VALUES (?, ?, 'bull', 'running', 10, '{}', ?)").bind(ghost, u.userId, old).run();
    const r = await sweepSimulations(env, { now: Date.now(), logger: createLogger({ level: "error" }) });
    expect(r.fixed).toBeGreaterThanOrEqual(1);
    const row = await env.DB.prepare("SELECT status FROM simulations WHERE id = ?").bind(ghost).first<{ status: string }>();
    expect(row?.status).toBe("failed");
  });
});
