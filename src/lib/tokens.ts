/**
 * Session JWTs (HS256, explicit algorithm on both sides, expiry) and API tokens
 * (`lnma_<id>_<secret>`: the id finds the row, the secret is compared by SHA-256 in
 * constant time; only the hash is stored and the token is shown once).
 */
import { sign, verify } from "hono/jwt";
import { randomSecret, sha256Hex, timingSafeEqual } from "./crypto";
import { utf8 } from "./encoding";

export const JWT_TTL_SECONDS = 12 * 60 * 60;
const JWT_ALG = "HS256" as const;

export interface SessionClaims {
  sub: string;
  role: string;
  iat: number;
  exp: number;
  /** The user's token version when issued; logout-all and a password change bump it (absent = 0). */
  ver?: number;
}

export async function issueJwt(userId: string, role: string, secret: string, nowMs = Date.now(), version = 0) {
  const iat = Math.floor(nowMs / 1000);
  const exp = iat + JWT_TTL_SECONDS;
  const token = await sign({ sub: userId, role, iat, exp, ver: version }, secret, JWT_ALG);
  return { token, expiresAt: exp * 1000 };
}

/** Verifies signature (HS256 only), expiry and shape; returns null for anything invalid. */
export async function verifyJwt(token: string, secret: string): Promise<SessionClaims | null> {
  try {
    const p = await verify(token, secret, { alg: JWT_ALG, exp: true, nbf: true, iat: true });
    if (typeof p.sub !== "string" || typeof p.exp !== "number") return null;
    return p as unknown as SessionClaims;
  } catch {
    return null;
  }
}

const API_TOKEN_RE = /^lnma_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

export function isApiTokenFormat(s: string): boolean {
  return s.startsWith("lnma_");
}

/** A new API token: its row id, the full token (shown once) and the hash to store. */
export async function newApiToken(): Promise<{ id: string; token: string; secretHash: string }> {
  const id = crypto.randomUUID().replaceAll("-", "");
  const secret = randomSecret(32);
  return { id: `tok_${id}`, token: `lnma_${id}_${secret}`, secretHash: await sha256Hex(secret) };
}

export function parseApiToken(token: string): { id: string; secret: string } | null {
  const m = API_TOKEN_RE.exec(token);
  return m ? { id: `tok_${m[1]}`, secret: m[2]! } : null;
}

export async function apiTokenMatches(secret: string, storedHash: string): Promise<boolean> {
  return timingSafeEqual(utf8(await sha256Hex(secret)), utf8(storedHash));
}
