/**
 * The account DO's own SQLite: the source of truth for its automations and their schedules,
 * the intents it sent (idempotency and reconciliation), and the outbox of log rows waiting
 * to be flushed to the LOGS queue. Migrations are an ordered list, applied once each inside
 * blockConcurrencyWhile, never edited once released.
 */

import { applyMigrations } from "../sqlite-migrations";

const MIGRATIONS: string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE automations (
     id TEXT PRIMARY KEY, type TEXT NOT NULL, name TEXT, config TEXT NOT NULL, schedule TEXT,
     enabled INTEGER NOT NULL, state TEXT NOT NULL DEFAULT '{}',
     next_run_at INTEGER, attempts INTEGER NOT NULL DEFAULT 0, run_seq INTEGER NOT NULL DEFAULT 0,
     last_run_at INTEGER, last_result TEXT, last_error TEXT, last_duration_ms INTEGER,
     runs INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
   CREATE TABLE intents (
     client_id TEXT PRIMARY KEY, automation_id TEXT NOT NULL, run_id TEXT NOT NULL, action TEXT NOT NULL,
     trade_id TEXT, request TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
     result TEXT, error TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
   CREATE INDEX intents_status ON intents (status);
   CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, entry TEXT NOT NULL);`,
  // The trace id of the trader's last change to an automation: its runs carry it, so one
  // action can be followed from the API to the exchange order and the notification.
  `ALTER TABLE automations ADD COLUMN trace_id TEXT;`,
  // Until when an order the exchange does not show may still land (its request sent and not
  // answered): before it, "not seen" is not "not landed".
  `ALTER TABLE intents ADD COLUMN settles_at INTEGER;`,
  // Manual controls (issue 23): a request sent with an Idempotency-Key, kept 24 h, so a
  // retried HTTP request replays the first answer instead of deciding (and ordering) again.
  `CREATE TABLE manual_requests (
     key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status TEXT NOT NULL, response TEXT, created_at INTEGER NOT NULL);`,
];

export function migrate(sql: SqlStorage): void {
  applyMigrations(sql, MIGRATIONS);
}

export type AutomationRow = {
  id: string;
  type: string;
  name: string | null;
  config: string;
  schedule: string | null;
  enabled: number;
  state: string;
  next_run_at: number | null;
  attempts: number;
  run_seq: number;
  last_run_at: number | null;
  last_result: string | null;
  last_error: string | null;
  last_duration_ms: number | null;
  runs: number;
  failures: number;
  trace_id: string | null;
  created_at: number;
  updated_at: number;
};

export type IntentStatus = "pending" | "uncertain" | "done" | "failed";

export type IntentRow = {
  client_id: string;
  automation_id: string;
  run_id: string;
  action: string;
  trade_id: string | null;
  request: string;
  status: IntentStatus;
  attempts: number;
  result: string | null;
  error: string | null;
  created_at: number;
  updated_at: number;
  /**
   * Until when the order may still land unseen: sent + the landing window, or the time of
   * the exchange's answer. Null on rows written before the column existed.
   */
  settles_at?: number | null;
};

export type ManualRequestRow = { key: string; fingerprint: string; status: "running" | "done"; response: string | null; created_at: number };

/** Typed helpers over the DO's SqlStorage. Synchronous: DO SQLite calls are. */
export class AccountStore {
  constructor(private readonly sql: SqlStorage) {}

  getMeta(key: string): string | null {
    const rows = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray();
    return rows[0]?.value ?? null;
  }

  setMeta(key: string, value: string): void {
    this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", key, value);
  }

  deleteMeta(key: string): void {
    this.sql.exec("DELETE FROM meta WHERE key = ?", key);
  }

  automations(): AutomationRow[] {
    return this.sql.exec<AutomationRow>("SELECT * FROM automations ORDER BY created_at, id").toArray();
  }

  automation(id: string): AutomationRow | undefined {
    return this.sql.exec<AutomationRow>("SELECT * FROM automations WHERE id = ?", id).toArray()[0];
  }

  insertAutomation(r: Pick<AutomationRow, "id" | "type" | "name" | "config" | "schedule" | "enabled" | "next_run_at" | "created_at" | "updated_at"> & { trace_id?: string | null }): void {
    this.sql.exec(
      "INSERT INTO automations (id, type, name, config, schedule, enabled, next_run_at, trace_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      r.id, r.type, r.name, r.config, r.schedule, r.enabled, r.next_run_at, r.trace_id ?? null, r.created_at, r.updated_at,
    );
  }

  updateAutomation(id: string, set: Partial<Omit<AutomationRow, "id">>): void {
    const keys = Object.keys(set) as (keyof typeof set)[];
    if (!keys.length) return;
    this.sql.exec(`UPDATE automations SET ${keys.map((k) => `${k} = ?`).join(", ")} WHERE id = ?`, ...keys.map((k) => set[k] ?? null), id);
  }

  deleteAutomation(id: string): void {
    this.sql.exec("DELETE FROM automations WHERE id = ?", id);
  }

  intent(clientId: string): IntentRow | undefined {
    return this.sql.exec<IntentRow>("SELECT * FROM intents WHERE client_id = ?", clientId).toArray()[0];
  }

  unresolvedIntents(): IntentRow[] {
    return this.sql.exec<IntentRow>("SELECT * FROM intents WHERE status IN ('pending', 'uncertain') ORDER BY created_at").toArray();
  }

  upsertIntent(r: Omit<IntentRow, "attempts"> & { attempts?: number }): void {
    this.sql.exec(
      `INSERT INTO intents (client_id, automation_id, run_id, action, trade_id, request, status, attempts, result, error, created_at, updated_at, settles_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(client_id) DO UPDATE SET status = excluded.status, attempts = excluded.attempts, result = excluded.result, error = excluded.error, updated_at = excluded.updated_at, settles_at = excluded.settles_at`,
      r.client_id, r.automation_id, r.run_id, r.action, r.trade_id, r.request, r.status, r.attempts ?? 0, r.result, r.error, r.created_at, r.updated_at, r.settles_at ?? null,
    );
  }

  /** The exchange answered the request (even with an error): it will not land later unseen. */
  setIntentSettlesAt(clientId: string, at: number): void {
    this.sql.exec("UPDATE intents SET settles_at = MIN(COALESCE(settles_at, ?), ?) WHERE client_id = ?", at, at, clientId);
  }

  /**
   * Deletes everything but the intents still unresolved (pending or uncertain) and the
   * account id: those stay until reconciled, even when the account's automations are gone.
   */
  forgetAllButUnresolvedIntents(): void {
    this.sql.exec("DELETE FROM intents WHERE status NOT IN ('pending', 'uncertain')");
    this.sql.exec("DELETE FROM automations");
    this.sql.exec("DELETE FROM outbox");
    this.sql.exec("DELETE FROM manual_requests");
    this.sql.exec("DELETE FROM meta WHERE key != 'accountId'");
  }

  setIntentStatus(clientId: string, status: IntentStatus, fields: { result?: string | null; error?: string | null; attempts?: number } = {}): void {
    this.sql.exec(
      "UPDATE intents SET status = ?, result = COALESCE(?, result), error = ?, attempts = COALESCE(?, attempts), updated_at = ? WHERE client_id = ?",
      status, fields.result ?? null, fields.error ?? null, fields.attempts ?? null, Date.now(), clientId,
    );
  }

  /** Old finished intents are only needed for a while (reconciliation looks at recent ones). */
  pruneIntents(olderThan: number): void {
    this.sql.exec("DELETE FROM intents WHERE status IN ('done', 'failed') AND updated_at < ?", olderThan);
  }

  /** Intents of one run of one automation (or of one manual request), oldest first. */
  intentsOfRun(automationId: string, runId: string): IntentRow[] {
    return this.sql.exec<IntentRow>("SELECT * FROM intents WHERE automation_id = ? AND run_id = ? ORDER BY created_at, client_id", automationId, runId).toArray();
  }

  manualRequest(key: string): ManualRequestRow | undefined {
    return this.sql.exec<ManualRequestRow>("SELECT * FROM manual_requests WHERE key = ?", key).toArray()[0];
  }

  /** Claims `key` for a request in progress; false when another request holds it already. */
  claimManualRequest(key: string, fingerprint: string, now: number): boolean {
    // Synchronous, so atomic within the DO: no other request runs between the read and the insert.
    if (this.manualRequest(key)) return false;
    this.sql.exec("INSERT INTO manual_requests (key, fingerprint, status, response, created_at) VALUES (?, ?, 'running', NULL, ?)", key, fingerprint, now);
    return true;
  }

  finishManualRequest(key: string, response: string | null): void {
    if (response === null) this.sql.exec("DELETE FROM manual_requests WHERE key = ?", key);
    else this.sql.exec("UPDATE manual_requests SET status = 'done', response = ? WHERE key = ?", response, key);
  }

  pruneManualRequests(olderThan: number): void {
    this.sql.exec("DELETE FROM manual_requests WHERE created_at < ?", olderThan);
  }

  pushOutbox(entries: unknown[]): void {
    for (const e of entries) this.sql.exec("INSERT INTO outbox (entry) VALUES (?)", JSON.stringify(e));
  }

  peekOutbox(limit: number): { seq: number; entry: string }[] {
    return this.sql.exec<{ seq: number; entry: string }>("SELECT seq, entry FROM outbox ORDER BY seq LIMIT ?", limit).toArray();
  }

  dropOutbox(upToSeq: number): void {
    this.sql.exec("DELETE FROM outbox WHERE seq <= ?", upToSeq);
  }

  outboxSize(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n;
  }
}
