/**
 * Issue 20: an account object rebuilt after an eviction re-registers the levels it had. The
 * feed's index then only refreshes the registration time (one row) instead of deleting and
 * re-inserting every level (durable-objects/market-feed/trigger-index.ts).
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { TriggerLevel } from "../src/domain/trigger-levels";
import type { MarketFeedDO } from "../durable-objects/market-feed";

describe("the trigger index, registering the same levels again", () => {
  it("keeps the rows and refreshes registered_at; a changed set is rewritten", async () => {
    // Typed loosely: the RPC stub's inferred type is too deep for runInDurableObject's generics.
    const testnet = (env.MARKET_FEED as unknown as DurableObjectNamespace<MarketFeedDO>).getByName("testnet") as unknown as DurableObjectStub<MarketFeedDO>;
    await runInDurableObject<MarketFeedDO, void>(testnet, async (inst, state) => {
      const index = (inst as unknown as { index: any }).index;
      const rowids = () => state.storage.sql.exec<{ r: number }>("SELECT rowid AS r FROM triggers WHERE account_id = 'acc' ORDER BY rowid").toArray().map((x) => x.r);
      const levels: TriggerLevel[] = [
        { price: 98_236.25, direction: "down", kind: "risk_act" },
        { price: 98_432.5, direction: "down", kind: "risk_warn" },
        { price: 99_416.83, direction: "down", kind: "hot_zone" },
      ];
      expect(index.register("acc", levels, 1_000)).toBe(3);
      // Marked: a rewrite would insert the rows again with fresh rowids (1, 2, 3 in an empty table).
      state.storage.sql.exec("UPDATE triggers SET rowid = rowid + 100 WHERE account_id = 'acc'");
      const first = rowids();
      expect(first).toEqual([101, 102, 103]);
      // The same set, in another order: nothing rewritten, the time refreshed.
      expect(index.register("acc", [...levels].reverse(), 2_000)).toBe(3);
      expect(rowids()).toEqual(first);
      expect(index.registeredAt("acc")).toBe(2_000);
      expect(index.counts()).toEqual({ accounts: 1, levels: 3 });
      // A level moved (an add-margin): rewritten, and crossings follow the new set.
      const moved = levels.map((l) => (l.kind === "risk_act" ? { ...l, price: 96_578 } : l));
      expect(index.register("acc", moved, 3_000)).toBe(3);
      expect(rowids()).not.toEqual(first);
      expect(state.storage.sql.exec<{ p: number }>("SELECT price AS p FROM triggers WHERE account_id = 'acc' ORDER BY price").toArray().map((x) => x.p)).toEqual([96_578, 98_432.5, 99_416.83]);
      expect(index.crossed(98_300, 98_200).map((c: any) => c.accountId)).toEqual([]);
      expect(index.crossed(96_600, 96_500).map((c: any) => c.accountId)).toEqual(["acc"]);
      // A subset is a change too; none leaves the index.
      expect(index.register("acc", moved.slice(0, 2), 4_000)).toBe(2);
      expect(index.counts()).toEqual({ accounts: 1, levels: 2 });
      expect(index.register("acc", [], 5_000)).toBe(0);
      expect(index.counts()).toEqual({ accounts: 0, levels: 0 });
    });
  });
});
