/**
 * Routine runs at rest are summarised, not journaled one by one (issue 20,
 * durable-objects/account/runner.ts): a scheduled first attempt that succeeds and logs nothing
 * else writes no job event (at rest those were ~240 D1 rows per account-hour: start and
 * complete of the monitor and of each automation every 60 s); the account tallies them and its
 * hourly heartbeat carries the tally in its own D1 row write (durable-objects/account/routine.ts).
 * A run that fails keeps its start and end rows.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { HEARTBEAT_EVERY_MS } from "../durable-objects/account/liveness";
import { automation, proUser, quiesce, runDueNow, settle, simAccount, statusOf, stub } from "./account-helpers";
import { simPrice, simReset } from "./sim-helpers";

interface JobEvent { jobId: string; event: string; metadata?: any }

/** Every job event of the account so far: those still in its outbox and those already in D1. */
async function jobEvents(accountId: string): Promise<JobEvent[]> {
  const pending = await runInDurableObject(stub(accountId), (_i, state) =>
    state.storage.sql.exec<{ entry: string }>("SELECT entry FROM outbox ORDER BY seq").toArray().map((r) => JSON.parse(r.entry)));
  const inOutbox = pending.filter((e: any) => e.type === "job_event").map((e: any) => ({ jobId: e.jobId, event: e.event, metadata: e.metadata }));
  const rows = await env.DB.prepare("SELECT job_id, event, metadata FROM job_events WHERE account_id = ?").bind(accountId).all<{ job_id: string; event: string; metadata: string | null }>();
  return [...inOutbox, ...rows.results.map((r) => ({ jobId: r.job_id, event: r.event, metadata: r.metadata ? JSON.parse(r.metadata) : undefined }))];
}

const tally = (accountId: string) => runInDurableObject(stub(accountId), (_i, state) => {
  const row = state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'routineRuns'").toArray()[0];
  return row ? JSON.parse(row.value) : null;
});

const cleanup: string[] = [];
afterEach(async () => {
  while (cleanup.length) await quiesce(cleanup.pop()!);
});

beforeAll(async () => {
  await simReset();
  await simPrice(100_000);
});

describe("routine runs (issue 20)", () => {
  it("scheduled runs that succeed write no job event; the tally counts them", async () => {
    const u = await proUser("routine");
    const acc = await simAccount(u.token);
    cleanup.push(acc.id);
    const a = await automation(u.token, acc.id, { type: "noop", config: {}, schedule: { intervalMs: 20_000 } });
    await settle(acc.id);
    await runDueNow(acc.id);
    await runDueNow(acc.id);
    const st = await statusOf(acc.id);
    expect(st.automations.find((x: { id: string }) => x.id === a.id).status.runs).toBeGreaterThanOrEqual(3);
    // Neither the automation's nor the monitor's routine runs left a row.
    expect((await jobEvents(acc.id)).filter((e) => !e.jobId.includes(":routine:"))).toEqual([]);
    const t = await tally(acc.id);
    expect(t.runs).toBeGreaterThanOrEqual(6);
    expect(t.byType).toMatchObject({ noop: 3, margin_monitor: expect.any(Number) });
  });

  it("a failing run keeps its start and its retry rows", async () => {
    const u = await proUser("routine-fail");
    const acc = await simAccount(u.token);
    cleanup.push(acc.id);
    const a = await automation(u.token, acc.id, { type: "noop", config: { failTimes: 1 }, schedule: { intervalMs: 20_000 } });
    await settle(acc.id);
    const mine = (await jobEvents(acc.id)).filter((e) => e.jobId.includes(`:${a.id}:`));
    expect(mine.map((e) => e.event).sort()).toEqual(["retry", "start"]);
  });

  it("the hourly heartbeat carries the tally to D1 in its own row write, then starts a new tally; no job event", async () => {
    const u = await proUser("routine-summary");
    const acc = await simAccount(u.token);
    cleanup.push(acc.id);
    await automation(u.token, acc.id, { type: "noop", config: {}, schedule: { intervalMs: 20_000 } });
    await settle(acc.id);
    const since = Date.now() - HEARTBEAT_EVERY_MS - 1_000;
    // An hour of routine runs tallied, and the last beat an hour ago: the next alarm beats.
    await runInDurableObject(stub(acc.id), (inst, state) => {
      state.storage.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('routineRuns', ?)", JSON.stringify({ since, runs: 58, durationMs: 580, maxDurationMs: 20, byType: { noop: 29, margin_monitor: 29 } }));
      state.storage.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('heartbeatAt', ?)", String(since));
      (inst as unknown as { liveness: { lastHeartbeat: number } }).liveness.lastHeartbeat = since;
    });
    const before = Date.now();
    await runDueNow(acc.id);
    const row = await env.DB.prepare("SELECT last_heartbeat_at, routine_runs FROM exchange_accounts WHERE id = ?").bind(acc.id).first<{ last_heartbeat_at: number; routine_runs: string | null }>();
    expect(row!.last_heartbeat_at).toBeGreaterThanOrEqual(before);
    const routine = JSON.parse(row!.routine_runs!);
    expect(routine).toMatchObject({ since, runs: expect.any(Number), byType: { noop: expect.any(Number), margin_monitor: expect.any(Number) } });
    expect(routine.runs).toBeGreaterThanOrEqual(59);
    expect(routine.until).toBeGreaterThanOrEqual(before);
    // Nothing went through the LOGS queue for it.
    expect((await jobEvents(acc.id)).filter((e) => e.jobId.includes(":routine:") || e.metadata?.routine)).toEqual([]);
    const t = await tally(acc.id);
    expect(t.since).toBeGreaterThanOrEqual(before);
    expect(t.runs).toBeLessThanOrEqual(1);
  });
});
