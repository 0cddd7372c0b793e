/**
 * The account's own LN Markets stream socket (DESIGN.md "The account's own stream socket"):
 * opened while the account's automations run, fed into the Market and the tick path, and
 * the margin monitor pulled in while it is down or stale (its backstop put back when it heals).
 */
import { SCHEDULE_DEFAULTS } from "../../src/domain/schedule";
import type { LnMarketsCredentials } from "../../src/lnmarkets/rest-client";
import { LnMarketsStreamClient } from "../../src/lnmarkets/stream-client";
import { resolveEndpoints } from "../../src/lnmarkets/transport";
import type { AccountContext } from "./context";
import type { Journal } from "./journal";
import type { Market } from "./market";
import { MONITOR_ID } from "./runner";
import type { AccountStore } from "./storage";

export interface StreamFeedHost {
  readonly env: Env;
  readonly store: AccountStore;
  readonly journal: Journal;
  readonly market: Market;
  credentials(ctx: AccountContext): Promise<LnMarketsCredentials>;
  /** Whether the socket is still wanted once the keys are read. */
  wanted(): boolean;
  onTick(price: number): void;
  rearm(): void;
}

export class StreamFeed {
  private stream: LnMarketsStreamClient | null = null;
  private starting = false;
  /** The monitor's backstop time while a socket problem pulled it in (restored when it heals). */
  private monitorPulledIn: { from: number; to: number } | null = null;

  constructor(private readonly h: StreamFeedHost) {}

  snapshot() {
    return this.stream ? this.stream.snapshot() : { state: "closed" as const };
  }

  ensure(ctx: AccountContext | null): void {
    if (this.stream || this.starting || !ctx) return;
    this.starting = true;
    const { journal, market } = this.h;
    // Credentials first (they may need a D1 read); a failed open keeps reconnecting by itself.
    void this.h.credentials(ctx)
      .then((credentials) => {
        if (this.stream || !this.h.wanted()) return;
        this.stream = new LnMarketsStreamClient({
          endpoints: resolveEndpoints(this.h.env, ctx.network),
          credentials,
          logger: journal.logger,
          onPrice: (price) => this.h.onTick(price),
          onTradeEvent: (ev) => {
            const change = market.onTradeEvent(ev);
            journal.automation(ev.event === "liquidation" ? "warn" : "info", `trade.${ev.event}`, null, { tradeId: ev.trade.id, clientId: ev.trade.clientId, change });
            if (ev.event === "liquidation") {
              void journal.notify("trade.liquidated", "critical", "Position liquidated", `Trade ${ev.trade.id} was liquidated at ${ev.trade.exitPrice}`, { tradeId: ev.trade.id });
              // Told: the monitor's next run must not tell it again from the closed trades.
              this.forgetWatched(ev.trade.id);
            }
          },
          onStateChange: (state, previous, reason) => {
            market.onStreamState(state);
            // A quiet socket goes stale and is probed back to open: routine, not a warning.
            // Reconnects and closes are what operators need to see.
            const routine = state === "stale" || (state === "open" && previous === "stale");
            journal.automation(routine ? "debug" : state === "open" ? "info" : "warn", "stream.state", null, { state, previous, reason });
            // Without a healthy socket the monitor is the only detection again; a quiet socket
            // that goes stale and answers its probe puts the monitor's backstop back.
            if (state === "open") this.monitorRelaxed();
            else this.monitorSoon();
          },
        });
        return this.stream.open();
      })
      .catch((e: unknown) => journal.logger.warn("stream.open_failed", { error: e }))
      .finally(() => {
        this.starting = false;
      });
  }

  stop(reason: string): void {
    if (!this.stream) return;
    this.stream.close(reason);
    this.stream = null;
    this.h.market.onStreamState("closed");
  }

  /** Drops a trade from the monitor's watched levels (its end was already told). */
  private forgetWatched(tradeId: string): void {
    const m = this.h.store.automation(MONITOR_ID);
    if (!m) return;
    try {
      const state = JSON.parse(m.state || "{}") as { levels?: Record<string, unknown> };
      if (!state.levels || !(tradeId in state.levels)) return;
      delete state.levels[tradeId];
      this.h.store.updateAutomation(MONITOR_ID, { state: JSON.stringify(state) });
    } catch {
      // A damaged state is rewritten by the monitor's next run.
    }
  }

  /** Without the stream the monitor is the only detection again: due within its 5 s. */
  private monitorSoon(): void {
    const m = this.h.store.automation(MONITOR_ID);
    const soon = Date.now() + SCHEDULE_DEFAULTS.margin_monitor.intervalMs;
    if (m?.next_run_at == null || m.next_run_at <= soon) return;
    this.monitorPulledIn = { from: m.next_run_at, to: soon };
    this.h.store.updateAutomation(MONITOR_ID, { next_run_at: soon });
    this.h.rearm();
  }

  /** The socket is healthy again before the pulled-in monitor ran: its backstop time is back. */
  private monitorRelaxed(): void {
    const p = this.monitorPulledIn;
    this.monitorPulledIn = null;
    const m = p && this.h.store.automation(MONITOR_ID);
    if (!p || m?.next_run_at !== p.to) return;
    this.h.store.updateAutomation(MONITOR_ID, { next_run_at: p.from });
    this.h.rearm();
  }
}
