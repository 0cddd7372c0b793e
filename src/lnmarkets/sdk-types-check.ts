/**
 * Compile-time proof that our zod schemas and the official SDK's exported types agree.
 *
 * Type-only imports: `@ln-markets/sdk` is a devDependency and never reaches the bundle. If
 * LN Markets changes a field in a new SDK release, `tsc` fails here before production does.
 * The reference shapes (what drift.ts compares answers with) equal the SDK's types both ways.
 * The lenient shapes the platform parses into are checked one way, SDK -> ours: every value
 * the SDK describes is one we read (issue 18, "Tolerant reads"), and for responses the SDK
 * narrows to literal states (running: true...) the same holds.
 */
import type {
  Candle as SdkCandle,
  FundingFees as SdkFundingFees,
  FundingSettlement as SdkFundingSettlement,
  FuturesCanceledTrade,
  FuturesIsolatedGetFundingFeesInput,
  FuturesIsolatedGetFundingFeesOutput,
  FuturesIsolatedCancelAllOutput,
  FuturesIsolatedGetClosedTradesOutput,
  FuturesIsolatedGetOpenTradesOutput,
  FuturesIsolatedGetRunningTradesOutput,
  FuturesIsolatedNewTradeInput,
  FuturesIsolatedNewTradeOutput,
  FuturesIsolatedUpdateStoplossInput,
  FuturesTrade as SdkFuturesTrade,
  GetAccountOutput,
  GetCandlesInput,
  GetCandlesOutput,
  GetFundingSettlementsInput,
  GetFundingSettlementsOutput,
  GetTickerOutput,
  TimeOutput,
} from "@ln-markets/sdk/rest/v3";
import type {
  AuthenticateOutput,
  FuturesIndexData,
  FuturesLastPriceData,
  FuturesTickerData,
  IsolatedTradesEvent,
} from "@ln-markets/sdk/stream/v1";
import type { CandlesInput, FundingFeesInput, FundingSettlementsInput, NewTradeInput, StoplossInput } from "./rest-client.js";
import type {
  Account,
  AccountReference,
  AuthenticateResult,
  Candle,
  CandlesPage,
  CancelAllResponse,
  ClosedTradesPage,
  FundingFee,
  FundingFeesPage,
  FundingSettlement,
  FundingSettlementsPage,
  FuturesTrade,
  FuturesTradeReference,
  IndexData,
  IsolatedTradeEvent,
  IsolatedTradeEventReference,
  LastPriceData,
  ServerTime,
  Ticker,
  TickerData,
  TickerReference,
} from "./schemas.js";
import type { z } from "zod";

type Extends<A, B> = [A] extends [B] ? true : false;
type Mutual<A, B> = Extends<A, B> extends true ? Extends<B, A> : false;
/** Fails to compile unless T is exactly `true`. */
type Check<T extends true> = T;

export type SdkTypeChecks = [
  // References: exactly the SDK's shapes.
  Check<Mutual<z.infer<typeof FuturesTradeReference>, SdkFuturesTrade>>,
  Check<Mutual<z.infer<typeof TickerReference>, GetTickerOutput>>,
  Check<Mutual<z.infer<typeof AccountReference>, GetAccountOutput>>,
  Check<Mutual<z.infer<typeof IsolatedTradeEventReference>, IsolatedTradesEvent>>,
  // What we parse: everything the SDK describes is accepted.
  Check<Extends<SdkFuturesTrade, FuturesTrade>>,
  Check<Extends<GetTickerOutput, Ticker>>,
  Check<Extends<GetAccountOutput, Account>>,
  Check<Extends<IsolatedTradesEvent, IsolatedTradeEvent>>,
  Check<Extends<SdkFundingFees, FundingFee>>,
  Check<Extends<FuturesIsolatedGetFundingFeesOutput, FundingFeesPage>>,
  Check<Extends<SdkFundingSettlement, FundingSettlement>>,
  Check<Extends<GetFundingSettlementsOutput, FundingSettlementsPage>>,
  Check<Extends<SdkCandle, Candle>>,
  Check<Extends<GetCandlesOutput, CandlesPage>>,
  Check<Mutual<ServerTime, TimeOutput>>,
  Check<Extends<FuturesIsolatedGetRunningTradesOutput, FuturesTrade[]>>,
  Check<Extends<FuturesIsolatedGetOpenTradesOutput, FuturesTrade[]>>,
  Check<Extends<FuturesIsolatedNewTradeOutput, FuturesTrade>>,
  Check<Extends<FuturesIsolatedGetClosedTradesOutput, ClosedTradesPage>>,
  Check<Extends<{ data: SdkFuturesTrade[]; nextCursor: string | null }, ClosedTradesPage>>,
  Check<Extends<FuturesIsolatedCancelAllOutput, CancelAllResponse>>,
  Check<Extends<FuturesCanceledTrade, FuturesTrade>>,
  // Inputs: whatever we send is something the SDK would send.
  Check<Extends<NewTradeInput, FuturesIsolatedNewTradeInput>>,
  Check<Extends<StoplossInput, FuturesIsolatedUpdateStoplossInput>>,
  Check<Extends<FundingFeesInput, FuturesIsolatedGetFundingFeesInput>>,
  Check<Extends<FundingSettlementsInput, GetFundingSettlementsInput>>,
  Check<Extends<CandlesInput, GetCandlesInput>>,
  // Stream.
  Check<Mutual<LastPriceData, FuturesLastPriceData>>,
  Check<Mutual<IndexData, FuturesIndexData>>,
  Check<Mutual<TickerData, FuturesTickerData>>,
  Check<Mutual<AuthenticateResult, AuthenticateOutput>>,
];
