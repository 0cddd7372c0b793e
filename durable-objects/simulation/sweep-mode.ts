/**
 * The SimulationDO's sweep lifecycle (issue 24): start the cells, poll them on the alarm until
 * each has ended, cancel them, and write the table to the sweep's D1 row (retried from the
 * alarm when D1 fails). The cells' maths and the table are in ./sweep.ts.
 */
import type { simulations } from "../../src/db/schema";
import type { SimulationStore } from "./storage";
import { pollCells, startCells, sweepView, SWEEP_POLL_MS, type CellStub, type SweepMeta, type SweepSpec, type SweepView } from "./sweep";
import type { SimResult, SimulationInfo } from "./types";

export interface SweepHost {
  readonly store: SimulationStore;
  readonly storage: DurableObjectStorage;
  stub(id: string): CellStub;
  /** Updates the sweep's D1 row; false (and the alarm re-armed) when D1 failed. */
  writeRow(id: string, values: Pick<typeof simulations.$inferInsert, "status" | "summary" | "finishedAt">): Promise<boolean>;
  /** Arms the alarm for the retention age after `finishedAt`, or empties the object past it. */
  expire(finishedAt: number | null): Promise<void>;
}

export class SweepMode {
  constructor(private readonly h: SweepHost) {}

  /** Starts one SimulationDO per grid cell; a cell that cannot start fails the whole sweep (validation). */
  async begin(spec: SweepSpec): Promise<SimResult<SweepView>> {
    const started = await startCells(spec, (id) => this.h.stub(id));
    if (!started.ok) {
      await Promise.all(spec.cells.map((c) => this.h.stub(c.id).cancel().catch(() => undefined)));
      return started;
    }
    const meta: SweepMeta = { id: spec.id, objective: spec.objective, status: "running", startedAt: Date.now(), finishedAt: null, cells: started.value, d1Synced: false };
    this.h.store.setJson("sweep", meta);
    await this.h.storage.setAlarm(Date.now() + SWEEP_POLL_MS);
    return { ok: true, value: sweepView(meta) };
  }

  info(): SimResult<SweepView> {
    const meta = this.h.store.getJson<SweepMeta>("sweep");
    return meta ? { ok: true, value: sweepView(meta) } : { ok: false, code: "not_found", message: "sweep not found" };
  }

  /** Cancels the running cells; a finished sweep is left as it is. Answers as a simulation's info. */
  async cancel(sweep: SweepMeta): Promise<SimResult<SimulationInfo>> {
    if (sweep.status === "running") {
      await Promise.all(sweep.cells.map((c) => this.h.stub(c.id).cancel().catch(() => undefined)));
      await this.h.storage.deleteAlarm();
      Object.assign(sweep, { status: "canceled", finishedAt: Date.now() });
      this.h.store.setJson("sweep", sweep);
      await this.sync(sweep);
    }
    const v = sweepView(sweep);
    return { ok: true, value: { id: v.id, status: v.status, scenario: "sweep", speed: "fast", progress: { step: v.progress.done, steps: v.progress.cells }, startedAt: v.startedAt, finishedAt: v.finishedAt, error: null, summary: null } };
  }

  async alarm(meta: SweepMeta): Promise<void> {
    if (meta.status === "running") {
      const done = await pollCells(meta, (id) => this.h.stub(id));
      const latest = this.h.store.getJson<SweepMeta>("sweep")!;
      if (latest.status !== "running") return; // canceled while polling
      if (!done) {
        this.h.store.setJson("sweep", meta);
        await this.h.storage.setAlarm(Date.now() + SWEEP_POLL_MS);
        return;
      }
      meta.status = meta.cells.some((c) => c.status === "completed") ? "completed" : "failed";
      meta.finishedAt = Date.now();
      this.h.store.setJson("sweep", meta);
    }
    if (meta.d1Synced) return this.h.expire(meta.finishedAt);
    await this.sync(meta);
  }

  private async sync(meta: SweepMeta): Promise<void> {
    if (meta.d1Synced) return;
    const view = sweepView(meta);
    const status = meta.status === "running" ? "completed" : meta.status;
    if (!(await this.h.writeRow(meta.id, { status, summary: JSON.stringify({ objective: view.objective, table: view.table }), finishedAt: meta.finishedAt }))) return;
    meta.d1Synced = true;
    this.h.store.setJson("sweep", meta);
    await this.h.expire(meta.finishedAt);
  }
}
