/**
 * Bad input, property-based (issue 12): random and malformed bodies against every JSON route
 * of /openapi.json, as a fresh user with an account and an automation. Never a 5xx; every 4xx
 * is `{error: {code, message}}`; and nothing is written unless the answer is a 2xx.
 */
import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE } from "./helpers";
import { automation, proUser, quiesce, simAccount, stub } from "./account-helpers";

const NUM_RUNS = 20;

type Schema = { $ref?: string; type?: string | string[]; properties?: Record<string, Schema>; items?: Schema; anyOf?: Schema[]; oneOf?: Schema[]; allOf?: Schema[] };
interface Route { method: string; path: string; schema: Schema | null }

let user: { token: string; userId: string };
let accountId: string;
let automationId: string;
let routes: Route[] = [];
let components: Record<string, Schema> = {};

function resolve(s: Schema | undefined, depth = 0): Schema | undefined {
  if (!s || depth > 5) return s;
  if (s.$ref) return resolve(components[s.$ref.split("/").pop()!], depth + 1);
  const alt = s.allOf?.[0] ?? s.anyOf?.find((x) => resolve(x, depth + 1)?.properties) ?? s.oneOf?.[0];
  return s.properties ? s : alt ? resolve(alt, depth + 1) : s;
}

/** Wrong types for a field: anything but what the schema expects, most of the time. */
const wrongValue = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  fc.string({ maxLength: 50 }),
  fc.constantFrom(null, true, -1, 0, 1e308, -0, "", "null", [], {}, "\u0000", "\ud800", "x".repeat(100_000), "../../etc/passwd", "<script>"),
  fc.integer(),
  fc.double(),
  fc.array(fc.anything({ maxDepth: 1 }), { maxLength: 5 }),
);

/** A body made from the route's own field names (so validation goes past the first key). */
function fieldBody(schema: Schema | null): fc.Arbitrary<unknown> {
  const props = Object.keys(resolve(schema ?? undefined)?.properties ?? {});
  if (!props.length) return fc.dictionary(fc.string({ maxLength: 10 }), wrongValue, { maxKeys: 4 });
  return fc
    .tuple(fc.subarray(props), fc.array(wrongValue, { minLength: props.length, maxLength: props.length }), fc.dictionary(fc.string({ maxLength: 12 }), wrongValue, { maxKeys: 2 }))
    .map(([keys, values, extra]) => Object.fromEntries([...keys.map((k, i) => [k, values[i]] as const), ...Object.entries(extra)]));
}

type Payload = { kind: "text"; text: string } | { kind: "bytes"; bytes: Uint8Array };

function payloads(schema: Schema | null): fc.Arbitrary<Payload> {
  const text = (a: fc.Arbitrary<string>) => a.map((t): Payload => ({ kind: "text", text: t }));
  const json = (a: fc.Arbitrary<unknown>) => text(a.map((v) => { try { return JSON.stringify(v) ?? "null"; } catch { return "{}"; } }));
  return fc.oneof(
    { weight: 4, arbitrary: json(fieldBody(schema)) },
    { weight: 1, arbitrary: json(fc.anything({ maxDepth: 4, withBigInt: false })) },
    { weight: 1, arbitrary: json(fc.array(fieldBody(schema), { maxLength: 3 })) },
    { weight: 1, arbitrary: text(fc.string({ maxLength: 200 })) },
    { weight: 1, arbitrary: text(fc.json().map((j) => j.slice(0, Math.max(1, Math.floor(j.length / 2))))) },
    {
      weight: 1,
      arbitrary: text(fc.constantFrom(
        "", "null", "[]", "{", "}", "{\"a\":", "\"\\ud800\"", "{\"__proto__\":{\"admin\":true}}", "{\"constructor\":{\"prototype\":{}}}",
        `${"[".repeat(20_000)}${"]".repeat(20_000)}`, `{"x":"${"y".repeat(2_000_000)}"}`, "1e999", "NaN", "{\"a\":1,\"a\":2}",
      )),
    },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b): Payload => ({ kind: "bytes", bytes: new Uint8Array([0x7b, 0xff, 0xfe, ...b]) })) },
  );
}

async function send(method: string, path: string, p: Payload): Promise<{ status: number; body: any }> {
  const body = p.kind === "text" ? p.text : p.bytes;
  const res = await exports.default.fetch(new Request(`${BASE}${path}`, { method, headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" }, body }));
  const raw = await res.text();
  let parsed: unknown = raw;
  try { parsed = raw ? JSON.parse(raw) : null; } catch { /* not JSON */ }
  return { status: res.status, body: parsed };
}

/** Rows this user owns, wherever a JSON route could write them. */
async function footprint(): Promise<string> {
  const n = async (sql: string) => (await env.DB.prepare(sql).bind(user.userId).first<{ n: number }>())?.n ?? 0;
  const u = await env.DB.prepare("SELECT email, password_hash, role, plan_id, active_account_id, schedule_scope, scheduling_enabled, pause_entries FROM users WHERE id = ?").bind(user.userId).first();
  const autos = ((await stub(accountId).listAutomations()) as unknown as { id: string; updatedAt?: unknown; config?: unknown; enabled?: boolean }[])
    .map((a) => JSON.stringify([a.id, a.config, a.enabled]));
  const acc = await env.DB.prepare("SELECT name, status, credential_version, credentials_enc FROM exchange_accounts WHERE id = ?").bind(accountId).first();
  return JSON.stringify({
    accounts: await n("SELECT COUNT(*) AS n FROM exchange_accounts WHERE user_id = ?"),
    tokens: await n("SELECT COUNT(*) AS n FROM api_tokens WHERE user_id = ?"),
    payments: await n("SELECT COUNT(*) AS n FROM payments WHERE user_id = ?"),
    simulations: await n("SELECT COUNT(*) AS n FROM simulations WHERE user_id = ?"),
    channels: await n("SELECT COUNT(*) AS n FROM notification_channels WHERE user_id = ?"),
    users: (await env.DB.prepare("SELECT COUNT(*) AS n FROM users").first<{ n: number }>())?.n,
    user: u, account: acc, autos,
  });
}

beforeAll(async () => {
  user = await proUser("fuzz");
  const acc = await simAccount(user.token, "Fuzz");
  accountId = acc.id;
  automationId = (await automation(user.token, accountId, { type: "margin_guard", config: { maxAddPerTradeSats: 1_000, maxAddPerDaySats: 1_000 }, enabled: false })).id;
  const res = await exports.default.fetch(new Request(`${BASE}/openapi.json`));
  const doc = (await res.json()) as { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: Schema }> } }>>; components?: { schemas?: Record<string, Schema> } };
  components = doc.components?.schemas ?? {};
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const content = op.requestBody?.content?.["application/json"];
      if (!content) continue;
      routes.push({ method: method.toUpperCase(), path, schema: content.schema ?? null });
    }
  }
});

afterAll(async () => {
  if (accountId) await quiesce(accountId);
});

function concrete(path: string): string {
  return path.replace(/\{(\w+)\}/g, (_m, name: string) => (name === "aid" ? automationId : name === "id" && /\/accounts\/\{id\}/.test(path) ? accountId : "does-not-exist"));
}

describe("fuzz: malformed bodies against every JSON route", () => {
  it("finds the JSON routes in /openapi.json", () => {
    expect(routes.length).toBeGreaterThanOrEqual(8);
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual(expect.arrayContaining(["POST /v1/accounts", "POST /v1/accounts/{id}/automations", "PATCH /v1/me"]));
  });

  it("never answers 5xx, always the error shape for 4xx, and writes nothing unless 2xx", async () => {
    const seen: Record<string, Record<number, number>> = {};
    for (const r of routes) {
      const path = concrete(r.path);
      const key = `${r.method} ${r.path}`;
      seen[key] = {};
      await fc.assert(
        fc.asyncProperty(payloads(r.schema), async (p) => {
          const before = await footprint();
          const res = await send(r.method, path, p);
          seen[key]![res.status] = (seen[key]![res.status] ?? 0) + 1;
          const shown = p.kind === "text" ? p.text.slice(0, 120) : `bytes ${p.bytes.length}`;
          expect(res.status, `${key} <- ${shown}: ${JSON.stringify(res.body).slice(0, 300)}`).toBeLessThan(500);
          if (res.status >= 400) {
            expect(typeof res.body?.error?.code, `${key} error shape: ${JSON.stringify(res.body).slice(0, 200)}`).toBe("string");
            expect(typeof res.body?.error?.message).toBe("string");
            expect(await footprint(), `${key} wrote on ${res.status} <- ${shown}`).toBe(before);
          }
        }),
        { numRuns: NUM_RUNS, seed: 12, endOnFailure: true },
      );
    }
    console.info(JSON.stringify({ fuzz: seen }));
  }, 120_000);
});
