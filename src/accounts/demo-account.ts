/**
 * Dev seed step: the demo trader's account on the simulator, with keys and a balance from
 * the simulator's control API, and one running 10x long opened at 100,000 (the price the
 * seed sets) so positions are not empty.
 * If the simulator forgot the keys (its state was reset), new keys replace them.
 */
import { and, eq } from "drizzle-orm";
import { getDb } from "../db/client";
import { exchangeAccounts } from "../db/schema";
import type { SeedResult } from "../dev-seed";
import { createLogger } from "../lib/logger";
import { LnMarketsRestClient } from "../lnmarkets/rest-client";
import { resolveEndpoints } from "../lnmarkets/transport";
import { decryptAccountCredentials } from "./credentials";
import { createAccount, updateAccount } from "./service";

export const DEMO_ACCOUNT_NAME = "Demo (simulator)";
const DEMO_BALANCE_SATS = 10_000_000;
const DEMO_START_PRICE = 100_000;

export async function seedDemoAccount(env: Env, seed: SeedResult): Promise<void> {
  const logger = createLogger({ level: env.LOG_LEVEL, base: { worker: "dev-seed" } });
  const endpoints = resolveEndpoints(env, "simulator");
  const controlBase = endpoints.restBase.replace(/\/v3$/, "");
  const newKeys = async () => {
    const res = await endpoints.fetch(`${controlBase}/__sim/keys`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ balance: DEMO_BALANCE_SATS }) });
    if (!res.ok) throw new Error(`simulator refused /__sim/keys: ${res.status}`);
    const k = (await res.json()) as { key: string; secret: string; passphrase: string };
    return { key: k.key, secret: k.secret, passphrase: k.passphrase };
  };
  const db = getDb(env);
  const userId = seed.demo.userId;
  let row = await db.select().from(exchangeAccounts).where(and(eq(exchangeAccounts.userId, userId), eq(exchangeAccounts.name, DEMO_ACCOUNT_NAME))).get();
  let fresh = false;
  if (!row) {
    const created = await createAccount(env, userId, { name: DEMO_ACCOUNT_NAME, network: "simulator", credentials: await newKeys() }, logger);
    row = await db.select().from(exchangeAccounts).where(eq(exchangeAccounts.id, created.id)).get();
    fresh = true;
  } else {
    const client = new LnMarketsRestClient({ endpoints, credentials: await decryptAccountCredentials(env, row, db) });
    try {
      await client.account();
    } catch {
      await updateAccount(env, userId, row.id, { credentials: await newKeys() }, logger);
      row = await db.select().from(exchangeAccounts).where(eq(exchangeAccounts.id, row.id)).get();
      fresh = true;
    }
  }
  if (!row) throw new Error("demo account missing after seeding");
  seed.demo.accountId = row.id;
  if (fresh) {
    // The README's walk-through starts from this price; a fresh demo trade opens at it.
    const price = await endpoints.fetch(`${controlBase}/__sim/price`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ price: DEMO_START_PRICE }) });
    if (!price.ok) throw new Error(`simulator refused /__sim/price: ${price.status}`);
    await price.body?.cancel();
    const client = new LnMarketsRestClient({ endpoints, credentials: await decryptAccountCredentials(env, row, db) });
    await client.newTrade({ type: "market", side: "buy", leverage: 10, quantity: 500, clientId: "demo-seed-long" });
    logger.info("dev_seed.demo_trade_opened", { accountId: row.id, accountName: row.name });
  }
}
