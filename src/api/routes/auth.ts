import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { and, desc, eq, gt, isNull, lte, sql } from "drizzle-orm";
import { getConfig } from "../../config";
import { getDb } from "../../db/client";
import { apiTokens, passwordResets, users, wsTickets } from "../../db/schema";
import { findUserByEmail, publicUser } from "../../db/users";
import { checkPassword, dummyPasswordHash, hashPassword } from "../../lib/crypto";
import { ValidationError } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { formatScopes, issueJwt, newApiToken, newWsTicket, parseScopes, WS_TICKET_TTL_MS } from "../../lib/tokens";
import { TOKEN_SCOPES, type AppEnv } from "../context";
import { ApiError, notFound } from "../errors";
import { clearFailures, lockedFor, recordFailure, throttleKey } from "../login-throttle";
import { consumePasswordReset, passwordResetValid, requestPasswordReset, RESET_TOKEN_PATTERN, RESET_TTL_MS } from "../password-reset";
import { clientIp, rateLimited, takeToken } from "../rate-limit";
import { requireAuth } from "../middleware/auth";
import { commonErrors, errorResponses, json, jsonBody, router, security, z } from "../openapi";
import { PublicUser } from "./me";

const Email = z.string().trim().toLowerCase().pipe(z.email().max(254)).openapi({ example: "trader@example.com" });
const Password = z.string().min(8, "Password must be at least 8 characters").max(256);
const Credentials = z.strictObject({ email: Email, password: Password }).openapi("Credentials");
const LoginBody = z.strictObject({ email: Email, password: z.string().min(1).max(256) }).openapi("Login");
const Session = z.object({ token: z.string(), expiresAt: z.number().int() }).openapi("Session");
const Scope = z.enum(TOKEN_SCOPES);
const CreateToken = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scopes: z.array(Scope).min(1).max(3).openapi({
    description: "`read`: GET only; `trade`: also changes accounts, automations, orders and settings; `admin`: also /v1/admin (operators only). Each includes the ones before it.",
    example: ["read"],
  }),
  expiresInDays: z.number().int().min(1).max(3650).optional().openapi({ description: "Days until the token stops working (401); none = no expiry" }),
}).openapi("CreateApiToken");
const TokenFields = { id: z.string(), name: z.string(), scopes: z.array(Scope), expiresAt: z.number().nullable(), createdAt: z.number() };
const CreatedToken = z.object({ ...TokenFields, token: z.string() }).openapi("CreatedApiToken");
const TokenInfo = z.object({ ...TokenFields, lastUsedAt: z.number().nullable() }).openapi("ApiToken");
const WsTicket = z.object({ ticket: z.string(), expiresAt: z.number().int() }).openapi("WsTicket");
const TokenId = z.object({ id: z.string().max(100) });

/** Before any hashing: one token per IP (when known) and one per email. */
async function limitAuthAttempt(c: Context<AppEnv>, email: string): Promise<void> {
  const ip = clientIp(c);
  if (ip) await takeToken(c.env, "RL_AUTH_IP", ip, "attempts from this address");
  await takeToken(c.env, "RL_AUTH_ACCOUNT", email, "attempts for this account");
}

/** Active API tokens per user (issue 22: bounded growth); expired ones count until revoked. */
export const MAX_API_TOKENS = 20;
/** Unused, unexpired WebSocket tickets per user. */
export const MAX_WS_TICKETS = 10;
const DAY_MS = 86_400_000;

const ResetRequest = z.strictObject({ email: Email }).openapi("PasswordResetRequest");
const ResetAccepted = z.object({ message: z.string() }).openapi("PasswordResetAccepted");
const ResetConfirm = z.strictObject({
  token: z.string().trim().max(100).regex(RESET_TOKEN_PATTERN, "token is the pwr_… value from the reset email"),
  password: Password,
}).openapi("PasswordResetConfirm");
const invalidResetToken = () => ValidationError.field("token", "token is unknown, already used or expired; ask for a new one with POST /v1/auth/password-reset");

const PasswordChange = z.strictObject({ currentPassword: z.string().min(1).max(256), newPassword: Password }).openapi("PasswordChange");

const isUniqueViolation = (e: unknown) => e instanceof Error && /UNIQUE constraint failed/i.test(e.message + String((e as { cause?: unknown }).cause ?? ""));

export const authRoutes = router()
  .openapi(
    createRoute({
      method: "post", path: "/register", tags: ["auth"], summary: "Create a user",
      description: "429 `rate_limited` with `retry-after` when the IP or the email is over its limit.",
      request: jsonBody(Credentials),
      responses: { 201: json(z.object({ user: PublicUser, token: z.string(), expiresAt: z.number() }), "Registered"), 409: errorResponses[409], 429: errorResponses[429], ...commonErrors },
    }),
    async (c) => {
      const { email, password } = c.req.valid("json");
      await limitAuthAttempt(c, email);
      const db = getDb(c.env);
      const pepper = getConfig(c.env).PASSWORD_PEPPER;
      // Hash first, so a taken email costs what a new one does (no timing tell); that it is
      // taken is said (409), at the pace the per-IP and per-email limits allow.
      const passwordHash = await hashPassword(password, pepper);
      if (await findUserByEmail(db, email)) throw new ApiError("conflict", "Email already registered", { field: "email" });
      const now = Date.now();
      const row = { id: newId("usr"), email, passwordHash, createdAt: now, updatedAt: now };
      try {
        await db.insert(users).values(row).run();
      } catch (e) {
        if (isUniqueViolation(e)) throw new ApiError("conflict", "Email already registered", { field: "email" });
        throw e;
      }
      const user = (await db.select().from(users).where(eq(users.id, row.id)).get())!;
      const session = await issueJwt(user.id, user.role, getConfig(c.env).JWT_SECRET, Date.now(), user.tokenVersion);
      c.get("logger").info("user.registered", { userId: user.id });
      return c.json({ user: publicUser(user), ...session }, 201);
    },
  )
  .openapi(
    createRoute({
      method: "post", path: "/login", tags: ["auth"], summary: "Log in: a JWT valid 12 h",
      description: "429 `rate_limited` with `retry-after` when the IP or the email is over its limit, or after repeated failures from this IP (progressive lockout, at most 15 min).",
      request: jsonBody(LoginBody),
      responses: { 200: json(Session, "Logged in"), 429: errorResponses[429], ...commonErrors },
    }),
    async (c) => {
      const { email, password } = c.req.valid("json");
      await limitAuthAttempt(c, email);
      const db = getDb(c.env);
      const key = await throttleKey(email, clientIp(c));
      const locked = await lockedFor(db, key);
      if (locked) throw rateLimited("failed logins", Math.ceil(locked / 1000));
      const pepper = getConfig(c.env).PASSWORD_PEPPER;
      const user = await findUserByEmail(db, email);
      // Hash even for an unknown email so timing does not tell which emails exist.
      const check = await checkPassword(password, user?.passwordHash ?? dummyPasswordHash(pepper), pepper);
      if (!user || !check.ok) {
        const lock = await recordFailure(db, key);
        c.get("logger").warn("auth.login_failed", { reason: user ? "password" : "unknown_email", lockedMs: lock });
        throw new ApiError("invalid_credentials", "Invalid email or password");
      }
      await clearFailures(db, key);
      if (check.needsRehash) {
        // Transparent upgrade: fewer iterations or no pepper yet. Guarded on the old hash so a
        // password changed meanwhile is not overwritten.
        await db.update(users).set({ passwordHash: await hashPassword(password, pepper), updatedAt: Date.now() })
          .where(and(eq(users.id, user.id), eq(users.passwordHash, user.passwordHash))).run();
        c.get("logger").info("auth.password_rehashed", { userId: user.id });
      }
      return c.json(await issueJwt(user.id, user.role, getConfig(c.env).JWT_SECRET, Date.now(), user.tokenVersion), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post", path: "/tokens", tags: ["auth"], summary: "Create an API token (shown once)", security, middleware: [requireAuth] as const,
      description: "A login session only (403 from an API token). 409 `limit_reached` past 20 active tokens. 403 when asking for `admin` without the operator role.",
      request: jsonBody(CreateToken),
      responses: { 201: json(CreatedToken, "Created; the token is not retrievable again"), 403: errorResponses[403], 409: errorResponses[409], ...commonErrors },
    }),
    async (c) => {
      const { name, scopes: asked, expiresInDays } = c.req.valid("json");
      const user = c.get("user");
      const scopes = parseScopes(formatScopes(asked));
      if (scopes.includes("admin") && user.role !== "admin") throw new ApiError("forbidden", "The admin scope is for operators only");
      // From a login session only: a stolen token must not mint others that outlive its revocation.
      if (user.via.kind !== "jwt") throw new ApiError("forbidden", "Log in to create API tokens; an API token cannot create one");
      const db = getDb(c.env);
      const active = await db.select({ n: sql<number>`count(*)` }).from(apiTokens).where(and(eq(apiTokens.userId, user.id), isNull(apiTokens.revokedAt))).get();
      if ((active?.n ?? 0) >= MAX_API_TOKENS) throw new ApiError("limit_reached", `At most ${MAX_API_TOKENS} API tokens; revoke one first`, { limit: MAX_API_TOKENS });
      const t = await newApiToken();
      const createdAt = Date.now();
      const expiresAt = expiresInDays ? createdAt + expiresInDays * DAY_MS : null;
      await db.insert(apiTokens).values({ id: t.id, userId: user.id, name, secretHash: t.secretHash, scopes: formatScopes(scopes), expiresAt, createdAt }).run();
      c.get("logger").info("auth.token_created", { tokenId: t.id, scopes, expiresAt });
      return c.json({ id: t.id, name, scopes, expiresAt, token: t.token, createdAt }, 201);
    },
  )
  .openapi(
    createRoute({
      method: "get", path: "/tokens", tags: ["auth"], summary: "List API tokens (never their values)", security, middleware: [requireAuth] as const,
      responses: { 200: json(z.object({ data: z.array(TokenInfo) }), "Tokens"), ...commonErrors },
    }),
    async (c) => {
      const rows = await getDb(c.env)
        .select({ id: apiTokens.id, name: apiTokens.name, scopes: apiTokens.scopes, expiresAt: apiTokens.expiresAt, createdAt: apiTokens.createdAt, lastUsedAt: apiTokens.lastUsedAt })
        .from(apiTokens)
        .where(and(eq(apiTokens.userId, c.get("user").id), isNull(apiTokens.revokedAt)))
        .orderBy(desc(apiTokens.createdAt))
        .all();
      return c.json({ data: rows.map((r) => ({ ...r, scopes: parseScopes(r.scopes) })) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete", path: "/tokens/{id}", tags: ["auth"], summary: "Revoke an API token", security, middleware: [requireAuth] as const,
      request: { params: TokenId },
      responses: { 204: { description: "Revoked" }, ...commonErrors },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const res = await getDb(c.env)
        .update(apiTokens)
        .set({ revokedAt: Date.now() })
        .where(and(eq(apiTokens.id, id), eq(apiTokens.userId, c.get("user").id), isNull(apiTokens.revokedAt)))
        .run();
      if (!res.meta.changes) throw notFound("Token");
      c.get("logger").info("auth.token_revoked", { tokenId: id });
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "post", path: "/ws-ticket", tags: ["auth"], security, middleware: [requireAuth] as const,
      summary: "A single-use ticket to open a WebSocket (valid 30 s): `GET /v1/simulations/:id/stream?ticket=…` or `GET /v1/accounts/:id/positions/stream?ticket=…` with `Upgrade: websocket`",
      description: "Browsers cannot set headers on a WebSocket; the ticket replaces a long-lived token in the URL. A `read` API token may ask for one. 429 `rate_limited` with `retry-after` past 10 unused tickets.",
      responses: { 201: json(WsTicket, "Ticket"), 429: errorResponses[429], ...commonErrors },
    }),
    async (c) => {
      const user = c.get("user");
      const db = getDb(c.env);
      const now = Date.now();
      await db.delete(wsTickets).where(and(eq(wsTickets.userId, user.id), lte(wsTickets.expiresAt, now))).run();
      const open = await db.select({ n: sql<number>`count(*)` }).from(wsTickets).where(and(eq(wsTickets.userId, user.id), gt(wsTickets.expiresAt, now))).get();
      if ((open?.n ?? 0) >= MAX_WS_TICKETS) throw rateLimited("unused WebSocket tickets", Math.ceil(WS_TICKET_TTL_MS / 1000));
      const t = await newWsTicket();
      const expiresAt = now + WS_TICKET_TTL_MS;
      await db.insert(wsTickets).values({ id: t.id, userId: user.id, expiresAt, createdAt: now }).run();
      return c.json({ ticket: t.ticket, expiresAt }, 201);
    },
  )
  .openapi(
    createRoute({
      method: "post", path: "/logout-all", tags: ["auth"], security, middleware: [requireAuth] as const,
      summary: "End every session: all login JWTs of this user stop working at once (API tokens are revoked one by one)",
      responses: { 204: { description: "Every JWT revoked" }, ...commonErrors },
    }),
    async (c) => {
      const user = c.get("user");
      await getDb(c.env).update(users).set({ tokenVersion: sql`${users.tokenVersion} + 1`, updatedAt: Date.now() }).where(eq(users.id, user.id)).run();
      c.get("logger").info("auth.logout_all", {});
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "post", path: "/password", tags: ["auth"], security, middleware: [requireAuth] as const,
      summary: "Change the password (the current one is required; a login session only, not an API token). Ends every other session and answers a new JWT",
      request: jsonBody(PasswordChange),
      responses: { 200: json(Session, "Changed"), 403: errorResponses[403], 429: errorResponses[429], ...commonErrors },
    }),
    async (c) => {
      const auth = c.get("user");
      if (auth.via.kind !== "jwt") throw new ApiError("forbidden", "Log in with your password to change it; API tokens cannot");
      const { currentPassword, newPassword } = c.req.valid("json");
      await limitAuthAttempt(c, auth.email);
      const db = getDb(c.env);
      const pepper = getConfig(c.env).PASSWORD_PEPPER;
      const user = await findUserByEmail(db, auth.email);
      if (!user || !(await checkPassword(currentPassword, user.passwordHash, pepper)).ok) throw new ApiError("invalid_credentials", "Current password is wrong");
      const passwordHash = await hashPassword(newPassword, pepper);
      const res = await db.update(users).set({ passwordHash, tokenVersion: user.tokenVersion + 1, updatedAt: Date.now() })
        .where(and(eq(users.id, user.id), eq(users.tokenVersion, user.tokenVersion))).run();
      if (!res.meta.changes) throw new ApiError("conflict", "The account changed meanwhile; log in again");
      c.get("logger").info("auth.password_changed", {});
      return c.json(await issueJwt(user.id, user.role, getConfig(c.env).JWT_SECRET, Date.now(), user.tokenVersion + 1), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post", path: "/password-reset", tags: ["auth"],
      summary: `Ask for a password reset: a single-use token valid ${RESET_TTL_MS / 60_000} min is emailed to the account`,
      description: "Always 202 with the same body, whether or not the email has an account (the lookup and the email happen after the answer). A new request replaces the previous token. 429 `rate_limited` with `retry-after` when the IP or the email is over its limit (the login limits).",
      request: jsonBody(ResetRequest),
      responses: { 202: json(ResetAccepted, "Accepted"), 429: errorResponses[429], ...commonErrors },
    }),
    async (c) => {
      const { email } = c.req.valid("json");
      await limitAuthAttempt(c, email);
      c.executionCtx.waitUntil(requestPasswordReset(c.env, email, c.get("logger"), new URL(c.req.url).origin));
      return c.json({ message: "If an account uses this email, a reset token is on its way to it" }, 202);
    },
  )
  .openapi(
    createRoute({
      method: "post", path: "/password-reset/confirm", tags: ["auth"],
      summary: "Set a new password with the emailed token: the token is used up and every session (login JWT) ends",
      description: "400 naming `token` when it is unknown, used or expired; 400 naming `password` under the registration rules. API tokens are kept (list and revoke them at /v1/auth/tokens). 429 `rate_limited` with `retry-after` past the per-IP limit.",
      request: jsonBody(ResetConfirm),
      responses: { 204: { description: "Password changed; log in with it" }, 429: errorResponses[429], ...commonErrors },
    }),
    async (c) => {
      const { token, password } = c.req.valid("json");
      const ip = clientIp(c);
      if (ip) await takeToken(c.env, "RL_AUTH_IP", ip, "attempts from this address");
      const db = getDb(c.env);
      // Checked first so a wrong token costs no password hash; used up only after hashing.
      if (!(await passwordResetValid(db, token))) throw invalidResetToken();
      const passwordHash = await hashPassword(password, getConfig(c.env).PASSWORD_PEPPER);
      const userId = await consumePasswordReset(db, token);
      if (!userId) throw invalidResetToken();
      await db.batch([
        db.update(users).set({ passwordHash, tokenVersion: sql`${users.tokenVersion} + 1`, updatedAt: Date.now() }).where(eq(users.id, userId)),
        db.delete(passwordResets).where(eq(passwordResets.userId, userId)),
      ]);
      c.get("logger").info("auth.password_reset", { userId });
      return c.body(null, 204);
    },
  );
