/**
 * The exchange's state machine: accounts, isolated trades, the price, the spread and funding.
 * Every method runs synchronously against SQLite inside the DO, so a request, a price tick or a
 * funding settlement is atomic. Refusals throw ApiError (400 with a stable code, see errors.ts).
 * The maths is the simulator's own (./maths), derived from LN Markets' docs.
 */
import { accountView, createKeys } from "./accounts";
import { ApiError, notYourTrade, refuse } from "./errors";
import {
  DEFAULT_PRICE,
  DEFAULT_SPREAD,
  priceState,
  type FundingConfig,
  type FundingSettlementView,
  type NewKeysInput,
  type NewTradeInput,
  type PriceState,
  type TradeEvent,
  type TradeEventName,
} from "./exchange-types";
import { FundingSchedule, fundTrade } from "./funding";
import {
  feeRate,
  feeTier,
  impliedLeverage,
  liquidatedAt,
  maintenanceMarginAtOpen,
  MAX_MARGIN_USED,
  MAX_QUANTITY,
  MIN_LEVERAGE,
  MIN_QUANTITY,
  PRICE_TICK,
  roundToTick,
  tradingFee,
  type FeeTier,
} from "./maths";
import { cashedIn, checkLeverage, checkQuantity, checkStoploss, checkTakeprofit, checkTick, newTradeRecord, sizeOrder, withStoploss } from "./order-rules";
import { limitFills, liquidationOf, settle, trail, triggerAt, unrealisedPl, type CloseReason, type TradeRecord } from "./positions";
import type { Account, Store } from "./store";

export { DEFAULT_FUNDING_PERIOD_MS, FUNDING_ANCHOR_MS, nextFundingSlot } from "./maths";
export { DEFAULT_PRICE, DEFAULT_SPREAD } from "./exchange-types";
export type { FundingConfig, FundingSettlementView, NewKeysInput, NewTradeInput, PriceState, TradeEvent, TradeEventName } from "./exchange-types";

const DAY_MS = 86_400_000;

export class Exchange {
  #price: PriceState;
  readonly #schedule: FundingSchedule;
  #events: TradeEvent[] = [];

  constructor(private readonly store: Store) {
    const p = store.getJson<Partial<PriceState>>("price");
    this.#price = p?.lastPrice
      ? priceState(p.lastPrice, p.index ?? p.lastPrice, p.spread ?? DEFAULT_SPREAD, p.time ?? Date.now())
      : priceState(DEFAULT_PRICE, DEFAULT_PRICE, DEFAULT_SPREAD, Date.now());
    this.#schedule = new FundingSchedule(store);
  }

  get price(): PriceState {
    return this.#price;
  }

  get funding(): FundingConfig {
    return this.#schedule.config;
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
    this.#schedule.reset();
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
    return createKeys(this.store, input);
  }

  /** `GET /account` (GetAccountOutput of the SDK). */
  account(acc: Account) {
    return accountView(this.store, acc, (id) => this.tierOf(id));
  }

  /** `GET /futures/ticker` (GetTickerOutput of the SDK): bid and offer around the last price. */
  ticker() {
    const p = this.#price;
    return {
      fundingRate: this.#schedule.config.rate,
      fundingTime: new Date(this.nextFundingTime(p.time)).toISOString(),
      index: p.index,
      lastPrice: p.lastPrice,
      prices: [{ askPrice: p.offer, bidPrice: p.bid, maxSize: MAX_QUANTITY, minSize: MIN_QUANTITY }],
    };
  }

  /** The next settlement: the armed periodic one, else the next slot of the schedule. */
  nextFundingTime(now = Date.now()): number {
    return this.#schedule.nextTime(now);
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
    const { quantity, margin, liquidation } = sizeOrder(input, price);
    const probe = { side: input.side, status: limit ? "open" : "running", price, quantity, margin, liquidation } as const;
    if (input.takeprofit) checkTakeprofit(probe, input.takeprofit, price);
    if (input.stoploss) checkStoploss(probe, input.stoploss, this.#price);
    const reserve = maintenanceMarginAtOpen(quantity, price, liquidation || price);
    this.#debit(acc, margin + reserve, margin);
    let trade = newTradeRecord(acc.id, input, { price, quantity, margin, reserve }, now);
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
    const next = cashedIn(t, this.#price.lastPrice, amount);
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
    checkTakeprofit(t, value, t.status === "running" ? this.#price.lastPrice : t.price);
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
    const next = withStoploss(t, value, mode, this.#price);
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
    return this.#schedule.configure(rate, periodMs, now);
  }

  /** Periodic funding off (rate back to 0); POST /__sim/funding still settles on demand. */
  disableFunding(): FundingConfig {
    return this.#schedule.disable();
  }

  /** The alarm's periodic settlement: settle at the configured rate and schedule the next one. */
  runPeriodicFunding(now = Date.now()) {
    const r = this.settleFunding(this.#schedule.config.rate, now);
    this.#schedule.advance(now);
    return r;
  }

  /**
   * Settle funding now at `rate` with the last price as fixing price: each running trade pays
   * or receives its fee (fundTrade, funding.ts); the liquidation price follows the margin, and
   * a trade whose new liquidation price the last price is at or through is liquidated at once.
   */
  settleFunding(rate: number, now = Date.now()): { settlement: FundingSettlementView; trades: number; liquidated: number } {
    const fixingPrice = this.#price.lastPrice;
    const id = crypto.randomUUID();
    let charged = 0;
    let liquidated = 0;
    for (const t of this.store.runningTrades()) {
      const funded = fundTrade(t, fixingPrice, rate);
      if (!funded) continue;
      const { next, signed } = funded;
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
