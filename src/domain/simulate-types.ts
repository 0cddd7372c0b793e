/**
 * The state, actions and records of a simulation (simulate-step.ts).
 */
import type { AutoEntryConfig, AutoEntryState } from "./auto-entry";
import type { Side } from "./inverse";
import type { MarginGuardConfig, MarginGuardState } from "./margin-guard";
import type { TpSlConfig, TpSlState } from "./tp-sl";
import type { RunningTrade } from "./trade";

export interface SimTrade extends RunningTrade {
  takeprofit: number;
  stoploss: number;
  stoplossTrailingDistance: number;
  leverage: number;
  /** Simulated time of the opening (ms). */
  openedAt?: number;
  openingFeeSats?: number;
  /** The maintenance margin left after the opening fee: pays a liquidation's closing fee. */
  reserveSats?: number;
  /** Funding paid by this trade so far (sats, negative = received). */
  fundingSats?: number;
  /** Sats added as margin by automations. */
  marginAddedSats?: number;
}

export interface SimAutomations {
  margin_guard?: MarginGuardConfig;
  tp_sl?: TpSlConfig;
  auto_entry?: AutoEntryConfig;
}

export interface SimState {
  step: number;
  /** Offer minus bid, USD; absent on runs saved before it existed (filled at the last price). */
  spread?: number;
  startMs: number;
  stepMs: number;
  balanceSats: number;
  trades: SimTrade[];
  nextTradeId: number;
  initialEquitySats: number;
  feesSats: number;
  liquidations: number;
  automations: SimAutomations;
  guardState: MarginGuardState;
  tpSlState: TpSlState;
  entryState: AutoEntryState;
  /** Trading fee rate (default {@link FEE_RATE}, tier 1). */
  feeRate?: number;
  /** Charge a liquidation's closing fee from the trade's maintenance reserve, as the exchange does. */
  liquidationFee?: boolean;
  /** Net funding paid (sats, negative = received). */
  fundingSats?: number;
  /** Sats the automations added as margin. */
  marginAddedSats?: number;
}

export type SimActionType =
  | "open"
  | "add_margin"
  | "close"
  | "liquidation"
  | "stoploss_hit"
  | "takeprofit_hit"
  | "set_takeprofit"
  | "set_stoploss"
  | "funding";

export interface SimAction {
  type: SimActionType;
  tradeId: string;
  /** Sats moved (margin added, PnL realised on a close). */
  amountSats?: number;
  /** Price level set (TP/SL), or the funding rate. */
  value?: number;
  /** Fill price of an open or an exit (liquidation: the liquidation price). */
  price?: number;
  reason?: string;
}

export interface StepRecord {
  step: number;
  price: number;
  /** Highest risk among running trades after the step, 0 when flat. */
  risk: number;
  /** Equity minus initial equity: realised and unrealised PnL net of fees. */
  pnlSats: number;
  equitySats: number;
  actions: SimAction[];
}

export interface SimPosition {
  side: Side;
  quantity?: number;
  margin?: number;
  leverage: number;
}

export interface CreateSimulationInput {
  initialPrice: number;
  position?: SimPosition;
  automations?: SimAutomations;
  /** Free balance after opening the position. */
  freeBalanceSats?: number;
  /** Simulated clock: step n happens at startMs + n * stepMs. */
  startMs?: number;
  stepMs?: number;
  /** Offer minus bid in USD (default {@link DEFAULT_SPREAD_USD}). */
  spread?: number;
  /** Trading fee rate (default tier 1, 0.1 %). */
  feeRate?: number;
  /** Take a liquidation's closing fee from the maintenance reserve (backtests). */
  liquidationFee?: boolean;
}
