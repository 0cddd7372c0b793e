/**
 * LN Markets stream v1 (JSON-RPC 2.0 over WebSocket) client for a Durable Object.
 *
 * Lifecycle: open() -> fetch with `Upgrade: websocket` -> hello -> authenticate (when it has
 * credentials) -> subscribe -> "open". Every frame goes through zod (stream-frames.ts); a bad
 * one is counted and logged, never thrown. It pings every 30 s, marks itself "stale" after
 * 10 s without any frame (and probes with a ping), and reconnects with jittered exponential
 * backoff (1 s to 30 s) when the socket drops, a ping times out or staleness persists; every
 * reconnect re-subscribes to all topics. Only a rejected authentication (bad keys) stops it:
 * retrying would not help and persistent auth failures risk an IP ban.
 *
 * Timers are plain setTimeout/setInterval (an outbound socket keeps the DO in memory anyway);
 * the DO may also call checkHealth(now) from its alarm as a backstop. No method is named
 * `connect` or `fetch`: DO stubs already own those names.
 */
import { createBackoff, STREAM_RECONNECT_BACKOFF } from "../domain/backoff.js";
import { createLogger, registerSecret } from "../lib/logger.js";
import { LnMarketsError } from "./errors.js";
import { TOPICS } from "./schemas.js";
import { HmacSigner } from "./signing.js";
import { parseStreamFrame } from "./stream-frames.js";
import { authenticateStream, toStreamAttemptError, upgradeStreamSocket } from "./stream-handshake.js";
import { JsonRpcChannel, streamError } from "./stream-rpc.js";
import type { StreamClientOptions, StreamCounters, StreamHealth, StreamLogger, StreamState } from "./stream-types.js";
import { OpenWaiters } from "./stream-waiters.js";

export type { StreamClientOptions, StreamCounters, StreamHealth, StreamLogger, StreamState } from "./stream-types.js";

type TimingKey = "pingIntervalMs" | "staleAfterMs" | "requestTimeoutMs" | "clientName" | "clientVersion";

/** The stream v1 client; one per account DO. */
export class LnMarketsStreamClient {
  readonly #o: StreamClientOptions & Required<Pick<StreamClientOptions, TimingKey>>;
  readonly #log: StreamLogger;
  readonly #now: () => number;
  readonly #signer: HmacSigner | undefined;
  readonly #backoff;
  readonly #topics: Set<string>;
  readonly #counters: StreamCounters = { messages: 0, reconnects: 0, malformedFrames: 0, lastMessageAt: null, opens: 0, rpcTimeouts: 0 };

  #state: StreamState = "closed";
  #running = false;
  #ws: WebSocket | null = null;
  #rpc: JsonRpcChannel | null = null;
  // Bumped on every attempt: events of an older socket are ignored.
  #generation = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  #reconnectDueAt: number | null = null;
  #pingTimer: ReturnType<typeof setInterval> | null = null;
  #healthTimer: ReturnType<typeof setTimeout> | null = null;
  #probeInFlight = false;
  #lastError: LnMarketsError | null = null;
  readonly #waiters = new OpenWaiters();

  constructor(opts: StreamClientOptions) {
    this.#o = {
      ...opts,
      pingIntervalMs: opts.pingIntervalMs ?? 30_000,
      staleAfterMs: opts.staleAfterMs ?? 10_000,
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
      clientName: opts.clientName ?? "lnm-automation",
      clientVersion: opts.clientVersion ?? "0.1.0",
    };
    this.#log = opts.logger ?? createLogger({ base: { component: "lnm-stream" } });
    this.#now = opts.now ?? Date.now;
    registerSecret(opts.credentials?.secret);
    registerSecret(opts.credentials?.passphrase);
    this.#signer = opts.credentials ? new HmacSigner(opts.credentials.secret) : undefined;
    this.#backoff = createBackoff(opts.backoff ?? STREAM_RECONNECT_BACKOFF, opts.random ?? Math.random);
    this.#topics = new Set(opts.topics ?? (opts.credentials ? [TOPICS.lastPrice, TOPICS.isolatedTrades] : [TOPICS.lastPrice]));
  }

  get state(): StreamState {
    return this.#state;
  }

  /** A copy of the counters. */
  get counters(): StreamCounters {
    return { ...this.#counters };
  }

  /** Never let credentials reach a log through JSON.stringify(client). */
  toJSON(): StreamHealth {
    return this.snapshot();
  }

  /** State, counters, topics and the last error, for status endpoints. */
  snapshot(): StreamHealth {
    return {
      state: this.#state,
      counters: this.counters,
      topics: [...this.#topics],
      reconnectDueAt: this.#reconnectDueAt,
      lastError: this.#lastError ? { code: this.#lastError.code, message: this.#lastError.message } : null,
    };
  }

  /**
   * Starts the connection loop. Resolves when the socket is open (hello, auth, subscribe
   * done); rejects with the first attempt's error, while reconnecting goes on in the
   * background unless the error is permanent. Idempotent while running.
   */
  open(): Promise<void> {
    if (this.#running && (this.#state === "open" || this.#state === "stale")) return Promise.resolve();
    const failFast = !this.#running;
    const p = this.#waiters.wait(failFast);
    if (!this.#running) {
      this.#running = true;
      this.#backoff.reset();
      void this.#attempt();
    }
    return p;
  }

  /** open() without the promise: for callers that only watch state and callbacks. */
  start(): void {
    this.open().catch(() => undefined);
  }

  /** Stops for good: no reconnect, pending requests rejected, socket closed. */
  close(reason = "closed by client"): void {
    this.#stop(reason, new LnMarketsError({ kind: "temporary", code: "stream_closed", message: `LN Markets stream: ${reason}` }));
  }

  #stop(reason: string, err: LnMarketsError): void {
    this.#running = false;
    this.#generation++;
    this.#clearTimers();
    this.#teardownSocket(1000, reason);
    this.#waiters.settle(err, true);
    this.#setState("closed", reason);
  }

  /** Adds topics; sent now when open, and after every reconnect anyway. */
  async subscribe(topics: readonly string[]): Promise<string[]> {
    for (const t of topics) this.#topics.add(t);
    if (this.#state !== "open" && this.#state !== "stale") return [];
    const res = (await this.request("subscribe", { topics })) as { subscribed?: unknown };
    return Array.isArray(res?.subscribed) ? res.subscribed.map(String) : [];
  }

  /** Removes topics (also from future re-subscriptions). */
  async unsubscribe(topics: readonly string[]): Promise<void> {
    for (const t of topics) this.#topics.delete(t);
    if (this.#state === "open" || this.#state === "stale") await this.request("unsubscribe", { topics });
  }

  /**
   * Sends a JSON-RPC request and awaits its answer (timeout `requestTimeoutMs`).
   * @throws LnMarketsError `stream_closed` (no socket), `timeout`, or `stream_rpc` (error answer).
   */
  request(method: string, params?: unknown): Promise<unknown> {
    if (this.#rpc === null) return Promise.reject(streamError("stream_closed", method, "not connected"));
    return this.#rpc.request(method, params);
  }

  /**
   * Staleness and reconnect backstop; the internal timer calls it every second, and the
   * owner DO may call it from its alarm. Returns the current health.
   */
  checkHealth(now: number = this.#now()): StreamHealth {
    const silentFor = this.#counters.lastMessageAt === null ? 0 : now - this.#counters.lastMessageAt;
    if (this.#state === "open" && silentFor >= this.#o.staleAfterMs) {
      this.#setState("stale", `no message for ${silentFor} ms`);
      this.#probe();
    } else if (this.#state === "stale" && silentFor >= this.#o.staleAfterMs + this.#o.requestTimeoutMs) {
      this.#dropAndReconnect(`stale for ${silentFor} ms`);
    } else if (this.#running && this.#reconnectDueAt !== null && now >= this.#reconnectDueAt + 1_000) {
      // The reconnect timer should have fired (an isolate that slept through it): go now.
      this.#clearReconnectTimer();
      void this.#attempt();
    }
    return this.snapshot();
  }

  // --- connection ---------------------------------------------------------------------------

  async #attempt(): Promise<void> {
    const gen = ++this.#generation;
    this.#setState("connecting", this.#counters.opens === 0 ? "opening" : "reconnecting");
    try {
      const ws = await upgradeStreamSocket(this.#o.endpoints);
      if (gen !== this.#generation) {
        ws.accept();
        ws.close(1000, "superseded");
        return;
      }
      ws.accept();
      this.#ws = ws;
      this.#rpc = new JsonRpcChannel(ws, this.#o.requestTimeoutMs, () => this.#counters.rpcTimeouts++);
      this.#counters.lastMessageAt = this.#now();
      ws.addEventListener("message", (ev) => this.#onMessage(gen, ev.data));
      ws.addEventListener("close", (ev) => this.#onSocketGone(gen, `closed by server (${ev.code}${ev.reason ? ` ${ev.reason}` : ""})`));
      ws.addEventListener("error", () => this.#onSocketGone(gen, "socket error"));

      await this.request("hello", { clientName: this.#o.clientName, clientVersion: this.#o.clientVersion });
      if (this.#signer && this.#o.credentials) await authenticateStream((m, p) => this.request(m, p), this.#o.credentials, this.#signer);
      if (this.#topics.size > 0) await this.request("subscribe", { topics: [...this.#topics] });
      if (gen !== this.#generation) return;

      this.#backoff.reset();
      this.#lastError = null;
      this.#counters.opens++;
      this.#startTimers();
      this.#setState("open", "subscribed");
      this.#waiters.settle();
    } catch (e) {
      if (gen !== this.#generation) return;
      const err = toStreamAttemptError(e);
      this.#lastError = err;
      this.#safe("onError", () => this.#o.onError?.(err));
      this.#log.warn("lnm_stream_attempt_failed", { code: err.code, kind: err.kind, message: err.message });
      if (err.kind === "permanent") {
        this.#stop(`stopped: ${err.code}`, err);
        return;
      }
      this.#waiters.settle(err, false);
      // Events of the failed socket must not trigger a second reconnect.
      this.#generation++;
      this.#teardownSocket(1011, "attempt failed");
      this.#scheduleReconnect();
    }
  }

  #scheduleReconnect(): void {
    if (!this.#running || this.#reconnectTimer !== null) return;
    const delay = this.#backoff.next();
    this.#reconnectDueAt = this.#now() + delay;
    this.#setState("connecting", `reconnecting in ${delay} ms`);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#reconnectDueAt = null;
      if (!this.#running) return;
      this.#counters.reconnects++;
      void this.#attempt();
    }, delay);
  }

  #onSocketGone(gen: number, reason: string): void {
    if (gen !== this.#generation || !this.#running) return;
    this.#dropAndReconnect(reason);
  }

  #dropAndReconnect(reason: string): void {
    this.#log.info("lnm_stream_dropped", { reason });
    this.#generation++;
    this.#stopTimers();
    this.#teardownSocket(1000, "reconnecting");
    this.#scheduleReconnect();
  }

  // --- frames -------------------------------------------------------------------------------

  #onMessage(gen: number, data: unknown): void {
    if (gen !== this.#generation) return;
    this.#counters.messages++;
    this.#counters.lastMessageAt = this.#now();
    if (this.#state === "stale") this.#setState("open", "message received");
    const frame =
      typeof data === "string" || data instanceof ArrayBuffer || ArrayBuffer.isView(data)
        ? parseStreamFrame(data as string | ArrayBuffer | ArrayBufferView)
        : ({ kind: "malformed", reason: "unsupported message type" } as const);
    switch (frame.kind) {
      case "malformed": {
        this.#counters.malformedFrames++;
        const sample = typeof data === "string" ? data.slice(0, 120) : undefined;
        this.#log.warn("lnm_stream_malformed_frame", { reason: frame.reason, sample, malformedFrames: this.#counters.malformedFrames });
        return;
      }
      case "response":
      case "error":
        if (!this.#rpc?.settle(frame.id, frame.kind === "response" ? { result: frame.result } : { error: frame.error })) {
          this.#log.debug("lnm_stream_unmatched_response", { id: frame.id });
        }
        return;
      case "price":
        this.#safe("onPrice", () => this.#o.onPrice?.(frame.data.lastPrice, frame.data.time));
        break;
      case "trade":
        this.#safe("onTradeEvent", () => this.#o.onTradeEvent?.(frame.data));
        break;
      case "subscription":
        break;
    }
    this.#safe("onSubscription", () => this.#o.onSubscription?.(frame.topic, frame.data));
  }

  // --- timers and helpers ------------------------------------------------------------------

  #probe(): void {
    if (this.#probeInFlight) return;
    this.#probeInFlight = true;
    this.request("ping")
      .catch(() => undefined)
      .finally(() => (this.#probeInFlight = false));
  }

  #startTimers(): void {
    this.#stopTimers();
    this.#pingTimer = setInterval(() => {
      if (this.#state !== "open" && this.#state !== "stale") return;
      const gen = this.#generation;
      this.request("ping").catch((e) => {
        // A ping nobody answers means the link is dead even if no close event arrived.
        if (gen === this.#generation && e instanceof LnMarketsError && e.code === "timeout") this.#dropAndReconnect("ping timeout");
      });
    }, this.#o.pingIntervalMs);
    this.#armHealth();
  }

  /**
   * One timer for the next moment checkHealth could change something (the socket going
   * stale, or a stale one being dropped), re-armed after each check: a socket that keeps
   * speaking costs one timer event per `staleAfterMs`, not one a second. A DO holds one
   * socket per account, so at a thousand accounts this is about 900 isolate wake-ups a
   * second fewer than a fixed 1 s interval.
   */
  #armHealth(): void {
    if (this.#healthTimer !== null) clearTimeout(this.#healthTimer);
    const now = this.#now();
    const last = this.#counters.lastMessageAt ?? now;
    const due = last + this.#o.staleAfterMs + (this.#state === "stale" ? this.#o.requestTimeoutMs : 0);
    const cap = this.#o.healthCheckIntervalMs ?? Infinity;
    this.#healthTimer = setTimeout(() => {
      this.#healthTimer = null;
      this.checkHealth();
      if (this.#pingTimer !== null) this.#armHealth();
    }, Math.min(cap, Math.max(10, due - now)));
  }

  #stopTimers(): void {
    if (this.#pingTimer !== null) clearInterval(this.#pingTimer);
    if (this.#healthTimer !== null) clearTimeout(this.#healthTimer);
    this.#pingTimer = null;
    this.#healthTimer = null;
  }

  #clearReconnectTimer(): void {
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.#reconnectDueAt = null;
  }

  #clearTimers(): void {
    this.#stopTimers();
    this.#clearReconnectTimer();
  }

  #teardownSocket(code: number, reason: string): void {
    const ws = this.#ws;
    this.#ws = null;
    this.#rpc?.rejectAll();
    this.#rpc = null;
    try {
      ws?.close(code, reason);
    } catch {
      // Already closed by the peer.
    }
  }

  #setState(next: StreamState, reason: string): void {
    const prev = this.#state;
    if (prev === next) return;
    this.#state = next;
    this.#log.info("lnm_stream_state", { state: next, previous: prev, reason });
    this.#safe("onStateChange", () => this.#o.onStateChange?.(next, prev, reason));
  }

  #safe(name: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      // A throwing callback of the owner must not break the socket loop.
      this.#log.error("lnm_stream_callback_failed", { callback: name, message: e instanceof Error ? e.message : String(e) });
    }
  }
}
