/**
 * SimulationDO: one per simulation run (`env.SIMULATION.getByName(simulationId)`). It feeds a
 * seeded price scenario through the pure `simulateStep` of src/domain (the same automation
 * logic as live trading), saves every step in its SQLite (packed, one row per chunk of steps,
 * in the transaction that saves the state), pushes each step to hibernatable WebSockets (only
 * serialised when one is connected), and writes the summary row to D1 `simulations` when it ends.
 *
 * Bounded storage: a finished run keeps its steps, trades and summary (what the results,
 * the per-trade report and the CSV exports read) for the simulations retention of
 * RETENTION_DAYS (30 days by default, the age at which the cron deletes its D1 row), then its
 * own alarm empties its storage; the run is gone from the API from then on. The number of
 * steps a run can hold is the plan's maxSimulationSteps.
 *
 * Pacing is alarm-driven. Fast: up to FAST_CHUNK steps per alarm invocation (so one
 * invocation stays short and a cancel can get in between), re-armed at once. Realtime: the
 * steps due are computed from the start time (step n is due at startedAt + n * stepMs), so a
 * late alarm catches up and the pace never drifts. Expected failures come back as
 * `{ok:false, code}` (only name and message survive RPC).
 */
import { DurableObject } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { createPriceScenario, type PriceScenario } from "../src/domain/scenarios";
import { accumulateSummary, createSimulation, initialSummary, simulateStep, type SimState, type SimSummary, type StepRecord } from "../src/domain/simulate-step";
import { getDb } from "../src/db/client";
import { simulations } from "../src/db/schema";
import { backtestSummary } from "../src/domain/backtest";
import { LnMarketsError } from "../src/lnmarkets/errors";
import { loadRetention } from "../src/ops/retention";
import { advanceBacktest, expectedCandles, prepareBacktest } from "./simulation/backtest-runner";
import { broadcast, pageAfter, replaySteps, runView, scenarioOptions, startRun, type RunMeta } from "./simulation/run";
import { migrate, SimulationStore, type SavedStep } from "./simulation/storage";
import type { SweepMeta, SweepSpec, SweepView } from "./simulation/sweep";
import { SweepMode } from "./simulation/sweep-mode";
import type { RunSummary, SimResult, SimulationInfo, SimulationParams, SimulationStatus } from "./simulation/types";

export type { SimResult, SimulationInfo, SimulationParams, SimulationStatus } from "./simulation/types";
export { MAX_RESULTS_PAGE } from "./simulation/run";

/** Steps per alarm invocation: a few ms of CPU, so an RPC (cancel, info) is never kept waiting long. */
export const FAST_CHUNK = 500;
/** Retry delay for the D1 summary write when D1 is unavailable. */
const D1_RETRY_MS = 5_000;
/** A backtest's alarm walks batches for up to this long before re-arming (a cancel still lands between batches). */
export const BACKTEST_SLICE_MS = 1_000;
const DAY_MS = 86_400_000;

export class SimulationDO extends DurableObject<Env> {
  private readonly store: SimulationStore;
  /** The scenario generator and how many prices it has produced (not serialisable: rebuilt on wake-up). */
  private engine: { scenario: PriceScenario; consumed: number } | null = null;
  private readonly sweep: SweepMode;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new SimulationStore(ctx.storage.sql);
    this.sweep = new SweepMode({
      store: this.store,
      storage: ctx.storage,
      stub: (id) => env.SIMULATION.getByName(id),
      writeRow: (id, values) => this.writeRow(id, values),
      expire: (finishedAt) => this.expire(finishedAt),
    });
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage.sql);
    });
  }

  /**
   * Start the run. Validates what only the domain can (position size, replay prices), saves
   * the params and arms the first alarm. Calling it twice is a conflict.
   */
  async begin(params: SimulationParams): Promise<SimResult<SimulationInfo>> {
    if (this.store.getJson("params")) return { ok: false, code: "conflict", message: "simulation already started" };
    if (params.source) return this.beginBacktest(params);
    const invalid = (e: unknown, field: string): SimResult<never> => ({ ok: false, code: "validation_error", message: e instanceof Error ? e.message : String(e), field });
    try {
      createPriceScenario(scenarioOptions(params));
    } catch (e) {
      return invalid(e, params.scenario === "replay" ? "prices" : params.scenario === "crash" && params.dropPct !== undefined ? "dropPct" : "initialPrice");
    }
    let state: SimState;
    try {
      state = createSimulation({
        initialPrice: params.initialPrice,
        position: params.position,
        automations: params.automations,
        freeBalanceSats: params.freeBalanceSats,
        ...(params.spread !== undefined ? { spread: params.spread } : {}),
        // The simulated clock starts at 0, not wall time: the same seed gives the same results.
        startMs: 0,
        stepMs: params.stepMs,
      });
    } catch (e) {
      return invalid(e, e instanceof Error && e.message.includes("position") ? "position" : "initialPrice");
    }
    const now = Date.now();
    const run = startRun(now);
    this.ctx.storage.transactionSync(() => {
      this.store.setJson("params", params);
      this.store.setJson("state", state);
      this.store.setJson("summary", initialSummary(state));
      this.store.setJson("run", run);
    });
    await this.ctx.storage.setAlarm(params.speed === "fast" ? now : now + params.stepMs);
    return { ok: true, value: runView(params, run, null) };
  }

  /**
   * Backtest mode (issue 24): load the funding history and the first candles, open the
   * position in both runs, then step one batch of candles per alarm (always fast).
   */
  private async beginBacktest(input: SimulationParams): Promise<SimResult<SimulationInfo>> {
    const prepared = await prepareBacktest(this.env, input);
    if (!prepared.ok) return prepared;
    if (this.store.getJson("params")) return { ok: false, code: "conflict", message: "simulation already started" };
    const params: SimulationParams = { ...input, scenario: "backtest", speed: "fast", steps: expectedCandles(input) };
    const { bt, cursor } = prepared.value;
    const now = Date.now();
    const run = startRun(now);
    this.ctx.storage.transactionSync(() => {
      this.store.setJson("params", params);
      this.store.setJson("bt", bt);
      this.store.setJson("cursor", cursor);
      this.store.setJson("summary", backtestSummary(bt, bt.firstTime));
      this.store.setJson("run", run);
    });
    await this.ctx.storage.setAlarm(now);
    return { ok: true, value: runView(params, run, null) };
  }

  /** One batch of a backtest; finishes it at the end or on a failure the exchange will not fix. */
  private async alarmBacktest(params: SimulationParams): Promise<void> {
    let done = false;
    const until = Date.now() + BACKTEST_SLICE_MS;
    try {
      // A cancel may land while a batch loads: the write checks the status again.
      const write = (fn: () => void) => this.ctx.storage.transactionSync(() => {
        if (this.store.getJson<RunMeta>("run")?.status === "running") fn();
      });
      do {
        // Steps are serialised for sockets only when one listens (re-read per batch: one may connect meanwhile).
        const sockets = this.ctx.getWebSockets();
        const push = sockets.length > 0 ? (msg: string) => broadcast(sockets, msg) : null;
        ({ done } = await advanceBacktest(this.env, this.store, params, write, push));
      } while (!done && Date.now() < until && this.store.getJson<RunMeta>("run")?.status === "running");
    } catch (e) {
      const run = this.store.getJson<RunMeta>("run")!;
      if (run.status !== "running") return;
      const failures = (this.store.getJson<number>("failures") ?? 0) + 1;
      if (e instanceof LnMarketsError && e.kind === "temporary" && failures <= 3) {
        this.store.setJson("failures", failures);
        await this.ctx.storage.setAlarm(Date.now() + 2_000 * failures);
        return;
      }
      await this.finish(params, run, "failed", e instanceof Error ? e.message : String(e));
      return;
    }
    const run = this.store.getJson<RunMeta>("run")!;
    if (run.status !== "running") return;
    run.step = this.store.getJson<{ steps: number }>("summary")?.steps ?? run.step;
    this.store.setJson("run", run);
    if (done) {
      // Gaps in the history: the expected count was an estimate.
      const final = { ...params, steps: run.step };
      this.store.setJson("params", final);
      await this.finish(final, run, "completed", null);
      return;
    }
    await this.ctx.storage.setAlarm(Date.now());
  }

  /** Trades of a backtest after sequence `cursor`, in order of their exit. */
  async trades(cursor: number, limit: number): Promise<SimResult<{ data: unknown[]; nextCursor: string | null }>> {
    if (!this.store.getJson("params")) return { ok: false, code: "not_found", message: "simulation not found" };
    return { ok: true, value: pageAfter(cursor, limit, (a, n) => this.store.tradesAfter(a, n), (r) => r.seq, (r) => r.trade) };
  }

  /** Sweep mode (issue 24): see SweepMode in simulation/sweep-mode.ts. */
  async beginSweep(spec: SweepSpec): Promise<SimResult<SweepView>> {
    if (this.store.getJson("params") || this.store.getJson("sweep")) return { ok: false, code: "conflict", message: "simulation already started" };
    return this.sweep.begin(spec);
  }

  /** A sweep's status and table (best cell first for its objective). */
  async sweepInfo(): Promise<SimResult<SweepView>> {
    return this.sweep.info();
  }

  /** Updates the run's row in D1; on failure logs it and re-arms the alarm to retry. */
  private async writeRow(id: string, values: Pick<typeof simulations.$inferInsert, "status" | "summary" | "finishedAt">): Promise<boolean> {
    try {
      await getDb(this.env).update(simulations).set(values).where(eq(simulations.id, id)).run();
      return true;
    } catch (e) {
      console.error(JSON.stringify({ level: "error", msg: "simulation.d1_sync_failed", simulationId: id, error: String(e) }));
      await this.ctx.storage.setAlarm(Date.now() + D1_RETRY_MS);
      return false;
    }
  }

  /** Status, progress and (once finished) the summary. */
  async info(): Promise<SimResult<SimulationInfo>> {
    const params = this.store.getJson<SimulationParams>("params");
    const run = this.store.getJson<RunMeta>("run");
    if (!params || !run) return { ok: false, code: "not_found", message: "simulation not found" };
    return { ok: true, value: runView(params, run, this.store.getJson<RunSummary>("final")) };
  }

  /** Saved steps after step `cursor` (exclusive), in order; `nextCursor` is null on the last page. */
  async results(cursor: number, limit: number): Promise<SimResult<{ data: SavedStep[]; nextCursor: string | null }>> {
    if (!this.store.getJson("params")) return { ok: false, code: "not_found", message: "simulation not found" };
    return { ok: true, value: pageAfter(cursor, limit, (a, n) => this.store.stepsAfter(a, n), (r) => r.step, (r) => r) };
  }

  /** Stop a running simulation; a finished one is left as it is. Returns the status. */
  async cancel(): Promise<SimResult<SimulationInfo>> {
    const sweep = this.store.getJson<SweepMeta>("sweep");
    if (sweep) return this.sweep.cancel(sweep);
    const params = this.store.getJson<SimulationParams>("params");
    const run = this.store.getJson<RunMeta>("run");
    if (!params || !run) return { ok: false, code: "not_found", message: "simulation not found" };
    if (run.status === "running") {
      await this.ctx.storage.deleteAlarm();
      await this.finish(params, run, "canceled", null);
    }
    return this.info();
  }

  /** WebSocket upgrade forwarded by the stream route. `?after=N` replays saved steps after N first. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const params = this.store.getJson<SimulationParams>("params");
    const run = this.store.getJson<RunMeta>("run");
    if (!params || !run) return new Response("simulation not found", { status: 404 });
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    // All of this is synchronous: no step can be saved between the state and the backlog.
    const final = this.store.getJson<RunSummary>("final");
    server.send(JSON.stringify({ type: "state", ...runView(params, run, final), last: this.store.lastStep() }));
    const after = Number(new URL(request.url).searchParams.get("after"));
    if (Number.isInteger(after) && after >= 0 && new URL(request.url).searchParams.has("after")) {
      replaySteps(server, this.store, after);
    }
    if (run.status !== "running") {
      server.send(JSON.stringify({ type: "end", status: run.status, summary: final }));
      server.close(1000, run.status);
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // Clients have nothing to say; answer pings so they can check liveness.
    if (message === "ping") ws.send(JSON.stringify({ type: "pong" }));
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closing");
    } catch {
      /* already closed */
    }
  }

  override async alarm(): Promise<void> {
    const sweep = this.store.getJson<SweepMeta>("sweep");
    if (sweep) return this.sweep.alarm(sweep);
    const params = this.store.getJson<SimulationParams>("params");
    const run = this.store.getJson<RunMeta>("run");
    if (!params || !run) return;
    if (run.status !== "running") {
      if (!run.d1Synced) await this.syncD1(params, run);
      else await this.expire(run.finishedAt);
      return;
    }
    if (params.source) return this.alarmBacktest(params);
    try {
      this.advance(params, run);
    } catch (e) {
      // The chunk's transaction rolled back: finish from the last saved progress.
      this.engine = null;
      await this.finish(params, this.store.getJson<RunMeta>("run")!, "failed", e instanceof Error ? e.message : String(e));
      return;
    }
    if (run.step >= params.steps) {
      await this.finish(params, run, "completed", null);
      return;
    }
    const next = params.speed === "fast" ? Date.now() : run.startedAt + (run.step + 1) * params.stepMs;
    await this.ctx.storage.setAlarm(next);
  }

  /** Run the steps due now (at most FAST_CHUNK), saving and pushing each one. Mutates `run`. */
  private advance(params: SimulationParams, run: RunMeta): void {
    const due = params.speed === "fast" ? params.steps : Math.floor((Date.now() - run.startedAt) / params.stepMs);
    const target = Math.min(params.steps, due, run.step + FAST_CHUNK);
    if (target <= run.step) return;
    let state = this.store.getJson<SimState>("state")!;
    let summary = this.store.getJson<SimSummary>("summary")!;
    const scenario = this.scenarioAt(params, run.step);
    const sockets = this.ctx.getWebSockets();
    this.ctx.storage.transactionSync(() => {
      const records: StepRecord[] = [];
      while (run.step < target) {
        const r = simulateStep(state, scenario.next());
        this.engine!.consumed += 1;
        state = r.state;
        summary = accumulateSummary(summary, r.record);
        run.step = r.record.step;
        records.push(r.record);
        if (sockets.length > 0) broadcast(sockets, JSON.stringify({ type: "step", record: r.record }));
      }
      this.store.insertSteps(records);
      this.store.setJson("state", state);
      this.store.setJson("summary", summary);
      this.store.setJson("run", run);
    });
  }

  /** The scenario positioned after `step` prices: replayed from the seed after an eviction. */
  private scenarioAt(params: SimulationParams, step: number): PriceScenario {
    if (!this.engine || this.engine.consumed !== step) {
      const scenario = createPriceScenario(scenarioOptions(params));
      for (let i = 0; i < step; i++) scenario.next();
      this.engine = { scenario, consumed: step };
    }
    return this.engine.scenario;
  }

  private async finish(params: SimulationParams, run: RunMeta, status: SimulationStatus, error: string | null): Promise<void> {
    const now = Date.now();
    run.status = status;
    run.finishedAt = now;
    run.error = error;
    const summary = this.store.getJson<SimSummary>("summary")!;
    const final: RunSummary = { ...summary, durationMs: now - run.startedAt };
    this.ctx.storage.transactionSync(() => {
      this.store.setJson("run", run);
      this.store.setJson("final", final);
    });
    this.engine = null;
    const msg = JSON.stringify({ type: "end", status, summary: final, error });
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(msg);
        ws.close(1000, status);
      } catch {
        /* already gone */
      }
    }
    await this.syncD1(params, run);
  }

  /** Write the final row to D1; on failure keep the flag down and retry from the alarm. */
  private async syncD1(params: SimulationParams, run: RunMeta): Promise<void> {
    const final = this.store.getJson<RunSummary>("final");
    if (!(await this.writeRow(params.id, { status: run.status, summary: final ? JSON.stringify(final) : null, finishedAt: run.finishedAt }))) return;
    run.d1Synced = true;
    this.store.setJson("run", run);
    await this.expire(run.finishedAt);
  }

  /** When a finished run's (or sweep's) storage is emptied: its D1 row's retention age after it ended. */
  private expiresAt(finishedAt: number | null): number {
    return (finishedAt ?? Date.now()) + loadRetention(this.env).simulations * DAY_MS;
  }

  /** Past the retention age: empty this object's storage; before it: arm the alarm for then. */
  private async expire(finishedAt: number | null): Promise<void> {
    const at = this.expiresAt(finishedAt);
    if (Date.now() < at) {
      await this.ctx.storage.setAlarm(at);
      return;
    }
    this.store.wipe();
    this.engine = null;
    await this.ctx.storage.deleteAlarm();
  }
}
