import { unstable_readConfig } from "wrangler";
import { describe, expect, it } from "vitest";

// The config types do not resolve under this tsconfig; the test asserts the shape itself.
const read = (env?: string): any => unstable_readConfig({ config: "wrangler.toml", ...(env ? { env } : {}) }, { hideWarnings: true });

describe("wrangler.toml environments", () => {
  it("development binds the simulator; staging and production do not", () => {
    expect(read().services?.map((s: any) => s.binding)).toEqual(["LNM_SIM"]);
    for (const env of ["staging", "production"]) {
      const c = read(env);
      expect(c.vars.ENVIRONMENT).toBe(env);
      expect(c.services ?? []).toEqual([]);
      expect(c.vars.LNM_SIMULATOR_URL).toBe("");
    }
  });

  it("each environment has its own D1, KV and queues, every queue with a DLQ and a consumer", () => {
    const names = new Set<string>();
    for (const env of [undefined, "staging", "production"]) {
      const c = read(env);
      expect(c.d1_databases).toHaveLength(1);
      expect(c.kv_namespaces).toHaveLength(1);
      expect(c.durable_objects.bindings.map((b: any) => b.name).sort()).toEqual(["ACCOUNT", "MARKET_FEED", "SIMULATION"]);
      // Every bound Durable Object class is created by a migration (SQLite-backed), once.
      const created = (c.migrations ?? []).flatMap((m: any) => m.new_sqlite_classes ?? []);
      expect([...created].sort()).toEqual(["AccountDO", "MarketFeedDO", "SimulationDO"]);
      expect(new Set(c.migrations.map((m: any) => m.tag)).size).toBe(c.migrations.length);
      expect(c.durable_objects.bindings.map((b: any) => b.class_name).sort()).toEqual([...created].sort());
      expect(c.r2_buckets.map((b: any) => b.binding)).toEqual(["CANDLES"]);
      names.add(`r2:${c.r2_buckets[0]!.bucket_name}`);
      const limits = c.ratelimits ?? [];
      expect(limits.map((l: any) => l.name).sort()).toEqual(["RL_AUTH_ACCOUNT", "RL_AUTH_IP", "RL_OUTBOUND", "RL_UNVERIFIED"]);
      for (const l of limits) names.add(`ratelimit:${l.namespace_id}`);
      expect(c.triggers.crons).toEqual(["* * * * *"]);
      names.add(c.d1_databases[0]!.database_name!);
      names.add(c.kv_namespaces[0]!.id!);
      const producers = c.queues.producers?.map((p: any) => p.binding).sort();
      expect(producers).toEqual(["ALERTS", "LOGS", "NOTIFICATIONS", "PAYMENTS"]);
      const consumers = new Map<string, any>((c.queues.consumers ?? []).map((q: any) => [q.queue, q]));
      for (const p of c.queues.producers ?? []) {
        const consumer = consumers.get(p.queue);
        expect(consumer?.dead_letter_queue, p.queue).toBeTruthy();
        expect(consumers.has(consumer!.dead_letter_queue!), `${p.queue} DLQ consumer`).toBe(true);
        names.add(p.queue);
      }
    }
    // 3 D1 + 3 KV + 12 queues + 3 R2 buckets + 12 rate limit namespaces, none shared between environments.
    expect(names.size).toBe(33);
  });
});
