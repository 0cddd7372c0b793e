/**
 * Compile-time proof that our zod schemas and the official SDK's exported types agree.
 *
 * Type-only imports: `@ln-markets/sdk` is a devDependency and never reaches the bundle. If
 * LN Markets changes a field in a new SDK release, `tsc` fails here before production does.
 * "Both ways" for shared shapes; for responses the SDK narrows to literal states (running:
 * true...), we check that every SDK value parses with our schema (SDK -> ours).
 */
import type {
  FuturesCanceledTrade,
  FuturesIsolatedCancelAllOutput,
  FuturesIsolatedGetClosedTradesOutput,
  FuturesIsolatedGetOpenTradesOutput,
  FuturesIsolatedGetRunningTradesOutput,
  FuturesIsolatedNewTradeInput,
  FuturesIsolatedNewTradeOutput,
  FuturesIsolatedUpdateStoplossInput,
  FuturesTrade as SdkFuturesTrade,
  GetAccountOutput,
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
import type { NewTradeInput, StoplossInput } from "./rest-client.js";
import type {
  Account,
  AuthenticateResult,
  CancelAllResponse,
  ClosedTradesPage,
  FuturesTrade,
  IndexData,
  IsolatedTradeEvent,
  LastPriceData,
  ServerTime,
  Ticker,
  TickerData,
} from "./schemas.js";

type Extends<A, B> = [A] extends [B] ? true : false;
type Mutual<A, B> = Extends<A, B> extends true ? Extends<B, A> : false;
/** Fails to compile unless T is exactly `true`. */
type Check<T extends true> = T;

export type SdkTypeChecks = [
  Check<Mutual<FuturesTrade, SdkFuturesTrade>>,
  Check<Mutual<Ticker, GetTickerOutput>>,
  Check<Mutual<Account, GetAccountOutput>>,
  Check<Mutual<ServerTime, TimeOutput>>,
  Check<Extends<FuturesIsolatedGetRunningTradesOutput, FuturesTrade[]>>,
  Check<Extends<FuturesIsolatedGetOpenTradesOutput, FuturesTrade[]>>,
  Check<Extends<FuturesIsolatedNewTradeOutput, FuturesTrade>>,
  Check<Extends<FuturesIsolatedGetClosedTradesOutput, ClosedTradesPage>>,
  Check<Extends<ClosedTradesPage, { data: SdkFuturesTrade[]; nextCursor: string | null }>>,
  Check<Extends<FuturesIsolatedCancelAllOutput, CancelAllResponse>>,
  Check<Extends<FuturesCanceledTrade, FuturesTrade>>,
  // Inputs: whatever we send is something the SDK would send.
  Check<Extends<NewTradeInput, FuturesIsolatedNewTradeInput>>,
  Check<Extends<StoplossInput, FuturesIsolatedUpdateStoplossInput>>,
  // Stream.
  Check<Mutual<LastPriceData, FuturesLastPriceData>>,
  Check<Mutual<IndexData, FuturesIndexData>>,
  Check<Mutual<TickerData, FuturesTickerData>>,
  Check<Mutual<IsolatedTradeEvent, IsolatedTradesEvent>>,
  Check<Mutual<AuthenticateResult, AuthenticateOutput>>,
];
