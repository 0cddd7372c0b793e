import { DurableObject } from "cloudflare:workers";
import { Hono } from "hono";
import { authenticateStream, revokedKey } from "./auth";
import { controlRoutes, type ControlOps, type FundingState } from "./control";
import { ScenarioRunner, type ScenarioInput, type ScenarioState } from "./engine";
import { ApiError } from "./errors";
import { Exchange, type NewKeysInput, type PriceState } from "./exchange";
import { Faults, NO_FAULTS, type ActiveFaults, type FaultCounts } from "./faults";
import { invoiceStatus, lightningRoutes } from "./lightning";
import { toFuturesTrade } from "./positions";
import { errorResponse, restRoutes } from "./rest-routes";
import { Store, type OrderLogEntry } from "./store";
import { StreamHub } from "./stream";

/** The one exchange instance: `env.EXCHANGE.getByName(EXCHANGE_NAME)`. */
export const EXCHANGE_NAME = "exchange";

/**
 * The whole exchange in one Durable Object (`getByName("exchange")`): one serialised state
 * machine, like a matching engine, so a price tick and an order never interleave. Requests
 * arrive as fetch (not RPC) because the signature covers the exact request bytes and the
 * stream sockets must be accepted here to hibernate. One alarm multiplexes the scenario steps,
 * the periodic funding settlement and the socket-drop fault; it is armed at the earliest due
 * time, overdue included.
 */
export class ExchangeDO extends DurableObject<SimEnv> implements ControlOps {
  #store!: Store;
  #exchange!: Exchange;
  #faults!: Faults;
  #scenario!: ScenarioRunner;
  #hub!: StreamHub;
  #app!: Hono;

  constructor(ctx: DurableObjectState, env: SimEnv) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.#store = new Store(ctx.storage.sql);
      this.#store.migrate();
      this.#exchange = new Exchange(this.#store);
      this.#faults = new Faults(
        this.#store.getJson<ActiveFaults>("faults") ?? NO_FAULTS,
        this.#store.getJson<Partial<FaultCounts>>("faultCounts") ?? {},
        (counts) => this.#store.putJson("faultCounts", counts),
      );
      this.#scenario = new ScenarioRunner(this.#store.getJson<ScenarioState>("scenario") ?? null);
      this.#hub = new StreamHub(ctx, {
        authenticate: (params) => authenticateStream(this.#store, params),
        price: () => this.#exchange.price,
        funding: () => ({ rate: this.#exchange.funding.rate, time: this.#exchange.nextFundingTime() }),
        silenced: () => {
          const silent = this.#faults.active.silenceStream;
          if (silent) this.#faults.count("stream_silenced");
          return silent;
        },
      });
      this.#app = this.#buildApp();
    });
  }

  #buildApp(): Hono {
    const sim = {
      store: this.#store,
      exchange: this.#exchange,
      faults: this.#faults,
      publish: () => this.#hub.publishTrades(this.#exchange.drainEvents()),
    };
    const app = new Hono();
    app.onError((e) => errorResponse(e));
    app.route("/v3", restRoutes(sim));
    app.route("/__sim", controlRoutes(this));
    app.route("/lnbits", lightningRoutes({ store: this.#store, faults: this.#faults }));
    app.notFound(() => Response.json({ message: "Not found", code: "NOT_FOUND" }, { status: 404 }));
    return app;
  }

  override async fetch(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/v1") {
      if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        return Response.json({ message: "Expected a WebSocket upgrade", code: "UPGRADE_REQUIRED" }, { status: 426 });
      }
      return this.#hub.accept();
    }
    return this.#app.fetch(request);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await this.#hub.onMessage(ws, message);
  }

  override async webSocketClose(ws: WebSocket): Promise<void> {
    this.#hub.forget(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.#hub.forget(ws);
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    const scenarioAt = this.#scenario.state?.nextAt ?? Infinity;
    const dropAt = this.#store.getJson<number>("dropAt") ?? Infinity;
    const fundingAt = this.#exchange.funding.nextAt ?? Infinity;
    // A forced run (runDurableObjectAlarm in tests) counts the earliest job as due.
    const due = Math.max(now, Math.min(scenarioAt, dropAt, fundingAt));
    try {
      if (scenarioAt <= due) this.#step(1);
      if (fundingAt <= due) {
        this.#exchange.runPeriodicFunding(now);
        this.#faults.count("funding_settlement");
        this.#hub.publishTrades(this.#exchange.drainEvents());
        this.#hub.publishFunding();
      }
      if (dropAt <= due) {
        this.#faults.count("socket_drop", this.#hub.dropAll());
        const every = this.#faults.active.dropSocketsEveryMs;
        if (every) this.#store.putJson("dropAt", now + every);
        else this.#store.deleteKey("dropAt");
      }
    } finally {
      await this.#rearm();
    }
  }

  async #rearm(): Promise<void> {
    const next = Math.min(
      this.#scenario.state?.nextAt ?? Infinity,
      this.#store.getJson<number>("dropAt") ?? Infinity,
      this.#exchange.funding.nextAt ?? Infinity,
    );
    if (Number.isFinite(next)) await this.ctx.storage.setAlarm(next);
    else await this.ctx.storage.deleteAlarm();
  }

  #persistScenario(): void {
    const s = this.#scenario.state;
    if (s) this.#store.putJson("scenario", s);
    else this.#store.deleteKey("scenario");
  }

  #step(count: number): number {
    let steps = 0;
    for (; steps < count; steps++) {
      const price = this.#scenario.step(Date.now());
      if (price === null) break;
      this.setPrice(price);
    }
    this.#persistScenario();
    return steps;
  }

  // --- control operations (also callable over RPC) ------------------------------------------

  /** Create an account with an API key trio and a balance in sats. */
  createKeys(input: NewKeysInput) {
    return this.#exchange.createKeys(input);
  }

  /** Set the price (and the spread), re-evaluate every position, then push price and trade events. */
  setPrice(price: number, index?: number, spread?: number): PriceState {
    const p = this.#exchange.setPrice(price, index, spread);
    this.#hub.publishPrice(p);
    this.#hub.publishTrades(this.#exchange.drainEvents());
    return p;
  }

  /** Start a seeded scenario from the current price; steps are alarm-driven every stepMs. */
  startScenario(input: ScenarioInput): ScenarioState {
    const s = this.#scenario.start(input, this.#exchange.price.lastPrice, Date.now());
    this.#persistScenario();
    void this.#rearm();
    return s;
  }

  stopScenario(): void {
    this.#scenario.stop();
    this.#persistScenario();
    void this.#rearm();
  }

  /** Take `count` scenario steps now, without waiting for the alarm. */
  stepScenario(count: number) {
    if (!this.#scenario.state) throw new ApiError(409, "No scenario is running", "NO_SCENARIO");
    const steps = this.#step(count);
    void this.#rearm();
    return { steps, price: this.#exchange.price, scenario: this.#scenario.state };
  }

  /** Settle funding now at `rate` (the last price is the fixing price). */
  settleFunding(rate: number) {
    const r = this.#exchange.settleFunding(rate);
    this.#faults.count("funding_settlement");
    this.#hub.publishTrades(this.#exchange.drainEvents());
    this.#hub.publishFunding();
    return r;
  }

  /** Periodic funding at `rate` every `periodMs` (default 8 h, slots at 04:00, 12:00, 20:00 UTC). */
  configureFunding(rate: number, periodMs?: number): FundingState {
    this.#exchange.configureFunding(rate, periodMs);
    void this.#rearm();
    this.#hub.publishFunding();
    return this.fundingState();
  }

  disableFunding(): FundingState {
    this.#exchange.disableFunding();
    void this.#rearm();
    this.#hub.publishFunding();
    return this.fundingState();
  }

  fundingState(): FundingState {
    const f = this.#exchange.funding;
    return {
      rate: f.rate,
      periodMs: f.periodMs,
      periodic: f.nextAt !== null,
      nextAt: f.nextAt === null ? null : new Date(f.nextAt).toISOString(),
      fundingTime: new Date(this.#exchange.nextFundingTime()).toISOString(),
    };
  }

  setFaults(faults: ActiveFaults): ActiveFaults {
    this.#faults.set(faults);
    this.#store.putJson("faults", faults);
    if (faults.dropSocketsEveryMs) this.#store.putJson("dropAt", Date.now() + faults.dropSocketsEveryMs);
    else this.#store.deleteKey("dropAt");
    void this.#rearm();
    return faults;
  }

  faults(): ActiveFaults {
    return this.#faults.active;
  }

  injected() {
    return this.#faults.injected;
  }

  resetInjected() {
    this.#faults.resetCounts();
    return this.#faults.injected;
  }

  revokeKey(key: string) {
    if (!this.#store.accountByKey(key)) throw new ApiError(404, "Unknown API key", "NOT_FOUND", "key");
    const revokedAt = this.#store.getJson<number>(revokedKey(key)) ?? Date.now();
    this.#store.putJson(revokedKey(key), revokedAt);
    this.#faults.count("key_revoked");
    return { key, revoked: true as const, revokedAt, socketsClosed: this.#hub.dropKey(key) };
  }

  restoreKey(key: string) {
    if (!this.#store.accountByKey(key)) throw new ApiError(404, "Unknown API key", "NOT_FOUND", "key");
    this.#store.deleteKey(revokedKey(key));
    return { key, revoked: false as const };
  }

  trades(key: string): unknown[] {
    const account = this.#store.accountByKey(key);
    if (!account) throw new ApiError(404, "Unknown API key", "NOT_FOUND", "key");
    return this.#store.allTradesOf(account.id).map((t) => toFuturesTrade(t, this.#exchange.price.lastPrice));
  }

  orders(key?: string, since?: number): OrderLogEntry[] {
    return this.#store.orders(key, since);
  }

  payInvoice(paymentHash: string): { paid: true; payment_hash: string } {
    const invoice = this.#store.invoice(paymentHash);
    if (!invoice) throw new ApiError(404, "Invoice not found", "NOT_FOUND");
    if (invoiceStatus(invoice, Date.now()) === "expired") throw new ApiError(409, "Invoice expired", "EXPIRED");
    this.#store.markInvoicePaid(paymentHash, Date.now());
    return { paid: true, payment_hash: paymentHash };
  }

  /** Back to a clean exchange: no accounts, trades, orders, invoices, faults or scenario. */
  reset(): void {
    this.#store.clear();
    this.#exchange.reset();
    this.#scenario.stop();
    this.#faults.set(NO_FAULTS);
    this.#faults.resetCounts();
    this.#hub.dropAll(1012, "simulator reset");
    void this.ctx.storage.deleteAlarm();
  }

  state() {
    return {
      mode: this.env.SIM_MODE,
      price: this.#exchange.price,
      funding: this.fundingState(),
      scenario: this.#scenario.state,
      faults: this.#faults.active,
      injected: this.#faults.injected,
      accounts: this.#store.countAccounts(),
      trades: this.#store.countTradesByStatus(),
      sockets: this.#hub.count(),
    };
  }
}
