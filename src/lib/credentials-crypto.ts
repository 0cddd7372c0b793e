/**
 * Exchange credentials at rest: AES-256-GCM through WebCrypto, a random 96-bit IV per
 * encryption, additional data bound to the account id (a ciphertext copied to another
 * account does not decrypt), stored as `v1:{keyId}:{iv}:{ciphertext}` (base64).
 * Keys come from the CREDENTIALS_KEYS secret: `{"current": id, "keys": {id: base64 key}}`.
 */
import { z } from "zod";
import { fromBase64, randomBytes, toBase64, utf8 } from "./encoding";

const KeyRing = z.object({
  current: z.string().min(1).regex(/^[A-Za-z0-9_-]+$/),
  keys: z.record(z.string(), z.string().refine((k) => fromBase64Safe(k)?.byteLength === 32, "each key must be 32 bytes, base64")),
}).refine((r) => r.current in r.keys, "current must name one of keys");

function fromBase64Safe(s: string): Uint8Array | null {
  try {
    return fromBase64(s);
  } catch {
    return null;
  }
}

export class CredentialsCryptoError extends Error {
  override readonly name = "CredentialsCryptoError";
}

export interface KeyRingHandle {
  currentId: string;
  ids: string[];
  key(id: string): Promise<CryptoKey>;
}

const ringCache = new Map<string, KeyRingHandle>();

/** Parses the CREDENTIALS_KEYS secret (cached per value). Throws without echoing key material. */
export function loadKeyRing(secret: string | undefined): KeyRingHandle {
  if (!secret) throw new CredentialsCryptoError("CREDENTIALS_KEYS is not configured");
  const hit = ringCache.get(secret);
  if (hit) return hit;
  let parsed: z.infer<typeof KeyRing>;
  try {
    parsed = KeyRing.parse(JSON.parse(secret));
  } catch {
    throw new CredentialsCryptoError("CREDENTIALS_KEYS is malformed: expected {current, keys: {id: base64 32-byte key}}");
  }
  const imported = new Map<string, Promise<CryptoKey>>();
  const handle: KeyRingHandle = {
    currentId: parsed.current,
    ids: Object.keys(parsed.keys),
    key(id) {
      const raw = parsed.keys[id];
      if (!raw) return Promise.reject(new CredentialsCryptoError(`unknown credentials key id ${id}`));
      let k = imported.get(id);
      if (!k) {
        k = crypto.subtle.importKey("raw", fromBase64(raw), "AES-GCM", false, ["encrypt", "decrypt"]);
        imported.set(id, k);
      }
      return k;
    },
  };
  ringCache.set(secret, handle);
  return handle;
}

export interface Sealed {
  value: string;
  keyId: string;
}

/** Encrypts `plaintext` for `accountId` with the current key. */
export async function seal(ring: KeyRingHandle, accountId: string, plaintext: string): Promise<Sealed> {
  const iv = randomBytes(12);
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: utf8(accountId) }, await ring.key(ring.currentId), utf8(plaintext));
  return { value: `v1:${ring.currentId}:${toBase64(iv)}:${toBase64(ct)}`, keyId: ring.currentId };
}

/** Decrypts a sealed value for `accountId`; tampering, a wrong account or key all throw. */
export async function open(ring: KeyRingHandle, accountId: string, sealed: string): Promise<{ plaintext: string; keyId: string; stale: boolean }> {
  const parts = sealed.split(":");
  if (parts.length !== 4 || parts[0] !== "v1") throw new CredentialsCryptoError("unsupported credentials format");
  const [, keyId, ivB64, ctB64] = parts as [string, string, string, string];
  try {
    const pt = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64(ivB64), additionalData: utf8(accountId) },
      await ring.key(keyId),
      fromBase64(ctB64),
    );
    return { plaintext: new TextDecoder().decode(pt), keyId, stale: keyId !== ring.currentId };
  } catch (e) {
    if (e instanceof CredentialsCryptoError) throw e;
    throw new CredentialsCryptoError("credentials could not be decrypted (tampered, wrong account or wrong key)");
  }
}
