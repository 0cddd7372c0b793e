/**
 * Webhook signatures (documented in the README, "Webhook signatures"):
 *
 *   x-lnma-timestamp: <unix seconds>
 *   x-lnma-signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>
 *
 * The timestamp is inside the signed string so a captured request cannot be replayed later
 * with a fresh timestamp; receivers reject timestamps outside a tolerance (5 min by default).
 * The `v1=` prefix leaves room for a second scheme during a rotation.
 */
import { hmacSha256Hex, timingSafeEqual } from "../lib/crypto";
import { utf8 } from "../lib/encoding";

export const SIGNATURE_HEADER = "x-lnma-signature";
export const TIMESTAMP_HEADER = "x-lnma-timestamp";
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** The headers to send with `body` signed by `secret` at `timestampSeconds`. */
export async function signWebhook(secret: string, body: string, timestampSeconds: number): Promise<Record<string, string>> {
  const ts = String(Math.floor(timestampSeconds));
  return { [TIMESTAMP_HEADER]: ts, [SIGNATURE_HEADER]: `v1=${await hmacSha256Hex(secret, `${ts}.${body}`)}` };
}

export type VerifyResult = { ok: true } | { ok: false; reason: "missing_headers" | "bad_timestamp" | "stale" | "mismatch" };

/**
 * Verifies a received webhook the way a receiver should: recompute the HMAC over the raw body
 * bytes as received, compare in constant time, and bound the timestamp's age.
 */
export async function verifyWebhookSignature(
  secret: string,
  input: { body: string; timestamp: string | null | undefined; signature: string | null | undefined },
  opts: { nowSeconds?: number; toleranceSeconds?: number } = {},
): Promise<VerifyResult> {
  if (!input.timestamp || !input.signature) return { ok: false, reason: "missing_headers" };
  if (!/^\d{1,12}$/.test(input.timestamp)) return { ok: false, reason: "bad_timestamp" };
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(input.timestamp)) > (opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return { ok: false, reason: "stale" };
  const expected = await hmacSha256Hex(secret, `${input.timestamp}.${input.body}`);
  // Several `v1=` values may be sent (comma separated) while a secret rotates.
  const given = input.signature.split(",").map((s) => s.trim()).filter((s) => s.startsWith("v1=")).map((s) => s.slice(3));
  return given.some((g) => timingSafeEqual(utf8(g), utf8(expected))) ? { ok: true } : { ok: false, reason: "mismatch" };
}
