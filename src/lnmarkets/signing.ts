/**
 * LN Markets request signing with WebCrypto.
 *
 * The canonical strings are byte-identical to the official SDK's
 * (`@ln-markets/sdk` rest/v3/internal/signing.ts and stream/v1/internal/signing.ts); the SDK
 * uses node:crypto, which we avoid so the client runs in any Workers isolate without
 * nodejs_compat. test/lnmarkets/signing.test.ts proves equality against the SDK itself.
 */

const encoder = new TextEncoder();

/** Inputs of the REST canonical string. */
export interface SignaturePayloadInput {
  /** Unix milliseconds, sent as `lnm-access-timestamp`. */
  timestamp: number;
  /** HTTP method in any case; it is lower-cased in the payload. */
  method: string;
  /** URL pathname including the `/v3` prefix. */
  pathname: string;
  /** Exact JSON body sent, or `url.search` (with `?`) for a query, or "". */
  data: string;
}

/**
 * Builds the REST canonical string `${timestamp}${method.toLowerCase()}${pathname}${data}`.
 */
export function buildSignaturePayload(input: SignaturePayloadInput): string {
  return `${input.timestamp}${input.method.toLowerCase()}${input.pathname}${input.data}`;
}

/**
 * The `data` part of the canonical string, computed the way the SDK does it: the body string
 * when there is one, else the URL's search (which is "" or starts with "?").
 */
export function signatureData(url: URL, body: string | undefined): string {
  return body !== undefined && body !== "" ? body : url.search;
}

/** Builds the stream `authenticate` payload `${timestamp}${nonce}`. */
export function buildStreamAuthPayload(timestamp: number, nonce: string): string {
  return `${timestamp}${nonce}`;
}

/**
 * An HMAC-SHA256 signer bound to one secret. The CryptoKey is imported once and reused: an
 * account DO signs many requests with the same secret, and importKey is not free.
 */
export class HmacSigner {
  #key: Promise<CryptoKey> | undefined;
  readonly #secret: string;

  constructor(secret: string) {
    this.#secret = secret;
  }

  /** base64(HMAC-SHA256(secret, payload)). */
  async sign(payload: string): Promise<string> {
    this.#key ??= crypto.subtle.importKey(
      "raw",
      encoder.encode(this.#secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const mac = await crypto.subtle.sign("HMAC", await this.#key, encoder.encode(payload));
    return bytesToBase64(new Uint8Array(mac));
  }

  /** Never expose the secret through logs or inspection. */
  toJSON(): string {
    return "[HmacSigner]";
  }
}

/**
 * base64(HMAC-SHA256(secret, payload)) in one call (imports the key every time; prefer
 * {@link HmacSigner} on hot paths).
 */
export async function hmacSha256Base64(secret: string, payload: string): Promise<string> {
  return new HmacSigner(secret).sign(payload);
}

/** Signs a REST request: base64 HMAC of the canonical string. */
export async function signRestRequest(
  signer: HmacSigner,
  input: SignaturePayloadInput,
): Promise<string> {
  return signer.sign(buildSignaturePayload(input));
}

/** 16 random bytes as 32 lowercase hex characters (the stream `authenticate` nonce). */
export function randomNonceHex(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Signature of the stream `authenticate` method: base64 HMAC(secret, timestamp + nonce). */
export async function signStreamAuth(
  signer: HmacSigner,
  timestamp: number,
  nonce: string,
): Promise<string> {
  return signer.sign(buildStreamAuthPayload(timestamp, nonce));
}

function bytesToBase64(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}
