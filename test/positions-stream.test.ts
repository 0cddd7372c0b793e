// Positions, live, pushed from the account's Durable Object (issue 23): a console opens
// GET /v1/accounts/:id/positions/stream with a single-use ticket and receives snapshots when
// something changes, without polling; the socket costs reads only while a console is in sight.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { accountCleanup, proUser, statusOf, traderWithLong } from "./account-helpers";
import { api, BASE } from "./helpers";
import { simPrice } from "./sim-helpers";

const cleanup = accountCleanup();

async function ticketFor(token: string): Promise<string> {
  const r = await api("POST", "/v1/auth/ws-ticket", { token });
  expect(r.status).toBe(201);
  return r.body.ticket;
}

function upgrade(accountId: string, ticket: string): Promise<Response> {
  return exports.default.fetch(new Request(`${BASE}/v1/accounts/${accountId}/positions/stream?ticket=${ticket}`, { headers: { upgrade: "websocket" } }));
}

/** An open stream: every JSON message kept in order; `next` waits for one that matches, past `from`. */
async function openStream(accountId: string, token: string) {
  const res = await upgrade(accountId, await ticketFor(token));
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  const messages: { at: number; msg: any }[] = [];
  ws.addEventListener("message", (e) => {
    if (typeof e.data === "string" && e.data.startsWith("{")) messages.push({ at: Date.now(), msg: JSON.parse(e.data) });
  });
  ws.accept();
  const next = async (what: string, pred: (m: any) => boolean, from = 0, timeoutMs = 8_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = messages.slice(from).find((m) => pred(m.msg));
      if (hit) return hit.msg;
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(messages.map((m) => m.msg))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { ws, messages, next };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("positions stream", () => {
  it("pushes the first snapshot, then a moved price and an add-margin, without polling", async () => {
    const { u, acc, trade } = await traderWithLong("stream-push");
    cleanup.push(acc.id);
    const s = await openStream(acc.id, u.token);
    const first = await s.next("first snapshot", (m) => m.type === "positions");
    expect(first).toMatchObject({ price: 100_000, feed: expect.any(String) });
    expect(first.trades).toHaveLength(1);
    expect(first.trades[0]).toMatchObject({ id: trade.id, margin: trade.margin, riskLevel: "ok" });

    // The simulator's price moves; the console asks nothing: the account's re-read (every 3 s
    // while a console is in sight, the positions endpoint's shared read) pushes it.
    let from = s.messages.length;
    await simPrice(99_500);
    const moved = await s.next("the moved price", (m) => m.type === "positions" && m.price === 99_500, from);
    expect(moved.trades[0].risk).toBeGreaterThan(first.trades[0].risk);

    // An add-margin answered is pushed at once (Market changed), not at the next re-read.
    from = s.messages.length;
    const sentAt = Date.now();
    const add = await api("POST", `/v1/accounts/${acc.id}/trades/${trade.id}/add-margin`, { token: u.token, body: { amountSats: 50_000 } });
    expect(add.status, JSON.stringify(add.body)).toBe(200);
    const added = await s.next("the add-margin", (m) => m.type === "positions" && m.trades[0]?.margin === trade.margin + 50_000, from);
    expect(added.trades[0].risk).toBeLessThan(moved.trades[0].risk);
    expect(s.messages.find((m) => m.msg === added)!.at - sentAt).toBeLessThan(2_500);

    // At most one snapshot a second, and never the same one twice in a row.
    const pushes = s.messages.filter((m) => m.msg.type === "positions");
    for (let i = 1; i < pushes.length; i++) {
      const { at: _a, ...prev } = pushes[i - 1]!.msg;
      const { at: _b, ...cur } = pushes[i]!.msg;
      expect(cur).not.toEqual(prev);
    }
    s.ws.close(1000, "done");
  }, 30_000);

  it("a hidden console stops the re-reads; in sight again it gets the price at once; a closed one costs nothing", async () => {
    const { u, acc } = await traderWithLong("stream-cost");
    cleanup.push(acc.id);
    const s = await openStream(acc.id, u.token);
    await s.next("first snapshot", (m) => m.type === "positions" && m.price === 100_000);

    s.ws.send(JSON.stringify({ type: "visibility", visible: false }));
    await sleep(200);
    const hiddenCalls = (await statusOf(acc.id)).breaker.calls;
    const from = s.messages.length;
    await simPrice(99_600); // no level crossed: no wake-up from the market feed
    await sleep(4_000);
    // Nothing read from the exchange for a hidden console, so nothing new to push.
    expect((await statusOf(acc.id)).breaker.calls).toBe(hiddenCalls);
    expect(s.messages.slice(from).filter((m) => m.msg.type === "positions")).toEqual([]);

    s.ws.send(JSON.stringify({ type: "visibility", visible: true }));
    await s.next("the price once in sight", (m) => m.type === "positions" && m.price === 99_600, from, 3_000);

    // The tab closes: the re-read stops with it.
    s.ws.close(1000, "tab closed");
    await sleep(500);
    const closedCalls = (await statusOf(acc.id)).breaker.calls;
    await simPrice(99_700);
    await sleep(4_000);
    expect((await statusOf(acc.id)).breaker.calls).toBe(closedCalls);
  }, 30_000);

  it("a used ticket is refused (401); another user's account is 404; no upgrade header is a 400", async () => {
    const { u, acc } = await traderWithLong("stream-auth");
    cleanup.push(acc.id);
    const ticket = await ticketFor(u.token);
    const ok = await upgrade(acc.id, ticket);
    expect(ok.status).toBe(101);
    ok.webSocket!.accept();
    ok.webSocket!.close(1000, "done");
    const again = await upgrade(acc.id, ticket);
    expect(again.status).toBe(401);
    expect((await again.json() as any).error.code).toBe("unauthenticated");

    const other = await proUser("stream-other");
    const foreign = await upgrade(acc.id, await ticketFor(other.token));
    expect(foreign.status).toBe(404);
    expect((await foreign.json() as any).error.code).toBe("not_found");

    // A ticket opens a WebSocket only; with a bearer token, a plain GET is told to upgrade.
    const plain = await api("GET", `/v1/accounts/${acc.id}/positions/stream`, { token: u.token });
    expect(plain.status).toBe(400);
    const unknown = await upgrade("acc_does_not_exist", await ticketFor(u.token));
    expect(unknown.status).toBe(404);

    // Documented in the OpenAPI document, the upgrade as its 101.
    const doc = (await (await exports.default.fetch(new Request(`${BASE}/openapi.json`))).json()) as any;
    const op = doc.paths["/v1/accounts/{id}/positions/stream"]?.get;
    expect(Object.keys(op?.responses ?? {})).toEqual(expect.arrayContaining(["101", "401", "404"]));
    expect(op.parameters.map((p: any) => p.name)).toEqual(expect.arrayContaining(["id", "ticket"]));
  }, 30_000);
});
