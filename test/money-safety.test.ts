/**
 * Money safety (issue 19): every protective order exactly once, and protection never silently
 * off. Each test here names the defect it covers; each failed before its fix.
 */
import { runInDurableObject } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { automation, quiesce, runDueNow, settle, statusOf, stub, traderWithLong } from "./account-helpers";
import { simFaults, simOrders, simPrice, simReset } from "./sim-helpers";

const cleanup: string[] = [];
afterEach(async () => {
  await simFaults({}).catch(() => undefined);
  while (cleanup.length) await quiesce(cleanup.pop()!);
});
beforeAll(async () => {
  await simReset();
});

const half = (x: number) => Math.round(x * 2) / 2;
/** The price at which a 50x long from 100,000 with liquidation `liq` has risk `risk`. */
const atRisk = (liq: number, risk: number, entry = 100_000) => half(entry - risk * (entry - liq));
const addOrders = async (key: string) => (await simOrders(key)).filter((o: any) => /add-margin/.test(o.route) && o.status < 300);
const GUARD = { maxAddPerTradeSats: 1_000_000, maxAddPerDaySats: 1_000_000 };

describe("exactly once by construction", () => {
  it("a retried run decides under a new clientId: an earlier run's done intent is not taken for this decision", async () => {
    // Defect: a retry kept its run id, so its clientId repeated, the executor answered
    // `already_done` for the earlier run's order and nothing was sent; caps, cooldown and the
    // "margin added" notification were spent and the position stayed unprotected.
    const { u, acc, trade } = await traderWithLong("retry-id");
    cleanup.push(acc.id);
    // No ticks: only the runs this test drives act.
    await simFaults({ silenceStream: true });
    const entry = trade.entryPrice ?? trade.price;
    await simPrice(atRisk(trade.liquidation, 0.93, entry));
    const g = await automation(u.token, acc.id, { type: "margin_guard", config: GUARD, schedule: { retryAttempts: 3, retryDelayMs: 60_000 } });
    await settle(acc.id);
    expect(await addOrders(acc.keys.key)).toHaveLength(1);
    const after1 = (await acc.client.runningTrades()).find((t) => t.id === trade.id)!;
    // The run failed after its order (as a later trade's timeout would make it): a retry is
    // due. The price fell again, past actAt for the new margin.
    await runInDurableObject(stub(acc.id), (_i, s) => {
      s.storage.sql.exec("UPDATE automations SET attempts = 1 WHERE id = ?", g.id);
    });
    await simPrice(atRisk(after1.liquidation, 0.95, entry));
    await runDueNow(acc.id);
    expect(await addOrders(acc.keys.key)).toHaveLength(2);
    const after2 = (await acc.client.runningTrades()).find((t) => t.id === trade.id)!;
    expect(after2.margin).toBeGreaterThan(after1.margin);
    const intents = await runInDurableObject(stub(acc.id), (_i, s) => s.storage.sql.exec<{ client_id: string; status: string }>("SELECT client_id, status FROM intents WHERE action = 'add_margin'").toArray());
    expect(new Set(intents.map((i) => i.client_id)).size).toBe(2);
  }, 20_000);

  it("no order on a trade while another automation's earlier order on it may still land", async () => {
    // Defect: a guard settled only its own intents, and reconciliation called an order "not
    // landed" the moment the exchange did not show it, so a second add-margin could go out
    // while the first was still in flight.
    const { u, acc, trade } = await traderWithLong("in-flight");
    cleanup.push(acc.id);
    await simFaults({ silenceStream: true });
    const entry = trade.entryPrice ?? trade.price;
    const g = await automation(u.token, acc.id, { type: "margin_guard", config: GUARD, schedule: { retryAttempts: 3, retryDelayMs: 60_000 } });
    await settle(acc.id);
    // An add-margin another automation sent a second ago: no answer yet, not at the exchange yet.
    const sentAt = Date.now() - 1_000;
    await runInDurableObject(stub(acc.id), (_i, s) => {
      s.storage.sql.exec(
        `INSERT INTO intents (client_id, automation_id, run_id, action, trade_id, request, status, attempts, result, error, created_at, updated_at, settles_at)
         VALUES ('addmargin_other', 'aut_other', 's1', 'add_margin', ?, ?, 'uncertain', 1, NULL, 'timeout', ?, ?, ?)`,
        trade.id, JSON.stringify({ action: "add_margin", tradeId: trade.id, amount: 50_000, marginBefore: trade.margin }), sentAt, sentAt, sentAt + 12_000,
      );
    });
    await simPrice(atRisk(trade.liquidation, 0.93, entry));
    await runDueNow(acc.id);
    expect(await addOrders(acc.keys.key)).toHaveLength(0);
    const row = ((await stub(acc.id).getAutomation(g.id)) as any).value;
    expect(row.status.lastError).toMatch(/may still land/);
    // The landing window passed and the exchange still does not show it: now it is "not
    // landed", and the guard acts.
    await runInDurableObject(stub(acc.id), (_i, s) => {
      s.storage.sql.exec("UPDATE intents SET settles_at = settles_at - 20000, updated_at = updated_at - 20000 WHERE client_id = 'addmargin_other'");
    });
    await runDueNow(acc.id);
    expect(await addOrders(acc.keys.key)).toHaveLength(1);
    const st = await runInDurableObject(stub(acc.id), (_i, s) => s.storage.sql.exec<{ status: string }>("SELECT status FROM intents WHERE client_id = 'addmargin_other'").one());
    expect(st.status).toBe("failed");
    expect((await statusOf(acc.id)).automations[0].status.lastError).toBeNull();
  }, 20_000);
});
