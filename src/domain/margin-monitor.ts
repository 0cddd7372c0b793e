/**
 * Built-in margin monitor (issue 7): the risk of every running trade at a price, graded into
 * levels. It runs whether or not a Margin Guard is configured, so a critical position always
 * raises an alert.
 */
import type { Side } from "./inverse";
import { liquidationOf, tradeRisk, type RunningTrade } from "./trade";

/** Risk at which a position is critical, guard or no guard (DESIGN.md: 90 %). */
export const CRITICAL_RISK = 0.9;
/** Default warning and action thresholds (DESIGN.md: warn at 80 %, act at 90 %). */
export const DEFAULT_WARN_AT = 0.8;
export const DEFAULT_ACT_AT = 0.9;

export type RiskLevel = "ok" | "warn" | "act" | "critical";

export interface RiskThresholds {
  warnAt: number;
  actAt: number;
}

/**
 * Grade a risk: critical at or above {@link CRITICAL_RISK} whatever the thresholds, else act at
 * or above `actAt`, warn at or above `warnAt`, ok below. With the defaults `act` never shows:
 * crossing 0.9 is critical, and the guard acts on it because it is also >= actAt.
 */
export function riskLevel(
  risk: number,
  { warnAt, actAt }: RiskThresholds = { warnAt: DEFAULT_WARN_AT, actAt: DEFAULT_ACT_AT },
): RiskLevel {
  if (risk >= CRITICAL_RISK) return "critical";
  if (risk >= actAt) return "act";
  if (risk >= warnAt) return "warn";
  return "ok";
}

export interface TradeRiskReport {
  tradeId: string;
  side: Side;
  risk: number;
  level: RiskLevel;
  critical: boolean;
  price: number;
  liquidation: number;
  entryPrice: number;
  margin: number;
}

export interface MonitorResult {
  trades: TradeRiskReport[];
  /** Trades at or above {@link CRITICAL_RISK}: each one an alert. */
  critical: TradeRiskReport[];
  /** Highest risk among trades, 0 when none run. */
  maxRisk: number;
  /** Trades whose level rose since `previousLevels` (new trades count from "ok"): alert these once. */
  escalated: TradeRiskReport[];
  /** Level per trade id, to pass back as `previousLevels` next time. */
  levels: Record<string, RiskLevel>;
}

const RANK: Record<RiskLevel, number> = { ok: 0, warn: 1, act: 2, critical: 3 };

/**
 * Risk of all running trades at `price`, sorted by risk (highest first). Stateless; pass the
 * previous call's `levels` to learn which trades escalated since.
 * @throws RangeError on a price that is not positive and finite.
 */
export function monitorMargins(
  trades: readonly RunningTrade[],
  price: number,
  thresholds?: RiskThresholds,
  previousLevels: Readonly<Record<string, RiskLevel>> = {},
): MonitorResult {
  if (!(Number.isFinite(price) && price > 0)) throw new RangeError("price must be positive and finite");
  const reports = trades
    .map((t): TradeRiskReport => {
      const risk = tradeRisk(t, price);
      const level = riskLevel(risk, thresholds);
      return {
        tradeId: t.id,
        side: t.side,
        risk,
        level,
        critical: level === "critical",
        price,
        liquidation: liquidationOf(t),
        entryPrice: t.entryPrice,
        margin: t.margin,
      };
    })
    .sort((a, b) => b.risk - a.risk);
  return {
    trades: reports,
    critical: reports.filter((r) => r.critical),
    maxRisk: reports[0]?.risk ?? 0,
    escalated: reports.filter((r) => RANK[r.level] > RANK[previousLevels[r.tradeId] ?? "ok"]),
    levels: Object.fromEntries(reports.map((r) => [r.tradeId, r.level])),
  };
}

/** A closed trade as REST lists it: enough to tell how it ended. */
export interface ClosedTradeView {
  side: Side;
  exitPrice?: number | null;
  /** The liquidation price it had when it closed (0: not reported). */
  liquidation: number;
  canceled?: boolean;
}

/**
 * Whether a closed trade was liquidated, from its REST record: v3's `FuturesTrade` carries no
 * close reason (lnmarkets-v3.md "FuturesTrade fields"; only the private stream's `liquidation`
 * event says it, and an account without its own socket does not hear it). Liquidation is
 * triggered when the last price reaches the liquidation price, and every other way a running
 * trade closes happens before it: a long's stop loss must lie above its liquidation price, a
 * short's below, and a market close fills at the bid or offer while the trade still runs
 * (lnmarkets-v3.md, from LN Markets' futures FAQ, and "Bid, offer and last"). So a trade that
 * exited at or beyond its liquidation price was liquidated.
 */
export function closedByLiquidation(t: ClosedTradeView): boolean {
  if (t.canceled || t.exitPrice == null || !(t.liquidation > 0)) return false;
  return t.side === "buy" ? t.exitPrice <= t.liquidation : t.exitPrice >= t.liquidation;
}
