import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { clientIdFor, cyrb53, isValidClientId } from "../../src/domain/client-id";

describe("cyrb53", () => {
  it("matches the published reference values", () => {
    expect(cyrb53("a")).toBe(7929297801672961);
    expect(cyrb53("b")).toBe(8684336938537663);
    expect(cyrb53("revenge")).toBe(4051478007546757);
  });

  it("stays within 53 bits", () => {
    fc.assert(fc.property(fc.string(), fc.integer(), (s, seed) => Number.isSafeInteger(cyrb53(s, seed)) && cyrb53(s, seed) >= 0));
  });
});

describe("clientIdFor", () => {
  const base = { automationId: "8f0c2a1e-5b7d-4a1c-9e3f-1234567890ab", runId: "run-42", action: "add_margin", tradeId: "t-1" };

  it("is deterministic and readable", () => {
    const id = clientIdFor(base);
    expect(clientIdFor({ ...base })).toBe(id);
    expect(id).toMatch(/^addmargin_[0-9a-z]{22}$/);
  });

  it("changes with any input, including a missing vs present trade", () => {
    const id = clientIdFor(base);
    expect(clientIdFor({ ...base, automationId: "other" })).not.toBe(id);
    expect(clientIdFor({ ...base, runId: "run-43" })).not.toBe(id);
    expect(clientIdFor({ ...base, action: "close" })).not.toBe(id);
    expect(clientIdFor({ ...base, tradeId: "t-2" })).not.toBe(id);
    expect(clientIdFor({ ...base, tradeId: undefined })).not.toBe(id);
  });

  it("a new decision of the same run is a new id; the first decision keeps the old id", () => {
    const base = { automationId: "aut_1", runId: "s7", action: "add_margin", tradeId: "t1" };
    expect(clientIdFor({ ...base, decision: 0 })).toBe(clientIdFor(base));
    expect(clientIdFor({ ...base, decision: 1 })).not.toBe(clientIdFor(base));
    expect(clientIdFor({ ...base, decision: 2 })).not.toBe(clientIdFor({ ...base, decision: 1 }));
    expect(isValidClientId(clientIdFor({ ...base, decision: 1 }))).toBe(true);
  });

  it("does not confuse field boundaries", () => {
    const a = clientIdFor({ automationId: "a:b", runId: "c", action: "open" });
    const b = clientIdFor({ automationId: "a", runId: "b:c", action: "open" });
    expect(a).not.toBe(b);
  });

  it("always fits LN Markets' 1-64 chars for any input", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string({ maxLength: 200 }), fc.option(fc.string(), { nil: undefined }), (automationId, runId, action, tradeId) => {
        const id = clientIdFor({ automationId, runId, action, tradeId });
        return isValidClientId(id) && id.length <= 39;
      }),
    );
  });

  it("has no collisions among many distinct intents", () => {
    const ids = new Set<string>();
    for (let run = 0; run < 2_000; run++) {
      for (const action of ["open", "close", "add_margin", "takeprofit", "stoploss"]) {
        ids.add(clientIdFor({ automationId: "auto-1", runId: String(run), action, tradeId: `t${run % 7}` }));
      }
    }
    expect(ids.size).toBe(10_000);
  });

  it("isValidClientId rejects empty, long and odd characters", () => {
    expect(isValidClientId("")).toBe(false);
    expect(isValidClientId("a".repeat(65))).toBe(false);
    expect(isValidClientId("a b")).toBe(false);
    expect(isValidClientId("a".repeat(64))).toBe(true);
  });
});
