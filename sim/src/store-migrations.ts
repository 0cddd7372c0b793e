/**
 * The simulator's SQLite schema, as migrations applied in order (Store.migrate).
 */

/** Ordered and append-only: a released migration is never edited. */
export const MIGRATIONS: string[][] = [
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
