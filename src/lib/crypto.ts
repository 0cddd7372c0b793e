/**
 * Password hashing, token hashing and constant-time comparison through WebCrypto.
 *
 * Passwords: PBKDF2-SHA256 at OWASP's 600,000 iterations (issue 22). Deployed Workers refuse
 * more than 100,000 iterations per deriveBits call, so the 600,000 run as six chained
 * 100,000-iteration derivations (each one's output is the next one's input, same salt): the
 * same sequential work, which a GPU cannot split either. With a pepper (the PASSWORD_PEPPER
 * secret) the input is HMAC-SHA256(pepper, password), so a stolen D1 alone cannot be guessed
 * against. Stored as `pbkdf2-sha256$iterations$salt$hash[$pepper]`; a hash with fewer
 * iterations or without the pepper still verifies and is re-hashed on the next login.
 */
import { fromBase64, randomBytes, toBase64, toBase64Url, toHex, utf8 } from "./encoding";

export const PBKDF2_ITERATIONS = 600_000;
/** The most a deployed Worker's deriveBits accepts. */
export const PBKDF2_ROUND = 100_000;
const PBKDF2_PREFIX = "pbkdf2-sha256";
const PEPPER_MARK = "pepper";

async function pbkdf2(input: Uint8Array<ArrayBuffer>, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey("raw", input, "PBKDF2", false, ["deriveBits"]);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256));
}

async function passwordInput(password: string, pepper: string | undefined): Promise<Uint8Array<ArrayBuffer>> {
  if (!pepper) return utf8(password);
  const k = await crypto.subtle.importKey("raw", utf8(pepper), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, utf8(password)));
}

/** `iterations` as chained rounds of at most PBKDF2_ROUND. */
async function stretch(input: Uint8Array<ArrayBuffer>, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array<ArrayBuffer>> {
  let out = input;
  for (let left = iterations; left > 0; left -= PBKDF2_ROUND) out = await pbkdf2(out, salt, Math.min(left, PBKDF2_ROUND));
  return out;
}

/** Hash a password with a random 16-byte salt, PBKDF2_ITERATIONS, and the pepper if given. */
export async function hashPassword(password: string, pepper?: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await stretch(await passwordInput(password, pepper), salt, PBKDF2_ITERATIONS);
  return `${PBKDF2_PREFIX}$${PBKDF2_ITERATIONS}$${toBase64(salt)}$${toBase64(hash)}${pepper ? `$${PEPPER_MARK}` : ""}`;
}

export interface PasswordCheck {
  ok: boolean;
  /** The stored hash is weaker than today's scheme: store a fresh hash after a good login. */
  needsRehash: boolean;
}

/** Verify a password against a stored hash in constant time. */
export async function checkPassword(password: string, stored: string, pepper?: string): Promise<PasswordCheck> {
  const [prefix, iter, salt, hash, mark, extra] = stored.split("$");
  const fail = { ok: false, needsRehash: false };
  if (prefix !== PBKDF2_PREFIX || !iter || !salt || !hash || extra !== undefined) return fail;
  if (mark !== undefined && mark !== PEPPER_MARK) return fail;
  const iterations = Number(iter);
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > PBKDF2_ITERATIONS) return fail;
  const peppered = mark === PEPPER_MARK;
  if (peppered && !pepper) return fail; // the pepper secret is gone: nothing can verify
  const actual = await stretch(await passwordInput(password, peppered ? pepper : undefined), fromBase64(salt), iterations);
  const ok = timingSafeEqual(actual, fromBase64(hash));
  return { ok, needsRehash: ok && (iterations < PBKDF2_ITERATIONS || (!!pepper && !peppered)) };
}

/** Verify a password against a stored hash in constant time. */
export async function verifyPassword(password: string, stored: string, pepper?: string): Promise<boolean> {
  return (await checkPassword(password, stored, pepper)).ok;
}

/**
 * A dummy hash so a login for an unknown email costs the same as one for a known email
 * (no user enumeration through timing): full iterations, and the pepper step when there is one.
 */
export function dummyPasswordHash(pepper?: string): string {
  return `${PBKDF2_PREFIX}$${PBKDF2_ITERATIONS}$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=${pepper ? `$${PEPPER_MARK}` : ""}`;
}

/** Constant-time equality of two byte strings (workerd's `timingSafeEqual` extension). */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  return crypto.subtle.timingSafeEqual(a, b);
}

export async function sha256Hex(s: string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", utf8(s)));
}

/** A random secret of `bytes` bytes as base64url text. */
export function randomSecret(bytes = 32): string {
  return toBase64Url(randomBytes(bytes));
}

/** Base64 HMAC-SHA256 of `message` with a text key. */
export async function hmacSha256Base64(key: string, message: string): Promise<string> {
  const k = await crypto.subtle.importKey("raw", utf8(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return toBase64(await crypto.subtle.sign("HMAC", k, utf8(message)));
}

/** Hex HMAC-SHA256 of `message` with a text key. */
export async function hmacSha256Hex(key: string, message: string): Promise<string> {
  const k = await crypto.subtle.importKey("raw", utf8(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return toHex(await crypto.subtle.sign("HMAC", k, utf8(message)));
}
