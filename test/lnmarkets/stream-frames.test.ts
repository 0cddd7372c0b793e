/** The frame parser on well-formed frames and on garbage: it classifies, it never throws. */
import { describe, expect, it } from "vitest";
import { parseStreamFrame } from "../../src/lnmarkets/index.js";

const push = (topic: string, data: unknown) => JSON.stringify({ jsonrpc: "2.0", method: "subscription", params: { topic, data } });

describe("parseStreamFrame", () => {
  it("responses, errors and pushes", () => {
    expect(parseStreamFrame('{"jsonrpc":"2.0","id":"7","result":"pong"}')).toEqual({ kind: "response", id: "7", result: "pong" });
    expect(parseStreamFrame('{"jsonrpc":"2.0","id":3,"result":null}')).toEqual({ kind: "response", id: "3", result: null });
    expect(parseStreamFrame('{"jsonrpc":"2.0","id":"1","error":{"code":-32002,"message":"Authentication failed"}}')).toMatchObject({
      kind: "error",
      id: "1",
      error: { code: -32002 },
    });
    expect(parseStreamFrame(push("futures/inverse/btc_usd/lastPrice", { time: 1, lastPrice: 100_000.5 }))).toEqual({
      kind: "price",
      topic: "futures/inverse/btc_usd/lastPrice",
      data: { time: 1, lastPrice: 100_000.5 },
    });
    const closed = { pair: "btc_usd", event: "closed", trade: { id: "t", closedAt: 2, closingFee: 3, pl: -4, exitPrice: 99_000, clientId: null } };
    expect(parseStreamFrame(push("futures/inverse/btc_usd/isolated/trades", closed))).toMatchObject({ kind: "trade", data: closed });
    expect(parseStreamFrame(push("announcements", { id: "a" }))).toEqual({ kind: "subscription", topic: "announcements", data: { id: "a" } });
    expect(parseStreamFrame(new TextEncoder().encode('{"id":"9","result":1}'))).toMatchObject({ kind: "response", id: "9" });
  });

  it.each([
    ["", "not JSON"],
    ["{not json", "not JSON"],
    ["42", "not a JSON-RPC object"],
    ["null", "not a JSON-RPC object"],
    ['[{"id":"1","result":1}]', "not a JSON-RPC object"],
    ['{"jsonrpc":"2.0","id":"1"}', "neither result"],
    ['{"id":{"x":1},"result":1}', "bad response"],
    ['{"id":"1","error":"boom"}', "bad error response"],
    ['{"jsonrpc":"1.0","id":"1","result":1}', "bad response"],
    ['{"method":"surprise","params":{}}', "bad notification"],
    [push("futures/inverse/btc_usd/lastPrice", { time: 1, lastPrice: "100000" }), "bad data for futures/inverse/btc_usd/lastPrice"],
    [push("futures/inverse/btc_usd/isolated/trades", { pair: "btc_usd", event: "exploded", trade: {} }), "bad data"],
    [push("futures/inverse/btc_usd/isolated/trades", { pair: "btc_usd", event: "closed", trade: { id: 1 } }), "bad data"],
  ])("%s is malformed", (raw, reason) => {
    const f = parseStreamFrame(raw);
    expect(f.kind).toBe("malformed");
    expect(f.kind === "malformed" && f.reason).toContain(reason);
  });

  it("survives random bytes", () => {
    for (let i = 0; i < 200; i++) {
      const bytes = crypto.getRandomValues(new Uint8Array(1 + (i % 64)));
      expect(() => parseStreamFrame(bytes)).not.toThrow();
    }
  });
});
