/**
 * The rows of the simulator's store (store.ts) and their mapping from SQLite.
 */

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

export type Row = Record<string, SqlStorageValue>;

export function toAccount(r: Row): Account {
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

export function toInvoice(r: Row): Invoice {
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

export function toOrderLogEntry(r: Row): OrderLogEntry {
  return {
    at: Number(r.at),
    handledAt: Number(r.handled_at ?? r.at),
    key: (r.api_key as string | null) ?? null,
    route: String(r.route),
    body: parseMaybeJson(r.body as string | null),
    clientId: (r.client_id as string | null) ?? null,
    status: Number(r.status),
    ...(r.harness ? { harness: String(r.harness) } : {}),
  };
}

export function toSettlement(r: Row): FundingSettlement & { seq: number } {
  return {
    seq: Number(r.seq),
    id: String(r.id),
    time: Number(r.time_ms),
    rate: Number(r.rate),
    fixingPrice: Number(r.fixing_price),
    trades: Number(r.trades),
  };
}

export function toFundingFee(r: Row): FundingFeeRow {
  return {
    seq: Number(r.seq),
    settlementId: String(r.settlement_id),
    tradeId: String(r.trade_id),
    accountId: String(r.account_id),
    time: Number(r.time_ms),
    fee: Number(r.fee),
  };
}
