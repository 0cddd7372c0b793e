import { exports } from "cloudflare:workers";
import { hc } from "hono/client";
import { expect, it } from "vitest";
import type { AppType } from "../src/index";
import { uniqueEmail } from "./helpers";

it("hc<AppType> is a typed client for traders", async () => {
  const client = hc<AppType>("http://platform.test", { fetch: (input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(input, init)) });
  const email = uniqueEmail("hc");
  const reg = await client.v1.auth.register.$post({ json: { email, password: "typed-client-pw" } });
  expect(reg.status).toBe(201);
  const created = await reg.json();
  if (!("token" in created)) throw new Error(created.error.message);
  const token = created.token;
  const me = await client.v1.me.$get({}, { headers: { authorization: `Bearer ${token}` } });
  expect(me.status).toBe(200);
  const body = await me.json();
  expect("email" in body && body.email).toBe(email);
  const plans = await client.v1.plans.$get();
  expect(plans.status).toBe(200);
});
