/**
 * The account's view of the market: last price and running trades, fed by the stream while
 * it is open and fresh, and by REST (ticker, running trades) while it is down or stale
 * (DESIGN.md "HTTP fallback"). `feed` says which one is in use.
 */
import { entryPriceOf, type RunningTrade } from "../../src/domain/trade";
import type { LnMarketsRestClient } from "../../src/lnmarkets/rest-client";
import { bidOffer, type FuturesTrade, type IsolatedTradeEvent } from "../../src/lnmarkets/schemas";

export type Feed = "stream" | "rest" | "none";

/**
 * A price the market feed woke the account with is current for this long: a run it starts
 * decides on it without a REST ticker call in front of its order (issue 20).
 */
export const FEED_PRICE_FRESH_MS = 2_000;

/** How long a reader's view of price and positions is reused (Market.view). */
export const VIEW_FRESH_MS = 2_000;

/** Even with a fresh stream, positions are re-read from REST this often (missed events). */
export const TRADES_RESYNC_MS = 60_000;
/**
 * How old the balance that sizes an add-margin may get before the monitor re-reads it: 30 s
 * once a watched trade is half-way to liquidation (an action may be near), else 5 minutes.
 */
export const BALANCE_TTL_MS = 30_000;
export const BALANCE_IDLE_TTL_MS = 300_000;
/** Risk from which a trade counts as near an action for the balance's freshness. */
export const BALANCE_NEAR_RISK = 0.5;

const CLOSING_EVENTS = new Set(["closed", "canceled", "liquidation", "stoploss", "takeprofit"]);

/**
 * A trade as the automations see it. Entry and liquidation are the exchange's own values
 * (a market order fills at the offer or the bid, not at the price seen when it was sent).
 */
export function toRunningTrade(t: FuturesTrade): RunningTrade {
  return {
    id: t.id, side: t.side, quantity: t.quantity, entryPrice: entryPriceOf(t), margin: t.margin,
    liquidation: t.liquidation, clientId: t.clientId ?? null, takeprofit: t.takeprofit ?? 0, stoploss: t.stoploss ?? 0,
    stoplossTrailingDistance: t.stoplossTrailingDistance ?? 0,
    ...(t.leverage !== undefined ? { leverage: t.leverage } : {}),
    ...(t.sumFundingFees !== undefined ? { sumFundingFees: t.sumFundingFees } : {}),
  };
}

export class Market {
  /**
   * The last price: risk, P&L and every trigger are judged on it, as LN Markets triggers
   * liquidation, take profit and stop loss on it (docs, Futures, "Price reference").
   */
  price: number | null = null;
  /**
   * Bid and offer from the last REST ticker (null until read or when not quoted): where a
   * market sell or buy would fill, shown beside the positions; never used for risk.
   */
  bid: number | null = null;
  offer: number | null = null;
  priceAt = 0;
  priceSource: Feed = "none";
  trades = new Map<string, RunningTrade>();
  tradesAt = 0;
  /** When the positions were last changed here, by an order's answer or a stream event. */
  private changedAt = 0;
  balance: number | null = null;
  balanceAt = 0;
  /**
   * True while the stream socket is open and healthy (set by the owner from the stream's
   * state; the stream client turns a socket silent for 10 s "stale" and probes it).
   */
  streamOpen = false;
  /** When the stream last delivered a price (0: never on this socket). */
  streamPriceAt = 0;
  /**
   * Told after price or positions changed here (a stream or feed price, a trade event, a read
   * of the exchange, an order's answer): account/viewers.ts pushes them to open consoles.
   */
  onChange: (() => void) | null = null;

  /**
   * The exchange pushes lastPrice on change, so while the socket is healthy the last pushed
   * price is the current one, however old; otherwise REST is the source.
   */
  feed(_now: number): Feed {
    if (this.streamOpen && this.streamPriceAt > 0) return "stream";
    return this.priceAt ? "rest" : "none";
  }

  onStreamPrice(price: number, now: number): void {
    this.price = price;
    this.priceAt = now;
    this.streamPriceAt = now;
    this.priceSource = "stream";
    this.onChange?.();
  }

  /** When a run last read the REST ticker (0: never). */
  tickerAt = 0;
  /** While an alarm runs its due rows: when it began (their runs share its reads); else null. */
  private sharedSince: number | null = null;

  /**
   * The runs of one alarm share one read of the ticker and the positions (at rest the monitor
   * and the automations fall on the same re-sync slot): `fn` runs them.
   */
  async sharingReads<T>(fn: () => Promise<T>): Promise<T> {
    this.sharedSince = Date.now();
    try {
      return await fn();
    } finally {
      this.sharedSince = null;
    }
  }

  /** When the network's market feed last delivered a price (a wake-up; 0: never). */
  feedPriceAt = 0;

  /** A price from the network's market feed (a tick crossed one of the account's levels). */
  onFeedPrice(price: number, now: number): void {
    this.price = price;
    this.priceAt = now;
    this.feedPriceAt = now;
    this.priceSource = "rest";
    this.onChange?.();
  }

  /** A stale socket is probed and may come back; a new socket must deliver a price first. */
  onStreamState(state: "connecting" | "open" | "stale" | "closed"): void {
    this.streamOpen = state === "open";
    if (state === "connecting" || state === "closed") this.streamPriceAt = 0;
  }

  /**
   * Applies a private trade event. Fill events do not carry the liquidation price, so they
   * mark the trades stale: the next run re-reads them from REST.
   */
  onTradeEvent(ev: IsolatedTradeEvent): "opened" | "closed" | "updated" | "ignored" {
    const id = ev.trade.id;
    if (CLOSING_EVENTS.has(ev.event)) {
      if (!this.trades.delete(id)) return "ignored";
      this.changedAt = Date.now();
      this.onChange?.();
      return "closed";
    }
    if (ev.event === "filled") {
      this.tradesAt = 0;
      this.changedAt = Date.now();
      return "opened";
    }
    if (ev.event === "funding") {
      // A settlement took the fee from the trade's margin (or credited it): margin and
      // liquidation moved. The event's values are applied at once; without them the
      // positions are re-read on the next run.
      const t = this.trades.get(id);
      if (!t) return "ignored";
      const { margin, liquidationPrice, fundingFee } = ev.trade;
      this.changedAt = Date.now();
      if (margin === undefined || liquidationPrice === undefined) {
        this.tradesAt = 0;
        return "updated";
      }
      const sumFundingFees = t.sumFundingFees !== undefined && fundingFee !== undefined ? t.sumFundingFees + fundingFee : undefined;
      const { sumFundingFees: _, ...rest } = t;
      this.trades.set(id, { ...rest, margin, liquidation: liquidationPrice, ...(sumFundingFees !== undefined ? { sumFundingFees } : {}) });
      this.onChange?.();
      return "updated";
    }
    return "ignored";
  }

  /**
   * Replaces the positions with a list read from the exchange. A list whose read started
   * (`readStartedAt`) no later than a change made here since (an order's answer, a stream
   * event) may predate that change: it is not applied, and the next run reads again.
   */
  setTrades(list: readonly FuturesTrade[], now: number, readStartedAt?: number): void {
    if (readStartedAt !== undefined && this.changedAt >= readStartedAt) {
      this.tradesAt = 0;
      return;
    }
    this.trades = new Map(list.filter((t) => t.running).map((t) => [t.id, toRunningTrade(t)]));
    this.tradesAt = now;
    this.onChange?.();
  }

  upsertTrade(t: FuturesTrade): void {
    if (t.running) this.trades.set(t.id, toRunningTrade(t));
    else this.trades.delete(t.id);
    this.changedAt = Date.now();
    this.onChange?.();
  }

  /**
   * Makes price and trades current enough for a run: from memory when the stream is fresh
   * (and trades were synced recently), else from REST. Returns the feed used.
   */
  async refresh(client: LnMarketsRestClient, now: number, signal?: AbortSignal, tradesMaxAgeMs = TRADES_RESYNC_MS): Promise<Feed> {
    const opts = signal ? { signal } : undefined;
    const fresh = this.feed(now) === "stream";
    // A price the feed just woke us with, or the ticker an earlier run of the same alarm read
    // (at rest every row shares one slot), is as current as a new ticker read would be.
    const sharedRead = this.sharedSince !== null && this.tickerAt >= this.sharedSince && now - this.tickerAt < FEED_PRICE_FRESH_MS;
    const fedNow = !fresh && (sharedRead || (this.feedPriceAt > 0 && now - this.feedPriceAt < FEED_PRICE_FRESH_MS));
    if (!fresh && !fedNow) {
      const ticker = await client.ticker(opts);
      this.price = ticker.lastPrice;
      ({ bid: this.bid, offer: this.offer } = bidOffer(ticker));
      this.priceAt = now;
      this.tickerAt = now;
      this.priceSource = "rest";
      this.onChange?.();
    }
    // Woken at rest (no stream, so no trade events): positions older than 10 s are re-read.
    const tradesMaxAge = fedNow ? Math.min(tradesMaxAgeMs, 10_000) : tradesMaxAgeMs;
    if ((!fresh && !fedNow) || this.tradesAt === 0 || now - this.tradesAt > tradesMaxAge) {
      const started = Date.now();
      this.setTrades(await client.runningTrades(opts), now, started);
    }
    return fresh ? "stream" : "rest";
  }

  private viewRead: Promise<Feed> | null = null;
  private viewAt = 0;
  private viewFeed: Feed = "none";

  /**
   * Price and positions for a reader (the positions endpoint, the console): one refresh at a
   * time, shared by every caller while it runs, and reused for VIEW_FRESH_MS. Fifty clients
   * polling an account at rest cost the exchange one ticker and one positions read a couple of
   * seconds, not a hundred reads queued behind the account's 5 req/s budget (bench: they timed out).
   */
  view(client: LnMarketsRestClient, now: number): Promise<Feed> {
    // Behind a healthy stream the price is in memory already.
    if (this.feed(now) === "stream") return this.refresh(client, now);
    if (this.viewRead) return this.viewRead;
    if (this.viewAt > 0 && now - this.viewAt < VIEW_FRESH_MS && this.tradesAt >= this.viewAt) return Promise.resolve(this.viewFeed);
    this.viewRead = this.refresh(client, now)
      .then((feed) => {
        this.viewAt = now;
        this.viewFeed = feed;
        return feed;
      })
      .finally(() => (this.viewRead = null));
    return this.viewRead;
  }

  /** The last balance read, whatever its age; read from the exchange only when there is none. */
  async knownBalance(client: LnMarketsRestClient, now: number, signal?: AbortSignal): Promise<number> {
    if (this.balance !== null) return this.balance;
    return this.refreshBalance(client, now, signal);
  }

  /** Whether the balance is missing or too old for the highest risk among the trades. */
  balanceStale(now: number, maxRisk: number): boolean {
    const ttl = maxRisk >= BALANCE_NEAR_RISK ? BALANCE_TTL_MS : BALANCE_IDLE_TTL_MS;
    return this.balance === null || now - this.balanceAt >= ttl;
  }

  async refreshBalance(client: LnMarketsRestClient, now: number, signal?: AbortSignal): Promise<number> {
    const acc = await client.account(signal ? { signal } : undefined);
    this.balance = acc.balance;
    this.balanceAt = now;
    return acc.balance;
  }

  runningTrades(): RunningTrade[] {
    return [...this.trades.values()];
  }
}
