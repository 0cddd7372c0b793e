/**
 * The steps of opening the stream that need no client state: the WebSocket upgrade (with its
 * HTTP errors classified) and the authenticate request (a refusal is permanent).
 */
import { classifyHttpError, LnMarketsError } from "./errors.js";
import type { LnMarketsCredentials } from "./rest-client.js";
import { AuthenticateResult } from "./schemas.js";
import { type HmacSigner, randomNonceHex, signStreamAuth } from "./signing.js";
import type { StreamClientOptions } from "./stream-types.js";
import { streamFetchUrl } from "./transport.js";

/** JSON-RPC error code LN Markets' stream uses for "too many messages". */
const RPC_RATE_LIMITED = -32029;

/**
 * Fetches the stream URL with `Upgrade: websocket` and returns the (not yet accepted) socket.
 * @throws LnMarketsError classified from the HTTP answer when the upgrade is refused.
 */
export async function upgradeStreamSocket(endpoints: StreamClientOptions["endpoints"]): Promise<WebSocket> {
  const res = await endpoints.fetch(streamFetchUrl(endpoints.streamUrl), { headers: { Upgrade: "websocket" } });
  const ws = res.webSocket;
  if (ws !== null && ws !== undefined) return ws;
  const text = await res.text().catch(() => "");
  throw res.status >= 400
    ? classifyHttpError({ status: res.status, bodyText: text, retryAfter: res.headers.get("retry-after"), method: "GET", path: "/v1 (upgrade)", nowMs: Date.now() })
    : new LnMarketsError({ kind: "temporary", code: "network", message: `LN Markets stream: upgrade refused (${res.status})`, status: res.status });
}

/** Any failure of an attempt as an LnMarketsError (unknown ones are temporary network errors). */
export function toStreamAttemptError(e: unknown): LnMarketsError {
  return e instanceof LnMarketsError
    ? e
    : new LnMarketsError({ kind: "temporary", code: "network", message: `LN Markets stream: ${e instanceof Error ? e.message : String(e)}`, cause: e });
}

/**
 * Sends the signed `authenticate` request through `request`.
 * @throws LnMarketsError permanent `unauthorized` when refused (bad keys: retrying risks an IP
 * ban); a rate-limited answer is rethrown as it is.
 */
export async function authenticateStream(
  request: (method: string, params?: unknown) => Promise<unknown>,
  creds: LnMarketsCredentials,
  signer: HmacSigner,
): Promise<void> {
  const timestamp = Date.now();
  const nonce = randomNonceHex();
  const signature = await signStreamAuth(signer, timestamp, nonce);
  let result: unknown;
  try {
    result = await request("authenticate", { key: creds.key, signature, timestamp, passphrase: creds.passphrase, nonce });
  } catch (e) {
    // A refusal is final (bad keys: retrying risks an IP ban); being rate limited is not.
    if (e instanceof LnMarketsError && e.code === "stream_rpc" && e.rpcCode !== RPC_RATE_LIMITED && !/rate|too many/i.test(e.message)) {
      throw new LnMarketsError({ kind: "permanent", code: "unauthorized", message: `LN Markets stream authenticate refused: ${e.message}`, cause: e });
    }
    throw e;
  }
  const parsed = AuthenticateResult.safeParse(result);
  if (!parsed.success || !parsed.data.authenticated) {
    throw new LnMarketsError({ kind: "permanent", code: "unauthorized", message: "LN Markets stream authenticate: not authenticated" });
  }
}
