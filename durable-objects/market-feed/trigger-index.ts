/**
 * The market feed's trigger index: every registered account's levels in one SQLite table,
 * indexed on (direction, price), so the levels a tick crossed are one range query: O(log n + k)
 * for n levels and k crossed (issue 20). An account's registration replaces its levels.
 */
import { KIND_PRIORITY, type LevelDirection, type LevelKind, type TriggerLevel } from "../../src/domain/trigger-levels";
import { applyMigrations } from "../sqlite-migrations";

const MIGRATIONS: string[] = [
  `CREATE TABLE triggers (account_id TEXT NOT NULL, price REAL NOT NULL, dir INTEGER NOT NULL, kind TEXT NOT NULL);
   CREATE INDEX triggers_by_price ON triggers (dir, price);
   CREATE INDEX triggers_by_account ON triggers (account_id);
   CREATE TABLE accounts (account_id TEXT PRIMARY KEY, levels INTEGER NOT NULL, registered_at INTEGER NOT NULL);
   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
];

const DOWN = 0;
const UP = 1;
const dirCode = (d: LevelDirection) => (d === "down" ? DOWN : UP);

/** At most this many levels per account (a guard, TP/SL and entries on 20 trades fit). */
export const MAX_LEVELS_PER_ACCOUNT = 400;

export interface CrossedAccount {
  accountId: string;
  /** The most urgent kind among its crossed levels (wake order). */
  kind: LevelKind;
}

export class TriggerIndex {
  constructor(private readonly sql: SqlStorage) {
    applyMigrations(sql, MIGRATIONS);
  }

  /**
   * Replaces an account's levels (none: it leaves the index). Returns how many were kept. The
   * same set again (an account rebuilt after an eviction re-registers what it had) only
   * refreshes `registered_at`: one row written instead of every level deleted and re-inserted.
   */
  register(accountId: string, levels: readonly TriggerLevel[], now: number): number {
    const kept = levels.filter((l) => Number.isFinite(l.price) && l.price > 0).slice(0, MAX_LEVELS_PER_ACCOUNT);
    if (kept.length && this.sameLevels(accountId, kept)) {
      this.sql.exec("UPDATE accounts SET registered_at = ? WHERE account_id = ?", now, accountId);
      return kept.length;
    }
    this.sql.exec("DELETE FROM triggers WHERE account_id = ?", accountId);
    if (!kept.length) {
      this.sql.exec("DELETE FROM accounts WHERE account_id = ?", accountId);
      return 0;
    }
    for (const l of kept) this.sql.exec("INSERT INTO triggers (account_id, price, dir, kind) VALUES (?, ?, ?, ?)", accountId, l.price, dirCode(l.direction), l.kind);
    this.sql.exec("INSERT OR REPLACE INTO accounts (account_id, levels, registered_at) VALUES (?, ?, ?)", accountId, kept.length, now);
    return kept.length;
  }

  /**
   * Accounts with a level crossed by a move from `from` to `to` (see `crossed` in
   * src/domain/trigger-levels.ts), most urgent first. One range scan of the price index.
   */
  crossed(from: number, to: number): CrossedAccount[] {
    if (!(from > 0) || !(to > 0) || from === to) return [];
    const rows = to < from
      ? this.sql.exec<{ account_id: string; kind: string }>("SELECT account_id, kind FROM triggers WHERE dir = ? AND price >= ? AND price < ?", DOWN, to, from).toArray()
      : this.sql.exec<{ account_id: string; kind: string }>("SELECT account_id, kind FROM triggers WHERE dir = ? AND price > ? AND price <= ?", UP, from, to).toArray();
    const best = new Map<string, LevelKind>();
    for (const r of rows) {
      const kind = r.kind as LevelKind;
      const seen = best.get(r.account_id);
      if (seen === undefined || (KIND_PRIORITY[kind] ?? 9) < (KIND_PRIORITY[seen] ?? 9)) best.set(r.account_id, kind);
    }
    return [...best].map(([accountId, kind]) => ({ accountId, kind })).sort((a, b) => (KIND_PRIORITY[a.kind] ?? 9) - (KIND_PRIORITY[b.kind] ?? 9));
  }

  /** Whether the index holds exactly these levels for the account (as a multiset). */
  private sameLevels(accountId: string, levels: readonly TriggerLevel[]): boolean {
    const have = this.sql.exec<{ price: number; dir: number; kind: string }>("SELECT price, dir, kind FROM triggers WHERE account_id = ?", accountId).toArray();
    if (have.length !== levels.length) return false;
    const key = (price: number, dir: number, kind: string) => `${dir}:${price}:${kind}`;
    const a = have.map((r) => key(r.price, r.dir, r.kind)).sort();
    const b = levels.map((l) => key(l.price, dirCode(l.direction), l.kind)).sort();
    return a.every((x, i) => x === b[i]) && this.registeredAt(accountId) !== null;
  }

  /** Whether one account's own levels are crossed by a move (its registration catching up). */
  crossedFor(accountId: string, from: number, to: number): boolean {
    if (!(from > 0) || !(to > 0) || from === to) return false;
    const q = to < from
      ? this.sql.exec("SELECT 1 FROM triggers WHERE account_id = ? AND dir = ? AND price >= ? AND price < ? LIMIT 1", accountId, DOWN, to, from)
      : this.sql.exec("SELECT 1 FROM triggers WHERE account_id = ? AND dir = ? AND price > ? AND price <= ? LIMIT 1", accountId, UP, from, to);
    return q.toArray().length > 0;
  }

  /** Every registered account (a funding settlement wakes them all). */
  accountIds(): string[] {
    return this.sql.exec<{ account_id: string }>("SELECT account_id FROM accounts").toArray().map((r) => r.account_id);
  }

  counts(): { accounts: number; levels: number } {
    const a = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM accounts").one().n;
    const l = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM triggers").one().n;
    return { accounts: a, levels: l };
  }

  /** When an account last registered (null: not in the index). */
  registeredAt(accountId: string): number | null {
    const r = this.sql.exec<{ at: number }>("SELECT registered_at AS at FROM accounts WHERE account_id = ?", accountId).toArray()[0];
    return r?.at ?? null;
  }

  getMeta(key: string): string | null {
    const r = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0];
    return r?.value ?? null;
  }

  setMeta(key: string, value: string): void {
    this.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", key, value);
  }
}
