/**
 * Bad input, property-based (issue 12): random and malformed bodies against every JSON route
 * of /openapi.json, as a fresh user with an account and an automation. Never a 5xx; every 4xx
 * is `{error: {code, message}}`; and nothing is written unless the answer is a 2xx.
 * Issue 22: bodies also go out with wrong content types (415) and to methods a path does not
 * have. `npm run fuzz` is the long form: FUZZ_REQUESTS (>= 100,000) spread over the routes.
 */
import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE } from "./helpers";
import { automation, proUser, quiesce, simAccount, stub } from "./account-helpers";

const LONG_FORM = Number(env.FUZZ_REQUESTS ?? 0) || 0;
/** Requests per route: 20 in the suite; the long form spreads FUZZ_REQUESTS over the routes. */
let numRuns = 20;
const CHECK_EVERY = LONG_FORM ? 10 : 1;

/** Mostly JSON, sometimes a type a JSON route must refuse with 415 (never a 500). */
const contentTypes = fc.oneof(
  { weight: 6, arbitrary: fc.constant("application/json") },
  { weight: 1, arbitrary: fc.constantFrom("application/json; charset=utf-8", "application/vnd.api+json", "APPLICATION/JSON") },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", "application/xml", "text/html",
      "application/octet-stream", "application/jsonp", "json", "", "*/*", "application/json;;", "multipart/form-data",
    ),
  },
);
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

type Schema = { $ref?: string; type?: string | string[]; properties?: Record<string, Schema>; items?: Schema; anyOf?: Schema[]; oneOf?: Schema[]; allOf?: Schema[] };
interface Route { method: string; path: string; schema: Schema | null; others: string[] }

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

async function send(method: string, path: string, p: Payload, contentType = "application/json"): Promise<{ status: number; body: any }> {
  const body = method === "GET" ? undefined : p.kind === "text" ? p.text : p.bytes;
  const headers: Record<string, string> = { authorization: `Bearer ${user.token}` };
  if (contentType) headers["content-type"] = contentType;
  const res = await exports.default.fetch(new Request(`${BASE}${path}`, { method, headers, body }));
  const raw = await res.text();
  let parsed: unknown = raw;
  try { parsed = raw ? JSON.parse(raw) : null; } catch { /* not JSON */ }
  return { status: res.status, body: parsed };
}

/** Rows this user owns, wherever a JSON route could write them (one D1 batch and one DO call). */
async function footprint(): Promise<string> {
  const count = (table: string) => env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE user_id = ?`).bind(user.userId);
  const tables = ["exchange_accounts", "api_tokens", "payments", "simulations", "notification_channels"];
  const [rows, autos] = await Promise.all([
    env.DB.batch([
      ...tables.map(count),
      env.DB.prepare("SELECT COUNT(*) AS n FROM users"),
      env.DB.prepare("SELECT email, password_hash, role, plan_id, active_account_id, schedule_scope, scheduling_enabled, pause_entries FROM users WHERE id = ?").bind(user.userId),
      env.DB.prepare("SELECT name, status, credential_version, credentials_enc FROM exchange_accounts WHERE id = ?").bind(accountId),
    ]),
    stub(accountId).listAutomations(),
  ]);
  return JSON.stringify({
    counts: rows.map((r) => r.results),
    autos: (autos as unknown as { id: string; config?: unknown; enabled?: boolean }[]).map((a) => JSON.stringify([a.id, a.config, a.enabled])),
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
    const declared = Object.keys(ops).map((m) => m.toUpperCase());
    for (const [method, op] of Object.entries(ops)) {
      const content = op.requestBody?.content?.["application/json"];
      if (!content) continue;
      routes.push({ method: method.toUpperCase(), path, schema: content.schema ?? null, others: METHODS.filter((m) => !declared.includes(m)) });
    }
  }
  if (LONG_FORM) numRuns = Math.ceil(LONG_FORM / routes.length);
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
    let total = 0;
    let serverErrors = 0;
    for (const r of routes) {
      const path = concrete(r.path);
      const key = `${r.method} ${r.path}`;
      seen[key] = {};
      // A wrong method now and then (only methods the path does not declare, so nothing real runs).
      let known = await footprint();
      const method = fc.oneof({ weight: 9, arbitrary: fc.constant(r.method) }, { weight: 1, arbitrary: fc.constantFrom(...r.others) });
      await fc.assert(
        fc.asyncProperty(payloads(r.schema), contentTypes, method, async (p, ct, m) => {
          const res = await send(m, path, p, ct);
          total += 1;
          if (res.status >= 500) serverErrors += 1;
          seen[key]![res.status] = (seen[key]![res.status] ?? 0) + 1;
          const shown = `${m} ${ct || "(no type)"}: ${p.kind === "text" ? p.text.slice(0, 120) : `bytes ${p.bytes.length}`}`;
          if (ct === "application/json" && m === r.method) expect(res.status, `${key} refused JSON`).not.toBe(415);
          expect(res.status, `${key} <- ${shown}: ${JSON.stringify(res.body).slice(0, 300)}`).toBeLessThan(500);
          if (res.status >= 400) {
            expect(typeof res.body?.error?.code, `${key} error shape: ${JSON.stringify(res.body).slice(0, 200)}`).toBe("string");
            expect(typeof res.body?.error?.message).toBe("string");
            // `known` is the footprint after the last 2xx: a 4xx must leave it as it was. The long
            // form compares every CHECK_EVERY-th 4xx (a write would still show at the next check).
            if (total % CHECK_EVERY === 0) expect(await footprint(), `${key} wrote on ${res.status} <- ${shown}`).toBe(known);
          } else {
            known = await footprint();
          }
        }),
        { numRuns, seed: LONG_FORM ? Date.now() : 12, endOnFailure: true },
      );
    }
    console.info(JSON.stringify({ fuzz: seen }));
    // scripts/fuzz.mjs reads this line and appends it to bench/RESULTS.md.
    console.info(`fuzz: requests=${total} server_errors=${serverErrors}`);
  }, LONG_FORM ? LONG_FORM * 100 : 120_000); // the long form: a budget per request, not a cap on the suite
});
