/**
 * Consoles watching an account's positions live (issue 23): `GET /v1/accounts/:id/positions/stream`
 * (a single-use ticket from POST /v1/auth/ws-ticket, never a token in the URL; the route checks
 * the ticket and that the account is the user's) is forwarded to this DO's `fetch`, which
 * upgrades it to a WebSocket and pushes position snapshots on it.
 *
 * Why a hibernatable WebSocket (`ctx.acceptWebSocket`) and not SSE: an SSE response is a request
 * in flight, so the DO would stay in memory, billed for duration, for as long as a tab is open,
 * even one in the background where nothing changes. A hibernatable socket lets the runtime evict
 * the DO while it has nothing to do and wake it, socket still open, for an event, an alarm or a
 * message; the runtime answers the console's "ping" itself (setWebSocketAutoResponse) without
 * waking it; and the socket carries the console's visibility back (no second channel). The
 * simulation DO streams its steps the same way.
 *
 * What it costs (issue 20): no more reads of the exchange than the console's polling did.
 * - Snapshots are pushed when Market reports a change (a stream or feed price, a trade event, a
 *   run's read of the positions, an add-margin or close answered), coalesced to at most one per
 *   VIEWER_PUSH_MIN_MS and only when they differ from the last one sent. Those changes happen
 *   whether or not anyone watches.
 * - While at least one console is visible, price and positions are re-read every
 *   VIEWER_REFRESH_MS through Market.view: the shared read GET /positions uses (reused for
 *   VIEW_FRESH_MS by every reader; behind a healthy stream it reads nothing). At rest the price
 *   moves in a console only through it, as it did when the console polled every 3 s.
 * - A hidden tab says so and stops the re-read (the DO may then hibernate; events still reach
 *   it); a closed tab ends it (webSocketClose); a console silent for VIEWER_STALE_MS (no ping,
 *   no message: a vanished browser) no longer counts as watching.
 */
import { DurableObject } from "cloudflare:workers";
import type { Logger } from "../../src/lib/logger";
import type { DoResult } from "./automation-crud";
import type { Market } from "./market";
import { positionsSnapshot, type PositionsView } from "./status";

/** At most one snapshot a second per account, however fast the stream ticks. */
export const VIEWER_PUSH_MIN_MS = 1_000;
/** While a console is visible: re-read price and positions this often (the polling it replaces). */
export const VIEWER_REFRESH_MS = 3_000;
/** A console that neither pinged nor spoke for this long no longer keeps the re-read going. */
export const VIEWER_STALE_MS = 60_000;
/** Open consoles per account (each is one browser tab). */
export const MAX_VIEWERS = 20;
/** Changes landing together (the ticker, then the positions of one read) go out as one snapshot. */
const COALESCE_MS = 50;
const OPEN = 1;

interface Attachment {
  visible: boolean;
  /** Opened, or last heard from (a message; pings are answered by the runtime, see stale()). */
  seenAt: number;
}

export interface ViewersHost {
  readonly ctx: DurableObjectState;
  readonly market: Market;
  /** Price and positions from the shared read (AccountDO.positions: Market.view). */
  read(): Promise<DoResult<PositionsView>>;
  logger(): Logger;
}

/** One message of the stream: `{type:"positions", at, price, bid, offer, feed, trades}` or `{type:"error", code, message}`. */
const positionsMessage = (v: PositionsView, at: number) => JSON.stringify({ type: "positions", at, ...v });

function problem(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}

export class Viewers {
  private lastSent = "";
  private lastPushAt = 0;
  private pushTimer: ReturnType<typeof setTimeout> | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  /** The last re-read failed and the consoles were told (told once per failure streak). */
  private failing = false;

  constructor(private readonly h: ViewersHost) {
    h.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    h.market.onChange = () => this.changed();
  }

  /** The consoles' sockets still open, but `except` (one closing). */
  private sockets(except?: WebSocket): WebSocket[] {
    return this.h.ctx.getWebSockets().filter((s) => s !== except && s.readyState === OPEN);
  }

  private stale(ws: WebSocket, att: Attachment, now: number): boolean {
    const pinged = this.h.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
    return now - Math.max(att.seenAt, pinged) > VIEWER_STALE_MS;
  }

  /** Whether a console is in sight: only then are price and positions re-read for it. */
  private watched(except?: WebSocket): boolean {
    const now = Date.now();
    return this.sockets(except).some((s) => {
      const att = s.deserializeAttachment() as Attachment | null;
      return !!att?.visible && !this.stale(s, att, now);
    });
  }

  /** The upgrade forwarded by the stream route: accept, send the first snapshot, start the re-read. */
  async upgrade(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return problem(400, "validation_error", "Expected a WebSocket upgrade");
    if (this.sockets().length >= MAX_VIEWERS) return problem(429, "rate_limited", `At most ${MAX_VIEWERS} consoles stream one account's positions`);
    let first: DoResult<PositionsView>;
    try {
      first = await this.h.read();
    } catch (e) {
      return problem(503, "upstream_unavailable", `The exchange could not be reached: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!first.ok) return problem(404, "not_found", first.message);
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.h.ctx.acceptWebSocket(server);
    const now = Date.now();
    server.serializeAttachment({ visible: true, seenAt: now } satisfies Attachment);
    const body = JSON.stringify(first.value);
    if (body === this.lastSent) server.send(positionsMessage(first.value, now));
    else this.send(body, first.value, now);
    this.schedule();
    return new Response(null, { status: 101, webSocket: client });
  }

  /** What a console says: `{"type":"visibility","visible":bool}` when its tab is shown or hidden. */
  message(ws: WebSocket, data: string | ArrayBuffer): void {
    if (typeof data !== "string" || data.length > 200) return;
    let msg: { type?: unknown; visible?: unknown };
    try {
      msg = JSON.parse(data) as typeof msg;
    } catch {
      return;
    }
    if (msg?.type !== "visibility" || typeof msg.visible !== "boolean") return;
    ws.serializeAttachment({ visible: msg.visible, seenAt: Date.now() } satisfies Attachment);
    // Back in sight: read now rather than in VIEWER_REFRESH_MS (the price may have moved meanwhile).
    if (msg.visible) this.schedule(0);
    else if (!this.watched()) this.stop();
  }

  /** A console went away: close our side; the re-read stops with the last console in sight. */
  closed(ws: WebSocket, code: number): void {
    try {
      ws.close(code === 1005 || code === 1006 || code === 1015 ? 1000 : code, "closing");
    } catch {
      /* already closed */
    }
    if (!this.watched(ws)) this.stop();
  }

  /** Market changed: push a snapshot soon (coalesced, at most one per VIEWER_PUSH_MIN_MS). */
  private changed(): void {
    if (this.pushTimer || !this.h.ctx.getWebSockets().length) return;
    const wait = Math.max(COALESCE_MS, this.lastPushAt + VIEWER_PUSH_MIN_MS - Date.now());
    this.pushTimer = setTimeout(() => {
      this.pushTimer = null;
      // Woken by an event after the re-read had stopped (a console gone quiet, then back): resume it.
      this.schedule();
      const now = Date.now();
      const view = positionsSnapshot(this.h.market, this.h.market.feed(now));
      if (!view) return;
      const body = JSON.stringify(view);
      if (body !== this.lastSent) this.send(body, view, now);
    }, wait);
  }

  private send(body: string, view: PositionsView, now: number): void {
    this.lastSent = body;
    this.lastPushAt = now;
    this.broadcast(positionsMessage(view, now));
  }

  private broadcast(msg: string): void {
    for (const ws of this.sockets()) {
      try {
        ws.send(msg);
      } catch {
        /* closing under us: webSocketClose follows */
      }
    }
  }

  /** Arms the next re-read while a console is in sight (one at a time). */
  private schedule(delayMs = VIEWER_REFRESH_MS): void {
    if (this.refreshTimer || !this.watched()) return;
    this.refreshTimer = setTimeout(() => void this.refresh(), delayMs);
  }

  private stop(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
  }

  /** The shared read; what changed comes back through Market.onChange and is pushed. */
  private async refresh(): Promise<void> {
    try {
      if (!this.watched()) return;
      const r = await this.h.read();
      if (!r.ok) {
        // The account is gone: nothing more to show.
        for (const ws of this.sockets()) this.closed(ws, 4404);
        return;
      }
      this.failing = false;
    } catch (e) {
      if (!this.failing) {
        this.h.logger().warn("viewers.read_failed", { error: e });
        this.broadcast(JSON.stringify({ type: "error", code: "upstream_unavailable", message: `The exchange could not be reached: ${e instanceof Error ? e.message : String(e)}` }));
      }
      this.failing = true;
    } finally {
      this.refreshTimer = null;
      this.schedule();
    }
  }
}

/**
 * The Durable Object side of the stream: the upgrade (`fetch`, the DO's HTTP handler; no RPC
 * method is named fetch or connect) and the hibernation API's handlers, handed to `viewers`.
 * AccountDO extends it, so its own file keeps to the account's work.
 */
export abstract class WithViewers extends DurableObject<Env> {
  protected abstract readonly viewers: Viewers;

  override async fetch(request: Request): Promise<Response> {
    return this.viewers.upgrade(request);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.viewers.message(ws, message);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.viewers.closed(ws, code);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.viewers.closed(ws, 1011);
  }
}
