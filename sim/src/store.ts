/**
 * The exchange's persistent state in the Durable Object's SQLite: accounts, trades, the order
 * log, Lightning invoices and a small key-value table (price, scenario, faults, schedule).
 * Everything survives eviction; the in-memory parts of the DO are caches of this.
 */
import type { TradeRecord, TradeStatus } from "./positions";
import { MIGRATIONS } from "./store-migrations";
import {
  toAccount,
  toFundingFee,
  toInvoice,
  toOrderLogEntry,
  toSettlement,
  type Account,
  type FundingFeeRow,
  type FundingSettlement,
  type Invoice,
  type OrderLogEntry,
  type PageAfter,
  type Row,
} from "./store-rows";

export type { Account, FundingFeeRow, FundingSettlement, Invoice, OrderLogEntry, PageAfter } from "./store-rows";

export class Store {
  constructor(private readonly sql: SqlStorage) {}

  /** Apply pending migrations; call inside blockConcurrencyWhile. */
  migrate(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS _migrations (n INTEGER PRIMARY KEY)`);
    const done = Number(this.sql.exec(`SELECT COUNT(*) AS c FROM _migrations`).one().c);
    for (let i = done; i < MIGRATIONS.length; i++) {
      for (const stmt of MIGRATIONS[i]!) this.sql.exec(stmt);
      this.sql.exec(`INSERT INTO _migrations (n) VALUES (?)`, i + 1);
    }
  }

  /** Drop every row (schema kept): the clean exchange of POST /__sim/reset. */
  clear(): void {
    for (const t of ["accounts", "trades", "orders", "invoices", "kv", "funding_settlements", "funding_fees", "volumes"]) this.sql.exec(`DELETE FROM ${t}`);
  }

  // --- key-value -------------------------------------------------------------------------

  getJson<T>(k: string): T | undefined {
    const rows = this.sql.exec<{ v: string }>(`SELECT v FROM kv WHERE k = ?`, k).toArray();
    return rows[0] ? (JSON.parse(rows[0].v) as T) : undefined;
  }

  putJson(k: string, v: unknown): void {
    this.sql.exec(`INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`, k, JSON.stringify(v));
  }

  deleteKey(k: string): void {
    this.sql.exec(`DELETE FROM kv WHERE k = ?`, k);
  }

  // --- accounts --------------------------------------------------------------------------

  insertAccount(a: Account): void {
    this.sql.exec(
      `INSERT INTO accounts (id, api_key, secret, passphrase, username, balance, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      a.id, a.apiKey, a.secret, a.passphrase, a.username, a.balance, a.createdMs,
    );
  }

  accountByKey(apiKey: string): Account | undefined {
    const r = this.sql.exec<Row>(`SELECT * FROM accounts WHERE api_key = ?`, apiKey).toArray()[0];
    return r && toAccount(r);
  }

  accountById(id: string): Account | undefined {
    const r = this.sql.exec<Row>(`SELECT * FROM accounts WHERE id = ?`, id).toArray()[0];
    return r && toAccount(r);
  }

  /** Add `delta` sats (negative to debit). */
  adjustBalance(accountId: string, delta: number): void {
    this.sql.exec(`UPDATE accounts SET balance = balance + ? WHERE id = ?`, delta, accountId);
  }

  countAccounts(): number {
    return Number(this.sql.exec(`SELECT COUNT(*) AS c FROM accounts`).one().c);
  }

  // --- trades ----------------------------------------------------------------------------

  saveTrade(t: TradeRecord): void {
    this.sql.exec(
      `INSERT INTO trades (id, account_id, status, closed_ms, data) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, closed_ms = excluded.closed_ms, data = excluded.data`,
      t.id, t.uid, t.status, t.closedAt, JSON.stringify(t),
    );
  }

  trade(accountId: string, id: string): TradeRecord | undefined {
    return this.#trades(`SELECT data FROM trades WHERE id = ? AND account_id = ?`, id, accountId)[0];
  }

  /** The trades a `SELECT data FROM trades …` query returns, in its order. */
  #trades(query: string, ...bindings: SqlStorageValue[]): TradeRecord[] {
    return this.sql.exec<{ data: string }>(query, ...bindings).toArray().map((r) => JSON.parse(r.data) as TradeRecord);
  }

  /** An account's trades in one status, oldest first. */
  tradesOf(accountId: string, status: TradeStatus): TradeRecord[] {
    return this.#trades(`SELECT data FROM trades WHERE account_id = ? AND status = ? ORDER BY rowid`, accountId, status);
  }

  /** Every trade of an account in any status, oldest first (the control API's view). */
  allTradesOf(accountId: string): TradeRecord[] {
    return this.#trades(`SELECT data FROM trades WHERE account_id = ? ORDER BY rowid`, accountId);
  }

  /** Every open or running trade of every account, oldest first: what a price tick evaluates. */
  liveTrades(): TradeRecord[] {
    return this.#trades(`SELECT data FROM trades WHERE status IN ('open', 'running') ORDER BY rowid`);
  }

  /**
   * Closed and canceled trades, newest first, with closedAt in [from, to], starting after the
   * (closedMs, id) cursor position.
   */
  finishedTrades(
    accountId: string,
    opts: { from: number; to: number; limit: number; after?: { t: number; id: string } },
  ): TradeRecord[] {
    const after = opts.after;
    return after
      ? this.#trades(
          `SELECT data FROM trades WHERE account_id = ? AND status IN ('closed', 'canceled')
             AND closed_ms BETWEEN ? AND ? AND (closed_ms < ? OR (closed_ms = ? AND id < ?))
           ORDER BY closed_ms DESC, id DESC LIMIT ?`,
          accountId, opts.from, opts.to, after.t, after.t, after.id, opts.limit,
        )
      : this.#trades(
          `SELECT data FROM trades WHERE account_id = ? AND status IN ('closed', 'canceled')
             AND closed_ms BETWEEN ? AND ? ORDER BY closed_ms DESC, id DESC LIMIT ?`,
          accountId, opts.from, opts.to, opts.limit,
        );
  }

  /** Sum of the margins of an account's open and running trades (sats). */
  marginUsed(accountId: string): number {
    const r = this.sql
      .exec<{ m: number | null }>(
        `SELECT SUM(json_extract(data, '$.margin')) AS m FROM trades WHERE account_id = ? AND status IN ('open', 'running')`,
        accountId,
      )
      .one();
    return Number(r.m ?? 0);
  }

  /** Every running trade of every account, oldest first (what a funding settlement charges). */
  runningTrades(): TradeRecord[] {
    return this.#trades(`SELECT data FROM trades WHERE status = 'running' ORDER BY rowid`);
  }

  // --- volume ------------------------------------------------------------------------------

  addVolume(accountId: string, at: number, usd: number): void {
    this.sql.exec(`INSERT INTO volumes (account_id, at, usd) VALUES (?, ?, ?)`, accountId, at, usd);
  }

  /** USD traded (opening + closing) by an account since `since` (ms). */
  volumeSince(accountId: string, since: number): number {
    const r = this.sql
      .exec<{ v: number | null }>(`SELECT SUM(usd) AS v FROM volumes WHERE account_id = ? AND at >= ?`, accountId, since)
      .one();
    return Number(r.v ?? 0);
  }

  // --- funding -----------------------------------------------------------------------------

  insertSettlement(s: FundingSettlement): void {
    this.sql.exec(
      `INSERT INTO funding_settlements (id, time_ms, rate, fixing_price, trades) VALUES (?, ?, ?, ?, ?)`,
      s.id, s.time, s.rate, s.fixingPrice, s.trades,
    );
  }

  insertFundingFee(f: Omit<FundingFeeRow, "seq">): void {
    this.sql.exec(
      `INSERT INTO funding_fees (settlement_id, trade_id, account_id, time_ms, fee) VALUES (?, ?, ?, ?, ?)`,
      f.settlementId, f.tradeId, f.accountId, f.time, f.fee,
    );
  }

  /** Settlements newest first, time in [from, to], after the cursor position. */
  settlements(opts: { from: number; to: number; limit: number; after?: PageAfter }): Array<FundingSettlement & { seq: number }> {
    const a = opts.after;
    const rows = this.sql
      .exec<Row>(
        `SELECT rowid AS seq, * FROM funding_settlements WHERE time_ms BETWEEN ? AND ?
           AND (? IS NULL OR time_ms < ? OR (time_ms = ? AND rowid < ?))
         ORDER BY time_ms DESC, rowid DESC LIMIT ?`,
        opts.from, opts.to, a ? a.t : null, a?.t ?? 0, a?.t ?? 0, a?.s ?? 0, opts.limit,
      )
      .toArray();
    return rows.map(toSettlement);
  }

  /** An account's funding fees newest first, optionally one trade's, after the cursor position. */
  fundingFees(
    accountId: string,
    opts: { tradeId?: string; from: number; to: number; limit: number; after?: PageAfter },
  ): FundingFeeRow[] {
    const a = opts.after;
    const rows = this.sql
      .exec<Row>(
        `SELECT * FROM funding_fees WHERE account_id = ? AND (? IS NULL OR trade_id = ?) AND time_ms BETWEEN ? AND ?
           AND (? IS NULL OR time_ms < ? OR (time_ms = ? AND seq < ?))
         ORDER BY time_ms DESC, seq DESC LIMIT ?`,
        accountId, opts.tradeId ?? null, opts.tradeId ?? "", opts.from, opts.to,
        a ? a.t : null, a?.t ?? 0, a?.t ?? 0, a?.s ?? 0, opts.limit,
      )
      .toArray();
    return rows.map(toFundingFee);
  }

  countTradesByStatus(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.sql.exec<{ status: string; c: number }>(`SELECT status, COUNT(*) AS c FROM trades GROUP BY status`)) {
      out[r.status] = Number(r.c);
    }
    return out;
  }

  // --- order log -------------------------------------------------------------------------

  logOrder(e: { at: number; handledAt: number; key: string | null; route: string; body: string; clientId: string | null; status: number; harness?: string | null }): void {
    this.sql.exec(
      `INSERT INTO orders (at, handled_at, api_key, route, body, client_id, status, harness) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      e.at, e.handledAt, e.key, e.route, e.body, e.clientId, e.status, e.harness ?? null,
    );
  }

  /** The order log, optionally one key's and only entries received at or after `since` (ms). */
  orders(key?: string, since = 0): OrderLogEntry[] {
    const cursor = key
      ? this.sql.exec<Row>(`SELECT * FROM orders WHERE api_key = ? AND at >= ? ORDER BY seq`, key, since)
      : this.sql.exec<Row>(`SELECT * FROM orders WHERE at >= ? ORDER BY seq`, since);
    return cursor.toArray().map(toOrderLogEntry);
  }

  // --- invoices --------------------------------------------------------------------------

  insertInvoice(i: Invoice, apiKey: string): void {
    this.sql.exec(
      `INSERT INTO invoices (payment_hash, payment_request, amount, memo, expiry, created_ms, paid_ms, api_key)
       VALUES (?, ?, ?, ?, ?, ?, NULL, ?)`,
      i.paymentHash, i.paymentRequest, i.amount, i.memo, i.expiry, i.createdMs, apiKey,
    );
  }

  invoice(paymentHash: string): Invoice | undefined {
    const r = this.sql.exec<Row>(`SELECT * FROM invoices WHERE payment_hash = ?`, paymentHash).toArray()[0];
    return r && toInvoice(r);
  }

  markInvoicePaid(paymentHash: string, at: number): void {
    this.sql.exec(`UPDATE invoices SET paid_ms = ? WHERE payment_hash = ? AND paid_ms IS NULL`, at, paymentHash);
  }
}
