import { exports } from "cloudflare:workers";
import { expect, it } from "vitest";
it("reaches the simulator", async () => {
  const res = await exports.default.fetch("http://x/");
  expect(await res.json()).toMatchObject({ ok: true, mode: "test" });
});
