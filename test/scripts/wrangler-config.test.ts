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
      expect(c.durable_objects.bindings.map((b: any) => b.name).sort()).toEqual(["ACCOUNT", "SIMULATION"]);
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
    // 3 D1 + 3 KV + 12 queues, none shared between environments.
    expect(names.size).toBe(18);
  });
});
