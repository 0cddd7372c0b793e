// The bench stack's local D1 file (bench/lib/stack.mjs): where it is, the row-write counters
// installed into it, and read-only reads of those counters and of the queue counters.
import { existsSync, readdirSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";

export function d1File(state) {
  const dir = `${state}/v3/d1/miniflare-D1DatabaseObject`;
  const f = existsSync(dir) ? readdirSync(dir).find((x) => x.endsWith(".sqlite") && x !== "metadata.sqlite") : undefined;
  return f ? `${dir}/${f}` : null;
}

/**
 * Row-write counters for the bench (D1 bills rows written: every row an INSERT, UPDATE or
 * DELETE touches). One AFTER trigger per table and operation adds 1 per row to
 * `bench_d1_writes(tbl, op, acc)`, keyed by the account the row belongs to where the table
 * has one (`account_id`, or the `exchange_accounts` row's id), else ''. A heartbeat (an update
 * that changes `exchange_accounts.last_heartbeat_at`) is also counted apart as op `heartbeat`.
 * Installed into the local file before the platform starts; the counters' own writes are not
 * counted. Bench stacks only: never in a migration.
 */
export function installD1WriteCounters(file) {
  if (!file) throw new Error("no local D1 file to instrument (migrations not applied?)");
  const db = new DatabaseSync(file);
  try {
    db.exec("CREATE TABLE IF NOT EXISTS bench_d1_writes (tbl TEXT NOT NULL, op TEXT NOT NULL, acc TEXT NOT NULL, n INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (tbl, op, acc))");
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT IN ('d1_migrations', 'bench_d1_writes')").all().map((r) => r.name);
    for (const t of tables) {
      const cols = new Set(db.prepare(`PRAGMA table_info("${t}")`).all().map((c) => c.name));
      const acc = (row) => (cols.has("account_id") ? `coalesce(${row}.account_id, '')` : t === "exchange_accounts" ? `${row}.id` : "''");
      for (const [op, row] of [["insert", "NEW"], ["update", "NEW"], ["delete", "OLD"]]) {
        db.exec(`CREATE TRIGGER IF NOT EXISTS "bench_w_${t}_${op}" AFTER ${op.toUpperCase()} ON "${t}" BEGIN
          INSERT INTO bench_d1_writes (tbl, op, acc, n) VALUES ('${t}', '${op}', ${acc(row)}, 1) ON CONFLICT (tbl, op, acc) DO UPDATE SET n = n + 1; END`);
      }
    }
    if (tables.includes("exchange_accounts")) {
      db.exec(`CREATE TRIGGER IF NOT EXISTS "bench_w_heartbeat" AFTER UPDATE OF last_heartbeat_at ON exchange_accounts WHEN NEW.last_heartbeat_at IS NOT OLD.last_heartbeat_at BEGIN
        INSERT INTO bench_d1_writes (tbl, op, acc, n) VALUES ('exchange_accounts', 'heartbeat', NEW.id, 1) ON CONFLICT (tbl, op, acc) DO UPDATE SET n = n + 1; END`);
    }
  } finally {
    db.close();
  }
}

/** The row-write counters so far: [{tbl, op, acc, n}] (read-only; empty without countD1Writes). */
export function readD1Writes(file) {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return db.prepare("SELECT tbl, op, acc, n FROM bench_d1_writes").all().map((r) => ({ ...r }));
  } catch {
    return [];
  } finally {
    db.close();
  }
}

/** Messages each queue was sent so far (`queue_counters`, read-only). */
export function readQueueCounters(file) {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return Object.fromEntries(db.prepare("SELECT queue, sent, settled FROM queue_counters").all().map((r) => [r.queue, { sent: r.sent, settled: r.settled }]));
  } catch {
    return {};
  } finally {
    db.close();
  }
}
