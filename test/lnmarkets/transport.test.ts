/** Endpoint resolution by network: configuration decides, never a test switch. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createAccountClients, LnMarketsError, LnMarketsRestClient, resolveEndpoints, streamFetchUrl } from "../../src/lnmarkets/index.js";
import { sim } from "./helpers.js";

describe("resolveEndpoints", () => {
  it("mainnet and testnet use LN Markets' hosts from vars", () => {
    const main = resolveEndpoints(env, "mainnet");
    expect(main).toMatchObject({ network: "mainnet", restBase: "https://api.lnmarkets.com/v3", streamUrl: "wss://stream.lnmarkets.com/v1" });
    const test = resolveEndpoints(env, "testnet");
    expect(test).toMatchObject({ restBase: "https://api.signet.lnmarkets.com/v3", streamUrl: "wss://stream.signet.lnmarkets.com/v1" });
  });

  it("simulator goes through the LNM_SIM binding when bound", async () => {
    const ep = resolveEndpoints(env, "simulator");
    expect(ep.restBase).toBe(`${env.LNM_SIMULATOR_URL}/v3`);
    expect(ep.streamUrl).toBe(`${env.LNM_SIMULATOR_URL}/v1`);
    // 127.0.0.1:8788 is not listening in tests: only the binding can answer.
    const t = await new LnMarketsRestClient({ endpoints: ep }).ticker();
    expect(t.lastPrice).toBeGreaterThan(0);
  });

  it("simulator without a binding uses LNM_SIMULATOR_URL with global fetch", () => {
    const ep = resolveEndpoints({ LNM_SIMULATOR_URL: "http://127.0.0.1:8788/" }, "simulator");
    expect(ep).toMatchObject({ restBase: "http://127.0.0.1:8788/v3", streamUrl: "http://127.0.0.1:8788/v1" });
  });

  it("a network with no configuration is refused with a typed error", () => {
    for (const [cfg, network] of [
      [{}, "simulator"],
      [{ LNM_SIMULATOR_URL: "" }, "simulator"],
      [{}, "mainnet"],
      [{ LNM_TESTNET_REST_URL: "not a url", LNM_TESTNET_STREAM_URL: "wss://x" }, "testnet"],
    ] as const) {
      let caught: unknown;
      try {
        resolveEndpoints(cfg, network);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(LnMarketsError);
      expect(caught).toMatchObject({ kind: "permanent", code: "not_configured" });
    }
  });

  it("stream URLs are fetched over http(s)", () => {
    expect(streamFetchUrl("wss://stream.lnmarkets.com/v1")).toBe("https://stream.lnmarkets.com/v1");
    expect(streamFetchUrl("ws://127.0.0.1:8788/v1")).toBe("http://127.0.0.1:8788/v1");
    expect(streamFetchUrl("http://sim/v1")).toBe("http://sim/v1");
  });
});

describe("createAccountClients", () => {
  it("builds working REST and stream clients for a simulator account", async () => {
    const keys = await sim.keys(123_456);
    const { rest, stream, endpoints } = createAccountClients({ env, network: "simulator", credentials: keys, stream: { clientName: "test" } });
    expect(endpoints.network).toBe("simulator");
    expect((await rest.account()).balance).toBe(123_456);
    await stream.open();
    expect(stream.state).toBe("open");
    stream.close();
    expect(stream.state).toBe("closed");
  });

  it("refuses a network the deployment does not configure", () => {
    expect(() => createAccountClients({ env: {}, network: "simulator", credentials: { key: "k", secret: "s", passphrase: "p" } })).toThrow(LnMarketsError);
  });
});
