/**
 * The simulation DO's own SQLite: one `meta` row per key (params, status, engine state,
 * running summary) and one `steps` row per saved step. Migrations are an ordered list,
 * applied once each inside blockConcurrencyWhile, never edited once released.
 */
import type { TradeReport } from "../../src/domain/backtest";
import type { SimAction, StepRecord } from "../../src/domain/simulate-step";
import { applyMigrations } from "../sqlite-migrations";

const MIGRATIONS: string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE steps (
     step INTEGER PRIMARY KEY, price REAL NOT NULL, risk REAL NOT NULL,
     pnl_sats INTEGER NOT NULL, equity_sats INTEGER NOT NULL, actions TEXT NOT NULL);`,
  // Backtests (issue 24): each step's candle time and the baseline run beside it; the trades.
  `ALTER TABLE steps ADD COLUMN time INTEGER;
   ALTER TABLE steps ADD COLUMN extra TEXT;
   CREATE TABLE trades (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);`,
];

export function migrate(sql: SqlStorage): void {
  applyMigrations(sql, MIGRATIONS);
}

type StepRow = { step: number; price: number; risk: number; pnl_sats: number; equity_sats: number; actions: string; time: number | null; extra: string | null };

/** A step of a backtest: the simulation step plus the candle's time, low and high, and the baseline run. */
export type SavedStep = StepRecord & { time?: number; low?: number; high?: number; baseline?: { pnlSats: number; equitySats: number; risk: number; actions: SimAction[] } };

const toRecord = (r: StepRow): SavedStep => ({
  step: r.step,
  ...(r.time !== null && r.time !== undefined ? { time: r.time } : {}),
  price: r.price,
  risk: r.risk,
  pnlSats: r.pnl_sats,
  equitySats: r.equity_sats,
  actions: JSON.parse(r.actions) as SimAction[],
  ...(r.extra ? (JSON.parse(r.extra) as object) : {}),
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

  insertStep(r: SavedStep): void {
    const extra = r.baseline ? JSON.stringify({ low: r.low, high: r.high, baseline: r.baseline }) : null;
    this.sql.exec(
      "INSERT INTO steps (step, price, risk, pnl_sats, equity_sats, actions, time, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      r.step, r.price, r.risk, r.pnlSats, r.equitySats, JSON.stringify(r.actions), r.time ?? null, extra,
    );
  }

  /** Steps strictly after `after`, in order. */
  stepsAfter(after: number, limit: number): SavedStep[] {
    return this.sql.exec<StepRow>("SELECT * FROM steps WHERE step > ? ORDER BY step LIMIT ?", after, limit).toArray().map(toRecord);
  }

  insertTrade(t: TradeReport): void {
    this.sql.exec("INSERT INTO trades (body) VALUES (?)", JSON.stringify(t));
  }

  /** Trades after sequence number `after` (exclusive), in order of their exit, with their sequence number. */
  tradesAfter(after: number, limit: number): Array<{ seq: number; trade: TradeReport }> {
    return this.sql.exec<{ seq: number; body: string }>("SELECT seq, body FROM trades WHERE seq > ? ORDER BY seq LIMIT ?", after, limit)
      .toArray().map((r) => ({ seq: r.seq, trade: JSON.parse(r.body) as TradeReport }));
  }

  lastStep(): SavedStep | null {
    const row = this.sql.exec<StepRow>("SELECT * FROM steps ORDER BY step DESC LIMIT 1").toArray()[0];
    return row ? toRecord(row) : null;
  }
}
