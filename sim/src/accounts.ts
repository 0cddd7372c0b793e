/**
 * Accounts of the simulated exchange: API key trios and the `GET /account` view.
 */
import { ApiError } from "./errors";
import type { NewKeysInput } from "./exchange-types";
import type { FeeTier } from "./maths";
import { randomHex } from "./signing";
import type { Account, Store } from "./store";

/** Create (or, for the same explicit credentials, return) an account with an API key trio. */
export function createKeys(store: Store, input: NewKeysInput): { key: string; secret: string; passphrase: string; accountId: string } {
  if (input.key) {
    const existing = store.accountByKey(input.key);
    if (existing) {
      const same =
        (input.secret === undefined || input.secret === existing.secret) &&
        (input.passphrase === undefined || input.passphrase === existing.passphrase);
      if (!same) throw new ApiError(409, "key already exists with other credentials", "CONFLICT", "key");
      return { key: existing.apiKey, secret: existing.secret, passphrase: existing.passphrase, accountId: existing.id };
    }
  }
  const id = crypto.randomUUID();
  const account: Account = {
    id,
    apiKey: input.key ?? `sim_${randomHex(16)}`,
    secret: input.secret ?? randomHex(32),
    passphrase: input.passphrase ?? randomHex(8),
    username: input.username ?? `sim-${id.slice(0, 8)}`,
    balance: input.balance,
    createdMs: Date.now(),
  };
  store.insertAccount(account);
  return { key: account.apiKey, secret: account.secret, passphrase: account.passphrase, accountId: id };
}

/** `GET /account` (GetAccountOutput of the SDK). */
export function accountView(store: Store, acc: Account, tierOf: (accountId: string) => FeeTier) {
  const fresh = store.accountById(acc.id) ?? acc;
  return {
    balance: fresh.balance,
    email: null,
    feeTier: tierOf(fresh.id),
    id: fresh.id,
    linkingPublicKey: null,
    syntheticUsdBalance: 0,
    username: fresh.username,
  };
}
