/**
 * D1 schema (drizzle). Timestamps are integer milliseconds since the epoch. JSON columns are
 * text holding JSON. Migrations are generated flat into migrations/ by `npm run db:generate`.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

const createdAt = () => integer("created_at").notNull();
const updatedAt = () => integer("updated_at").notNull();

export const users = sqliteTable("users", {
  id: text("id").primaryKey(),
  email: text("email").notNull(),
  passwordHash: text("password_hash").notNull(),
  role: text("role", { enum: ["user", "admin"] }).notNull().default("user"),
  planId: text("plan_id").notNull().default("free"),
  planExpiresAt: integer("plan_expires_at"),
  activeAccountId: text("active_account_id"),
  scheduleScope: text("schedule_scope", { enum: ["active", "all"] }).notNull().default("active"),
  schedulingEnabled: integer("scheduling_enabled", { mode: "boolean" }).notNull().default(true),
  pauseEntries: integer("pause_entries", { mode: "boolean" }).notNull().default(false),
  /** Bumped by logout-all and a password change: a JWT carrying an older `ver` is refused. */
  tokenVersion: integer("token_version").notNull().default(0),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}, (t) => [uniqueIndex("users_email_uq").on(t.email)]);

/**
 * Progressive login lockout (issue 22), keyed by email and client IP: consecutive failures
 * from one IP lock that IP out of that account for a doubling time, capped at 15 minutes, so
 * an attacker elsewhere cannot lock the owner out. Deleted on success; pruned by retention.
 */
export const loginThrottle = sqliteTable("login_throttle", {
  key: text("key").primaryKey(),
  failures: integer("failures").notNull(),
  lockedUntil: integer("locked_until"),
  updatedAt: updatedAt(),
}, (t) => [index("login_throttle_updated_idx").on(t.updatedAt)]);

export const apiTokens = sqliteTable("api_tokens", {
  id: text("id").primaryKey(),
  userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  name: text("name").notNull(),
  /** SHA-256 (hex) of the token's secret part; the token itself is shown once. */
  secretHash: text("secret_hash").notNull(),
  /**
   * Comma-separated scopes (issue 22): `read` (GET only), `trade` (also changes accounts,
   * automations, orders), `admin` (also /v1/admin, operators only). Rows from before scopes
   * existed have `read,trade`.
   */
  scopes: text("scopes").notNull().default("read,trade"),
  /** Past this time (ms) the token answers 401; null = no expiry. */
  expiresAt: integer("expires_at"),
  createdAt: createdAt(),
  lastUsedAt: integer("last_used_at"),
  revokedAt: integer("revoked_at"),
}, (t) => [index("api_tokens_user_idx").on(t.userId)]);

/**
 * Single-use WebSocket tickets (issue 22): a browser cannot set headers on a WebSocket, so it
 * asks `POST /v1/auth/ws-ticket` for one and opens the socket with `?ticket=`. Stored as the
 * SHA-256 of the ticket; deleted when used; expired rows are pruned by retention.
 */
export const wsTickets = sqliteTable("ws_tickets", {
  id: text("id").primaryKey(),
  userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  expiresAt: integer("expires_at").notNull(),
  createdAt: createdAt(),
}, (t) => [index("ws_tickets_user_idx").on(t.userId), index("ws_tickets_expires_idx").on(t.expiresAt)]);

/**
 * Password reset tokens (issue 22, item 6): the row id is the SHA-256 of the token mailed to
 * the user (never the token), consumed by deleting the row, valid until expires_at.
 */
export const passwordResets = sqliteTable("password_resets", {
  id: text("id").primaryKey(),
  userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  expiresAt: integer("expires_at").notNull(),
  createdAt: createdAt(),
}, (t) => [index("password_resets_user_idx").on(t.userId), index("password_resets_expires_idx").on(t.expiresAt)]);

export const exchangeAccounts = sqliteTable("exchange_accounts", {
  id: text("id").primaryKey(),
  userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  name: text("name").notNull(),
  network: text("network", { enum: ["mainnet", "testnet", "simulator"] }).notNull(),
  /** `v1:{keyId}:{iv}:{ciphertext}` (AES-256-GCM, AAD = account id). Never returned. */
  credentialsEnc: text("credentials_enc").notNull(),
  credentialsKeyId: text("credentials_key_id").notNull(),
  credentialVersion: integer("credential_version").notNull().default(1),
  status: text("status", { enum: ["active", "disabled"] }).notNull().default("active"),
  /** JSON summary of automations kept in step by the account DO: {total, enabled, byType}. */
  automationSummary: text("automation_summary").notNull().default('{"total":0,"enabled":0,"byType":{}}'),
  enabledAutomations: integer("enabled_automations").notNull().default(0),
  lastHeartbeatAt: integer("last_heartbeat_at"),
  feed: text("feed"),
  /**
   * The routine runs since the previous beat, written with the heartbeat (issue 20: one D1 row
   * an account-hour at rest): JSON {since, until, runs, totalDurationMs, maxDurationMs, byType}.
   */
  routineRuns: text("routine_runs"),
  /** Last live credential check: lets a KV miss be told apart from a KV expiry. */
  validatedVersion: integer("validated_version"),
  validatedAt: integer("validated_at"),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}, (t) => [
  uniqueIndex("exchange_accounts_user_name_uq").on(t.userId, t.name),
  index("exchange_accounts_heartbeat_idx").on(t.enabledAutomations, t.lastHeartbeatAt),
]);

export const automationLogs = sqliteTable("automation_logs", {
  id: text("id").primaryKey(),
  userId: text("user_id").notNull(),
  accountId: text("account_id").notNull(),
  accountName: text("account_name"),
  automationId: text("automation_id"),
  level: text("level").notNull(),
  event: text("event").notNull(),
  message: text("message"),
  data: text("data"),
  traceId: text("trace_id"),
  createdAt: createdAt(),
}, (t) => [index("automation_logs_account_idx").on(t.accountId, t.createdAt)]);

export const tradeLogs = sqliteTable("trade_logs", {
  id: text("id").primaryKey(),
  userId: text("user_id").notNull(),
  accountId: text("account_id").notNull(),
  automationId: text("automation_id"),
  clientId: text("client_id"),
  action: text("action").notNull(),
  request: text("request"),
  outcome: text("outcome", { enum: ["ok", "error", "uncertain", "reconciled"] }).notNull(),
  errorKind: text("error_kind"),
  error: text("error"),
  latencyMs: integer("latency_ms"),
  tradeId: text("trade_id"),
  traceId: text("trace_id"),
  createdAt: createdAt(),
}, (t) => [index("trade_logs_account_idx").on(t.accountId, t.createdAt)]);

export const jobEvents = sqliteTable("job_events", {
  id: text("id").primaryKey(),
  ts: integer("ts").notNull(),
  worker: text("worker").notNull(),
  jobId: text("job_id").notNull(),
  event: text("event", { enum: ["start", "complete", "fail", "retry"] }).notNull(),
  durationMs: integer("duration_ms"),
  error: text("error"),
  metadata: text("metadata"),
  accountId: text("account_id"),
  traceId: text("trace_id"),
}, (t) => [index("job_events_ts_idx").on(t.ts), index("job_events_worker_idx").on(t.worker, t.ts)]);

export const notificationChannels = sqliteTable("notification_channels", {
  userId: text("user_id").primaryKey().references(() => users.id, { onDelete: "cascade" }),
  /**
   * JSON {webhook?, telegram?, email?, preferences?}; webhook secret stored encrypted. Each
   * channel carries verifiedAt once verified and its pending code's hash (src/notify/verification.ts).
   */
  config: text("config").notNull(),
  updatedAt: updatedAt(),
});

export const notifications = sqliteTable("notifications", {
  id: text("id").primaryKey(),
  userId: text("user_id").notNull(),
  event: text("event").notNull(),
  severity: text("severity", { enum: ["info", "warning", "critical"] }).notNull(),
  title: text("title").notNull(),
  body: text("body").notNull(),
  data: text("data"),
  traceId: text("trace_id"),
  createdAt: createdAt(),
}, (t) => [index("notifications_user_idx").on(t.userId, t.createdAt)]);

export const notificationDeliveries = sqliteTable("notification_deliveries", {
  id: text("id").primaryKey(),
  notificationId: text("notification_id").notNull(),
  channel: text("channel", { enum: ["webhook", "telegram", "email"] }).notNull(),
  /** skipped: not sent because the channel is not verified (last_error says so); final. */
  status: text("status", { enum: ["pending", "sent", "failed", "skipped"] }).notNull(),
  attempts: integer("attempts").notNull().default(0),
  lastError: text("last_error"),
  latencyMs: integer("latency_ms"),
  traceId: text("trace_id"),
  updatedAt: updatedAt(),
}, (t) => [uniqueIndex("notification_deliveries_uq").on(t.notificationId, t.channel)]);

export const plans = sqliteTable("plans", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  priceSats: integer("price_sats").notNull(),
  durationDays: integer("duration_days").notNull(),
  /** JSON {maxAccounts, automationTypes[], maxConcurrentSimulations, maxSimulationSteps}. */
  limits: text("limits").notNull(),
});

export const payments = sqliteTable("payments", {
  id: text("id").primaryKey(),
  userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  planId: text("plan_id").notNull(),
  paymentHash: text("payment_hash").notNull(),
  paymentRequest: text("payment_request").notNull(),
  amountSats: integer("amount_sats").notNull(),
  status: text("status", { enum: ["pending", "paid", "expired", "failed"] }).notNull().default("pending"),
  expiresAt: integer("expires_at").notNull(),
  paidAt: integer("paid_at"),
  activatedAt: integer("activated_at"),
  lastCheckedAt: integer("last_checked_at"),
  checks: integer("checks").notNull().default(0),
  /** Last time a check message was sent: the sweeper leaves payments with one in flight alone. */
  lastEnqueuedAt: integer("last_enqueued_at"),
  /** Body id of the check message that owns the re-check chain: only it re-enqueues (no duplicate chains). */
  checkMessageId: text("check_message_id"),
  createdAt: createdAt(),
}, (t) => [uniqueIndex("payments_hash_uq").on(t.paymentHash), index("payments_status_idx").on(t.status, t.lastCheckedAt)]);

export const deadLetters = sqliteTable("dead_letters", {
  id: text("id").primaryKey(),
  queue: text("queue").notNull(),
  messageId: text("message_id").notNull(),
  body: text("body").notNull(),
  attempts: integer("attempts").notNull(),
  errorClass: text("error_class").notNull(),
  firstError: text("first_error"),
  lastError: text("last_error"),
  receivedAt: integer("received_at").notNull(),
  status: text("status", { enum: ["open", "retried"] }).notNull().default("open"),
  retriedAt: integer("retried_at"),
  retriedBy: text("retried_by"),
}, (t) => [uniqueIndex("dead_letters_msg_uq").on(t.queue, t.messageId), index("dead_letters_received_idx").on(t.receivedAt)]);

export const simulations = sqliteTable("simulations", {
  id: text("id").primaryKey(),
  userId: text("user_id").notNull(),
  scenario: text("scenario").notNull(),
  status: text("status", { enum: ["running", "completed", "canceled", "failed"] }).notNull(),
  steps: integer("steps").notNull(),
  params: text("params").notNull(),
  summary: text("summary"),
  createdAt: createdAt(),
  finishedAt: integer("finished_at"),
}, (t) => [index("simulations_user_idx").on(t.userId, t.status)]);

export const alerts = sqliteTable("alerts", {
  id: text("id").primaryKey(),
  rule: text("rule").notNull(),
  /** What the alert is about (a queue name, an account id…): deduplication key with `rule`. */
  subject: text("subject").notNull(),
  severity: text("severity", { enum: ["warning", "critical"] }).notNull(),
  status: text("status", { enum: ["open", "resolved"] }).notNull(),
  message: text("message").notNull(),
  data: text("data"),
  openedAt: integer("opened_at").notNull(),
  lastSeenAt: integer("last_seen_at").notNull(),
  resolvedAt: integer("resolved_at"),
}, (t) => [
  uniqueIndex("alerts_open_uq").on(t.rule, t.subject).where(sql`status = 'open'`),
  index("alerts_status_idx").on(t.status, t.openedAt),
]);

/**
 * The first and last error of a queue message still being retried (keyed by queue and the
 * body's `id`). A DLQ message carries no error, so consumers record it here before `retry()`
 * and the dead-letter consumer reads it; the row is deleted once the message settles.
 */
export const queueMessageErrors = sqliteTable("queue_message_errors", {
  queue: text("queue").notNull(),
  messageId: text("message_id").notNull(),
  errorClass: text("error_class").notNull(),
  firstError: text("first_error").notNull(),
  lastError: text("last_error").notNull(),
  attempts: integer("attempts").notNull(),
  updatedAt: updatedAt(),
}, (t) => [primaryKey({ columns: [t.queue, t.messageId] })]);

/** Per-queue counters for backlog metrics (sent minus settled). */
export const queueCounters = sqliteTable("queue_counters", {
  queue: text("queue").primaryKey(),
  sent: integer("sent").notNull().default(0),
  settled: integer("settled").notNull().default(0),
  updatedAt: updatedAt(),
});

/** Small key/value facts the platform keeps (last cron run…). */
export const systemState = sqliteTable("system_state", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  updatedAt: updatedAt(),
});

/** Monotonic counters (cache hits/misses/expiries…), incremented with an upsert. */
export const counters = sqliteTable("counters", {
  name: text("name").primaryKey(),
  value: integer("value").notNull().default(0),
  updatedAt: updatedAt(),
});
