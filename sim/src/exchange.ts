/**
 * The exchange's state machine: accounts, isolated trades and the price. Every method runs
 * synchronously against SQLite inside the DO, so a request or a price tick is atomic.
 * Expected failures throw ApiError (400/404) with LN Markets-like messages.
 */
import {
  leverageOf,
  marginFor,
  MAX_LEVERAGE,
  MAX_QUANTITY,
  MIN_QUANTITY,
  quantityFor,
  roundToTick,
  SATS_PER_BTC,
} from "../../src/domain/inverse";
import { ApiError, badRequest, notFound } from "./errors";
import {
  feeFor,
  limitFills,
  liquidationOf,
  settle,
  trailedStop,
  triggerAt,
  unrealisedPl,
  type CloseReason,
  type TradeRecord,
} from "./positions";
import { randomHex } from "./signing";
import type { Account, Store } from "./store";

export const DEFAULT_PRICE = 100_000;

export interface PriceState {
  lastPrice: number;
  index: number;
  time: number;
}

export type TradeEventName = "open" | "filled" | "canceled" | CloseReason;
export interface TradeEvent {
  accountId: string;
  event: TradeEventName;
  trade: TradeRecord;
}

export interface NewTradeInput {
  type: "market" | "limit";
  side: "buy" | "sell";
  leverage: number;
  quantity?: number;
  margin?: number;
  price?: number;
  takeprofit?: number;
  stoploss?: number;
  clientId?: string;
}

export interface NewKeysInput {
  balance: number;
  key?: string;
  secret?: string;
  passphrase?: string;
  username?: string;
}

export class Exchange {
  #price: PriceState;
  #events: TradeEvent[] = [];

  constructor(private readonly store: Store) {
    this.#price = store.getJson<PriceState>("price") ?? { lastPrice: DEFAULT_PRICE, index: DEFAULT_PRICE, time: Date.now() };
  }

  get price(): PriceState {
    return this.#price;
  }

  /** Events produced since the last call (for the stream to push). */
  drainEvents(): TradeEvent[] {
    const out = this.#events;
    this.#events = [];
    return out;
  }

  /** Forget every account, trade and price: the in-memory side of a reset. */
  reset(): void {
    this.#price = { lastPrice: DEFAULT_PRICE, index: DEFAULT_PRICE, time: Date.now() };
    this.#events = [];
  }

  /**
   * Move the price and re-evaluate every live trade in order: limit fills, then liquidation,
   * stop loss, take profit, then trailing stops.
   */
  setPrice(price: number, index?: number, now = Date.now()): PriceState {
    const lastPrice = Math.max(0.5, roundToTick(price));
    this.#price = { lastPrice, index: index ?? lastPrice, time: now };
    this.store.putJson("price", this.#price);
    for (const t of this.store.liveTrades()) this.#evaluate(t, lastPrice, now);
    return this.#price;
  }

  #evaluate(t: TradeRecord, price: number, now: number): void {
    if (t.status === "open") {
      if (!limitFills(t, price)) return;
      t = { ...t, status: "running", entryPrice: t.price, filledAt: now };
      this.store.saveTrade(t);
      this.#emit("filled", t);
    }
    const reason = triggerAt(t, price);
    if (reason) {
      this.#settle(t, price, reason, now);
      return;
    }
    const trailed = trailedStop(t, price);
    if (trailed !== null) this.store.saveTrade({ ...t, stoploss: trailed });
  }

  #settle(t: TradeRecord, price: number, reason: CloseReason, now: number): TradeRecord {
    const { trade, credit } = settle(t, price, reason, now);
    this.store.saveTrade(trade);
    this.store.adjustBalance(t.uid, credit);
    this.#emit(reason, trade);
    return trade;
  }

  #emit(event: TradeEventName, trade: TradeRecord): void {
    this.#events.push({ accountId: trade.uid, event, trade });
  }

  // --- accounts ----------------------------------------------------------------------------

  /** Create (or, for the same explicit credentials, return) an account with an API key trio. */
  createKeys(input: NewKeysInput): { key: string; secret: string; passphrase: string; accountId: string } {
    if (input.key) {
      const existing = this.store.accountByKey(input.key);
      if (existing) {
        const same =
          (input.secret === undefined || input.secret === existing.secret) &&
          (input.passphrase === undefined || input.passphrase === existing.passphrase);
        if (!same) throw new ApiError(409, "key already exists with other credentials", "CONFLICT", "key");
        return { key: existing.apiKey, secret: existing.secret, passphrase: existing.passphrase, accountId: existing.id };
      }
    }
    const id = crypto.randomUUID();
    const account: Account = {
      id,
      apiKey: input.key ?? `sim_${randomHex(16)}`,
      secret: input.secret ?? randomHex(32),
      passphrase: input.passphrase ?? randomHex(8),
      username: input.username ?? `sim-${id.slice(0, 8)}`,
      balance: input.balance,
      createdMs: Date.now(),
    };
    this.store.insertAccount(account);
    return { key: account.apiKey, secret: account.secret, passphrase: account.passphrase, accountId: id };
  }

  /** `GET /account` (GetAccountOutput of the SDK). */
  account(acc: Account) {
    const fresh = this.store.accountById(acc.id) ?? acc;
    return {
      balance: fresh.balance,
      email: null,
      feeTier: 1,
      id: fresh.id,
      linkingPublicKey: null,
      syntheticUsdBalance: 0,
      username: fresh.username,
    };
  }

  /** `GET /futures/ticker` (GetTickerOutput of the SDK). No spread: bid = ask = last price. */
  ticker() {
    const p = this.#price;
    return {
      fundingRate: 0,
      fundingTime: nextFundingTime(p.time),
      index: p.index,
      lastPrice: p.lastPrice,
      prices: [{ askPrice: p.lastPrice, bidPrice: p.lastPrice, maxSize: MAX_QUANTITY, minSize: MIN_QUANTITY }],
    };
  }

  // --- trades ------------------------------------------------------------------------------

  #get(acc: Account, id: string): TradeRecord {
    const t = this.store.trade(acc.id, id);
    if (!t) throw notFound();
    return t;
  }

  #running(acc: Account, id: string): TradeRecord {
    const t = this.#get(acc, id);
    if (t.status !== "running") throw badRequest("Trade is not running");
    return t;
  }

  #debit(acc: Account, amount: number): void {
    const balance = this.store.accountById(acc.id)?.balance ?? 0;
    if (amount > balance) throw new ApiError(400, "Insufficient balance", "INSUFFICIENT_BALANCE");
    this.store.adjustBalance(acc.id, -amount);
  }

  newTrade(acc: Account, input: NewTradeInput, now = Date.now()): TradeRecord {
    const market = this.#price.lastPrice;
    const price = input.type === "limit" ? input.price! : market;
    const quantity = input.quantity ?? quantityFor(input.margin!, price, input.leverage);
    const margin = input.margin ?? marginFor(quantity, price, input.leverage);
    if (quantity < MIN_QUANTITY || quantity > MAX_QUANTITY) {
      throw badRequest(`quantity must be between ${MIN_QUANTITY} and ${MAX_QUANTITY}`, "quantity");
    }
    if (margin < 1) throw badRequest("margin too small", "margin");
    this.#checkTargets(input.side, price, input.takeprofit ?? 0, input.stoploss ?? 0);
    const openingFee = feeFor(quantity, price);
    const maintenanceMargin = feeFor(quantity, price);
    this.#debit(acc, margin + openingFee + maintenanceMargin);
    const limit = input.type === "limit";
    const trade: TradeRecord = {
      id: crypto.randomUUID(),
      uid: acc.id,
      clientId: input.clientId ?? null,
      side: input.side,
      type: input.type,
      status: limit ? "open" : "running",
      price,
      entryPrice: limit ? null : price,
      exitPrice: null,
      quantity,
      margin,
      entryMargin: margin,
      leverage: input.leverage,
      openingFee,
      closingFee: 0,
      maintenanceMargin,
      sumCashInMargin: 0,
      sumCashInPl: 0,
      takeprofit: input.takeprofit ?? 0,
      stoploss: input.stoploss ?? 0,
      stoplossTrailingDistance: 0,
      pl: 0,
      createdAt: now,
      filledAt: limit ? null : now,
      closedAt: null,
      closeReason: null,
    };
    this.store.saveTrade(trade);
    this.#emit(limit ? "open" : "filled", trade);
    // A marketable limit order fills at once, at its limit price.
    if (limit && limitFills(trade, market)) this.#evaluate(trade, market, now);
    return this.#get(acc, trade.id);
  }

  /** TP above and SL below the reference price for a long; mirrored for a short. */
  #checkTargets(side: "buy" | "sell", ref: number, takeprofit: number, stoploss: number): void {
    const long = side === "buy";
    if (takeprofit > 0 && (long ? takeprofit <= ref : takeprofit >= ref)) {
      throw badRequest(`takeprofit must be ${long ? "above" : "below"} ${ref}`, "takeprofit");
    }
    if (stoploss > 0 && (long ? stoploss >= ref : stoploss <= ref)) {
      throw badRequest(`stoploss must be ${long ? "below" : "above"} ${ref}`, "stoploss");
    }
  }

  addMargin(acc: Account, id: string, amount: number): TradeRecord {
    const t = this.#running(acc, id);
    const margin = t.margin + amount;
    const leverage = leverageOf(t.quantity, margin, t.entryPrice!);
    if (leverage < 1) throw badRequest("leverage would fall under 1", "amount");
    this.#debit(acc, amount);
    const next = { ...t, margin, leverage };
    this.store.saveTrade(next);
    return next;
  }

  /**
   * Take `amount` sats out of a running trade: from its unrealised profit first (which moves the
   * entry price so the remaining PnL is what is left), then from its margin.
   */
  cashIn(acc: Account, id: string, amount: number): TradeRecord {
    const t = this.#running(acc, id);
    const price = this.#price.lastPrice;
    const pl = unrealisedPl(t, price);
    const fromPl = Math.min(amount, Math.max(0, pl));
    const fromMargin = amount - fromPl;
    const margin = t.margin - fromMargin;
    if (margin < 1) throw badRequest("amount exceeds the available profit and margin", "amount");
    let entryPrice = t.entryPrice!;
    if (fromPl > 0) {
      const rest = (pl - fromPl) / (t.quantity * SATS_PER_BTC);
      entryPrice = 1 / (t.side === "buy" ? rest + 1 / price : 1 / price - rest);
    }
    const leverage = leverageOf(t.quantity, margin, entryPrice);
    if (leverage > MAX_LEVERAGE) throw badRequest(`leverage would exceed ${MAX_LEVERAGE}`, "amount");
    const next: TradeRecord = {
      ...t,
      entryPrice,
      margin,
      leverage,
      sumCashInPl: t.sumCashInPl + fromPl,
      sumCashInMargin: t.sumCashInMargin + fromMargin,
    };
    const liq = liquidationOf(next);
    if (t.side === "buy" ? price <= liq : liq > 0 && price >= liq) {
      throw badRequest("cash-in would liquidate the trade", "amount");
    }
    this.store.adjustBalance(acc.id, amount);
    this.store.saveTrade(next);
    return next;
  }

  #liveTarget(acc: Account, id: string): { t: TradeRecord; ref: number } {
    const t = this.#get(acc, id);
    if (t.status !== "running" && t.status !== "open") throw badRequest("Trade is not open or running");
    return { t, ref: t.status === "running" ? this.#price.lastPrice : t.price };
  }

  setTakeprofit(acc: Account, id: string, value: number): TradeRecord {
    const { t, ref } = this.#liveTarget(acc, id);
    this.#checkTargets(t.side, ref, value, 0);
    const next = { ...t, takeprofit: value };
    this.store.saveTrade(next);
    return next;
  }

  setStoploss(acc: Account, id: string, value: number, mode: "fixed" | "trailing"): TradeRecord {
    const { t, ref } = this.#liveTarget(acc, id);
    this.#checkTargets(t.side, ref, 0, value);
    const distance = mode === "trailing" ? roundToTick(Math.abs(ref - value)) : 0;
    const next = { ...t, stoploss: value, stoplossTrailingDistance: distance };
    this.store.saveTrade(next);
    return next;
  }

  removeTakeprofit(acc: Account, id: string): TradeRecord {
    const { t } = this.#liveTarget(acc, id);
    const next = { ...t, takeprofit: 0 };
    this.store.saveTrade(next);
    return next;
  }

  removeStoploss(acc: Account, id: string): TradeRecord {
    const { t } = this.#liveTarget(acc, id);
    const next = { ...t, stoploss: 0, stoplossTrailingDistance: 0 };
    this.store.saveTrade(next);
    return next;
  }

  close(acc: Account, id: string, now = Date.now()): TradeRecord {
    const t = this.#running(acc, id);
    return this.#settle(t, this.#price.lastPrice, "closed", now);
  }

  /** Cancel an unfilled limit order; its margin, fee and reserve go back to the balance. */
  cancel(acc: Account, id: string, now = Date.now()): TradeRecord {
    const t = this.#get(acc, id);
    if (t.status !== "open") throw badRequest("Trade is not open");
    return this.#cancel(t, now);
  }

  cancelAll(acc: Account, now = Date.now()): TradeRecord[] {
    return this.store.tradesOf(acc.id, "open").map((t) => this.#cancel(t, now));
  }

  #cancel(t: TradeRecord, now: number): TradeRecord {
    const next: TradeRecord = { ...t, status: "canceled", closedAt: now };
    this.store.saveTrade(next);
    this.store.adjustBalance(t.uid, t.margin + t.openingFee + t.maintenanceMargin);
    this.#emit("canceled", next);
    return next;
  }
}

/** LN Markets funds every 8 h (00:00, 08:00, 16:00 UTC). */
function nextFundingTime(now: number): string {
  const period = 8 * 3600_000;
  return new Date(Math.floor(now / period) * period + period).toISOString();
}
