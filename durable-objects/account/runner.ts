/**
 * Runs one schedule row (an automation or the margin monitor) under its timeout, with an
 * AbortController per run that the kill switch, a disable or a delete can fire, and books
 * the outcome: next run (interval, or a retry with backoff), job events, failure alerts.
 */
import { parseAutomationConfig, scheduleKindOf, type AutomationType } from "../../src/automations/registry";
import { nextAfterRun, resolveSchedule, type ScheduleOverride, type ScheduleSettings } from "../../src/domain/schedule";
import type { LnMarketsRestClient } from "../../src/lnmarkets/rest-client";
import type { Executor } from "./executor";
import { runAutomation, type JobContext, type JobOutcome } from "./jobs";
import { marginMonitor } from "./monitor-run";
import type { Journal } from "./journal";
import type { Market } from "./market";
import { tallyRoutine } from "./routine";
import type { AutomationRow, AccountStore } from "./storage";

export const MONITOR_ID = "margin_monitor";

/**
 * Runs that protect a position go on while the breaker is open (their protective orders pass
 * it; the rate limit still holds them): the guard, TP/SL (its stop losses and closes) and the
 * monitor. Entries wait for the breaker.
 */
const PROTECTIVE_TYPES = new Set(["margin_guard", "tp_sl", "margin_monitor"]);

export interface RunnerHost {
  readonly store: AccountStore;
  readonly journal: Journal;
  readonly market: Market;
  readonly executor: Executor;
  accountId(): string;
  client(): Promise<LnMarketsRestClient>;
  pauseEntries(): boolean;
  /** Whether the account's automations run (in scope, enabled, credentials working). */
  automationsRunning(): boolean;
  /** The monitor's schedule now (its cadence follows the feed and whether anything runs). */
  monitorSchedule(now: number): ScheduleSettings;
  /** An automation's settings at rest (issue 20): the feed watches its levels, so it runs no more often than the re-sync. */
  slowAtRest?(row: AutomationRow, settings: ScheduleSettings): ScheduleSettings;
  /** At rest, the account's re-sync slot nearest to a row's next run (src/domain/schedule.ts restSlot). */
  restSlot?(row: AutomationRow, at: number): number;
  /** Sets the object's alarm to the earliest due row (after a run the alarm did not start). */
  rearm?(): Promise<void>;
}

export class Runner {
  /** Runs in flight, by row id: their controllers abort them (timeout, kill switch, disable, delete). */
  private readonly running = new Map<string, AbortController>();

  constructor(private readonly h: RunnerHost) {}

  has(id: string): boolean {
    return this.running.has(id);
  }

  /**
   * Aborts a run in flight. An order it had sent stays an intent (pending or uncertain) until
   * reconciled: aborting stops the run deciding further, not what is already on the wire.
   */
  abort(id: string, reason: string): boolean {
    const ac = this.running.get(id);
    if (!ac) return false;
    ac.abort(new Error(reason));
    return true;
  }

  abortAll(reason: string, except?: (id: string) => boolean): number {
    let n = 0;
    for (const id of [...this.running.keys()]) if (!except?.(id) && this.abort(id, reason)) n++;
    return n;
  }

  /** Runs an automation now, off its schedule (a tick or the monitor crossed a threshold). */
  async trigger(row: AutomationRow, reason: string): Promise<void> {
    if (this.running.has(row.id)) return;
    this.h.journal.automation("debug", "automation.triggered", row.id, { reason });
    await this.run(this.h.store.automation(row.id) ?? row, "tick");
  }

  /**
   * Runs one row under its timeout; a failure retries after its backoff, up to its limit.
   *
   * A run the alarm did not start (a tick, a funding settlement, the trader's run-now) re-arms
   * the alarm when it ends: a failed run schedules its retry after its backoff (seconds), and
   * without re-arming, the alarm armed before it (at rest the re-sync slot, up to a minute away)
   * would be the retry's first chance. The alarm's own runs are followed by its re-arm. (The
   * soak of 2026-12-03 saw a bare account at risk 0.93 liquidated 15 s later without its
   * critical alert while REST failed a third of the time; this gap was a likely cause.)
   */
  async run(row: AutomationRow, trigger: "schedule" | "tick" = "schedule"): Promise<void> {
    if (this.running.has(row.id)) return;
    try {
      await this.runOnce(row, trigger);
    } finally {
      if (trigger !== "schedule") await this.h.rearm?.().catch((e) => this.h.journal.logger.warn("run.rearm_failed", { error: e }));
    }
  }

  private async runOnce(row: AutomationRow, trigger: "schedule" | "tick"): Promise<void> {
    const ac = new AbortController();
    this.running.set(row.id, ac);
    const { store, journal } = this.h;
    const isMonitor = row.id === MONITOR_ID;
    const settings = isMonitor
      ? this.h.monitorSchedule(Date.now())
      : resolveSchedule(scheduleKindOf(row.type as AutomationType), row.schedule ? (JSON.parse(row.schedule) as ScheduleOverride) : null);
    // Every run, a retry included, decides anew: a new run id, so new clientIds. What an earlier
    // run sent is reconciled before this one decides (Executor.settle), never taken for its own.
    const runSeq = row.run_seq + 1;
    const runId = `${trigger === "tick" ? "t" : "s"}${runSeq}`;
    const jobId = `${this.h.accountId()}:${row.id}:${runId}:${row.attempts + 1}`;
    const traceId = row.trace_id ?? jobId;
    const started = Date.now();
    store.updateAutomation(row.id, { run_seq: runSeq });
    const startFields = { traceId, metadata: { automationId: row.id, type: row.type, trigger, attempt: row.attempts + 1 } };
    // A scheduled first attempt may be routine: its start row waits for the outcome.
    const mayBeRoutine = trigger === "schedule" && row.attempts === 0;
    const outboxBefore = store.outboxSize();
    if (!mayBeRoutine) journal.job(jobId, "start", startFields);
    // allow() also half-opens a breaker whose wait is over (and lets its probe through).
    const gate = this.h.executor.breaker.allow(started);
    const timer = setTimeout(() => ac.abort(new Error(`timed out after ${settings.timeoutMs} ms`)), settings.timeoutMs);
    let outcome: JobOutcome;
    try {
      if (!gate.ok && !PROTECTIVE_TYPES.has(row.type)) throw new Error(`circuit breaker open: exchange calls paused for ${Math.ceil(gate.retryAfterMs / 1000)} s`);
      const ctx = this.jobContext(traceId, trigger);
      const run = isMonitor ? marginMonitor(ctx, row, ac.signal) : this.runAutomationRow(ctx, row, runId, ac.signal);
      outcome = await Promise.race([
        run,
        new Promise<JobOutcome>((resolve) => {
          const done = () => resolve({ ok: false, error: `${/timed out/.test(String(ac.signal.reason)) ? "timeout" : "aborted"}: ${String((ac.signal.reason as Error)?.message ?? "aborted")}` });
          if (ac.signal.aborted) done();
          else ac.signal.addEventListener("abort", done, { once: true });
        }),
      ]);
    } catch (e) {
      outcome = { ok: false, error: e instanceof Error ? e.message : String(e) };
    } finally {
      clearTimeout(timer);
      this.running.delete(row.id);
    }
    const now = Date.now();
    const durationMs = now - started;
    const current = store.automation(row.id);
    if (!current) return;
    // The monitor's cadence follows the feed at the end of its run (the socket may have dropped).
    let next = nextAfterRun(isMonitor ? this.h.monitorSchedule(now) : (this.h.slowAtRest?.(row, settings) ?? settings), current.attempts, outcome.ok ? "success" : "failure", now);
    // At rest every row of the account lands on the same slot: one alarm, one read of the exchange.
    if (next.kind === "interval" && this.h.restSlot) next = { ...next, nextRunAt: this.h.restSlot(row, next.nextRunAt) };
    const scheduled = trigger === "schedule" || !outcome.ok;
    store.updateAutomation(row.id, {
      last_run_at: now, last_duration_ms: durationMs, last_result: outcome.ok ? outcome.summary : "failure",
      last_error: outcome.ok ? null : outcome.error, runs: current.runs + 1, failures: current.failures + (outcome.ok ? 0 : 1),
      ...(scheduled && current.next_run_at !== null ? { next_run_at: next.nextRunAt, attempts: next.attempts } : {}),
      updated_at: now,
    });
    // A routine run is counted, not journaled (durable-objects/account/routine.ts).
    if (outcome.ok && mayBeRoutine && store.outboxSize() <= outboxBefore) {
      tallyRoutine(store, row.type, durationMs, now);
      return;
    }
    if (mayBeRoutine) journal.job(jobId, "start", startFields);
    if (outcome.ok) {
      journal.job(jobId, "complete", { durationMs, traceId, metadata: { automationId: row.id, summary: outcome.summary } });
      return;
    }
    journal.job(jobId, next.kind === "retry" ? "retry" : "fail", { durationMs, traceId, error: outcome.error, metadata: { automationId: row.id, attempt: current.attempts + 1, nextRunAt: next.nextRunAt } });
    if (next.kind === "exhausted" && current.next_run_at !== null) {
      journal.automation("error", "automation.run_failed", isMonitor ? null : row.id, { type: row.type, attempts: current.attempts + 1, error: outcome.error }, undefined, traceId);
      await journal.notify("automation.failed", "warning", "An automation keeps failing", `${row.type} failed ${current.attempts + 1} times: ${outcome.error}; it continues at its next interval`, { automationId: row.id }, traceId);
    }
  }

  private runAutomationRow(ctx: JobContext, row: AutomationRow, runId: string, signal: AbortSignal): Promise<JobOutcome> {
    const parsed = parseAutomationConfig(row.type, JSON.parse(row.config), { allowTestTypes: true });
    if (!parsed.ok) return Promise.resolve({ ok: false, error: `invalid stored config: ${parsed.issues[0]?.message}` });
    return runAutomation(ctx, row, parsed.value.config, runId, signal);
  }

  private jobContext(traceId: string, trigger: "schedule" | "tick"): JobContext {
    const { store } = this.h;
    return {
      traceId,
      trigger,
      market: this.h.market,
      executor: this.h.executor,
      journal: this.h.journal,
      client: () => this.h.client(),
      now: Date.now,
      pauseEntries: this.h.pauseEntries(),
      automationsRunning: this.h.automationsRunning(),
      automations: () => store.automations(),
      triggerGuard: (row, reason) => this.trigger(row, reason),
      saveState: (row, state) => store.updateAutomation(row.id, { state: JSON.stringify(state) }),
    };
  }
}
