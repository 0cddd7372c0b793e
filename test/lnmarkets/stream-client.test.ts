/**
 * The stream client against the simulator's stream v1: hello, authenticate, subscribe, pushes,
 * private trade events, malformed frames, drops, silence and a bad key.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type FetchLike,
  type IsolatedTradeEvent,
  type LnMarketsCredentials,
  LnMarketsError,
  LnMarketsStreamClient,
  type StreamClientOptions,
  type StreamState,
} from "../../src/lnmarkets/index.js";
import { rejection, restClient, type SimKeys, sim, simEndpoints, waitFor } from "./helpers.js";

let keys: SimKeys;
const open: LnMarketsStreamClient[] = [];

beforeAll(async () => {
  await sim.reset();
  await sim.price(100_000);
  keys = await sim.keys(10_000_000);
});
afterEach(async () => {
  for (const c of open.splice(0)) c.close();
  await sim.clearFaults();
});

interface Recorder {
  prices: Array<{ lastPrice: number; time: number }>;
  events: IsolatedTradeEvent[];
  states: StreamState[];
  logs: Array<{ level: string; event: string; fields?: Record<string, unknown> }>;
}

function makeClient(opts: Partial<StreamClientOptions> & { credentials?: LnMarketsCredentials } = {}) {
  const rec: Recorder = { prices: [], events: [], states: [], logs: [] };
  const log = (level: string) => (event: string, fields?: Record<string, unknown>) => rec.logs.push({ level, event, ...(fields ? { fields } : {}) });
  const client = new LnMarketsStreamClient({
    endpoints: simEndpoints(),
    logger: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") },
    // Fast reconnects so tests stay short; production keeps the 1 s to 30 s default.
    backoff: { baseMs: 50, minMs: 50, maxMs: 200, factor: 2 },
    onPrice: (lastPrice, time) => rec.prices.push({ lastPrice, time }),
    onTradeEvent: (e) => rec.events.push(e),
    onStateChange: (s) => rec.states.push(s),
    ...opts,
  });
  open.push(client);
  return { client, rec };
}

describe("open, authenticate, subscribe", () => {
  it("opens with credentials and receives lastPrice pushes", async () => {
    const { client, rec } = makeClient({ credentials: keys });
    await client.open();
    expect(client.state).toBe("open");
    expect(rec.states).toEqual(["connecting", "open"]);
    await sim.price(101_000);
    await waitFor(() => rec.prices.some((p) => p.lastPrice === 101_000), 3_000, "price push");
    const c = client.counters;
    expect(c.opens).toBe(1);
    expect(c.messages).toBeGreaterThanOrEqual(4); // hello, authenticate, subscribe, push
    expect(c.lastMessageAt).not.toBeNull();
    expect(client.snapshot().topics).toEqual(["futures/inverse/btc_usd/lastPrice", "futures/inverse/btc_usd/isolated/trades"]);
    // The snapshot (what status endpoints log) carries no secret.
    expect(JSON.stringify(client)).not.toContain(keys.secret);
    expect(JSON.stringify(client)).not.toContain(keys.passphrase);
    expect(JSON.stringify(rec.logs)).not.toContain(keys.secret);
  });

  it("delivers the private trade events of its account", async () => {
    const { client, rec } = makeClient({ credentials: keys });
    await client.open();
    const rest = restClient(keys);
    const t = await rest.newTrade({ type: "market", side: "buy", quantity: 100, leverage: 10, clientId: "stream-evt-1" });
    await waitFor(() => rec.events.some((e) => e.event === "filled" && e.trade.id === t.id), 3_000, "filled event");
    expect(rec.events.find((e) => e.trade.id === t.id)?.trade.clientId).toBe("stream-evt-1");
    await rest.close({ id: t.id });
    await waitFor(() => rec.events.some((e) => e.event === "closed" && e.trade.id === t.id), 3_000, "closed event");
  });

  it("works unauthenticated on public topics", async () => {
    const { client, rec } = makeClient();
    await client.open();
    await sim.price(102_000);
    await waitFor(() => rec.prices.some((p) => p.lastPrice === 102_000), 3_000, "public price");
    expect(await client.request("ping")).toBe("pong");
  });

  it("subscribe and unsubscribe while open", async () => {
    const { client } = makeClient({ topics: [] });
    const seen: string[] = [];
    const c2 = makeClient({ topics: [], onSubscription: (topic) => seen.push(topic) }).client;
    await Promise.all([client.open(), c2.open()]);
    expect(await c2.subscribe(["futures/inverse/btc_usd/index"])).toContain("futures/inverse/btc_usd/index");
    await sim.price(103_000);
    await waitFor(() => seen.includes("futures/inverse/btc_usd/index"), 3_000, "index push");
    await c2.unsubscribe(["futures/inverse/btc_usd/index"]);
    expect(c2.snapshot().topics).toEqual([]);
  });
});

describe("failures", () => {
  it("a bad key is permanent: open() rejects and the client stops", async () => {
    const { client } = makeClient({ credentials: { key: keys.key, secret: "0".repeat(64), passphrase: keys.passphrase } });
    const e = (await rejection(client.open())) as LnMarketsError;
    expect(e).toBeInstanceOf(LnMarketsError);
    expect(e).toMatchObject({ kind: "permanent", code: "unauthorized" });
    expect(client.state).toBe("closed");
    await new Promise((r) => setTimeout(r, 300));
    expect(client.counters.reconnects).toBe(0);
    expect(client.snapshot().lastError?.code).toBe("unauthorized");
  });

  it("a malformed frame is counted and logged, never thrown; the stream goes on", async () => {
    const relay = relayFetch();
    const { client, rec } = makeClient({ credentials: keys, endpoints: { ...simEndpoints(), fetch: relay.fetch } });
    await client.open();
    relay.inject("this is not json");
    relay.inject(JSON.stringify({ jsonrpc: "2.0", method: "subscription", params: { topic: "futures/inverse/btc_usd/lastPrice", data: { lastPrice: "NaN" } } }));
    relay.inject(new Uint8Array([0xff, 0xfe, 0x00]).buffer);
    await waitFor(() => client.counters.malformedFrames === 3, 2_000, "malformed frames");
    expect(client.state).toBe("open");
    const warnings = rec.logs.filter((l) => l.event === "lnm_stream_malformed_frame");
    expect(warnings).toHaveLength(3);
    expect(warnings[0]?.level).toBe("warn");
    await sim.price(104_000);
    await waitFor(() => rec.prices.some((p) => p.lastPrice === 104_000), 3_000, "price after garbage");
    expect(rec.prices.some((p) => Number.isNaN(p.lastPrice))).toBe(false);
  });

  it("a throwing callback does not break the socket loop", async () => {
    const { client, rec } = makeClient({
      onPrice: () => {
        throw new Error("owner bug");
      },
    });
    await client.open();
    await sim.price(105_000);
    await waitFor(() => rec.logs.some((l) => l.event === "lnm_stream_callback_failed"), 3_000, "callback failure log");
    expect(client.state).toBe("open");
  });

  it("reconnects and re-subscribes after the simulator drops sockets", async () => {
    const { client, rec } = makeClient({ credentials: keys });
    await client.open();
    await sim.faults({ dropSocketsEveryMs: 300 });
    await waitFor(() => client.counters.reconnects >= 2 && client.counters.opens >= 3, 8_000, "reconnects");
    await sim.clearFaults();
    await waitFor(() => client.state === "open", 3_000, "open again");
    rec.prices.length = 0;
    await sim.price(106_000);
    // Only a re-subscribed socket gets this push.
    await waitFor(() => rec.prices.some((p) => p.lastPrice === 106_000), 3_000, "price after reconnect");
    const rest = restClient(keys);
    const t = await rest.newTrade({ type: "market", side: "sell", quantity: 10, leverage: 5 });
    await waitFor(() => rec.events.some((e) => e.trade.id === t.id), 3_000, "private event after reconnect");
    expect(rec.states).toContain("connecting");
  });

  it("silence makes it stale, then it reconnects; it recovers when the stream speaks again", async () => {
    const { client, rec } = makeClient({ credentials: keys, staleAfterMs: 300, requestTimeoutMs: 300, healthCheckIntervalMs: 50 });
    await client.open();
    await sim.faults({ silenceStream: true });
    await waitFor(() => client.state === "stale", 3_000, "stale");
    await waitFor(() => client.counters.reconnects >= 1, 5_000, "reconnect after staleness");
    await sim.clearFaults();
    await waitFor(() => client.state === "open", 5_000, "open after silence");
    expect(rec.states).toEqual(expect.arrayContaining(["open", "stale", "connecting"]));
    expect(client.counters.rpcTimeouts).toBeGreaterThanOrEqual(1);
  });

  it("without an interval the health check runs when the socket would go stale, not on a fixed beat", async () => {
    const { client, rec } = makeClient({ credentials: keys, staleAfterMs: 400, requestTimeoutMs: 300 });
    await client.open();
    await sim.faults({ silenceStream: true });
    const silentSince = Date.now();
    await waitFor(() => client.state === "stale", 3_000, "stale");
    // Found stale at the deadline (last message + 400 ms), give or take the timer.
    expect(Date.now() - silentSince).toBeLessThan(1_500);
    await waitFor(() => client.counters.reconnects >= 1, 5_000, "reconnect after staleness");
    await sim.clearFaults();
    await waitFor(() => client.state === "open", 5_000, "open after silence");
    expect(rec.states).toEqual(expect.arrayContaining(["open", "stale", "connecting"]));
  });

  it("checkHealth(now) from an alarm reports staleness without waiting for timers", async () => {
    const { client } = makeClient({ staleAfterMs: 10_000, healthCheckIntervalMs: 60_000 });
    await client.open();
    const h = client.checkHealth(Date.now() + 11_000);
    expect(h.state).toBe("stale");
    await waitFor(() => client.state === "open", 3_000, "probe answered");
  });

  it("close() stops for good", async () => {
    const { client } = makeClient();
    await client.open();
    client.close();
    expect(client.state).toBe("closed");
    await sim.faults({ dropSocketsEveryMs: 100 });
    await new Promise((r) => setTimeout(r, 300));
    expect(client.counters.reconnects).toBe(0);
    expect(await rejection(client.request("ping"))).toMatchObject({ code: "stream_closed" });
  });
});

/**
 * A relay between the client and the simulator's real socket that can slip extra frames to
 * the client: the exchange is still the simulator, only the wire gets garbage on demand.
 */
function relayFetch(): { fetch: FetchLike; inject: (data: string | ArrayBuffer) => void } {
  let server: WebSocket | undefined;
  const fetch: FetchLike = async (input, init) => {
    const upstream = await env.LNM_SIM!.fetch(input as string, init);
    const up = upstream.webSocket;
    if (!up) return upstream;
    up.accept();
    const pair = new WebSocketPair();
    const [client, srv] = [pair[0], pair[1]];
    srv.accept();
    server = srv;
    srv.addEventListener("message", (e) => up.send(e.data as string));
    up.addEventListener("message", (e) => srv.send(e.data as string));
    up.addEventListener("close", (e) => srv.close(e.code === 1005 ? 1000 : e.code, e.reason));
    srv.addEventListener("close", () => up.close(1000));
    return new Response(null, { status: 101, webSocket: client });
  };
  return { fetch, inject: (data) => server?.send(data) };
}
