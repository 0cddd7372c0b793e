/**
 * MarketFeedDO (issue 20): one per network (`env.MARKET_FEED.getByName(network)`). It holds
 * the network's single public price stream (last price and ticker: index, funding) with the
 * REST ticker as fallback, and the trigger index: the price levels at which each account's
 * automations or monitor would warn or act, with direction. On each tick it finds the levels
 * crossed since the last tick with one range query on the price index and wakes only those
 * accounts, in parallel (AccountDO.marketTick). Accounts at rest hold no socket of their own.
 *
 * Funding settlements (a charge moves every payer's liquidation price, so its risk levels):
 * the feed subscribes to the public funding topic and, on a settlement, wakes every registered
 * account (AccountDO.fundingSettled, same bounded fan-out as a tick), which re-reads its
 * positions by REST, re-registers its levels and evaluates at the current price at once. A
 * settlement while the socket was down is caught from the next settlement time moving on
 * (the subscribe snapshot, or the REST ticker's fundingTime while polling).
 *
 * Failure modes (docs/OPERATIONS.md, "Market feed"): the feed restarting loses nothing but
 * the ticks while it was down (the index and the last price are in its SQLite; the first tick
 * after a restart is compared with the last price saved, at most FEED_SAVE_EVERY_MS old); an
 * account missing a wake-up catches up at its next re-sync (60 s at rest) or its next
 * registration, which reports a crossing between the price it saw and the feed's.
 */
import { DurableObject } from "cloudflare:workers";
import { REST_RETRY_BACKOFF } from "../src/domain/backoff";
import type { TriggerLevel } from "../src/domain/trigger-levels";
import { createLogger } from "../src/lib/logger";
import { LnMarketsRestClient } from "../src/lnmarkets/rest-client";
import { TOPICS } from "../src/lnmarkets/schemas";
import { LnMarketsStreamClient } from "../src/lnmarkets/stream-client";
import { resolveEndpoints, type LnMarketsNetwork } from "../src/lnmarkets/transport";
import { fanout, type FanoutResult } from "./market-feed/fanout";
import { TriggerIndex } from "./market-feed/trigger-index";

/** What an account is woken with. */
export interface MarketTick {
  network: LnMarketsNetwork;
  /** The last price now, and the one before it (the move that crossed the account's level). */
  price: number;
  previous: number;
  at: number;
  /** The most urgent kind of level crossed. */
  kind: string;
}

/** The alarm's cadence while the stream is healthy (a backstop: the socket keeps the DO up). */
const HEALTH_EVERY_MS = 30_000;
/** The REST ticker's cadence while the stream is down or stale. */
const REST_POLL_MS = 5_000;
/** The last price is saved at most this often (one SQLite write, not one per tick). */
const FEED_SAVE_EVERY_MS = 5_000;
/** The REST ticker poll retries a 5xx, network error or 429 twice inside the poll (reads only). */
const FEED_READ_RETRY = { retries: 2, backoff: { ...REST_RETRY_BACKOFF, maxMs: 1_000 } };
/** Calls in flight per fan-out. */
const FANOUT_WINDOW = 100;

/** What an account is woken with after a funding settlement. */
export interface FundingSettlement {
  network: LnMarketsNetwork;
  /** The feed's last price (null before its first). */
  price: number | null;
  /** When the feed read that price. */
  priceAt: number;
  at: number;
  /** The funding rate reported with the settlement, when known. */
  rate: number | null;
}

/** The account side of a wake-up (AccountDO.marketTick, AccountDO.fundingSettled). */
export interface TickListener {
  marketTick(tick: MarketTick): Promise<unknown>;
  fundingSettled(settlement: FundingSettlement): Promise<unknown>;
}

const NETWORKS = new Set<LnMarketsNetwork>(["mainnet", "testnet", "simulator"]);

export class MarketFeedDO extends DurableObject<Env> {
  private readonly index: TriggerIndex;
  private readonly log = createLogger({ base: { component: "market-feed" } });
  private stream: LnMarketsStreamClient | null = null;
  private price: number | null = null;
  private priceAt = 0;
  private source: "stream" | "rest" | "none" = "none";
  private savedAt = 0;
  private ticker: { index: number | null; fundingRate: number | null; at: number } | null = null;
  private readonly counters = { ticks: 0, crossings: 0, wakes: 0, wakeFailures: 0, restPolls: 0, registrations: 0, maxFanoutMs: 0, fundingSettlements: 0, fundingWakes: 0, fundingWakeFailures: 0 };
  private lastFanout: (FanoutResult & { at: number; price: number; previous: number }) | null = null;
  private lastFundingFanout: (FanoutResult & { at: number }) | null = null;
  /** The next funding frame is the snapshot sent on (re)subscribing, not a settlement. */
  private fundingSnapshotPending = true;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.index = new TriggerIndex(ctx.storage.sql);
    const saved = this.index.getMeta("last");
    if (saved) {
      const { price, at } = JSON.parse(saved) as { price: number; at: number };
      this.price = price;
      this.priceAt = at;
      this.savedAt = at;
    }
  }

  private get network(): LnMarketsNetwork {
    const name = (this.ctx.id.name ?? this.index.getMeta("network")) as LnMarketsNetwork | null;
    if (!name || !NETWORKS.has(name)) throw new Error(`MarketFeedDO needs a network name (getByName("mainnet"|"testnet"|"simulator")), got ${name}`);
    return name;
  }

  // --- RPC -----------------------------------------------------------------------------------

  /**
   * Replaces an account's levels (an empty list removes it). `seenPrice` is the price the
   * account derived them at: when a level lies between it and the feed's last price, the
   * crossing happened before the registration and is reported (`crossed: true`) so the account
   * evaluates at once. Returns the feed's last price for the account's hot-zone test.
   */
  async register(accountId: string, levels: readonly TriggerLevel[], seenPrice?: number | null): Promise<{ price: number | null; priceAt: number; crossed: boolean; levels: number }> {
    const now = Date.now();
    this.index.setMeta("network", this.network);
    const kept = this.index.register(accountId, levels, now);
    this.counters.registrations++;
    const crossed = kept > 0 && seenPrice != null && this.price !== null && this.index.crossedFor(accountId, seenPrice, this.price);
    if (kept > 0) this.ensureRunning();
    return { price: this.price, priceAt: this.priceAt, crossed, levels: kept };
  }

  /** The feed's last price, without registering (an account's REST-free price read). */
  async lastPrice(): Promise<{ price: number | null; priceAt: number; source: string }> {
    if (this.index.counts().accounts > 0) this.ensureRunning();
    return { price: this.price, priceAt: this.priceAt, source: this.source };
  }

  /**
   * A price from outside the stream: the REST fallback's ticker, and tests. Processed as a tick
   * (crossings woken); resolves once the woken accounts have answered.
   */
  async ingestPrice(price: number, at: number = Date.now()): Promise<FanoutResult | null> {
    return this.onPrice(price, at, "rest");
  }

  /**
   * A funding settlement from outside the stream (tests; the REST fallback calls it too):
   * every registered account is woken to re-read its positions. Resolves once they answered.
   */
  async ingestFunding(rate: number | null = null, at: number = Date.now()): Promise<FanoutResult> {
    return this.onFundingSettled(rate, at);
  }

  /** Index size, price, stream, counters and the last fan-out. */
  async status() {
    return {
      network: this.network,
      price: this.price,
      priceAt: this.priceAt,
      source: this.source,
      ticker: this.ticker,
      stream: this.stream ? this.stream.snapshot() : { state: "closed" as const },
      ...this.index.counts(),
      counters: { ...this.counters },
      lastFanout: this.lastFanout,
      lastFundingFanout: this.lastFundingFanout,
      alarm: await this.ctx.storage.getAlarm(),
    };
  }

  // --- ticks -----------------------------------------------------------------------------------

  private async onPrice(price: number, at: number, source: "stream" | "rest"): Promise<FanoutResult | null> {
    if (!(Number.isFinite(price) && price > 0)) return null;
    // A price read before the one held (a REST poll that started before a stream push) is stale.
    if (at < this.priceAt) return null;
    const previous = this.price;
    this.price = price;
    this.priceAt = at;
    this.source = source;
    this.counters.ticks++;
    if (at - this.savedAt >= FEED_SAVE_EVERY_MS) {
      this.savedAt = at;
      this.index.setMeta("last", JSON.stringify({ price, at }));
    }
    if (previous === null || previous === price) return null;
    const crossed = this.index.crossed(previous, price);
    if (!crossed.length) return null;
    this.counters.crossings += crossed.length;
    const network = this.network;
    const result = await fanout(crossed, (c) => {
      this.counters.wakes++;
      return (this.env.ACCOUNT.getByName(c.accountId) as unknown as TickListener).marketTick({ network, price, previous, at, kind: c.kind });
    }, FANOUT_WINDOW);
    this.counters.wakeFailures += result.failures;
    this.counters.maxFanoutMs = Math.max(this.counters.maxFanoutMs, result.ms);
    this.lastFanout = { ...result, at, price, previous };
    if (result.failures) this.log.warn("feed.wake_failed", { network, failures: result.failures, calls: result.calls });
    return result;
  }

  // --- funding -------------------------------------------------------------------------------

  /**
   * A funding frame. After a (re)subscribe the first one is the topic's snapshot: it is a
   * settlement only if the next settlement time moved on since the last one saved (one was
   * settled while the socket was down). Every later push is a settlement (or a change of rate
   * or schedule: a wake costs one REST read per account, a missed charge costs a position).
   */
  private onFundingFrame(data: unknown): void {
    const d = (data ?? {}) as { current?: { rate?: number | null; time?: number | null } };
    const rate = typeof d.current?.rate === "number" ? d.current.rate : null;
    const next = typeof d.current?.time === "number" ? d.current.time : null;
    const snapshot = this.fundingSnapshotPending;
    this.fundingSnapshotPending = false;
    if (snapshot && !this.nextFundingMovedOn(next)) {
      this.saveNextFunding(next);
      // The next time alone can miss one (see settledWhileDown): ask the settlements list.
      this.ctx.waitUntil(this.checkFunding());
      return;
    }
    this.saveNextFunding(next);
    this.ctx.waitUntil(this.onFundingSettled(rate, Date.now()).catch((e) => this.log.error("feed.funding_failed", { error: e })).then(() => undefined));
  }

  /** Whether the next settlement time is later than the one saved (a settlement happened in between). */
  private nextFundingMovedOn(next: number | null): boolean {
    const saved = Number(this.index.getMeta("nextFunding") ?? NaN);
    return next !== null && Number.isFinite(saved) && next > saved;
  }

  private saveNextFunding(next: number | null): void {
    if (next !== null) this.index.setMeta("nextFunding", String(next));
  }

  /**
   * After a (re)subscribe whose snapshot shows the same next funding time: was a settlement
   * published while the socket was down all the same? The next time moving on is the usual
   * sign, but not the only possible one (the simulator's on-demand settlements leave it where
   * it is: the soak's one missed critical alert, bench/RESULTS.md 2026-12-02T18:14). So the
   * feed asks `GET /futures/funding-settlements` (SDK `getFundingSettlements`, public; `from`
   * an ISO date as the SDK's PaginationInput, lnmarkets-v3.md) for any settlement after the
   * last one it handled, whatever the list's order, and wakes the accounts if there is one.
   * One public REST read per reconnect. Returns the settlement found, if any.
   */
  private async settledWhileDown(): Promise<{ time: number; rate: number } | null> {
    const since = Number(this.index.getMeta("lastSettlement") ?? NaN);
    if (!Number.isFinite(since)) {
      // Nothing handled yet: start counting from now.
      this.index.setMeta("lastSettlement", String(Date.now()));
      return null;
    }
    const rest = new LnMarketsRestClient({ endpoints: resolveEndpoints(this.env, this.network), timeoutMs: 5_000, readRetry: FEED_READ_RETRY });
    const page = await rest.getFundingSettlements({ from: new Date(since + 1).toISOString(), limit: 10 });
    const times = page.data.map((d) => ({ time: Date.parse(d.time), rate: d.fundingRate })).filter((d) => Number.isFinite(d.time) && d.time > since);
    if (!times.length) return null;
    const latest = times.reduce((a, b) => (b.time > a.time ? b : a));
    this.log.warn("feed.funding_missed", { network: this.network, settlements: times.length, time: latest.time });
    await this.onFundingSettled(latest.rate, latest.time);
    return latest;
  }

  /** settledWhileDown, and until it has succeeded once, again at every alarm (a 429 or a 5xx must not leave a settlement unseen). */
  private async checkFunding(): Promise<void> {
    let due = "";
    try {
      await this.settledWhileDown();
    } catch (e) {
      due = "1";
      this.log.warn("feed.funding_check_failed", { error: e });
    }
    // Written only when it changes (every reconnect checks; a row write is billed).
    if ((this.index.getMeta("fundingCheckDue") ?? "") !== due) this.index.setMeta("fundingCheckDue", due);
  }

  /** Wakes every registered account after a settlement (bounded parallelism, as a tick). */
  private async onFundingSettled(rate: number | null, at: number): Promise<FanoutResult> {
    const network = this.network;
    // The last settlement handled (its time at the exchange when known, else when it was pushed).
    if (!(Number(this.index.getMeta("lastSettlement") ?? 0) >= at)) this.index.setMeta("lastSettlement", String(at));
    const ids = this.index.accountIds();
    this.counters.fundingSettlements++;
    const price = this.price;
    const result = await fanout(ids, (accountId) => {
      this.counters.fundingWakes++;
      return (this.env.ACCOUNT.getByName(accountId) as unknown as TickListener).fundingSettled({ network, price, priceAt: this.priceAt, at, rate });
    }, FANOUT_WINDOW);
    this.counters.fundingWakeFailures += result.failures;
    this.lastFundingFanout = { ...result, at };
    this.log.info("feed.funding_settled", { network, rate, accounts: ids.length, failures: result.failures, ms: result.ms });
    return result;
  }

  // --- stream and alarm ------------------------------------------------------------------------

  /** The stream is open and the alarm armed while any account is registered. */
  private ensureRunning(): void {
    this.ensureStream();
    this.ctx.waitUntil(this.ctx.storage.getAlarm().then((a) => (a === null ? this.ctx.storage.setAlarm(Date.now() + (this.streamHealthy() ? HEALTH_EVERY_MS : 0)) : undefined)));
  }

  private streamHealthy(): boolean {
    return this.stream?.state === "open" && this.source === "stream";
  }

  private ensureStream(): void {
    if (this.stream) return;
    const network = this.network;
    try {
      this.stream = new LnMarketsStreamClient({
        endpoints: resolveEndpoints(this.env, network),
        topics: [TOPICS.lastPrice, TOPICS.ticker, TOPICS.funding],
        logger: this.log,
        onPrice: (price, time) => {
          // A tick's wake-ups outlive the socket callback.
          this.ctx.waitUntil(this.onPrice(price, Date.now(), "stream").catch((e) => this.log.error("feed.tick_failed", { error: e })).then(() => undefined));
          void time;
        },
        onSubscription: (topic, data) => {
          if (topic === TOPICS.funding) return this.onFundingFrame(data);
          if (topic !== TOPICS.ticker) return;
          const d = data as { index?: number | null; funding?: { rate?: number | null } };
          this.ticker = { index: d.index ?? null, fundingRate: d.funding?.rate ?? null, at: Date.now() };
        },
        onStateChange: (state, previous, reason) => {
          this.log.info("feed.stream_state", { network, state, previous, reason });
          // (Re)connecting: the first funding frame after the subscribe is the topic's snapshot.
          if (state === "connecting") this.fundingSnapshotPending = true;
          // Down or stale: the REST ticker takes over at the next alarm, due now.
          if (state !== "open") this.ctx.waitUntil(this.ctx.storage.setAlarm(Date.now() + 1_000));
        },
      });
      this.stream.start();
    } catch (e) {
      // Not configured for this network (no simulator in production): REST cannot help either.
      this.log.error("feed.stream_unavailable", { network, error: e });
      this.stream = null;
    }
  }

  override async alarm(): Promise<void> {
    if (this.index.counts().accounts === 0) {
      // Nobody to wake: the socket is closed and nothing is re-armed (a registration restarts it).
      this.stream?.close("no registered account");
      this.stream = null;
      return;
    }
    let next = HEALTH_EVERY_MS;
    try {
      if (this.index.getMeta("fundingCheckDue")) {
        await this.checkFunding();
        if (this.index.getMeta("fundingCheckDue")) next = REST_POLL_MS;
      }
      this.ensureStream();
      this.stream?.checkHealth(Date.now());
      // The exchange pushes lastPrice on change only: an open socket that delivered a price is
      // current however quiet (it pings, and goes stale after 10 s without any frame).
      if (!(this.stream?.state === "open" && this.source === "stream")) {
        next = REST_POLL_MS;
        const rest = new LnMarketsRestClient({ endpoints: resolveEndpoints(this.env, this.network), timeoutMs: 5_000, readRetry: FEED_READ_RETRY });
        // The price is as old as the request that read it, not its answer: an answer that
        // arrives late (retries, a slow exchange) must not look newer than a price an account
        // read directly meanwhile (a registration would report a stale "crossing" and the
        // account act on it).
        const readAt = Date.now();
        const t = await rest.ticker();
        this.counters.restPolls++;
        await this.onPrice(t.lastPrice, readAt, "rest");
        // A settlement while the socket is down: the ticker's next funding time moved on.
        const nextFunding = t.fundingTime ? Date.parse(t.fundingTime) : NaN;
        if (Number.isFinite(nextFunding)) {
          const settled = this.nextFundingMovedOn(nextFunding);
          this.saveNextFunding(nextFunding);
          if (settled) await this.onFundingSettled(t.fundingRate ?? null, Date.now());
        }
      }
    } catch (e) {
      next = REST_POLL_MS;
      this.log.warn("feed.rest_poll_failed", { network: this.network, error: e });
    } finally {
      await this.ctx.storage.setAlarm(Date.now() + next);
    }
  }
}
