/**
 * JSON-RPC 2.0 request/response correlation over one WebSocket: ids, per-request timeouts,
 * and rejection of everything in flight when the socket goes away.
 */
import { LnMarketsError } from "./errors.js";

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
  method: string;
}

/** One socket's request table. A new socket gets a new channel. */
export class JsonRpcChannel {
  readonly #pending = new Map<string, Pending>();
  #nextId = 1;

  constructor(
    private readonly socket: Pick<WebSocket, "send">,
    private readonly timeoutMs: number,
    private readonly onTimeout: (method: string) => void = () => undefined,
  ) {}

  /**
   * Sends `{jsonrpc, id, method, params}` and resolves with `result`.
   * @throws LnMarketsError `timeout`, `stream_rpc` (error answer) or `stream_closed`.
   */
  request(method: string, params?: unknown): Promise<unknown> {
    const id = String(this.#nextId++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        this.onTimeout(method);
        reject(streamError("timeout", method, `no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.#pending.set(id, { resolve, reject, timer, method });
      try {
        this.socket.send(JSON.stringify(params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params }));
      } catch (e) {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(streamError("stream_closed", method, "send failed", e));
      }
    });
  }

  /** Settles the request `id`; false when no such request is pending (late or foreign). */
  settle(id: string, outcome: { result: unknown } | { error: { code: number; message: string } }): boolean {
    const p = this.#pending.get(id);
    if (p === undefined) return false;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if ("result" in outcome) p.resolve(outcome.result);
    else p.reject(streamError("stream_rpc", p.method, `${outcome.error.message.slice(0, 200)} (${outcome.error.code})`, undefined, outcome.error.code));
    return true;
  }

  /** Rejects everything in flight with `stream_closed`. */
  rejectAll(): void {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(streamError("stream_closed", p.method, "socket closed"));
    }
    this.#pending.clear();
  }
}

/** A stream error; `stream_rpc` answers are temporary until the caller knows better. */
export function streamError(
  code: "timeout" | "stream_rpc" | "stream_closed",
  method: string,
  what: string,
  cause?: unknown,
  rpcCode?: number,
): LnMarketsError {
  return new LnMarketsError({
    kind: "temporary",
    code,
    message: `LN Markets stream ${method}: ${what}`,
    ...(cause === undefined ? {} : { cause }),
    ...(rpcCode === undefined ? {} : { rpcCode }),
  });
}
