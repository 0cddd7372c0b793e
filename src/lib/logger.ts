/**
 * Structured JSON logger: one object per line, stable keys (`ts`, `level`, `event`, then
 * fields). Secrets are redacted by construction: by key name (anything that looks like a
 * password, secret, token, key, signature or credentials) and by value (registered secret
 * values, bearer tokens, JWTs, our API tokens and WebSocket tickets, and credentials in a URL's
 * query, wherever they appear in a string).
 */

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
export const REDACTED = "[REDACTED]";

const SECRET_KEY = /pass(word|phrase)?|secret|token|authori[sz]ation|signature|api[-_]?key|credential|cookie|^key$|^x-api-key$|lnm-access/i;
/** Identifiers, counts and timestamps are not secrets even when their name says "token" or "key". */
const NOT_SECRET_SUFFIX = /(Id|Ids|_id|_ids|Count|_count|At|_at|Version|Kind|Name)$/;
const VALUE_PATTERNS: RegExp[] = [
  /Bearer\s+[A-Za-z0-9._~+/=-]+/gi,
  /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+/g,
  /lnma_[A-Za-z0-9_-]{10,}/g,
  // WebSocket tickets, and any credential carried in a URL's query (`?access_token=`,
  // `?ticket=`, `?token=`...): the parameter stays, its value goes.
  /wst_[A-Za-z0-9_-]{10,}/g,
  /(?<=[?&;](?:access_token|token|ticket|api_key|apikey|key|secret|signature|sig|password)=)[^&#\s"']+/gi,
];

const MIN_SECRET = 8;
const registeredSecrets = new Set<string>();
// Secrets by their first MIN_SECRET characters. An isolate can host many account DOs, each
// registering its keys: scanning a string's positions against this index costs its length,
// where testing every secret would cost the number of accounts for every logged string.
const secretsByPrefix = new Map<string, string[]>();
const SCAN_ALL_UP_TO = 16;

/**
 * Register a secret value (a decrypted API secret, a passphrase…) so that it is redacted
 * wherever it appears in any later log line of this isolate. Short values are ignored: they
 * would redact ordinary words.
 */
export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < MIN_SECRET || registeredSecrets.has(value)) return;
  registeredSecrets.add(value);
  const prefix = value.slice(0, MIN_SECRET);
  const same = secretsByPrefix.get(prefix);
  if (same) same.push(value);
  else secretsByPrefix.set(prefix, [value]);
}

function secretsIn(s: string): string[] {
  if (registeredSecrets.size <= SCAN_ALL_UP_TO) return [...registeredSecrets].filter((secret) => s.includes(secret));
  const found = new Set<string>();
  for (let i = 0; i + MIN_SECRET <= s.length; i++) {
    const candidates = secretsByPrefix.get(s.slice(i, i + MIN_SECRET));
    if (candidates) for (const secret of candidates) if (s.startsWith(secret, i)) found.add(secret);
  }
  return [...found];
}

function redactString(s: string): string {
  let out = s;
  for (const re of VALUE_PATTERNS) out = out.replace(re, REDACTED);
  if (registeredSecrets.size === 0 || out.length < MIN_SECRET) return out;
  // Longest first, so a secret that contains another goes whole.
  for (const secret of secretsIn(out).sort((a, b) => b.length - a.length)) out = out.split(secret).join(REDACTED);
  return out;
}

/** Deep copy of `value` with secrets redacted. Handles cycles, Errors and bigints. */
export function redact(value: unknown, seen = new WeakSet<object>()): unknown {
  if (typeof value === "string") return redactString(value);
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object") return value;
  if (seen.has(value)) return "[Circular]";
  seen.add(value);
  if (value instanceof Error) {
    return { name: value.name, message: redactString(value.message), ...(value.stack ? { stack: redactString(value.stack) } : {}) };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) && !NOT_SECRET_SUFFIX.test(k) && v !== null && v !== undefined && typeof v !== "boolean" ? REDACTED : redact(v, seen);
  }
  return out;
}

export type LogSink = (level: LogLevel, line: string) => void;

const consoleSink: LogSink = (level, line) => {
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
};

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** A logger whose lines all carry `fields` (account id and name, automation id, trace id…). */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel | string;
  base?: LogFields;
  sink?: LogSink;
  now?: () => number;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const min = LEVELS[(opts.level as LogLevel) in LEVELS ? (opts.level as LogLevel) : "info"];
  const sink = opts.sink ?? consoleSink;
  const now = opts.now ?? Date.now;
  const base = opts.base ?? {};
  const write = (level: LogLevel, event: string, fields?: LogFields) => {
    if (LEVELS[level] < min) return;
    const line = redact({ ts: now(), level, event, ...base, ...fields }) as LogFields;
    let text: string;
    try {
      text = JSON.stringify(line);
    } catch {
      text = JSON.stringify({ ts: line.ts, level, event, unserializable: true });
    }
    sink(level, text);
  };
  return {
    debug: (e, f) => write("debug", e, f),
    info: (e, f) => write("info", e, f),
    warn: (e, f) => write("warn", e, f),
    error: (e, f) => write("error", e, f),
    child: (fields) => createLogger({ ...opts, base: { ...base, ...fields } }),
  };
}
