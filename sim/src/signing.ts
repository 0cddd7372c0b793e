/**
 * LN Markets request signing with WebCrypto, byte-for-byte the algorithm of `@ln-markets/sdk`
 * (src/rest/v3/internal/signing.ts and src/stream/v1/internal/signing.ts), which uses
 * node:crypto and so cannot run in Workers. The simulator verifies with it, and tests or the
 * platform may import it to sign requests to the simulator. No cloudflare:* imports.
 */

const encoder = new TextEncoder();

/** REST canonical string: `${timestamp}${method.toLowerCase()}${pathname}${data}`. */
export function restPayload(timestamp: number | string, method: string, pathname: string, data: string): string {
  return `${timestamp}${method.toLowerCase()}${pathname}${data}`;
}

/** Stream `authenticate` payload: `${timestamp}${nonce}`. */
export function streamPayload(timestamp: number | string, nonce: string): string {
  return `${timestamp}${nonce}`;
}

async function hmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
}

/** base64(HMAC-SHA256(secret, payload)). */
export async function hmacBase64(secret: string, payload: string): Promise<string> {
  const sig = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(payload));
  return bytesToBase64(new Uint8Array(sig));
}

/** Constant-time check of a base64 signature (crypto.subtle.verify compares in constant time). */
export async function verifyHmacBase64(secret: string, payload: string, signature: string): Promise<boolean> {
  const bytes = base64ToBytes(signature);
  if (!bytes || bytes.length !== 32) return false;
  return crypto.subtle.verify("HMAC", await hmacKey(secret), bytes, encoder.encode(payload));
}

/**
 * The `data` part of the canonical string, as the SDK computes it: the body string when there
 * is one, otherwise `url.search` (with its `?`, or "" when there is no query).
 */
export function signedData(url: URL, body: string): string {
  return body || url.search;
}

export interface Credentials {
  key: string;
  secret: string;
  passphrase: string;
}

/**
 * Headers for a signed REST request, as the SDK sends them. `url` must be the full URL
 * (pathname including `/v3`); `body` the exact string sent, or "" for none.
 */
export async function signedHeaders(
  creds: Credentials,
  method: string,
  url: string | URL,
  body = "",
  timestamp: number = Date.now(),
): Promise<Record<string, string>> {
  const u = typeof url === "string" ? new URL(url) : url;
  const signature = await hmacBase64(creds.secret, restPayload(timestamp, method, u.pathname, signedData(u, body)));
  return {
    "lnm-access-key": creds.key,
    "lnm-access-passphrase": creds.passphrase,
    "lnm-access-timestamp": String(timestamp),
    "lnm-access-signature": signature,
  };
}

/** Params of the stream `authenticate` call, as the SDK builds them (16 random bytes of nonce). */
export async function streamAuthParams(
  creds: Credentials,
  timestamp: number = Date.now(),
  nonce: string = randomHex(16),
): Promise<{ key: string; passphrase: string; timestamp: number; nonce: string; signature: string }> {
  const signature = await hmacBase64(creds.secret, streamPayload(timestamp, nonce));
  return { key: creds.key, passphrase: creds.passphrase, timestamp, nonce, signature };
}

export function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function bytesToBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function base64ToBytes(b64: string): Uint8Array | null {
  try {
    const s = atob(b64);
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}
