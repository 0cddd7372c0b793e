/**
 * Env validated at the entry point (STYLE.md): a misconfigured deployment fails loudly with
 * the missing names, never with a secret's value.
 */
import { z } from "zod";

export const Environment = z.enum(["development", "test", "staging", "production"]);
export type Environment = z.infer<typeof Environment>;

const Config = z.object({
  ENVIRONMENT: Environment,
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  JWT_SECRET: z.string().min(32, "JWT_SECRET must be at least 32 characters"),
  METRICS_TOKEN: z.string().min(8).optional(),
  /** Keys password hashes (HMAC before PBKDF2). Optional so a deployment can add it later: hashes are re-peppered on login. */
  PASSWORD_PEPPER: z.string().min(32, "PASSWORD_PEPPER must be at least 32 characters").optional(),
  /** Checked on its own by telegramWebhookSecret(): a malformed one turns off the bot's webhook, not the API. */
  TELEGRAM_WEBHOOK_SECRET: z.preprocess((v) => (v === "" ? undefined : v), z.string().optional()),
});
export type Config = z.infer<typeof Config>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

const cache = new WeakMap<object, Config>();

/** Parses and caches the config for this env object. Throws ConfigError naming bad keys. */
export function getConfig(env: Env): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const parsed = Config.safeParse(env);
  if (!parsed.success) {
    const names = [...new Set(parsed.error.issues.map((i) => i.path.join(".")))].join(", ");
    throw new ConfigError(`Invalid or missing configuration: ${names}`);
  }
  cache.set(env, parsed.data);
  return parsed.data;
}

export function isDevLike(env: Env): boolean {
  return env.ENVIRONMENT === "development" || env.ENVIRONMENT === "test";
}

/**
 * The `secret_token` given to Telegram's setWebhook; Telegram sends it back in the
 * X-Telegram-Bot-Api-Secret-Token header (1-256 of A-Z a-z 0-9 _ -; we ask for at least 32).
 * Unset or empty: null (the bot's webhook answers 404, src/api/routes/telegram.ts). Malformed:
 * `problem` says why (never the value), and only the webhook answers 500 `misconfigured`: an
 * optional feature's typo must not take the traders' API down with it.
 */
export function telegramWebhookSecret(env: Env): { secret: string | null; problem?: string } {
  const secret = getConfig(env).TELEGRAM_WEBHOOK_SECRET ?? null;
  if (secret === null || /^[A-Za-z0-9_-]{32,256}$/.test(secret)) return { secret };
  return { secret: null, problem: "TELEGRAM_WEBHOOK_SECRET must be 32-256 of A-Z a-z 0-9 _ -" };
}
