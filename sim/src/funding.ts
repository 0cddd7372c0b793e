/**
 * Funding on the simulated exchange: the periodic schedule (rate, period, next settlement,
 * kept in the store) and what one settlement does to a running trade.
 */
import { defaultFunding, type FundingConfig } from "./exchange-types";
import { fundingFee, impliedLeverage, nextFundingSlot, paysFunding } from "./maths";
import type { TradeRecord } from "./positions";
import type { Store } from "./store";

/** The periodic funding settings, persisted under "funding". */
export class FundingSchedule {
  #config: FundingConfig;

  constructor(private readonly store: Store) {
    this.#config = store.getJson<FundingConfig>("funding") ?? defaultFunding();
  }

  get config(): FundingConfig {
    return this.#config;
  }

  /** Back to the defaults in memory (a reset clears the store itself). */
  reset(): void {
    this.#config = defaultFunding();
  }

  /** The next settlement: the armed periodic one, else the next slot of the schedule. */
  nextTime(now: number): number {
    return this.#config.nextAt ?? nextFundingSlot(now, this.#config.periodMs);
  }

  /** Set the periodic funding (rate and period); arms the schedule from `now`. */
  configure(rate: number, periodMs: number | undefined, now: number): FundingConfig {
    const p = periodMs ?? this.#config.periodMs;
    return this.#save({ rate, periodMs: p, nextAt: nextFundingSlot(now, p) });
  }

  /** Periodic funding off (rate back to 0), the period kept. */
  disable(): FundingConfig {
    return this.#save({ ...defaultFunding(), periodMs: this.#config.periodMs });
  }

  /** After a periodic settlement at `now`: the next one at the following slot. */
  advance(now: number): FundingConfig {
    return this.#save({ ...this.#config, nextAt: nextFundingSlot(now, this.#config.periodMs) });
  }

  #save(next: FundingConfig): FundingConfig {
    this.#config = next;
    this.store.putJson("funding", next);
    return next;
  }
}

/**
 * One settlement at `rate` fixed at `fixingPrice` for a running trade: the fee is
 * fundingFee(quantity, fixing, rate); with a positive rate longs pay and shorts receive
 * (negative: the reverse). The payer's margin falls (capped at the margin it has), the
 * receiver's rises; `sumFundingFees` adds the signed fee (positive paid). Null when the fee
 * is 0.
 */
export function fundTrade(t: TradeRecord, fixingPrice: number, rate: number): { next: TradeRecord; signed: number } | null {
  const fee = fundingFee(t.quantity, fixingPrice, rate);
  if (fee === 0) return null;
  const pays = paysFunding(t.side, rate);
  const signed = pays ? Math.min(fee, Math.max(0, t.margin)) : -fee;
  const margin = t.margin - signed;
  const next: TradeRecord = {
    ...t,
    margin,
    leverage: margin > 0 ? impliedLeverage(t.quantity, margin, t.entryPrice!) : t.leverage,
    sumFundingFees: (t.sumFundingFees ?? 0) + signed,
  };
  return { next, signed };
}
