/**
 * `Authorization: Bearer <jwt | api token>`, or `?ticket=` on a WebSocket upgrade. The user is
 * reloaded on every request so a deleted user or a changed role takes effect at once; the
 * JWT's role claim is not trusted. An API token's scopes are enforced here, in one place, by
 * method and route prefix (`requiredScope`).
 */
import { eq } from "drizzle-orm";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { getConfig } from "../../config";
import { getDb } from "../../db/client";
import { apiTokens } from "../../db/schema";
import { findActiveToken, findUserById } from "../../db/users";
import { apiTokenMatches, consumeWsTicket, isApiTokenFormat, parseApiToken, parseScopes, verifyJwt } from "../../lib/tokens";
import { TOKEN_SCOPES, type AppEnv, type AuthUser, type TokenScope } from "../context";
import { ApiError } from "../errors";

const TOKEN_TOUCH_INTERVAL_MS = 60_000;

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

type AuthOutcome = { user: AuthUser } | { error: string };

async function authenticate(env: Env, token: string, ctx: { waitUntil(p: Promise<unknown>): void }): Promise<AuthOutcome> {
  const db = getDb(env);
  const invalid = { error: "Invalid or expired token" };
  if (isApiTokenFormat(token)) {
    const parsed = parseApiToken(token);
    if (!parsed) return invalid;
    const row = await findActiveToken(db, parsed.id);
    if (!row || !(await apiTokenMatches(parsed.secret, row.secretHash))) return { error: "Invalid or revoked API token" };
    const now = Date.now();
    if (row.expiresAt != null && row.expiresAt <= now) return { error: "API token expired" };
    const user = await findUserById(db, row.userId);
    if (!user) return invalid;
    if (!row.lastUsedAt || now - row.lastUsedAt > TOKEN_TOUCH_INTERVAL_MS) {
      ctx.waitUntil(db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, row.id)).run().then(() => undefined, () => undefined));
    }
    return { user: { id: user.id, email: user.email, role: user.role, via: { kind: "token", tokenId: row.id, scopes: parseScopes(row.scopes) } } };
  }
  const claims = await verifyJwt(token, getConfig(env).JWT_SECRET);
  if (!claims) return invalid;
  const user = await findUserById(db, claims.sub);
  // Logout-all and a password change bump the version: older JWTs stop working at once.
  if (!user || (claims.ver ?? 0) !== user.tokenVersion) return invalid;
  return { user: { id: user.id, email: user.email, role: user.role, via: { kind: "jwt" } } };
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** Operator surfaces: any method needs the `admin` scope. */
const ADMIN_PREFIXES = ["/v1/admin", "/metrics"];
/** Non-GET routes a `read` token may call: they change nothing of the trader's. */
const READ_WRITES = new Set(["POST /v1/auth/ws-ticket"]);

const under = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`);

/** The scope an API token needs for a request: by route prefix first, then by method. */
export function requiredScope(method: string, path: string): TokenScope {
  if (ADMIN_PREFIXES.some((p) => under(path, p))) return "admin";
  const m = method.toUpperCase();
  if (SAFE_METHODS.has(m) || READ_WRITES.has(`${m} ${path}`)) return "read";
  return "trade";
}

/** Scopes include the ones before them: `trade` may read, `admin` may trade. */
export function scopeAllows(scopes: readonly TokenScope[], needed: TokenScope): boolean {
  const rank = (s: TokenScope) => TOKEN_SCOPES.indexOf(s);
  return scopes.some((s) => rank(s) >= rank(needed));
}

const isUpgrade = (c: Context<AppEnv>) => c.req.header("upgrade")?.toLowerCase() === "websocket";

function unauthenticated(message: string): ApiError {
  return new ApiError("unauthenticated", message, undefined, { "www-authenticate": "Bearer" });
}

export const requireAuth = createMiddleware<AppEnv>(async (c, next) => {
  const bearer = bearerToken(c.req.header("authorization"));
  let user: AuthUser;
  if (bearer) {
    const out = await authenticate(c.env, bearer, c.executionCtx);
    if ("error" in out) throw unauthenticated(out.error);
    user = out.user;
  } else if (isUpgrade(c) && c.req.query("ticket")) {
    // Browsers cannot set headers on a WebSocket: they open it with a single-use ticket from
    // POST /v1/auth/ws-ticket (valid 30 s), never with a long-lived token in the URL.
    const owner = await consumeWsTicket(c.env, c.req.query("ticket")!);
    const found = owner ? await findUserById(getDb(c.env), owner) : undefined;
    if (!found) throw unauthenticated("Invalid, used or expired ticket");
    user = { id: found.id, email: found.email, role: found.role, via: { kind: "ticket" } };
  } else {
    throw unauthenticated("Missing bearer token");
  }
  if (user.via.kind === "ticket" && !(SAFE_METHODS.has(c.req.method.toUpperCase()) && isUpgrade(c))) throw unauthenticated("A ticket opens a WebSocket only");
  if (user.via.kind === "token") {
    const needed = requiredScope(c.req.method, c.req.path);
    if (!scopeAllows(user.via.scopes, needed)) {
      throw new ApiError("insufficient_scope", `This API token lacks the ${needed} scope`, { needed, scopes: user.via.scopes });
    }
  }
  c.set("user", user);
  c.set("logger", c.get("logger").child({ userId: user.id }));
  await next();
});

export const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  if (c.get("user").role !== "admin") throw new ApiError("forbidden", "Operator role required");
  await next();
});
