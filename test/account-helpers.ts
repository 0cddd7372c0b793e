/** Helpers for account DO tests: a pro user, an account on the simulator, trades opened directly. */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm } from "cloudflare:test";
import { LnMarketsRestClient } from "../src/lnmarkets/rest-client";
import { resolveEndpoints } from "../src/lnmarkets/transport";
import { api, registerUser } from "./helpers";
import { afterEach, beforeAll, expect } from "vitest";
import { restSlot } from "../src/domain/schedule";
import { simFaults, simKeys, simPrice, simReset, type SimKeys } from "./sim-helpers";

export async function proUser(tag: string) {
  const u = await registerUser(tag);
  await env.DB.prepare("UPDATE users SET plan_id = 'pro', plan_expires_at = ? WHERE id = ?").bind(Date.now() + 86_400_000, u.userId).run();
  return u;
}

export async function simAccount(token: string, name = "Sim", balance = 5_000_000): Promise<{ id: string; keys: SimKeys; client: LnMarketsRestClient }> {
  const keys = await simKeys(balance);
  const r = await api("POST", "/v1/accounts", { token, body: { name, network: "simulator", credentials: { key: keys.key, secret: keys.secret, passphrase: keys.passphrase } } });
  if (r.status !== 201) throw new Error(`account create failed ${r.status} ${JSON.stringify(r.body)}`);
  const client = new LnMarketsRestClient({ endpoints: resolveEndpoints(env, "simulator"), credentials: keys });
  return { id: r.body.id, keys, client };
}

export const stub = (accountId: string) => env.ACCOUNT.getByName(accountId);

/** At price 100,000: a pro trader with a simulator account and a running 50x long of 1,000 USD. */
export async function traderWithLong(label: string, balance = 5_000_000) {
  await simPrice(100_000);
  const u = await proUser(label);
  const acc = await simAccount(u.token, label, balance);
  const trade = await acc.client.newTrade({ type: "market", side: "buy", leverage: 50, quantity: 1_000 });
  return { u, acc, trade };
}

/** Runs the account's alarm if one is armed; returns whether it ran. */
export async function fireAlarm(accountId: string): Promise<boolean> {
  return runDurableObjectAlarm(stub(accountId));
}

/** Makes every row due now, then runs the alarm (time does not move in tests). */
export async function runDueNow(accountId: string): Promise<boolean> {
  const { runInDurableObject } = await import("cloudflare:test");
  await runInDurableObject(stub(accountId), async (_inst, state) => {
    state.storage.sql.exec("UPDATE automations SET next_run_at = ? WHERE next_run_at IS NOT NULL", Date.now() - 1);
    // Far enough ahead that it does not also fire on its own while we run it by hand.
    await state.storage.setAlarm(Date.now() + 3_600_000);
  });
  return fireAlarm(accountId);
}

/**
 * Sends the account's outbox to the LOGS queue now and returns how many rows went (at rest a
 * DO flushes at most every FLUSH_EVERY_MS, which a test's clock never reaches).
 */
export async function flushLogs(accountId: string): Promise<number> {
  const { runInDurableObject } = await import("cloudflare:test");
  return runInDurableObject(stub(accountId), (inst) => (inst as unknown as { journal: { flush(): Promise<number> } }).journal.flush());
}

/**
 * At rest a schedule row's next run is on the account's re-sync slot (src/domain/schedule.ts
 * restSlot): half a cadence to one and a half after its last run, on the account's grid.
 */
export function expectOnRestSlot(accountId: string, s: { lastRunAt: number | null; nextRunAt: number | null }, cadenceMs = 60_000): void {
  const gap = s.nextRunAt! - s.lastRunAt!;
  expect(gap).toBeGreaterThanOrEqual(cadenceMs / 2 - 50);
  expect(gap).toBeLessThanOrEqual(cadenceMs * 1.5);
  expect(restSlot(s.nextRunAt!, s.nextRunAt! - cadenceMs / 2, cadenceMs, accountId)).toBe(s.nextRunAt);
}

/** Stops everything an account armed so alarms do not leak into other tests. */
export async function quiesce(accountId: string): Promise<void> {
  const { runInDurableObject } = await import("cloudflare:test");
  await stub(accountId).forget();
  await runInDurableObject(stub(accountId), async (_i, state) => {
    await state.storage.deleteAlarm();
  });
}

export async function automation(token: string, accountId: string, body: unknown) {
  const r = await api("POST", `/v1/accounts/${accountId}/automations`, { token, body });
  if (r.status !== 201) throw new Error(`automation create failed ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/**
 * Waits until the alarm armed "now" by a create has run on its own (every enabled row and the
 * monitor ran once), so tests continue from a known state.
 */
export async function settle(accountId: string, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = await statusOf(accountId);
    const done = (st.monitor?.status.runs ?? 0) >= 1 && st.automations.filter((a: any) => a.enabled).every((a: any) => a.status.runs >= 1);
    if (done) return;
    if (Date.now() > deadline) throw new Error(`account ${accountId} did not settle: ${JSON.stringify(st.automations.map((a: any) => a.status))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The DO's status as plain JSON (the RPC stub's inferred type is too deep to be useful here). */
export async function statusOf(accountId: string): Promise<any> {
  return JSON.parse(JSON.stringify(await stub(accountId).status()));
}

/**
 * A test file's account hygiene: the exchange reset once before its tests; after each test the
 * simulator's faults off and every account id pushed on the returned list quiesced (alarms do
 * not leak into the next test).
 */
export function accountCleanup(): string[] {
  const cleanup: string[] = [];
  afterEach(async () => {
    await simFaults({}).catch(() => undefined);
    while (cleanup.length) await quiesce(cleanup.pop()!);
  });
  beforeAll(async () => {
    await simReset();
  });
  return cleanup;
}
