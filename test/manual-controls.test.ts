/**
 * Manual controls (issue 23): close, close all, add margin, run an automation now, each with a
 * dry run, through the platform's HTTP API and the account DO's executor, against the simulator.
 */
import { exports } from "cloudflare:workers";
import { hc } from "hono/client";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { clientIdFor } from "../src/domain/client-id";
import type { AppType } from "../src/index";
import { api, BASE, LOG_ROW_WAIT_MS, until } from "./helpers";
import { accountCleanup, automation, settle, stub, traderWithLong } from "./account-helpers";
import { simFaults, simOrders, simPrice } from "./sim-helpers";

const cleanup = accountCleanup();

const orders = async (key: string, route: RegExp) => (await simOrders(key)).filter((o: any) => route.test(o.route));
const CLOSE = /trade\/close$/;
const ADD = /add-margin/;
const half = (x: number) => Math.round(x * 2) / 2;

describe("close a trade", () => {
  it("a dry run sends nothing; a retried request with the same Idempotency-Key sends one close", async () => {
    const { u, acc, trade } = await traderWithLong("manual-close");
    cleanup.push(acc.id);
    const path = `/v1/accounts/${acc.id}/trades/${trade.id}/close`;

    const dry = await api("POST", path, { token: u.token, body: { dryRun: true } });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ action: "close", dryRun: true, replayed: false, orders: [{ action: "close", tradeId: trade.id, status: "planned", clientId: null }] });
    expect(dry.body.orders[0].before.risk).toBeGreaterThanOrEqual(0);
    expect(typeof dry.body.orders[0].estimatedPnlSats).toBe("number");
    expect(await orders(acc.keys.key, CLOSE)).toHaveLength(0);

    const headers = { "idempotency-key": "close-once-1" };
    const first = await api("POST", path, { token: u.token, headers });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ dryRun: false, replayed: false, idempotencyKey: "close-once-1", orders: [{ status: "sent", tradeId: trade.id }] });
    expect(first.body.orders[0].clientId).toMatch(/^close_/);
    const again = await api("POST", path, { token: u.token, headers, body: {} });
    expect(again.status).toBe(200);
    expect(again.body.replayed).toBe(true);
    expect(again.headers.get("idempotency-replayed")).toBe("true");
    expect(again.body.orders[0].clientId).toBe(first.body.orders[0].clientId);
    expect(await orders(acc.keys.key, CLOSE)).toHaveLength(1);
    expect((await acc.client.runningTrades()).find((t) => t.id === trade.id)).toBeUndefined();

    // The same key for another action is refused; without a key, a close of a closed trade is a 404.
    const reused = await api("POST", `/v1/accounts/${acc.id}/trades/close-all`, { token: u.token, headers });
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe("idempotency_key_reused");
    const gone = await api("POST", path, { token: u.token });
    expect(gone.status).toBe(404);
    expect(gone.body.error.details[0].path).toBe("tradeId");
    expect(await orders(acc.keys.key, CLOSE)).toHaveLength(1);

    // Logged as an automation's orders are: a trade log under "manual", and the journal.
    const logged = await until("the manual close in the trade logs", async () => {
      const r = await api("GET", `/v1/accounts/${acc.id}/trades`, { token: u.token });
      return r.body.data.find((l: any) => l.automationId === "manual" && l.action === "close");
    }, LOG_ROW_WAIT_MS);
    expect(logged).toMatchObject({ outcome: "ok", tradeId: trade.id, clientId: first.body.orders[0].clientId });
    await until("the manual close in the automation logs", async () => {
      const r = await api("GET", `/v1/accounts/${acc.id}/logs`, { token: u.token });
      return r.body.data.find((l: any) => l.event === "manual.close");
    }, LOG_ROW_WAIT_MS);
  }, 40_000);

  it("a retry after an unknown outcome reconciles the first order: a close that landed is done, an add that did not is sent once", async () => {
    const { u, acc, trade } = await traderWithLong("manual-retry");
    cleanup.push(acc.id);
    // The first request's orders, as a timeout leaves them: recorded, answer unknown, so not
    // kept under the key. The close landed at the exchange; the add-margin did not.
    const sentAt = Date.now() - 20_000;
    const lost = (key: string, action: string, request: unknown) => runInDurableObject(stub(acc.id), (_i, st) => {
      const id = clientIdFor({ automationId: "manual", runId: `k:${key}`, action, tradeId: trade.id });
      st.storage.sql.exec(
        `INSERT INTO intents (client_id, automation_id, run_id, action, trade_id, request, status, attempts, result, error, created_at, updated_at, settles_at)
         VALUES (?, 'manual', ?, ?, ?, ?, 'uncertain', 1, NULL, 'timeout', ?, ?, ?)`,
        id, `k:${key}`, action, trade.id, JSON.stringify(request), sentAt, sentAt, sentAt + 12_000,
      );
      return id;
    });
    const addId = await lost("add-lost", "add_margin", { action: "add_margin", tradeId: trade.id, amount: 30_000, marginBefore: trade.margin, fundingBefore: 0 });
    const add = await api("POST", `/v1/accounts/${acc.id}/trades/${trade.id}/add-margin`, { token: u.token, headers: { "idempotency-key": "add-lost" }, body: { amountSats: 30_000 } });
    expect(add.status).toBe(200);
    expect(add.body.orders).toEqual([expect.objectContaining({ clientId: addId, status: "sent" })]);
    expect(await orders(acc.keys.key, ADD)).toHaveLength(1);

    await acc.client.close({ id: trade.id });
    const closeId = await lost("close-lost", "close", { action: "close", tradeId: trade.id });
    const close = await api("POST", `/v1/accounts/${acc.id}/trades/${trade.id}/close`, { token: u.token, headers: { "idempotency-key": "close-lost" } });
    expect(close.status).toBe(200);
    expect(close.body.orders).toEqual([expect.objectContaining({ clientId: closeId, status: "reconciled" })]);
    expect(await orders(acc.keys.key, CLOSE)).toHaveLength(1); // the exchange's own close only
  }, 20_000);

  it("refuses what it cannot do with a JSON error naming the field", async () => {
    const { u, acc, trade } = await traderWithLong("manual-errors");
    cleanup.push(acc.id);
    const base = `/v1/accounts/${acc.id}/trades`;
    const unknown = await api("POST", `${base}/nope/close`, { token: u.token, body: { dryRun: true } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.details[0].path).toBe("tradeId");
    const extra = await api("POST", `${base}/${trade.id}/close`, { token: u.token, body: { dryRun: true, force: 1 } });
    expect(extra.status).toBe(400);
    const badKey = await api("POST", `${base}/${trade.id}/close`, { token: u.token, headers: { "idempotency-key": "no spaces allowed" } });
    expect(badKey.status).toBe(400);
    expect(badKey.body.error.details[0].path).toBe("idempotency-key");
    for (const body of [{}, { amountSats: 0 }, { amountSats: 1.5 }, { amountSats: "100" }]) {
      const r = await api("POST", `${base}/${trade.id}/add-margin`, { token: u.token, body });
      expect(r.status).toBe(400);
      expect(r.body.error.details[0].path).toBe("amountSats");
    }
    // More than the trade can take (leverage would fall under 1): the DO refuses before the exchange.
    const tooMuch = await api("POST", `${base}/${trade.id}/add-margin`, { token: u.token, body: { amountSats: 50_000_000 } });
    expect(tooMuch.status).toBe(400);
    expect(tooMuch.body.error.details[0].path).toBe("amountSats");
    // An API token needs the trade scope, dry runs included (they are POSTs).
    const tok = await api("POST", "/v1/auth/tokens", { token: u.token, body: { name: "reader", scopes: ["read"] } });
    expect(tok.status).toBe(201);
    const reader = await api("POST", `${base}/${trade.id}/close`, { token: tok.body.token, body: { dryRun: true } });
    expect(reader.status).toBe(403);
    expect(reader.body.error.code).toBe("insufficient_scope");
    // Someone else's account is not found.
    const other = await traderWithLong("manual-other");
    cleanup.push(other.acc.id);
    const foreign = await api("POST", `/v1/accounts/${other.acc.id}/trades/${other.trade.id}/close`, { token: u.token });
    expect(foreign.status).toBe(404);
    expect(await orders(acc.keys.key, /./)).toHaveLength(1); // the helper's own open
    expect(await orders(other.acc.keys.key, CLOSE)).toHaveLength(0);
  }, 20_000);
});

describe("add margin", () => {
  it("a dry run shows the lower risk; the order goes once per key; the exchange's refusal is a 422", async () => {
    const { u, acc, trade } = await traderWithLong("manual-add", 600_000);
    cleanup.push(acc.id);
    const entry = trade.entryPrice ?? trade.price;
    await simPrice(half(entry - 0.7 * (entry - trade.liquidation)));
    const path = `/v1/accounts/${acc.id}/trades/${trade.id}/add-margin`;
    const dry = await api("POST", path, { token: u.token, body: { amountSats: 100_000, dryRun: true } });
    expect(dry.status).toBe(200);
    const o = dry.body.orders[0];
    expect(o).toMatchObject({ action: "add_margin", amountSats: 100_000, status: "planned" });
    expect(o.after.margin).toBe(o.before.margin + 100_000);
    expect(o.after.risk).toBeLessThan(o.before.risk);
    expect(o.after.liquidation).toBeLessThan(o.before.liquidation);
    expect(await orders(acc.keys.key, ADD)).toHaveLength(0);

    const headers = { "idempotency-key": "add-1" };
    const first = await api("POST", path, { token: u.token, headers, body: { amountSats: 100_000 } });
    expect(first.status).toBe(200);
    expect(first.body.orders[0].status).toBe("sent");
    const retry = await api("POST", path, { token: u.token, headers, body: { amountSats: 100_000 } });
    expect(retry.body).toMatchObject({ replayed: true });
    const other = await api("POST", path, { token: u.token, headers, body: { amountSats: 200_000 } });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe("idempotency_key_reused");
    expect(await orders(acc.keys.key, ADD)).toHaveLength(1);
    const now = (await acc.client.runningTrades()).find((t) => t.id === trade.id)!;
    expect(now.margin).toBe(trade.margin + 100_000);

    // The balance (600,000 less the trade's margin and the add) cannot pay 550,000 more.
    const refused = await api("POST", path, { token: u.token, body: { amountSats: 550_000 } });
    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({ code: "exchange_refused", details: { exchangeCode: "insufficient_balance", kind: "business" } });
  }, 20_000);
});

describe("close all", () => {
  it("closes every running trade, one order each; the dry run lists them and sends nothing", async () => {
    const { u, acc } = await traderWithLong("manual-all");
    cleanup.push(acc.id);
    await acc.client.newTrade({ type: "market", side: "sell", leverage: 10, quantity: 500 });
    const path = `/v1/accounts/${acc.id}/trades/close-all`;
    const dry = await api("POST", path, { token: u.token, body: { dryRun: true } });
    expect(dry.status).toBe(200);
    expect(dry.body.orders).toHaveLength(2);
    expect(dry.body.orders.every((o: any) => o.status === "planned")).toBe(true);
    expect(await orders(acc.keys.key, CLOSE)).toHaveLength(0);
    const headers = { "idempotency-key": "all-1" };
    const done = await api("POST", path, { token: u.token, headers });
    expect(done.status).toBe(200);
    expect(done.body.orders.map((o: any) => o.status)).toEqual(["sent", "sent"]);
    expect(new Set(done.body.orders.map((o: any) => o.clientId)).size).toBe(2);
    expect((await api("POST", path, { token: u.token, headers })).body.replayed).toBe(true);
    expect(await orders(acc.keys.key, CLOSE)).toHaveLength(2);
    expect(await acc.client.runningTrades()).toHaveLength(0);
    const empty = await api("POST", path, { token: u.token });
    expect(empty.body).toMatchObject({ orders: [], summary: "no running trades" });
  }, 20_000);
});

describe("run an automation now", () => {
  it("a guard's dry run shows its add-margin and sends nothing; the run sends it through the executor", async () => {
    const { u, acc, trade } = await traderWithLong("manual-run");
    cleanup.push(acc.id);
    // No ticks: only the runs this test drives act.
    await simFaults({ silenceStream: true });
    const g = await automation(u.token, acc.id, { type: "margin_guard", config: { maxAddPerTradeSats: 1_000_000, maxAddPerDaySats: 1_000_000 } });
    await settle(acc.id);
    const entry = trade.entryPrice ?? trade.price;
    await simPrice(half(entry - 0.93 * (entry - trade.liquidation)));
    const path = `/v1/accounts/${acc.id}/automations/${g.id}/run`;
    const dry = await api("POST", path, { token: u.token, body: { dryRun: true } });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ action: "run", dryRun: true, automation: { id: g.id, type: "margin_guard" } });
    expect(dry.body.orders).toEqual([expect.objectContaining({ action: "add_margin", tradeId: trade.id, status: "planned" })]);
    expect(dry.body.decisions[0]).toMatchObject({ tradeId: trade.id, action: { type: "add_margin" } });
    expect(await orders(acc.keys.key, ADD)).toHaveLength(0);

    const run = await api("POST", path, { token: u.token, headers: { "idempotency-key": "run-1" } });
    expect(run.status).toBe(200);
    expect(run.body.automation.lastError).toBeNull();
    // The feed may have woken the guard on the price move first: either way one add-margin.
    await until("the guard's add-margin", async () => (await orders(acc.keys.key, ADD)).length >= 1);
    expect(await orders(acc.keys.key, ADD)).toHaveLength(1);
    expect((await api("POST", path, { token: u.token, headers: { "idempotency-key": "run-1" } })).body.replayed).toBe(true);
    expect(await orders(acc.keys.key, ADD)).toHaveLength(1);
  }, 25_000);

  it("the kill switch, a disabled automation and paused entries refuse with their own codes; manual orders still go", async () => {
    await simPrice(100_000);
    const { u, acc, trade } = await traderWithLong("manual-kill");
    cleanup.push(acc.id);
    const n = await automation(u.token, acc.id, { type: "noop", config: {} });
    const off = await automation(u.token, acc.id, { type: "noop", config: {}, enabled: false });
    const entry = await automation(u.token, acc.id, { type: "auto_entry", config: { side: "buy", leverage: 10, quantity: 100, condition: { type: "price_below", level: 1 } } });
    const run = (id: string, body: unknown = {}) => api("POST", `/v1/accounts/${acc.id}/automations/${id}/run`, { token: u.token, body });
    const ok = await run(n.id);
    expect(ok.status).toBe(200);
    expect(ok.body.automation).toMatchObject({ id: n.id, lastResult: "noop" });
    expect((await run(off.id)).body.error.code).toBe("automation_disabled");
    expect((await run("aut_missing")).status).toBe(404);
    expect((await api("PATCH", "/v1/me", { token: u.token, body: { pauseEntries: true } })).status).toBe(200);
    expect((await run(entry.id, { dryRun: true })).body.error.code).toBe("entries_paused");
    expect((await api("POST", "/v1/automations/stop", { token: u.token })).status).toBe(200);
    const stopped = await run(n.id, { dryRun: true });
    expect(stopped.status).toBe(409);
    expect(stopped.body.error.code).toBe("automations_stopped");
    // The kill switch stops automations, not the trader's own hand.
    const closed = await api("POST", `/v1/accounts/${acc.id}/trades/${trade.id}/close`, { token: u.token });
    expect(closed.status).toBe(200);
  }, 20_000);
});

describe("in the API's description", () => {
  it("/openapi.json documents the routes and the typed client reaches them", async () => {
    const docRes = await exports.default.fetch(new Request(`${BASE}/openapi.json`));
    const doc = (await docRes.json()) as { paths: Record<string, Record<string, any>> };
    expect(docRes.status, JSON.stringify(doc).slice(0, 500)).toBe(200);
    for (const p of ["/v1/accounts/{id}/trades/{tradeId}/close", "/v1/accounts/{id}/trades/close-all", "/v1/accounts/{id}/trades/{tradeId}/add-margin", "/v1/accounts/{id}/automations/{aid}/run"]) {
      const op = doc.paths[p]?.post;
      expect(op, p).toBeDefined();
      expect(op.parameters.map((x: any) => x.name.toLowerCase())).toContain("idempotency-key");
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["200", "404", "409", "422"]));
    }
    const { u, acc } = await traderWithLong("manual-hc");
    cleanup.push(acc.id);
    const client = hc<AppType>(BASE, { fetch: (input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(input, init)) });
    const res = await client.v1.accounts[":id"].trades["close-all"].$post({ param: { id: acc.id }, header: {}, json: { dryRun: true } }, { headers: { authorization: `Bearer ${u.token}` } });
    expect(res.status).toBe(200);
    const body = await res.json();
    if (!("orders" in body)) throw new Error(JSON.stringify(body));
    expect(body.orders).toHaveLength(1);
    expect(body.orders[0]!.status).toBe("planned");
  }, 15_000);
});
