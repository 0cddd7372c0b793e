/** Issue 22, items 1 and 5: every environment declares the four rate limiters, each with its own namespace. */
import { unstable_readConfig } from "wrangler";
import { describe, expect, it } from "vitest";

const read = (env?: string): any => unstable_readConfig({ config: "wrangler.toml", ...(env ? { env } : {}) }, { hideWarnings: true });

describe("wrangler.toml rate limits", () => {
  it("binds RL_AUTH_IP, RL_AUTH_ACCOUNT, RL_OUTBOUND and RL_UNVERIFIED in every environment, namespaces not shared", () => {
    const namespaces = new Set<string>();
    for (const env of [undefined, "staging", "production"]) {
      const limits = read(env).ratelimits ?? [];
      expect(limits.map((l: any) => l.name).sort(), env ?? "dev").toEqual(["RL_AUTH_ACCOUNT", "RL_AUTH_IP", "RL_OUTBOUND", "RL_UNVERIFIED"]);
      for (const l of limits) {
        expect([10, 60]).toContain(l.simple.period);
        expect(l.simple.limit).toBeGreaterThan(0);
        namespaces.add(String(l.namespace_id));
      }
    }
    expect(namespaces.size).toBe(12);
  });
});
