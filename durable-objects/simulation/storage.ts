/**
 * The simulation DO's own SQLite: one `meta` row per key (params, status, engine state,
 * running summary) and one `steps` row per saved step. Migrations are an ordered list,
 * applied once each inside blockConcurrencyWhile, never edited once released.
 */
import type { SimAction, StepRecord } from "../../src/domain/simulate-step";
import { applyMigrations } from "../sqlite-migrations";

const MIGRATIONS: string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE steps (
     step INTEGER PRIMARY KEY, price REAL NOT NULL, risk REAL NOT NULL,
     pnl_sats INTEGER NOT NULL, equity_sats INTEGER NOT NULL, actions TEXT NOT NULL);`,
];

export function migrate(sql: SqlStorage): void {
  applyMigrations(sql, MIGRATIONS);
}

type StepRow = { step: number; price: number; risk: number; pnl_sats: number; equity_sats: number; actions: string };

const toRecord = (r: StepRow): StepRecord => ({
  step: r.step,
  price: r.price,
  risk: r.risk,
  pnlSats: r.pnl_sats,
  equitySats: r.equity_sats,
  actions: JSON.parse(r.actions) as SimAction[],
});

/** Typed helpers over the DO's SqlStorage (synchronous, as DO SQLite is). */
export class SimulationStore {
  constructor(private readonly sql: SqlStorage) {}

  getJson<T>(key: string): T | null {
    const rows = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray();
    return rows[0] ? (JSON.parse(rows[0].value) as T) : null;
  }

  setJson(key: string, value: unknown): void {
    this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", key, JSON.stringify(value));
  }

  insertStep(r: StepRecord): void {
    this.sql.exec(
      "INSERT INTO steps (step, price, risk, pnl_sats, equity_sats, actions) VALUES (?, ?, ?, ?, ?, ?)",
      r.step, r.price, r.risk, r.pnlSats, r.equitySats, JSON.stringify(r.actions),
    );
  }

  /** Steps strictly after `after`, in order. */
  stepsAfter(after: number, limit: number): StepRecord[] {
    return this.sql.exec<StepRow>("SELECT * FROM steps WHERE step > ? ORDER BY step LIMIT ?", after, limit).toArray().map(toRecord);
  }

  lastStep(): StepRecord | null {
    const row = this.sql.exec<StepRow>("SELECT * FROM steps ORDER BY step DESC LIMIT 1").toArray()[0];
    return row ? toRecord(row) : null;
  }
}
