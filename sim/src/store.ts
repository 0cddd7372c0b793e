/**
 * The exchange's persistent state in the Durable Object's SQLite: accounts, trades, the order
 * log, Lightning invoices and a small key-value table (price, scenario, faults, schedule).
 * Everything survives eviction; the in-memory parts of the DO are caches of this.
 */
import type { TradeRecord, TradeStatus } from "./positions";

/** Ordered and append-only: a released migration is never edited. */
const MIGRATIONS: string[][] = [
  [
    `CREATE TABLE accounts (id TEXT PRIMARY KEY, api_key TEXT NOT NULL UNIQUE, secret TEXT NOT NULL,
      passphrase TEXT NOT NULL, username TEXT NOT NULL, balance INTEGER NOT NULL, created_ms INTEGER NOT NULL)`,
    `CREATE TABLE trades (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, status TEXT NOT NULL,
      closed_ms INTEGER, data TEXT NOT NULL)`,
    `CREATE INDEX trades_account_status ON trades (account_id, status, closed_ms)`,
    `CREATE INDEX trades_status ON trades (status)`,
    `CREATE TABLE orders (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, api_key TEXT,
      route TEXT NOT NULL, body TEXT, client_id TEXT, status INTEGER NOT NULL)`,
    `CREATE TABLE invoices (payment_hash TEXT PRIMARY KEY, payment_request TEXT NOT NULL,
      amount INTEGER NOT NULL, memo TEXT, expiry INTEGER NOT NULL, created_ms INTEGER NOT NULL,
      paid_ms INTEGER, api_key TEXT)`,
    `CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)`,
  ],
  [
    // `at` is when the request reached the front door; `handled_at` when the exchange started on it.
    `ALTER TABLE orders ADD COLUMN handled_at INTEGER`,
    `CREATE INDEX orders_at ON orders (at)`,
  ],
  [
    // Funding settlements and the fee each trade paid (+) or received (-) in them.
    `CREATE TABLE funding_settlements (id TEXT PRIMARY KEY, time_ms INTEGER NOT NULL, rate REAL NOT NULL,
      fixing_price REAL NOT NULL, trades INTEGER NOT NULL)`,
    `CREATE INDEX funding_settlements_time ON funding_settlements (time_ms)`,
    `CREATE TABLE funding_fees (seq INTEGER PRIMARY KEY AUTOINCREMENT, settlement_id TEXT NOT NULL,
      trade_id TEXT NOT NULL, account_id TEXT NOT NULL, time_ms INTEGER NOT NULL, fee INTEGER NOT NULL)`,
    `CREATE INDEX funding_fees_account ON funding_fees (account_id, time_ms)`,
    // Traded volume (USD, opening and closing) per account, for the 30-day fee tier.
    `CREATE TABLE volumes (seq INTEGER PRIMARY KEY AUTOINCREMENT, account_id TEXT NOT NULL, at INTEGER NOT NULL,
      usd REAL NOT NULL)`,
    `CREATE INDEX volumes_account ON volumes (account_id, at)`,
  ],
  [
    // Requests a test harness sent as the trader (x-sim-harness): never faulted.
    `ALTER TABLE orders ADD COLUMN harness TEXT`,
  ],
];

export interface FundingSettlement {
  id: string;
  time: number;
  rate: number;
  fixingPrice: number;
  /** Trades charged or credited (fee > 0). */
  trades: number;
}

export interface FundingFeeRow {
  seq: number;
  settlementId: string;
  tradeId: string;
  accountId: string;
  time: number;
  /** Signed: positive paid by the trader, negative received. */
  fee: number;
}

/** Newest-first paging position: (time, row sequence). */
export interface PageAfter {
  t: number;
  s: number;
}

export interface Account {
  id: string;
  apiKey: string;
  secret: string;
  passphrase: string;
  username: string;
  balance: number;
  createdMs: number;
}

export interface OrderLogEntry {
  /** When the request reached the simulator (its entry worker). */
  at: number;
  /** When the exchange object started on it (after any queue in front of it). */
  handledAt: number;
  key: string | null;
  route: string;
  body: unknown;
  clientId: string | null;
  status: number;
  /** Set when a test harness sent it as the trader (header x-sim-harness): not faulted. */
  harness?: string;
}

export interface Invoice {
  paymentHash: string;
  paymentRequest: string;
  amount: number;
  memo: string | null;
  expiry: number;
  createdMs: number;
  paidMs: number | null;
}

type Row = Record<string, SqlStorageValue>;

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
    const r = this.sql.exec<{ data: string }>(`SELECT data FROM trades WHERE id = ? AND account_id = ?`, id, accountId).toArray()[0];
    return r && (JSON.parse(r.data) as TradeRecord);
  }

  /** An account's trades in one status, oldest first. */
  tradesOf(accountId: string, status: TradeStatus): TradeRecord[] {
    return this.sql
      .exec<{ data: string }>(`SELECT data FROM trades WHERE account_id = ? AND status = ? ORDER BY rowid`, accountId, status)
      .toArray()
      .map((r) => JSON.parse(r.data) as TradeRecord);
  }

  /** Every trade of an account in any status, oldest first (the control API's view). */
  allTradesOf(accountId: string): TradeRecord[] {
    return this.sql
      .exec<{ data: string }>(`SELECT data FROM trades WHERE account_id = ? ORDER BY rowid`, accountId)
      .toArray()
      .map((r) => JSON.parse(r.data) as TradeRecord);
  }

  /** Every open or running trade of every account, oldest first: what a price tick evaluates. */
  liveTrades(): TradeRecord[] {
    return this.sql
      .exec<{ data: string }>(`SELECT data FROM trades WHERE status IN ('open', 'running') ORDER BY rowid`)
      .toArray()
      .map((r) => JSON.parse(r.data) as TradeRecord);
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
    const rows = after
      ? this.sql.exec<{ data: string }>(
          `SELECT data FROM trades WHERE account_id = ? AND status IN ('closed', 'canceled')
             AND closed_ms BETWEEN ? AND ? AND (closed_ms < ? OR (closed_ms = ? AND id < ?))
           ORDER BY closed_ms DESC, id DESC LIMIT ?`,
          accountId, opts.from, opts.to, after.t, after.t, after.id, opts.limit,
        )
      : this.sql.exec<{ data: string }>(
          `SELECT data FROM trades WHERE account_id = ? AND status IN ('closed', 'canceled')
             AND closed_ms BETWEEN ? AND ? ORDER BY closed_ms DESC, id DESC LIMIT ?`,
          accountId, opts.from, opts.to, opts.limit,
        );
    return rows.toArray().map((r) => JSON.parse(r.data) as TradeRecord);
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
    return this.sql
      .exec<{ data: string }>(`SELECT data FROM trades WHERE status = 'running' ORDER BY rowid`)
      .toArray()
      .map((r) => JSON.parse(r.data) as TradeRecord);
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
    return rows.map((r) => ({
      seq: Number(r.seq),
      id: String(r.id),
      time: Number(r.time_ms),
      rate: Number(r.rate),
      fixingPrice: Number(r.fixing_price),
      trades: Number(r.trades),
    }));
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
    return rows.map((r) => ({
      seq: Number(r.seq),
      settlementId: String(r.settlement_id),
      tradeId: String(r.trade_id),
      accountId: String(r.account_id),
      time: Number(r.time_ms),
      fee: Number(r.fee),
    }));
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
    return cursor.toArray().map((r) => ({
      at: Number(r.at),
      handledAt: Number(r.handled_at ?? r.at),
      key: (r.api_key as string | null) ?? null,
      route: String(r.route),
      body: parseMaybeJson(r.body as string | null),
      clientId: (r.client_id as string | null) ?? null,
      status: Number(r.status),
      ...(r.harness ? { harness: String(r.harness) } : {}),
    }));
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
    if (!r) return undefined;
    return {
      paymentHash: String(r.payment_hash),
      paymentRequest: String(r.payment_request),
      amount: Number(r.amount),
      memo: (r.memo as string | null) ?? null,
      expiry: Number(r.expiry),
      createdMs: Number(r.created_ms),
      paidMs: r.paid_ms === null ? null : Number(r.paid_ms),
    };
  }

  markInvoicePaid(paymentHash: string, at: number): void {
    this.sql.exec(`UPDATE invoices SET paid_ms = ? WHERE payment_hash = ? AND paid_ms IS NULL`, at, paymentHash);
  }
}

function toAccount(r: Row): Account {
  return {
    id: String(r.id),
    apiKey: String(r.api_key),
    secret: String(r.secret),
    passphrase: String(r.passphrase),
    username: String(r.username),
    balance: Number(r.balance),
    createdMs: Number(r.created_ms),
  };
}

function parseMaybeJson(s: string | null): unknown {
  if (s === null || s === "") return null;
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}
