/**
 * The account's status as the API shows it (GET /v1/automations/status, the console): schedules,
 * the feed in use, its own stream and the network's market feed, the breaker, the keys, the
 * plan in force; and live positions with their risk.
 */
import { tradeRisk } from "../../src/domain/trade";
import type { LnMarketsRestClient } from "../../src/lnmarkets/rest-client";
import type { DoResult } from "./automation-crud";
import type { AccountContext } from "./context";
import type { Executor } from "./executor";
import type { FeedLink } from "./feed-link";
import type { Keys } from "./keys";
import type { Market } from "./market";
import { MONITOR_ID } from "./runner";
import type { AccountStore, AutomationRow } from "./storage";
import type { StreamFeed } from "./stream-feed";
import { automationView } from "./views";

export interface StatusHost {
  readonly store: AccountStore;
  readonly market: Market;
  readonly executor: Executor;
  readonly keys: Keys;
  readonly feed: StreamFeed;
  readonly link: FeedLink;
  accountId(): string;
  watching(ctx: AccountContext | null): boolean;
  pausedByPlan(ctx: AccountContext | null): AutomationRow[];
}

/** Schedule status of every automation, the feed in use, the stream and the breaker. */
export function accountStatus(h: StatusHost, ctx: AccountContext | null, running: boolean) {
  const now = Date.now();
  const breaker = h.executor.breaker;
  const keys = h.keys.state();
  const keysState = !ctx ? "unknown" : keys?.version === ctx.credentialVersion ? keys.state : "unchecked";
  const feed = h.market.feed(now);
  return {
    accountId: h.accountId(),
    accountName: ctx?.name ?? null,
    running,
    /** The margin monitor's liquidation alerts: on for every active account with working keys. */
    watching: h.watching(ctx),
    /** Why automations are paused, when they are for a reason the trader must fix. */
    paused: keysState === "rejected" ? ("credentials_rejected" as const) : null,
    /** The owner's plan in force here: automations it pauses (a lapsed plan, an account beyond the limit). */
    plan: ctx ? { id: ctx.plan.id, withinAccountLimit: ctx.plan.withinAccountLimit, pausedAutomations: h.pausedByPlan(ctx).map((a) => a.id) } : null,
    credentials: { state: keysState, reason: keysState === "rejected" ? keys?.reason ?? null : null, checkedAt: keys?.at ?? null },
    feed,
    stream: h.feed.snapshot(),
    /** The network's market feed: levels registered, hot zone or at rest. */
    marketFeed: h.link.snapshot(),
    // Open: entries wait; protective orders (add margin, close, stop loss) still go out.
    breaker: { state: breaker.stateAt(now), ...breaker.windowCounts(now), protectiveOrders: "allowed" as const },
    price: h.market.price,
    runningTrades: h.market.trades.size,
    pendingLogs: h.store.outboxSize(),
    monitor: (() => {
      const m = h.store.automation(MONITOR_ID);
      return m ? automationView(m, feed) : null;
    })(),
    automations: h.store.automations().filter((a) => a.id !== MONITOR_ID).map((a) => automationView(a, feed)),
  };
}

/** Price and running positions with their risk, as the positions endpoint and the console stream show them. */
export interface PositionsView {
  price: number;
  bid: number | null;
  offer: number | null;
  feed: string;
  trades: unknown[];
}

/** The view from what the account holds in memory (no read of the exchange); null before any price. */
export function positionsSnapshot(market: Market, feed: string): PositionsView | null {
  const price = market.price;
  if (price === null) return null;
  const trades = market.runningTrades().map((t) => {
    const risk = tradeRisk(t, price);
    return { ...t, risk, riskLevel: risk >= 0.9 ? "critical" : risk >= 0.8 ? "warn" : "ok" };
  });
  return { price, bid: market.bid, offer: market.offer, feed, trades };
}

/** Live positions with risk: from the stream when fresh, else REST (one shared read every VIEW_FRESH_MS at most). */
export async function livePositions(market: Market, client: LnMarketsRestClient): Promise<DoResult<PositionsView>> {
  const feed = await market.view(client, Date.now());
  return { ok: true, value: positionsSnapshot(market, feed)! };
}
