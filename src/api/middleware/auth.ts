/**
 * `Authorization: Bearer <jwt | api token>`. The user is reloaded on every request so a
 * deleted user or a changed role takes effect at once; the JWT's role claim is not trusted.
 */
import { eq } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import { getConfig } from "../../config";
import { getDb } from "../../db/client";
import { apiTokens } from "../../db/schema";
import { findActiveToken, findUserById } from "../../db/users";
import { apiTokenMatches, isApiTokenFormat, parseApiToken, verifyJwt } from "../../lib/tokens";
import type { AppEnv, AuthUser } from "../context";
import { ApiError } from "../errors";

const TOKEN_TOUCH_INTERVAL_MS = 60_000;

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

async function authenticate(env: Env, token: string, ctx: { waitUntil(p: Promise<unknown>): void }): Promise<AuthUser | null> {
  const db = getDb(env);
  if (isApiTokenFormat(token)) {
    const parsed = parseApiToken(token);
    if (!parsed) return null;
    const row = await findActiveToken(db, parsed.id);
    if (!row || !(await apiTokenMatches(parsed.secret, row.secretHash))) return null;
    const user = await findUserById(db, row.userId);
    if (!user) return null;
    const now = Date.now();
    if (!row.lastUsedAt || now - row.lastUsedAt > TOKEN_TOUCH_INTERVAL_MS) {
      ctx.waitUntil(db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, row.id)).run().then(() => undefined, () => undefined));
    }
    return { id: user.id, email: user.email, role: user.role, via: { kind: "token", tokenId: row.id } };
  }
  const claims = await verifyJwt(token, getConfig(env).JWT_SECRET);
  if (!claims) return null;
  const user = await findUserById(db, claims.sub);
  // Logout-all and a password change bump the version: older JWTs stop working at once.
  if (!user || (claims.ver ?? 0) !== user.tokenVersion) return null;
  return { id: user.id, email: user.email, role: user.role, via: { kind: "jwt" } };
}

/**
 * Browsers cannot set headers on a WebSocket: an upgrade request may carry the token as
 * `?access_token=` instead (only upgrades; request logs record the path, never the query).
 */
function upgradeToken(c: { req: { header(name: string): string | undefined; query(name: string): string | undefined } }): string | null {
  return c.req.header("upgrade")?.toLowerCase() === "websocket" ? (c.req.query("access_token") ?? null) : null;
}

export const requireAuth = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearerToken(c.req.header("authorization")) ?? upgradeToken(c);
  if (!token) throw new ApiError("unauthenticated", "Missing bearer token", undefined, { "www-authenticate": "Bearer" });
  const user = await authenticate(c.env, token, c.executionCtx);
  if (!user) throw new ApiError("unauthenticated", "Invalid or expired token", undefined, { "www-authenticate": "Bearer" });
  c.set("user", user);
  c.set("logger", c.get("logger").child({ userId: user.id }));
  await next();
});

export const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  if (c.get("user").role !== "admin") throw new ApiError("forbidden", "Operator role required");
  await next();
});
