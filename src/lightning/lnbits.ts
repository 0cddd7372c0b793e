/**
 * LNbits implementation of the Lightning provider: incoming invoices on one wallet, keyed by
 * its invoice key (`X-Api-Key`). Configured by LIGHTNING_URL (the LNbits base, e.g.
 * https://lnbits.example/ or http://127.0.0.1:8788/lnbits in dev) and LIGHTNING_API_KEY.
 */
import { z } from "zod";
import { CallGuard, LNBITS_GUARD } from "../domain/call-guard";
import { fetchFor, type FetchLike, type LocalTransportEnv } from "../lib/local-transport";
import { registerSecret } from "../lib/logger";
import { LightningError, classifyStatus, type CreateInvoiceInput, type CreatedInvoice, type InvoiceStatus, type LightningProvider } from "./provider";

/** LNbits answers in well under a second; a queue consumer must not hang on it. */
export const DEFAULT_TIMEOUT_MS = 10_000;

const CreateResponse = z.object({
  payment_hash: z.string().regex(/^[0-9a-f]{64}$/i),
  payment_request: z.string().min(10).max(4000),
});
const CheckResponse = z.object({ paid: z.boolean() });
const ErrorDetail = z.object({ detail: z.unknown() });

export interface LnbitsOptions {
  baseUrl: string;
  apiKey: string;
  fetch: FetchLike;
  timeoutMs?: number;
  now?: () => number;
  /** Breaker and rate limit around the provider (one per provider unless shared). */
  guard?: CallGuard;
}

/** One guard per LNbits base URL and isolate: every provider built from the env shares it. */
const sharedGuards = new Map<string, CallGuard>();
export function lnbitsGuardFor(baseUrl: string): CallGuard {
  let g = sharedGuards.get(baseUrl);
  if (!g) sharedGuards.set(baseUrl, (g = new CallGuard(LNBITS_GUARD)));
  return g;
}

/** Forgets every LNbits breaker and bucket (tests; an operator after fixing the provider). */
export function resetLnbitsGuards(): void {
  sharedGuards.clear();
}

/** The LNbits provider. Use `lightningProviderFromEnv` to build it from configuration. */
export class LnbitsProvider implements LightningProvider {
  readonly #base: string;
  readonly #apiKey: string;
  readonly #fetch: FetchLike;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #guard: CallGuard;

  constructor(opts: LnbitsOptions) {
    this.#guard = opts.guard ?? new CallGuard(LNBITS_GUARD);
    this.#base = opts.baseUrl.replace(/\/+$/, "");
    this.#apiKey = opts.apiKey;
    this.#fetch = opts.fetch;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#now = opts.now ?? Date.now;
    // Belt and braces: should the key ever reach a log line by value, it is redacted.
    registerSecret(opts.apiKey);
  }

  async createInvoice(input: CreateInvoiceInput): Promise<CreatedInvoice> {
    const expiresAt = this.#now() + input.expirySeconds * 1000;
    const body = await this.#call("create invoice", "POST", "/api/v1/payments", {
      out: false,
      amount: input.amountSats,
      memo: input.memo,
      expiry: input.expirySeconds,
    });
    const parsed = parse(CreateResponse, body, "create invoice");
    return { paymentHash: parsed.payment_hash.toLowerCase(), paymentRequest: parsed.payment_request, expiresAt };
  }

  async checkInvoice(paymentHash: string): Promise<InvoiceStatus> {
    if (!/^[0-9a-f]{64}$/i.test(paymentHash)) throw new LightningError("permanent", "invalid_request", "check invoice: malformed payment hash");
    const body = await this.#call("check invoice", "GET", `/api/v1/payments/${paymentHash}`);
    return { paid: parse(CheckResponse, body, "check invoice").paid };
  }

  /**
   * Every call passes the provider's breaker and rate limit: refused at once (temporary, so
   * the payments queue retries later) while LNbits keeps failing or calls come too fast.
   */
  async #call(op: string, method: string, path: string, json?: unknown): Promise<unknown> {
    const admitted = this.#guard.admit(this.#now());
    if (!admitted.ok) {
      throw admitted.reason === "breaker_open"
        ? new LightningError("temporary", "circuit_open", `${op}: provider failing, calls paused for ${Math.ceil(admitted.retryAfterMs / 1000)} s`)
        : new LightningError("temporary", "rate_limited", `${op}: too many calls to the provider, retry in ${admitted.retryAfterMs} ms`);
    }
    try {
      const body = await this.#send(op, method, path, json);
      this.#guard.record("ok", this.#now());
      return body;
    } catch (e) {
      this.#guard.record(e instanceof LightningError && e.kind === "temporary" ? "temporary_failure" : "other", this.#now());
      throw e;
    }
  }

  async #send(op: string, method: string, path: string, json?: unknown): Promise<unknown> {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Raced as well as aborted: a transport that ignores the signal still cannot hang a consumer.
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new LightningError("temporary", "timeout", `${op}: no answer within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
    });
    let res: Response;
    try {
      res = await Promise.race([
        this.#fetch(`${this.#base}${path}`, {
          method,
          headers: { "x-api-key": this.#apiKey, accept: "application/json", ...(json === undefined ? {} : { "content-type": "application/json" }) },
          body: json === undefined ? undefined : JSON.stringify(json),
          signal: controller.signal,
        }),
        timedOut,
      ]);
    } catch (e) {
      if (e instanceof LightningError) throw e;
      if (controller.signal.aborted) throw new LightningError("temporary", "timeout", `${op}: no answer within ${this.#timeoutMs} ms`);
      throw new LightningError("temporary", "network", `${op}: network error (${e instanceof Error ? e.name : "unknown"})`);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
    let text: string;
    try {
      text = await res.text();
    } catch {
      throw new LightningError("temporary", "network", `${op}: response body interrupted`);
    }
    if (!res.ok) {
      const { kind, code } = classifyStatus(res.status);
      throw new LightningError(kind, code, `${op}: provider answered ${res.status}${detailOf(text)}`, res.status);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new LightningError("permanent", "invalid_response", `${op}: provider answered with non-JSON`);
    }
  }
}

function parse<T>(schema: z.ZodType<T>, body: unknown, op: string): T {
  const r = schema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new LightningError("permanent", "invalid_response", `${op}: unexpected response (${issue?.path.join(".") || "body"}: ${issue?.message ?? "invalid"})`);
  }
  return r.data;
}

/** The provider's own `{detail}` message, truncated: useful to operators, never a header. */
function detailOf(text: string): string {
  try {
    const d = ErrorDetail.safeParse(JSON.parse(text));
    if (d.success && typeof d.data.detail === "string") return `: ${d.data.detail.slice(0, 200)}`;
  } catch {
    /* not JSON: say nothing more */
  }
  return "";
}

/** The subset of `Env` the provider reads. */
export interface LightningEnv extends LocalTransportEnv {
  LIGHTNING_URL?: string;
  LIGHTNING_API_KEY?: string;
}

/**
 * The configured provider. The transport follows configuration (local-transport.ts): the
 * simulator's binding when LIGHTNING_URL points at the simulator, global fetch otherwise.
 * @throws LightningError `not_configured` (permanent) when the URL or key is missing.
 */
export function lightningProviderFromEnv(env: LightningEnv, opts: { timeoutMs?: number } = {}): LightningProvider {
  const baseUrl = env.LIGHTNING_URL?.trim();
  const apiKey = env.LIGHTNING_API_KEY?.trim();
  if (!baseUrl || !apiKey) throw new LightningError("permanent", "not_configured", "Lightning provider is not configured (LIGHTNING_URL, LIGHTNING_API_KEY)");
  try {
    new URL(baseUrl);
  } catch {
    throw new LightningError("permanent", "not_configured", "LIGHTNING_URL is not a valid URL");
  }
  return new LnbitsProvider({ baseUrl, apiKey, fetch: fetchFor(env, baseUrl), timeoutMs: opts.timeoutMs, guard: lnbitsGuardFor(baseUrl) });
}
