/**
 * A run the alarm did not start (a tick, a funding settlement, the trader's run-now) and that
 * failed retries after its backoff, not at the next alarm armed before it (at rest the
 * account's re-sync slot, up to a minute away): Runner.run re-arms the alarm when such a run
 * ends (durable-objects/account/runner.ts). The case that matters: a bare account (monitor
 * only) woken by the market feed as its trade crosses 0.9, while the exchange fails.
 */
import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { automation, quiesce, settle, statusOf, stub, traderWithLong } from "./account-helpers";
import { api, until } from "./helpers";
import { simFaults } from "./sim-helpers";

const cleanup: string[] = [];
afterEach(async () => {
  await simFaults({});
  while (cleanup.length) await quiesce(cleanup.pop()!);
});

describe("a failed run started by a tick", () => {
  it("re-arms the alarm for its retry (seconds), not the re-sync slot", async () => {
    const { acc, trade } = await traderWithLong("tick-retry");
    cleanup.push(acc.id);
    await settle(acc.id);
    const alarmAt = () => runInDurableObject(stub(acc.id), (_i, s) => s.storage.getAlarm());
    const before = await statusOf(acc.id);
    const restAlarm = await alarmAt();
    // At rest: the monitor waits for the account's re-sync slot.
    expect(restAlarm! - Date.now()).toBeGreaterThan(10_000);

    // Evicted (its positions must be read again) and every REST call fails; the feed wakes the
    // account across its 0.9 level.
    await abortAllDurableObjects();
    await simFaults({ restErrorRate: 1, seed: 7 });
    const entry = trade.entryPrice ?? trade.price;
    const price = Math.round((entry - 0.93 * (entry - trade.liquidation)) * 2) / 2;
    const failuresBefore = before.monitor.status.failures;
    await stub(acc.id).marketTick({ network: "simulator", price, previous: entry, at: Date.now(), kind: "risk_crit" });
    await until("the monitor's run failed", async () => ((await statusOf(acc.id)).monitor.status.failures > failuresBefore ? true : null), 20_000);
    const retryAt = await until("the alarm re-armed", async () => {
      const at = await alarmAt();
      return at !== null && at < restAlarm! ? at : null;
    }, 5_000);
    expect(retryAt - Date.now()).toBeLessThan(10_000);
  }, 40_000);

  it("a failed run-now re-arms the alarm for its retry too", async () => {
    const { u, acc } = await traderWithLong("runnow-retry");
    cleanup.push(acc.id);
    const a = await automation(u.token, acc.id, { type: "noop", config: { failTimes: 5 }, schedule: { intervalMs: 60_000, retryDelayMs: 2_000 } });
    // Its scheduled runs out of the way: the row waits a minute and so does the alarm.
    const far = Date.now() + 60_000;
    await runInDurableObject(stub(acc.id), async (_i, s) => {
      s.storage.sql.exec("UPDATE automations SET next_run_at = ?, attempts = 0 WHERE next_run_at IS NOT NULL", far);
      await s.storage.setAlarm(far);
    });
    const r = await api("POST", `/v1/accounts/${acc.id}/automations/${a.id}/run`, { token: u.token, body: {} });
    expect(r.status).toBe(200);
    expect(r.body.automation.lastError).toMatch(/noop failure/);
    const at = await runInDurableObject(stub(acc.id), (_i, s) => s.storage.getAlarm());
    expect(at).not.toBeNull();
    expect(at! - Date.now()).toBeLessThan(10_000);
  }, 40_000);
});
