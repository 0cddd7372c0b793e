import { exports } from "cloudflare:workers";
import { expect, it } from "vitest";

it("serves", async () => {
  const res = await exports.default.fetch("http://sim/x");
  expect(await res.json()).toMatchObject({ ok: true, mode: "test" });
});
