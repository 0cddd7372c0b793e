/**
 * The Lightning invoice provider the payment validator talks to. One implementation today
 * (LNbits, see lnbits.ts); dev and tests point it at the simulator's fake LNbits.
 */

/** What a new incoming invoice needs. */
export interface CreateInvoiceInput {
  amountSats: number;
  memo: string;
  expirySeconds: number;
}

/** A created invoice: the BOLT11 request the payer scans and the hash that identifies it. */
export interface CreatedInvoice {
  paymentHash: string;
  paymentRequest: string;
  /** Epoch ms; computed before the provider call, so never later than the provider's own expiry. */
  expiresAt: number;
}

export interface InvoiceStatus {
  paid: boolean;
}

/** An incoming-invoice provider. Every failure is a `LightningError`. */
export interface LightningProvider {
  createInvoice(input: CreateInvoiceInput): Promise<CreatedInvoice>;
  checkInvoice(paymentHash: string): Promise<InvoiceStatus>;
}

/**
 * temporary: network, timeout, 408, 429, 5xx (retry with backoff);
 * permanent: not configured, auth, validation, unknown invoice, unexpected response (retrying
 * the same call cannot help: an operator must look).
 */
export type LightningErrorKind = "temporary" | "permanent";

export type LightningErrorCode =
  | "not_configured"
  | "network"
  | "timeout"
  | "rate_limited"
  | "server_error"
  | "unauthorized"
  | "not_found"
  | "invalid_request"
  | "invalid_response"
  /** The provider's circuit breaker is open: not called at all. */
  | "circuit_open";

/**
 * Every provider failure. Messages are built from the operation, the HTTP status and the
 * provider's own `detail` (truncated): never from headers, so the API key cannot leak.
 */
export class LightningError extends Error {
  override readonly name = "LightningError";
  constructor(
    readonly kind: LightningErrorKind,
    readonly code: LightningErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }

  get retryable(): boolean {
    return this.kind === "temporary";
  }
}

export function isLightningError(e: unknown): e is LightningError {
  return e instanceof LightningError;
}

/** Kind and code of an HTTP failure status. */
export function classifyStatus(status: number): { kind: LightningErrorKind; code: LightningErrorCode } {
  if (status === 429) return { kind: "temporary", code: "rate_limited" };
  if (status === 408 || status >= 500) return { kind: "temporary", code: "server_error" };
  if (status === 401 || status === 403) return { kind: "permanent", code: "unauthorized" };
  if (status === 404) return { kind: "permanent", code: "not_found" };
  return { kind: "permanent", code: "invalid_request" };
}
