/**
 * The executor's reconciliation of an uncertain add-margin across a funding settlement
 * (issue 18): funding takes its fee from the trade's margin, so `margin >= marginBefore +
 * amount` reads a landed add as not landed after a charge and sends it again. Pure: a fake
 * store and a fake client, no runtime.
 */
import { describe, expect, it } from "vitest";
import { addMarginLanded, Executor, type Intent } from "../durable-objects/account/executor";
import type { IntentRow, IntentStatus } from "../durable-objects/account/storage";
import { CircuitBreaker } from "../src/domain/circuit-breaker";
import { LnMarketsError } from "../src/lnmarkets/errors";
import type { LnMarketsRestClient } from "../src/lnmarkets/rest-client";
import type { FuturesTrade } from "../src/lnmarkets/schemas";

class FakeStore {
  rows = new Map<string, IntentRow>();
  intent(id: string) {
    return this.rows.get(id);
  }
  unresolvedIntents() {
    return [...this.rows.values()].filter((r) => r.status === "pending" || r.status === "uncertain");
  }
  upsertIntent(r: Omit<IntentRow, "attempts"> & { attempts?: number }) {
    this.rows.set(r.client_id, { ...r, attempts: r.attempts ?? 1 } as IntentRow);
  }
  setIntentStatus(id: string, status: IntentStatus, f: { result?: string | null; error?: string | null } = {}) {
    const r = this.rows.get(id)!;
    this.rows.set(id, { ...r, status, result: f.result ?? r.result, error: f.error ?? null });
  }
}

const trade = (o: Partial<FuturesTrade>): FuturesTrade =>
  ({ id: "T1", side: "buy", price: 100_000, entryPrice: 100_000, quantity: 1_000, margin: 100_000, running: true, liquidation: 91_000,
    clientId: null, takeprofit: 0, stoploss: 0, stoplossTrailingDistance: 0, sumFundingFees: 0, ...o }) as FuturesTrade;

/** An exchange whose first add-margin lands but times out, then funding charges `fee`. */
function exchange(fee: number) {
  let t = trade({});
  const calls: string[] = [];
  const client = {
    async runningTrades() {
      calls.push("running");
      return [t];
    },
    async addMargin({ amount }: { amount: number }) {
      calls.push("add_margin");
      t = { ...t, margin: t.margin + amount };
      if (calls.filter((c) => c === "add_margin").length === 1) {
        // Settled after the add landed, before we could look.
        t = { ...t, margin: t.margin - fee, sumFundingFees: (t.sumFundingFees ?? 0) + fee };
        throw new LnMarketsError({ kind: "temporary", code: "timeout", message: "timed out", uncertain: true, method: "POST", path: "/x" });
      }
      return t;
    },
  } as unknown as LnMarketsRestClient;
  return { client, calls, current: () => t };
}

const intent = (fundingBefore?: number): Intent => ({
  automationId: "aut_1",
  runId: "s1",
  request: { action: "add_margin", tradeId: "T1", amount: 5_000, marginBefore: 100_000, ...(fundingBefore !== undefined ? { fundingBefore } : {}) },
});

function executor(client: LnMarketsRestClient) {
  const store = new FakeStore();
  return new Executor({ store: store as never, client: async () => client, breaker: new CircuitBreaker(), tradeLog: () => undefined });
}

describe("add-margin reconciliation across funding", () => {
  it("a landed add followed by a funding charge is not sent again", async () => {
    const ex = exchange(300);
    const e = executor(ex.client);
    const first = await e.execute(intent(0));
    expect(first).toMatchObject({ ok: false, uncertain: true });
    // The retry reconciles first: margin 104,700 after the 300 sats charge, yet it landed.
    const retry = await e.execute(intent(0));
    expect(retry).toMatchObject({ ok: true, reconciled: true });
    expect(ex.calls.filter((c) => c === "add_margin")).toHaveLength(1);
    expect(ex.current().margin).toBe(104_700);
  });

  it("an add that did not land is sent again, funding or not", () => {
    const req = { amount: 5_000, marginBefore: 100_000, fundingBefore: 0 };
    expect(addMarginLanded({ margin: 99_700, sumFundingFees: 300 }, req)).toBe(false);
    expect(addMarginLanded({ margin: 104_700, sumFundingFees: 300 }, req)).toBe(true);
    // Funding received (sumFundingFees falls) raised the margin: that is not an add.
    expect(addMarginLanded({ margin: 100_300, sumFundingFees: -300 }, { ...req, amount: 200 })).toBe(false);
    expect(addMarginLanded({ margin: 105_300, sumFundingFees: -300 }, req)).toBe(true);
    // An intent recorded without fundingBefore compares margins as before.
    expect(addMarginLanded({ margin: 105_000, sumFundingFees: 300 }, { amount: 5_000, marginBefore: 100_000 })).toBe(true);
  });
});

describe("reconciling and sending take turns per trade", () => {
  it("a slow reconciliation cannot mark an add that did not land done from the margin a later add raised", async () => {
    let t = trade({});
    let reads = 0;
    const gate = { open: () => {} };
    const adds: number[] = [];
    const client = {
      async runningTrades() {
        // The first read (the alarm's reconciliation) is held, as behind a waited-out 429; it
        // answers with the trade as it is when it reaches the exchange.
        if (++reads === 1) await new Promise<void>((r) => (gate.open = r));
        return [t];
      },
      async addMargin({ amount }: { amount: number }) {
        adds.push(amount);
        t = { ...t, margin: t.margin + amount };
        return t;
      },
    } as unknown as LnMarketsRestClient;
    const store = new FakeStore();
    const e = new Executor({ store: store as never, client: async () => client, breaker: new CircuitBreaker(), tradeLog: () => undefined });
    // An earlier decision's add was answered 503 (not applied): uncertain, its answer came.
    store.upsertIntent({
      client_id: "addmargin_earlier", automation_id: "aut_1", run_id: "s1", action: "add_margin", trade_id: "T1",
      request: JSON.stringify(intent().request), status: "uncertain", result: null, error: "http_503", created_at: 0, updated_at: 0, settles_at: 0,
    });
    const alarm = e.reconcilePending();
    await new Promise((r) => setTimeout(r, 0));
    // Another run decides the same add and executes it while the alarm's read is held.
    const run = e.execute({ ...intent(), runId: "s2" });
    await new Promise((r) => setTimeout(r, 20));
    gate.open();
    await alarm;
    expect(await run).toMatchObject({ ok: true, reconciled: false });
    expect(adds).toEqual([5_000]);
    // One add landed: one intent done, the 503'd one failed (before: both "done").
    expect(store.intent("addmargin_earlier")?.status).toBe("failed");
    expect([...store.rows.values()].filter((r) => r.status === "done")).toHaveLength(1);
  });
});
