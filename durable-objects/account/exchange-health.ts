/**
 * The account's view of the exchange's health: every REST call feeds the circuit breaker (an
 * opening alerts the owner; protective orders still go out, entries wait), and keys the
 * exchange refuses (401/403, or a live validation that fails) pause everything on them with a
 * critical alert, once per credential version.
 */
import { getDb } from "../../src/db/client";
import { incrementCounters } from "../../src/db/counters";
import type { CallInfo } from "../../src/lnmarkets/rest-http";
import type { AccountContext } from "./context";
import type { Executor } from "./executor";
import type { Journal } from "./journal";
import { isAuthFailure, type Keys } from "./keys";
import type { Runner } from "./runner";
import type { AccountStore } from "./storage";

export interface ExchangeHealthHost {
  readonly env: Env;
  readonly store: AccountStore;
  readonly journal: Journal;
  readonly executor: Executor;
  readonly keys: Keys;
  readonly runner: Runner;
  context(): AccountContext | null;
  waitUntil(p: Promise<unknown>): void;
  /** Brings schedules, the monitor and the socket in line with the keys' new state. */
  reconcile(): Promise<unknown>;
}

export class ExchangeHealth {
  constructor(private readonly h: ExchangeHealthHost) {}

  /**
   * Every REST call of the account: temporary failures and successes feed the breaker (a
   * breaker that opens alerts the owner: protective orders still go out, entries wait); a
   * 401/403 means the keys no longer work.
   */
  recordCall(info: CallInfo): void {
    const { store, journal } = this.h;
    if (!info.ok && isAuthFailure(info.errorCode)) {
      this.h.waitUntil(this.onKeysRejected(`${info.method} ${info.path}: ${info.errorCode} (${info.status ?? "?"})`));
      return;
    }
    const b = this.h.executor.breaker;
    const before = b.stateAt(Date.now());
    if (info.ok) b.onSuccess(Date.now());
    else if (info.errorKind === "temporary") b.onFailure(Date.now());
    else return;
    store.setMeta("breaker", JSON.stringify(b.toJSON()));
    const after = b.stateAt(Date.now());
    if (after === before) return;
    journal.automation(after === "open" ? "warn" : "info", "breaker.state", null, { from: before, to: after });
    if (after === "open" && before === "closed") {
      const { failures, calls } = b.windowCounts(Date.now());
      this.h.waitUntil(Promise.all([
        journal.notify("exchange.breaker_open", "critical", "LN Markets calls are failing",
          `${failures || "Most"} of the last ${calls || "few"} calls to LN Markets failed: the circuit breaker is open for 30 s. Protective orders (add margin, close, stop loss) still go out; new entries wait.`,
          { breaker: "open" }),
        incrementCounters(getDb(this.h.env), { "exchange.breaker_opened": 1 }).catch((e) => journal.logger.warn("breaker.counter_failed", { error: e })),
      ]));
    }
  }

  /** The exchange refused the keys (401/403): everything on them pauses, the owner is told once per version. */
  async onKeysRejected(reason: string): Promise<void> {
    const ctx = this.h.context();
    if (!ctx || this.h.keys.rejected(ctx)) return;
    this.h.keys.setState({ state: "rejected", version: ctx.credentialVersion, reason, at: Date.now() });
    await this.paused(ctx, reason, `The exchange refused the keys of ${ctx.name} (${reason}).`);
    await this.h.reconcile();
  }

  /**
   * Live validation (KV-cached) of keys not validated yet for their version, before anything
   * runs on them; refused keys pause the account with a critical alert.
   */
  async checkKeys(ctx: AccountContext): Promise<void> {
    if (!this.h.keys.needsCheck(ctx, Date.now())) return;
    const s = await this.h.keys.validate(ctx, this.h.journal.logger).catch((e) => {
      this.h.journal.logger.warn("credentials.validate_failed", { error: e });
      return null;
    });
    if (s?.state === "rejected") await this.paused(ctx, s.reason ?? null, `The keys of ${ctx.name} did not validate (${s.reason ?? "refused"}).`);
  }

  /** Runs on refused keys stop where they stand; the owner gets one critical alert. */
  private async paused(ctx: AccountContext, reason: string | null, what: string): Promise<void> {
    const { journal } = this.h;
    this.h.runner.abortAll("credentials rejected by the exchange");
    journal.automation("error", "credentials.rejected", null, { reason, credentialVersion: ctx.credentialVersion });
    await journal.notify("credentials.rejected", "critical", "LN Markets refused the account's API keys",
      `${what} Its automations and liquidation alerts are paused until new keys are saved.`, { reason });
  }
}
