/**
 * Idempotency `clientId` for orders (DESIGN.md "Execution"). The same intent (automation,
 * run, action, trade) always yields the same id, so after a timeout the executor can list
 * trades, look for that id and know whether the order already landed before it retries.
 *
 * Format: `<action>_<hash>`, e.g. `addmargin_0k3x9...`: charset [a-z0-9_] only (a subset of
 * anything LN Markets accepts), at most 16 + 1 + 22 = 39 chars, within the 1-64 limit. The
 * action prefix keeps ids readable in simulator order logs; the hash carries the identity.
 */

/**
 * cyrb53 by bryc (public domain), https://github.com/bryc/code/blob/master/jshash/experimental/cyrb53.js:
 * a fast synchronous 53-bit string hash. Not cryptographic: ids need to be distinct, not secret.
 */
export function cyrb53(str: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** Characters and length LN Markets accepts for our ids (we only ever emit [a-z0-9_]). */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_ACTION_PREFIX = 16;

export interface ClientIdInput {
  automationId: string;
  runId: string;
  /** What the order does: "open", "add_margin", "close", "takeprofit", "stoploss", ... */
  action: string;
  /** The trade acted on; absent for an open. */
  tradeId?: string | undefined;
  /**
   * Which decision of the run this is, when a run decides more than once (e.g. again after
   * re-reading a refused balance): a new decision is a new order, so it gets a new id.
   */
  decision?: number | undefined;
}

/**
 * Deterministic idempotency id for one intent. Two seeds of cyrb53 give ~106 bits, so a
 * collision between two intents of one account (which could make reconciliation skip an
 * order) is negligible. One id per decision: the AccountDO gives every run, retries
 * included, a new run id, so a retried run never meets the id of an earlier decision.
 */
export function clientIdFor({ automationId, runId, action, tradeId, decision }: ClientIdInput): string {
  // JSON framing keeps ("a:b","c") and ("a","b:c") apart. A first decision keeps the ids
  // of before `decision` existed.
  const parts: unknown[] = [automationId, runId, action, tradeId ?? null];
  if (decision !== undefined && decision > 0) parts.push(decision);
  const key = JSON.stringify(parts);
  const hash =
    cyrb53(key, 1).toString(36).padStart(11, "0") + cyrb53(key, 2).toString(36).padStart(11, "0");
  const prefix = action.toLowerCase().replace(/[^a-z0-9]/g, "").slice(0, MAX_ACTION_PREFIX) || "x";
  return `${prefix}_${hash}`;
}

/** True for a string LN Markets accepts as a clientId. */
export function isValidClientId(id: string): boolean {
  return CLIENT_ID_PATTERN.test(id);
}
