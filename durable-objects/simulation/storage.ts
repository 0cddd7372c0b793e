/**
 * The simulation DO's own SQLite: one `meta` row per key (params, status, engine state,
 * running summary) and the saved steps, packed: one `step_chunks` row holds up to
 * STEPS_PER_ROW consecutive steps as a JSON array of tuples (issue 24: a year of 1-minute
 * candles is 525,600 steps; one INSERT per step was most of a backtest's time, and the
 * row per step most of its storage). Runs saved before that keep their `steps` rows and are
 * read from both. Migrations are an ordered list, applied once each inside
 * blockConcurrencyWhile, never edited once released.
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
  // Steps packed per chunk: `first`..`last` step numbers, `body` a JSON array of StepTuple.
  `CREATE TABLE step_chunks (first INTEGER PRIMARY KEY, last INTEGER NOT NULL, body TEXT NOT NULL);`,
];

/** Steps per `step_chunks` row: ~40 KB of JSON for backtest steps, far below SQLite's 2 MB value limit even with many actions. */
export const STEPS_PER_ROW = 250;

/**
 * One saved step, positionally: step, price, risk, pnlSats, equitySats, actions, then for a
 * backtest time, low, high and the baseline as [pnlSats, equitySats, risk, actions].
 */
type StepTuple =
  | [number, number, number, number, number, SimAction[]]
  | [number, number, number, number, number, SimAction[], number, number | undefined, number | undefined, [number, number, number, SimAction[]]];

function toTuple(r: SavedStep): StepTuple {
  if (!r.baseline) return [r.step, r.price, r.risk, r.pnlSats, r.equitySats, r.actions];
  const b = r.baseline;
  return [r.step, r.price, r.risk, r.pnlSats, r.equitySats, r.actions, r.time ?? 0, r.low, r.high, [b.pnlSats, b.equitySats, b.risk, b.actions]];
}

/** The same object a `steps` row reads as (toRecord), key for key. */
function fromTuple(t: StepTuple): SavedStep {
  if (t.length === 6) return { step: t[0], price: t[1], risk: t[2], pnlSats: t[3], equitySats: t[4], actions: t[5] };
  const b = t[9];
  return {
    step: t[0], time: t[6], price: t[1], risk: t[2], pnlSats: t[3], equitySats: t[4], actions: t[5], low: t[7]!, high: t[8]!,
    baseline: { pnlSats: b[0], equitySats: b[1], risk: b[2], actions: b[3] },
  } as SavedStep;
}

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

  /**
   * Save consecutive steps (in step order, after every step saved so far): one row per
   * STEPS_PER_ROW of them. Call inside the transaction that saves the state they lead to.
   */
  insertSteps(records: readonly SavedStep[]): void {
    for (let i = 0; i < records.length; i += STEPS_PER_ROW) {
      const part = records.slice(i, i + STEPS_PER_ROW);
      this.sql.exec("INSERT INTO step_chunks (first, last, body) VALUES (?, ?, ?)", part[0]!.step, part[part.length - 1]!.step, JSON.stringify(part.map(toTuple)));
    }
  }

  /** Steps strictly after `after`, in order (packed rows, and the `steps` rows of runs saved before them). */
  stepsAfter(after: number, limit: number): SavedStep[] {
    const out = this.sql.exec<StepRow>("SELECT * FROM steps WHERE step > ? ORDER BY step LIMIT ?", after, limit).toArray().map(toRecord);
    const legacy = out.length;
    // The chunk holding `after + 1` starts at or before it: begin there, then whole chunks.
    const start = this.sql.exec<{ first: number }>("SELECT first FROM step_chunks WHERE first <= ? ORDER BY first DESC LIMIT 1", after + 1).toArray()[0]?.first ?? after + 1;
    let n = 0;
    for (const row of this.sql.exec<{ body: string }>("SELECT body FROM step_chunks WHERE first >= ? AND last > ? ORDER BY first", start, after)) {
      for (const t of JSON.parse(row.body) as StepTuple[]) {
        if (t[0] > after) {
          out.push(fromTuple(t));
          n += 1;
        }
      }
      if (n >= limit) break;
    }
    if (legacy > 0 && n > 0) out.sort((a, b) => a.step - b.step);
    return out.length > limit ? out.slice(0, limit) : out;
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
    const chunk = this.sql.exec<{ body: string }>("SELECT body FROM step_chunks ORDER BY first DESC LIMIT 1").toArray()[0];
    if (chunk) {
      const tuples = JSON.parse(chunk.body) as StepTuple[];
      return fromTuple(tuples[tuples.length - 1]!);
    }
    const row = this.sql.exec<StepRow>("SELECT * FROM steps ORDER BY step DESC LIMIT 1").toArray()[0];
    return row ? toRecord(row) : null;
  }

  /** Everything this object keeps (its retention, once the run's D1 row is past its age). */
  wipe(): void {
    this.sql.exec("DELETE FROM step_chunks");
    this.sql.exec("DELETE FROM steps");
    this.sql.exec("DELETE FROM trades");
    this.sql.exec("DELETE FROM meta");
  }
}
