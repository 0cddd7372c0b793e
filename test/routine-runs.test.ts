/**
 * Routine runs at rest are summarised, not journaled one by one (issue 20,
 * durable-objects/account/runner.ts): a scheduled first attempt that succeeds and logs nothing
 * else writes no job event (at rest those were ~240 D1 rows per account-hour: start and
 * complete of the monitor and of each automation every 60 s); one summary per
 * ROUTINE_SUMMARY_EVERY_MS counts them. A run that fails keeps its start and end rows.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ROUTINE_SUMMARY_EVERY_MS } from "../durable-objects/account/runner";
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

  it("writes one summary per ROUTINE_SUMMARY_EVERY_MS, then starts a new tally", async () => {
    const u = await proUser("routine-summary");
    const acc = await simAccount(u.token);
    cleanup.push(acc.id);
    await automation(u.token, acc.id, { type: "noop", config: {}, schedule: { intervalMs: 20_000 } });
    await settle(acc.id);
    const since = Date.now() - ROUTINE_SUMMARY_EVERY_MS - 1_000;
    await runInDurableObject(stub(acc.id), (_i, state) => {
      state.storage.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('routineRuns', ?)", JSON.stringify({ since, runs: 58, durationMs: 580, maxDurationMs: 20, byType: { noop: 29, margin_monitor: 29 } }));
    });
    await runDueNow(acc.id);
    const summaries = (await jobEvents(acc.id)).filter((e) => e.jobId === `${acc.id}:routine:${since}`);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ event: "complete", metadata: { routine: { since, runs: expect.any(Number) } } });
    expect(summaries[0]!.metadata.routine.runs).toBeGreaterThanOrEqual(59);
    const t = await tally(acc.id);
    expect(t.since).toBeGreaterThan(since);
    expect(t.runs).toBeLessThanOrEqual(1);
  });
});
