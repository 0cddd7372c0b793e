/**
 * The exchange's state machine: accounts, isolated trades, the price, the spread and funding.
 * Every method runs synchronously against SQLite inside the DO, so a request, a price tick or a
 * funding settlement is atomic. Refusals throw ApiError (400 with a stable code, see errors.ts).
 * The maths is the simulator's own (./maths), derived from LN Markets' docs.
 */
import { ApiError, notYourTrade, refuse } from "./errors";
import {
  bidOffer,
  feeRate,
  feeTier,
  fundingFee,
  impliedLeverage,
  isOnTick,
  liquidatedAt,
  maintenanceMarginAtOpen,
  MAX_LEVERAGE,
  MAX_MARGIN_USED,
  MAX_QUANTITY,
  MAX_TRAILING_DISTANCE,
  MIN_LEVERAGE,
  MIN_QUANTITY,
  MIN_TRAILING_DISTANCE,
  cashInSplit,
  paysFunding,
  PRICE_TICK,
  quantityForMargin,
  reportedLiquidation,
  roundToTick,
  tradeMargin,
  tradingFee,
  trailingStopLevel,
  type FeeTier,
} from "./maths";
import {
  limitFills,
  liquidationOf,
  settle,
  trail,
  triggerAt,
  unrealisedPl,
  type CloseReason,
  type TradeRecord,
} from "./positions";
import { randomHex } from "./signing";
import type { Account, Store } from "./store";

export const DEFAULT_PRICE = 100_000;
/** The simulator's default bid/offer spread in USD (a chosen default: the real one varies by size). */
export const DEFAULT_SPREAD = 5;
import { DEFAULT_FUNDING_PERIOD_MS, nextFundingSlot } from "./maths";
export { DEFAULT_FUNDING_PERIOD_MS, FUNDING_ANCHOR_MS, nextFundingSlot } from "./maths";
const DAY_MS = 86_400_000;

export interface PriceState {
  lastPrice: number;
  index: number;
  time: number;
  /** Bid/offer spread in USD, on the tick; persists until changed. */
  spread: number;
  bid: number;
  offer: number;
}

export interface FundingConfig {
  /** Rate of periodic settlements (and the ticker's `fundingRate`). */
  rate: number;
  periodMs: number;
  /** When the next periodic settlement runs on the alarm; null when periodic funding is off. */
  nextAt: number | null;
}

export interface FundingSettlementView {
  id: string;
  time: string;
  fundingRate: number;
  fixingPrice: number;
}

export type TradeEventName = "open" | "filled" | "canceled" | "funding" | CloseReason;
export interface TradeEvent {
  accountId: string;
  event: TradeEventName;
  trade: TradeRecord;
  /** funding only: the signed fee (positive paid) and when. */
  fundingFee?: number;
  fundedAt?: number;
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

function priceState(lastPrice: number, index: number, spread: number, time: number): PriceState {
  const { bid, offer } = bidOffer(lastPrice, spread);
  return { lastPrice, index, time, spread, bid: Math.max(PRICE_TICK, bid), offer };
}

const defaultFunding = (): FundingConfig => ({ rate: 0, periodMs: DEFAULT_FUNDING_PERIOD_MS, nextAt: null });

export class Exchange {
  #price: PriceState;
  #funding: FundingConfig;
  #events: TradeEvent[] = [];

  constructor(private readonly store: Store) {
    const p = store.getJson<Partial<PriceState>>("price");
    this.#price = p?.lastPrice
      ? priceState(p.lastPrice, p.index ?? p.lastPrice, p.spread ?? DEFAULT_SPREAD, p.time ?? Date.now())
      : priceState(DEFAULT_PRICE, DEFAULT_PRICE, DEFAULT_SPREAD, Date.now());
    this.#funding = store.getJson<FundingConfig>("funding") ?? defaultFunding();
  }

  get price(): PriceState {
    return this.#price;
  }

  get funding(): FundingConfig {
    return this.#funding;
  }

  /** Events produced since the last call (for the stream to push). */
  drainEvents(): TradeEvent[] {
    const out = this.#events;
    this.#events = [];
    return out;
  }

  /** Forget every account, trade, price and funding setting: the in-memory side of a reset. */
  reset(): void {
    this.#price = priceState(DEFAULT_PRICE, DEFAULT_PRICE, DEFAULT_SPREAD, Date.now());
    this.#funding = defaultFunding();
    this.#events = [];
  }

  /**
   * Move the price (and optionally the spread) and re-evaluate every live trade in order:
   * limit fills, then liquidation, stop loss, take profit, then trailing stops.
   */
  setPrice(price: number, index?: number, spread?: number, now = Date.now()): PriceState {
    const lastPrice = Math.max(PRICE_TICK, roundToTick(price));
    this.#price = priceState(lastPrice, index ?? lastPrice, spread ?? this.#price.spread, now);
    this.store.putJson("price", this.#price);
    for (const t of this.store.liveTrades()) this.#evaluate(t, now);
    return this.#price;
  }

  #evaluate(t: TradeRecord, now: number): void {
    const { lastPrice, bid, offer } = this.#price;
    if (t.status === "open") {
      if (!limitFills(t, bid, offer)) return;
      t = this.#fill(t, t.price, now);
      this.store.saveTrade(t);
      this.#emit("filled", t);
    }
    const reason = triggerAt(t, lastPrice);
    if (reason) {
      // A stop loss or take profit closes at the last price that triggered it (so a gap fills
      // beyond the level); a liquidation at the liquidation price (settle()).
      this.#settle(t, lastPrice, reason, now);
      return;
    }
    const trailed = trail(t, lastPrice);
    if (trailed) this.store.saveTrade({ ...t, ...trailed });
  }

  /** A fill at `price`: the opening fee (tier rate) comes out of the maintenance margin. */
  #fill(t: TradeRecord, price: number, now: number): TradeRecord {
    const openingFee = tradingFee(t.quantity, price, this.#rate(t.uid, now));
    this.store.addVolume(t.uid, now, t.quantity);
    return {
      ...t,
      status: "running",
      entryPrice: price,
      filledAt: now,
      openingFee,
      maintenanceMargin: t.maintenanceMargin - openingFee,
    };
  }

  #settle(t: TradeRecord, exitPrice: number, reason: CloseReason, now: number): TradeRecord {
    const { trade, credit } = settle(t, exitPrice, reason, this.#rate(t.uid, now), now);
    this.store.saveTrade(trade);
    this.store.adjustBalance(t.uid, credit);
    this.store.addVolume(t.uid, now, t.quantity);
    this.#emit(reason, trade);
    return trade;
  }

  #emit(event: TradeEventName, trade: TradeRecord, extra: Partial<TradeEvent> = {}): void {
    this.#events.push({ accountId: trade.uid, event, trade, ...extra });
  }

  // --- fees -------------------------------------------------------------------------------

  /** The account's fee tier from its traded volume (opening + closing, USD) over 30 days. */
  tierOf(accountId: string, now = Date.now()): FeeTier {
    return feeTier(this.store.volumeSince(accountId, now - 30 * DAY_MS));
  }

  #rate(accountId: string, now: number): number {
    return feeRate(this.tierOf(accountId, now));
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
      feeTier: this.tierOf(fresh.id),
      id: fresh.id,
      linkingPublicKey: null,
      syntheticUsdBalance: 0,
      username: fresh.username,
    };
  }

  /** `GET /futures/ticker` (GetTickerOutput of the SDK): bid and offer around the last price. */
  ticker() {
    const p = this.#price;
    return {
      fundingRate: this.#funding.rate,
      fundingTime: new Date(this.nextFundingTime(p.time)).toISOString(),
      index: p.index,
      lastPrice: p.lastPrice,
      prices: [{ askPrice: p.offer, bidPrice: p.bid, maxSize: MAX_QUANTITY, minSize: MIN_QUANTITY }],
    };
  }

  /** The next settlement: the armed periodic one, else the next slot of the schedule. */
  nextFundingTime(now = Date.now()): number {
    return this.#funding.nextAt ?? nextFundingSlot(now, this.#funding.periodMs);
  }

  // --- trades ------------------------------------------------------------------------------

  #get(acc: Account, id: string): TradeRecord {
    const t = this.store.trade(acc.id, id);
    if (!t) throw notYourTrade();
    return t;
  }

  #running(acc: Account, id: string): TradeRecord {
    const t = this.#get(acc, id);
    if (t.status !== "running") throw refuse("TRADE_NOT_RUNNING", "Trade is not running", "id");
    return t;
  }

  /** Debit `amount` after the balance and the 0.1 BTC margin-used cap allow it. */
  #debit(acc: Account, amount: number, addedMargin: number): void {
    const balance = this.store.accountById(acc.id)?.balance ?? 0;
    if (amount > balance) throw new ApiError(400, "Insufficient balance", "INSUFFICIENT_BALANCE");
    const used = this.store.marginUsed(acc.id);
    if (used + addedMargin > MAX_MARGIN_USED) {
      throw refuse("MARGIN_USED_LIMIT", `Margin used would exceed ${MAX_MARGIN_USED} sats (0.1 BTC): ${used} in use`, "margin");
    }
    this.store.adjustBalance(acc.id, -amount);
  }

  newTrade(acc: Account, input: NewTradeInput, now = Date.now()): TradeRecord {
    const { bid, offer } = this.#price;
    const limit = input.type === "limit";
    checkLeverage(input.leverage, "leverage");
    if (input.quantity !== undefined) checkQuantity(input.quantity, "quantity");
    if (limit) checkTick(input.price!, "price");
    if (input.takeprofit) checkTick(input.takeprofit, "takeprofit");
    if (input.stoploss) checkTick(input.stoploss, "stoploss");
    // Market buys fill at the offer and sells at the bid; a limit order at its price.
    const price = limit ? input.price! : input.side === "buy" ? offer : bid;
    const quantity = input.quantity ?? quantityForMargin(input.margin!, price, input.leverage);
    if (quantity < MIN_QUANTITY || quantity > MAX_QUANTITY) {
      throw refuse(
        "MARGIN_OUT_OF_RANGE",
        `margin ${input.margin} at leverage ${input.leverage} buys ${quantity} USD: quantity must be between ${MIN_QUANTITY} and ${MAX_QUANTITY}`,
        "margin",
      );
    }
    const margin = input.margin ?? tradeMargin(quantity, price, input.leverage);
    if (margin < 1) throw refuse("MARGIN_OUT_OF_RANGE", "margin must be at least 1 sat", "margin");
    const liquidation = reportedLiquidation(input.side, quantity, price, margin);
    const probe = { side: input.side, status: limit ? "open" : "running", price, quantity, margin, liquidation } as const;
    if (input.takeprofit) this.#checkTakeprofit(probe, input.takeprofit, price);
    if (input.stoploss) this.#checkStoploss(probe, input.stoploss);
    const reserve = maintenanceMarginAtOpen(quantity, price, liquidation || price);
    this.#debit(acc, margin + reserve, margin);
    let trade: TradeRecord = {
      id: crypto.randomUUID(),
      uid: acc.id,
      clientId: input.clientId ?? null,
      side: input.side,
      type: input.type,
      status: "open",
      price,
      entryPrice: null,
      exitPrice: null,
      quantity,
      margin,
      entryMargin: margin,
      leverage: input.leverage,
      openingFee: 0,
      closingFee: 0,
      maintenanceMargin: reserve,
      sumCashInMargin: 0,
      sumCashInPl: 0,
      sumFundingFees: 0,
      takeprofit: input.takeprofit ?? 0,
      stoploss: input.stoploss ?? 0,
      stoplossTrailingDistance: 0,
      trailBest: null,
      pl: 0,
      createdAt: now,
      filledAt: null,
      closedAt: null,
      closeReason: null,
    };
    if (limit) {
      this.store.saveTrade(trade);
      this.#emit("open", trade);
      // A marketable limit order fills at once, at its limit price.
      if (limitFills(trade, bid, offer)) this.#evaluate(trade, now);
    } else {
      trade = this.#fill(trade, price, now);
      this.store.saveTrade(trade);
      this.#emit("filled", trade);
      // Opened through its own trigger at this spread (e.g. a wide spread): settle at once.
      this.#evaluate(trade, now);
    }
    return this.#get(acc, trade.id);
  }

  /** A long's take profit above the reference price, a short's below. */
  #checkTakeprofit(t: { side: "buy" | "sell" }, value: number, ref: number): void {
    const long = t.side === "buy";
    if (long ? value <= ref : value >= ref) {
      throw refuse("TAKEPROFIT_WRONG_SIDE", `takeprofit must be ${long ? "above" : "below"} ${ref}`, "takeprofit");
    }
  }

  /**
   * The FAQ's rule: a long's stop loss above its liquidation price and below the bid; a short's
   * above the offer and below its liquidation price. An unfilled limit order compares with its
   * own price instead of the bid/offer.
   */
  #checkStoploss(
    t: { side: "buy" | "sell"; status: string; price: number; liquidation: number },
    value: number,
    field = "stoploss",
  ): void {
    const long = t.side === "buy";
    const open = t.status === "open";
    const ref = open ? t.price : long ? this.#price.bid : this.#price.offer;
    const refName = open ? "the order price" : long ? "the bid" : "the offer";
    if (long ? value <= t.liquidation : t.liquidation > 0 && value >= t.liquidation) {
      throw refuse(
        "STOPLOSS_BEYOND_LIQUIDATION",
        `stoploss must be ${long ? "above" : "below"} the liquidation price ${t.liquidation}`,
        field,
      );
    }
    if (long ? value >= ref : value <= ref) {
      throw refuse("STOPLOSS_WRONG_SIDE", `stoploss must be ${long ? "below" : "above"} ${refName} ${ref}`, field);
    }
  }

  addMargin(acc: Account, id: string, amount: number): TradeRecord {
    const t = this.#running(acc, id);
    if (amount > (this.store.accountById(acc.id)?.balance ?? 0)) {
      throw new ApiError(400, "Insufficient balance", "INSUFFICIENT_BALANCE");
    }
    const margin = t.margin + amount;
    const leverage = impliedLeverage(t.quantity, margin, t.entryPrice!);
    if (leverage < MIN_LEVERAGE) throw refuse("LEVERAGE_OUT_OF_RANGE", `amount: leverage would fall under ${MIN_LEVERAGE}`, "amount");
    this.#debit(acc, amount, amount);
    const next = { ...t, margin, leverage };
    this.store.saveTrade(next);
    return next;
  }

  /**
   * Take `amount` sats out of a running trade: from its unrealised profit (at the last price)
   * first, which moves `entryPrice` so the remaining PnL is what is left (`price`, the order
   * price, does not move), then from its margin.
   */
  cashIn(acc: Account, id: string, amount: number): TradeRecord {
    const t = this.#running(acc, id);
    const last = this.#price.lastPrice;
    const split = cashInSplit(t.side, t.quantity, t.entryPrice!, last, amount);
    const margin = t.margin - split.fromMargin;
    if (margin < 1) throw refuse("CASH_IN_TOO_LARGE", "amount exceeds the available profit and margin", "amount");
    const leverage = impliedLeverage(t.quantity, margin, split.entryPrice);
    if (leverage > MAX_LEVERAGE) throw refuse("LEVERAGE_OUT_OF_RANGE", `amount: leverage would exceed ${MAX_LEVERAGE}`, "amount");
    const next: TradeRecord = {
      ...t,
      entryPrice: split.entryPrice,
      margin,
      leverage,
      sumCashInPl: t.sumCashInPl + split.fromPl,
      sumCashInMargin: t.sumCashInMargin + split.fromMargin,
    };
    if (liquidatedAt(t.side, liquidationOf(next), last)) {
      throw refuse("CASH_IN_WOULD_LIQUIDATE", "amount: cash-in would liquidate the trade", "amount");
    }
    this.store.adjustBalance(acc.id, amount);
    this.store.saveTrade(next);
    return next;
  }

  #live(acc: Account, id: string): TradeRecord {
    const t = this.#get(acc, id);
    if (t.status !== "running" && t.status !== "open") throw refuse("TRADE_CLOSED", "Trade is not open or running", "id");
    return t;
  }

  setTakeprofit(acc: Account, id: string, value: number): TradeRecord {
    const t = this.#live(acc, id);
    checkTick(value, "value");
    // A running trade's take profit triggers on the last price: it must lie beyond it.
    this.#checkTakeprofit(t, value, t.status === "running" ? this.#price.lastPrice : t.price);
    const next = { ...t, takeprofit: value };
    this.store.saveTrade(next);
    return next;
  }

  /**
   * `mode: "fixed"`: `value` is a price on the tick. `mode: "trailing"`: `value` is a distance
   * as a fraction of price (0.001 to 10) and the level trails the best last price. `value: 0`
   * removes the stop in either mode.
   */
  setStoploss(acc: Account, id: string, value: number, mode: "fixed" | "trailing"): TradeRecord {
    const t = this.#live(acc, id);
    if (value === 0) return this.removeStoploss(acc, id);
    const view = { ...t, liquidation: liquidationOf(t) };
    let next: TradeRecord;
    if (mode === "trailing") {
      if (!(value >= MIN_TRAILING_DISTANCE && value <= MAX_TRAILING_DISTANCE)) {
        throw refuse(
          "TRAILING_DISTANCE_OUT_OF_RANGE",
          `value must be between ${MIN_TRAILING_DISTANCE} and ${MAX_TRAILING_DISTANCE} for a trailing stop (a fraction of price)`,
          "value",
        );
      }
      const best = t.status === "running" ? this.#price.lastPrice : t.price;
      const level = trailingStopLevel(t.side, best, value);
      this.#checkStoploss(view, level, "value");
      next = { ...t, stoploss: level, stoplossTrailingDistance: value, trailBest: best };
    } else {
      checkTick(value, "value");
      this.#checkStoploss(view, value, "value");
      next = { ...t, stoploss: value, stoplossTrailingDistance: 0, trailBest: null };
    }
    this.store.saveTrade(next);
    return next;
  }

  removeTakeprofit(acc: Account, id: string): TradeRecord {
    const t = this.#live(acc, id);
    const next = { ...t, takeprofit: 0 };
    this.store.saveTrade(next);
    return next;
  }

  removeStoploss(acc: Account, id: string): TradeRecord {
    const t = this.#live(acc, id);
    const next = { ...t, stoploss: 0, stoplossTrailingDistance: 0, trailBest: null };
    this.store.saveTrade(next);
    return next;
  }

  /** Close by hand: a long sells at the bid, a short buys at the offer. */
  close(acc: Account, id: string, now = Date.now()): TradeRecord {
    const t = this.#running(acc, id);
    const exit = t.side === "buy" ? this.#price.bid : this.#price.offer;
    return this.#settle(t, exit, "closed", now);
  }

  /** Cancel an unfilled limit order; its margin and reserve go back to the balance. */
  cancel(acc: Account, id: string, now = Date.now()): TradeRecord {
    const t = this.#get(acc, id);
    if (t.status !== "open") throw refuse("TRADE_NOT_OPEN", "Trade is not open", "id");
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

  // --- funding ---------------------------------------------------------------------------

  /** Set the periodic funding (rate and period); arms the schedule from `now`. */
  configureFunding(rate: number, periodMs: number | undefined, now = Date.now()): FundingConfig {
    const p = periodMs ?? this.#funding.periodMs;
    this.#funding = { rate, periodMs: p, nextAt: nextFundingSlot(now, p) };
    this.store.putJson("funding", this.#funding);
    return this.#funding;
  }

  /** Periodic funding off (rate back to 0); POST /__sim/funding still settles on demand. */
  disableFunding(): FundingConfig {
    this.#funding = { ...defaultFunding(), periodMs: this.#funding.periodMs };
    this.store.putJson("funding", this.#funding);
    return this.#funding;
  }

  /** The alarm's periodic settlement: settle at the configured rate and schedule the next one. */
  runPeriodicFunding(now = Date.now()) {
    const r = this.settleFunding(this.#funding.rate, now);
    this.#funding = { ...this.#funding, nextAt: nextFundingSlot(now, this.#funding.periodMs) };
    this.store.putJson("funding", this.#funding);
    return r;
  }

  /**
   * Settle funding now at `rate` with the last price as fixing price. Each running trade's fee
   * is fundingFee(quantity, fixing, rate): with a positive rate longs pay and shorts receive
   * (negative: the reverse). The payer's margin falls (capped at the margin it has), the
   * receiver's rises; `sumFundingFees` adds the signed fee (positive paid); the liquidation
   * price follows the margin, and a trade whose new liquidation price the last price is at or
   * through is liquidated at once.
   */
  settleFunding(rate: number, now = Date.now()): { settlement: FundingSettlementView; trades: number; liquidated: number } {
    const fixingPrice = this.#price.lastPrice;
    const id = crypto.randomUUID();
    let charged = 0;
    let liquidated = 0;
    for (const t of this.store.runningTrades()) {
      const fee = fundingFee(t.quantity, fixingPrice, rate);
      if (fee === 0) continue;
      const pays = paysFunding(t.side, rate);
      const signed = pays ? Math.min(fee, Math.max(0, t.margin)) : -fee;
      const margin = t.margin - signed;
      const next: TradeRecord = {
        ...t,
        margin,
        leverage: margin > 0 ? impliedLeverage(t.quantity, margin, t.entryPrice!) : t.leverage,
        sumFundingFees: (t.sumFundingFees ?? 0) + signed,
      };
      this.store.saveTrade(next);
      this.store.insertFundingFee({ settlementId: id, tradeId: t.id, accountId: t.uid, time: now, fee: signed });
      this.#emit("funding", next, { fundingFee: signed, fundedAt: now });
      charged += 1;
      if (liquidatedAt(t.side, liquidationOf(next), this.#price.lastPrice)) {
        this.#settle(next, this.#price.lastPrice, "liquidation", now);
        liquidated += 1;
      }
    }
    this.store.insertSettlement({ id, time: now, rate, fixingPrice, trades: charged });
    return { settlement: { id, time: new Date(now).toISOString(), fundingRate: rate, fixingPrice }, trades: charged, liquidated };
  }

  /** `pl` of a running trade at the last price (for views). */
  plOf(t: TradeRecord): number {
    return unrealisedPl(t, this.#price.lastPrice);
  }
}

function checkLeverage(v: number, field: string): void {
  if (!(v >= MIN_LEVERAGE && v <= MAX_LEVERAGE)) {
    throw refuse("LEVERAGE_OUT_OF_RANGE", `${field} must be between ${MIN_LEVERAGE} and ${MAX_LEVERAGE}`, field);
  }
}

function checkQuantity(v: number, field: string): void {
  if (!(v >= MIN_QUANTITY && v <= MAX_QUANTITY)) {
    throw refuse("QUANTITY_OUT_OF_RANGE", `${field} must be between ${MIN_QUANTITY} and ${MAX_QUANTITY}`, field);
  }
}

function checkTick(v: number, field: string): void {
  if (!(v > 0) || !isOnTick(v)) throw refuse("PRICE_OFF_TICK", `${field} must be a positive multiple of ${PRICE_TICK}`, field);
}
