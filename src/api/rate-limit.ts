/**
 * Abuse limits (issue 22) on Cloudflare's Workers Rate Limiting binding (`[[ratelimits]]` in
 * wrangler.toml; simulated in `wrangler dev` and in tests). Counts are per Cloudflare location
 * and approximate: a brake, not a quota. A refusal is 429 `rate_limited` with `retry-after`
 * (the binding's period: it does not say when its window ends).
 *
 * | binding | key | limit |
 * |---|---|---|
 * | RL_AUTH_IP | client IP | 30 login/register/reset attempts a minute |
 * | RL_AUTH_ACCOUNT | email | 10 login/register/reset attempts a minute |
 * | RL_OUTBOUND | user id | 10 a minute of calls that cost us or reach outside |
 * | RL_UNVERIFIED | channel + SHA-256 of its target | 3 a minute of messages (tests, verification codes) to a channel not yet verified, whichever user configured it |
 */
import type { Context, MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./context";
import { ApiError } from "./errors";

export type LimiterName = "RL_AUTH_IP" | "RL_AUTH_ACCOUNT" | "RL_OUTBOUND" | "RL_UNVERIFIED";

/** The `simple.period` of every limiter in wrangler.toml, seconds. */
export const RATE_LIMIT_PERIOD_S = 60;

export function rateLimited(what: string, retryAfterS = RATE_LIMIT_PERIOD_S): ApiError {
  return new ApiError("rate_limited", `Too many ${what}; retry in ${retryAfterS} s`, { retryAfter: retryAfterS }, { "retry-after": String(retryAfterS) });
}

/**
 * The caller's IP as Cloudflare's edge reports it (`cf-connecting-ip`; never x-forwarded-for,
 * which the client writes). null when the request did not come through the edge (tests, service
 * bindings), and for loopback in development, so `npm run dev` and the bench can register many
 * users; the per-account limits still apply to those.
 */
export function clientIp(c: Context<AppEnv>): string | null {
  const ip = c.req.header("cf-connecting-ip")?.trim();
  if (!ip) return null;
  if (c.env.ENVIRONMENT === "development" && (ip === "127.0.0.1" || ip === "::1")) return null;
  // An IPv6 client controls its whole /64: count it as one.
  return ip.includes(":") ? ip.split(":").slice(0, 4).join(":") + "::/64" : ip;
}

/** Takes one token from `limiter` for `key`; throws 429 when the key is over its limit. */
export async function takeToken(env: Env, limiter: LimiterName, key: string, what: string): Promise<void> {
  const binding = env[limiter] as RateLimit | undefined;
  if (!binding) return; // an environment without the binding (checked in test/scripts/wrangler-config.test.ts)
  const { success } = await binding.limit({ key: `${limiter}:${key}` });
  if (!success) throw rateLimited(what);
}

/** Per user, after requireAuth: for routes that cost us (queued checks) or reach outside. */
export function limitPerUser(limiter: LimiterName, what: string): MiddlewareHandler<AppEnv> {
  return createMiddleware<AppEnv>(async (c, next) => {
    await takeToken(c.env, limiter, c.get("user").id, what);
    await next();
  });
}
