/**
 * LN Markets authentication, checked as the real API does: the key must exist, the passphrase
 * match, the timestamp be within 30 s of the server clock and the signature be the base64
 * HMAC-SHA256 of the canonical string. Each failure is a 401 with its own message.
 */
import { ApiError } from "./errors";
import { restPayload, signedData, streamPayload, verifyHmacBase64 } from "./signing";
import type { Account, Store } from "./store";

export const TIMESTAMP_WINDOW_MS = 30_000;

/** The kv row that marks an API key revoked (its value: when, in ms). */
export const revokedKey = (apiKey: string) => `revoked:${apiKey}`;

const unauthorized = (message: string, code: string) => new ApiError(401, message, code);

function checkKeyAndTime(store: Store, key: string, passphrase: string, timestamp: string | number, now: number): Account {
  const account = store.accountByKey(key);
  if (!account) throw unauthorized("Invalid API key", "INVALID_API_KEY");
  // Revoked by its owner (POST /__sim/keys/:key/revoke): refused like an unknown key.
  if (store.getJson<number>(revokedKey(key)) !== undefined) throw unauthorized("Invalid API key", "INVALID_API_KEY");
  if (passphrase !== account.passphrase) throw unauthorized("Invalid passphrase", "INVALID_PASSPHRASE");
  const ts = typeof timestamp === "number" ? timestamp : /^\d+$/.test(timestamp) ? Number(timestamp) : NaN;
  if (!Number.isFinite(ts)) throw unauthorized("Invalid timestamp", "INVALID_TIMESTAMP");
  if (Math.abs(now - ts) > TIMESTAMP_WINDOW_MS) {
    throw unauthorized("Timestamp is outside the 30 s window of the server clock", "TIMESTAMP_EXPIRED");
  }
  return account;
}

/** Authenticate a REST request from its headers, method, URL and the exact body string. */
export async function authenticateRest(
  store: Store,
  req: { method: string; url: URL; headers: Headers; body: string },
  now = Date.now(),
): Promise<Account> {
  const h = req.headers;
  const key = h.get("lnm-access-key");
  const passphrase = h.get("lnm-access-passphrase");
  const timestamp = h.get("lnm-access-timestamp");
  const signature = h.get("lnm-access-signature");
  if (!key || passphrase === null || timestamp === null || !signature) {
    throw unauthorized("Missing authentication headers", "MISSING_AUTH_HEADERS");
  }
  const account = checkKeyAndTime(store, key, passphrase, timestamp, now);
  const payload = restPayload(timestamp, req.method, req.url.pathname, signedData(req.url, req.body));
  if (!(await verifyHmacBase64(account.secret, payload, signature))) {
    throw unauthorized("Invalid signature", "INVALID_SIGNATURE");
  }
  return account;
}

/** Authenticate the stream's `authenticate` params: signature over `${timestamp}${nonce}`. */
export async function authenticateStream(
  store: Store,
  params: Record<string, unknown>,
  now = Date.now(),
): Promise<{ ok: true; accountId: string; apiKey: string } | { ok: false; message: string }> {
  const { key, passphrase, timestamp, nonce, signature } = params;
  if (
    typeof key !== "string" ||
    typeof passphrase !== "string" ||
    (typeof timestamp !== "number" && typeof timestamp !== "string") ||
    typeof nonce !== "string" ||
    typeof signature !== "string"
  ) {
    return { ok: false, message: "params must have key, passphrase, timestamp, nonce and signature" };
  }
  try {
    const account = checkKeyAndTime(store, key, passphrase, timestamp, now);
    if (!(await verifyHmacBase64(account.secret, streamPayload(timestamp, nonce), signature))) {
      return { ok: false, message: "Invalid signature" };
    }
    return { ok: true, accountId: account.id, apiKey: account.apiKey };
  } catch (e) {
    if (e instanceof ApiError) return { ok: false, message: e.message };
    throw e;
  }
}
