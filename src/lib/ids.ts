/** Prefixed random ids: `usr_…`, `acc_…`. 16 random bytes, hex, so ids sort nowhere and leak nothing. */
import { randomBytes, toHex } from "./encoding";

export type IdPrefix = "usr" | "tok" | "acc" | "aut" | "sim" | "ntf" | "pay" | "dlq" | "alr" | "log" | "job" | "req" | "run";

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${toHex(randomBytes(16))}`;
}

/** True when `s` looks like an id of that prefix (bad ids become 404s, never 500s). */
export function isId(prefix: IdPrefix, s: string): boolean {
  return new RegExp(`^${prefix}_[0-9a-f]{32}$`).test(s);
}
