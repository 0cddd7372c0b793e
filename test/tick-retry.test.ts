/**
 * A run a tick started and that failed retries after its backoff, not at the next alarm armed
 * before it (at rest the account's re-sync slot, up to a minute away): the alarm is re-armed
 * after every tick-started run. The case that matters: a bare account (monitor only) woken by
 * the market feed as its trade crosses 0.9, while the exchange fails.
 */
import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { quiesce, settle, statusOf, stub, traderWithLong } from "./account-helpers";
import { until } from "./helpers";
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
});
