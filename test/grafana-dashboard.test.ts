import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import dashboard from "../docs/grafana-dashboard.json";
import { api } from "./helpers";

it("the Grafana dashboard only queries series that /metrics exposes", async () => {
  const res = await api("GET", "/metrics", { token: env.METRICS_TOKEN });
  expect(res.status).toBe(200);
  const families = new Set([...String(res.body).matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
  expect(exprs.length).toBeGreaterThan(8);
  for (const expr of exprs) {
    for (const [name] of expr.matchAll(/lnma_[a-z_]+/g)) {
      expect(families, `${name} in ${expr}`).toContain(name.replace(/_(sum|count)$/, ""));
    }
  }
});
