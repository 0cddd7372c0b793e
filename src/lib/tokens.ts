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

const SCOPE_ORDER = ["read", "trade", "admin"] as const;
type Scope = (typeof SCOPE_ORDER)[number];

/** Stored scopes (`read,trade`) as a list in canonical order; unknown names are dropped. */
export function parseScopes(stored: string): Scope[] {
  const set = new Set(stored.split(",").map((s) => s.trim()));
  return SCOPE_ORDER.filter((s) => set.has(s));
}

export function formatScopes(scopes: readonly string[]): string {
  return SCOPE_ORDER.filter((s) => scopes.includes(s)).join(",");
}

/** WebSocket tickets: `wst_<secret>`, valid this long, used once. */
export const WS_TICKET_TTL_MS = 30_000;

export async function newWsTicket(): Promise<{ ticket: string; id: string }> {
  const ticket = `wst_${randomSecret(32)}`;
  return { ticket, id: await sha256Hex(ticket) };
}

/**
 * Uses a ticket: deletes its row (so a second use finds nothing) and returns its owner if it
 * had not expired. One statement, so two concurrent uses cannot both succeed.
 */
export async function consumeWsTicket(env: Pick<Env, "DB">, ticket: string, now = Date.now()): Promise<string | null> {
  if (!/^wst_[A-Za-z0-9_-]{43}$/.test(ticket)) return null;
  const row = await env.DB.prepare("DELETE FROM ws_tickets WHERE id = ? RETURNING user_id, expires_at")
    .bind(await sha256Hex(ticket))
    .first<{ user_id: string; expires_at: number }>();
  return row && row.expires_at > now ? row.user_id : null;
}
