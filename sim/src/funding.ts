/**
 * Funding on the simulated exchange: the periodic schedule (rate, period, next settlement,
 * kept in the store) and what one settlement does to a running trade.
 */
import { defaultFunding, type FundingConfig } from "./exchange-types";
import { nextFundingSlot } from "./maths";
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

// What one settlement does to a trade is pure maths, beside the other trade maths.
export { fundTrade } from "./positions";
