/**
 * Notification delivery and redirects (issue 22, item 5). Defect: delivery followed redirects
 * (fetch's default), so a webhook that passed the URL policy when saved could send the signed
 * message anywhere, an internal address included. Now: `redirect: "manual"`, 307/308 followed
 * at most three times with every hop checked against the same policy, 301/302/303 not
 * followed. The receivers are the simulator's inbox (POST /__sim/inbox/redirect/{status}).
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { createNotifyTransport, MAX_REDIRECTS, RedirectRefusedError } from "../src/notify/transport";
import { sim } from "./sim-helpers";

const SIM = env.LNM_SIMULATOR_URL!;
const hook = (name: string) => `${SIM}/__sim/inbox/webhook/${name}`;
const redirect = (status: number, to: string) => `${SIM}/__sim/inbox/redirect/${status}?to=${encodeURIComponent(to)}`;
const received = async (name: string) => ((await sim<any>("GET", `/__sim/inbox?channel=webhook&target=${name}`)).data as unknown[]).length;
const post = { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ hello: "world" }) };

beforeEach(async () => {
  await sim("DELETE", "/__sim/inbox");
});

describe("redirects on delivery", () => {
  it("a 307 to an allowed URL is followed with its method and body; a 302 is not followed", async () => {
    const send = createNotifyTransport({ ...env, ENVIRONMENT: "test" });
    const res = await send(redirect(307, hook("followed")), post);
    expect(res.status).toBe(200);
    expect(await received("followed")).toBe(1);
    const moved = await send(redirect(302, hook("not-followed")), post);
    expect(moved.status).toBe(302);
    await moved.body?.cancel();
    expect(await received("not-followed")).toBe(0);
  });

  it("a hop the URL policy refuses is not sent (production policy: an internal address)", async () => {
    // Production's policy (https, no private or loopback hosts) applied to the hop: the first
    // URL is the simulator's, reached through its binding as in development.
    const send = createNotifyTransport({ ...env, ENVIRONMENT: "production" });
    const e = await send(redirect(308, "https://10.0.0.7/steal"), post).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RedirectRefusedError);
    expect(String((e as Error).message)).toMatch(/private, loopback or internal/);
    const http = await send(redirect(307, "http://example.com/hook"), post).catch((x: unknown) => x);
    expect(http).toBeInstanceOf(RedirectRefusedError);
    expect(String((http as Error).message)).toMatch(/https/);
  });

  it(`more than ${MAX_REDIRECTS} hops are refused`, async () => {
    const send = createNotifyTransport({ ...env, ENVIRONMENT: "test" });
    let url = hook("deep");
    for (let i = 0; i <= MAX_REDIRECTS; i++) url = redirect(307, url);
    const e = await send(url, post).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RedirectRefusedError);
    expect(await received("deep")).toBe(0);
  });
});
