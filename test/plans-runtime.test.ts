/**
 * Plans enforced at run time (issue 22, item 4). Defect: the plan was checked only when an
 * automation was created, so a lapsed pro plan kept TP/SL, Auto Entry and ten accounts running.
 * Now the account DO reads the owner's plan in force with its context: automation types the
 * plan does not include pause (settings kept) with one notice, accounts beyond its limit stop
 * running automations (the margin monitor keeps watching), and a renewal resumes them.
 */
import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { handlePaymentBatch } from "../queues/payments";
import { resetLnbitsGuards } from "../src/lightning/lnbits";
import { api, until } from "./helpers";
import { accountCleanup, automation, runDueNow, settle, simAccount, statusOf, stub, traderWithLong } from "./account-helpers";
import { sim } from "./sim-helpers";

const GUARD = { maxAddPerTradeSats: 1_000_000, maxAddPerDaySats: 1_000_000 };
const cleanup = accountCleanup();
beforeAll(() => resetLnbitsGuards());

/** runInDurableObject with the instance untyped: inferring it from the stub is too deep for tsc. */
const inDo = runInDurableObject as unknown as (s: unknown, f: (i: any) => unknown) => Promise<unknown>;
const notes = async (userId: string, event: string) =>
  (await env.DB.prepare("SELECT event, severity, body FROM notifications WHERE user_id = ? AND event = ?").bind(userId, event).all<{ event: string; severity: string; body: string }>()).results;
/** The plan runs out; the account re-reads its context a minute later (CONTEXT_TTL_MS, aged here), at its next alarm. */
async function lapse(userId: string, accountIds: string[]) {
  await env.DB.prepare("UPDATE users SET plan_expires_at = ? WHERE id = ?").bind(Date.now() - 1, userId).run();
  for (const id of accountIds) {
    await inDo(stub(id), (i) => {
      if (i.context) i.context.loadedAt = 0;
    });
    await runDueNow(id);
  }
}
const auto = (st: any, id: string) => st.automations.find((a: any) => a.id === id);

describe("plans enforced at run time", () => {
  it("a lapsed pro plan pauses TP/SL with one notice while the guard runs on; paying again resumes it at once", async () => {
    const { u, acc } = await traderWithLong("plan-lapse");
    cleanup.push(acc.id);
    const guard = await automation(u.token, acc.id, { type: "margin_guard", config: GUARD });
    const tpsl = await automation(u.token, acc.id, { type: "tp_sl", config: { takeProfit: { percent: 2 }, stopLoss: { percent: 1 } } });
    await settle(acc.id);
    expect((await statusOf(acc.id)).plan).toEqual({ id: "pro", withinAccountLimit: true, pausedAutomations: [] });

    await lapse(u.userId, [acc.id]);
    let st = await statusOf(acc.id);
    expect(st.plan).toEqual({ id: "free", withinAccountLimit: true, pausedAutomations: [tpsl.id] });
    expect(auto(st, tpsl.id).status.nextRunAt).toBeNull();
    expect(auto(st, tpsl.id).enabled).toBe(true);
    expect(auto(st, guard.id).status.nextRunAt).toBeTypeOf("number");
    expect(st.running).toBe(true);
    const notice = await until("the plan notice", async () => (await notes(u.userId, "plan.paused"))[0], 8_000, 200);
    expect(notice).toMatchObject({ severity: "warning" });
    expect(notice.body).toMatch(/free plan does not include tp_sl/);
    // The paused automation does not run, and the notice is not repeated. (A run in flight at
    // the lapse is aborted and still counts once: the count is taken after it settled.)
    await runDueNow(acc.id);
    await new Promise((r) => setTimeout(r, 1_000));
    const runs = auto(await statusOf(acc.id), tpsl.id).status.runs;
    await runDueNow(acc.id);
    await new Promise((r) => setTimeout(r, 1_000));
    st = await statusOf(acc.id);
    expect(auto(st, tpsl.id).status.runs).toBe(runs);
    expect(auto(st, tpsl.id).status.nextRunAt).toBeNull();
    expect(await notes(u.userId, "plan.paused")).toHaveLength(1);

    // Renewal through the real payment path: invoice, paid at the (simulated) provider, the
    // payments consumer activates the plan and refreshes the accounts.
    const p = (await api("POST", "/v1/payments", { token: u.token, body: { planId: "pro" } })).body as { id: string; paymentHash: string };
    await sim("POST", `/__sim/invoices/${p.paymentHash}/pay`);
    const batch = createMessageBatch("payments", [{ id: "qm-plan-1", timestamp: Date.now(), attempts: 1, body: { v: 1, id: "job-plan-1", kind: "payment", paymentId: p.id } }]);
    const ctx = createExecutionContext();
    await handlePaymentBatch(batch, env, ctx);
    await getQueueResult(batch, ctx);
    st = await statusOf(acc.id);
    expect(st.plan).toEqual({ id: "pro", withinAccountLimit: true, pausedAutomations: [] });
    expect(auto(st, tpsl.id).status.nextRunAt).toBeTypeOf("number");
  }, 40_000);

  it("accounts beyond a lapsed plan's limit stop running automations; their monitor still watches", async () => {
    const { u, acc } = await traderWithLong("plan-accounts");
    cleanup.push(acc.id);
    const second = await simAccount(u.token, "Second");
    cleanup.push(second.id);
    await api("PATCH", "/v1/me", { token: u.token, body: { scheduleScope: "all" } });
    await automation(u.token, acc.id, { type: "margin_guard", config: GUARD });
    const g2 = await automation(u.token, second.id, { type: "margin_guard", config: GUARD });
    await settle(acc.id);
    await settle(second.id);
    expect((await statusOf(second.id)).running).toBe(true);

    await lapse(u.userId, [acc.id, second.id]);
    const first = await statusOf(acc.id);
    expect(first).toMatchObject({ running: true, plan: { id: "free", withinAccountLimit: true, pausedAutomations: [] } });
    const st = await statusOf(second.id);
    expect(st).toMatchObject({ running: false, watching: true, plan: { id: "free", withinAccountLimit: false, pausedAutomations: [g2.id] } });
    expect(auto(st, g2.id).status.nextRunAt).toBeNull();
    expect(st.monitor.status.nextRunAt).toBeTypeOf("number");
    const notice = await until("the plan notice", async () => (await notes(u.userId, "plan.paused"))[0], 8_000, 200);
    expect(notice.body).toMatch(/allows 1 account/);
  }, 40_000);
});
