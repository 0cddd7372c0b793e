// HTTP helpers for the bench stack (bench/lib/stack.mjs), loopback only: plain and signed
// calls, traders and guarded accounts seeded through the API, their status and waits on it,
// webhook verification.
import { createHmac } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";

export async function http(method, url, body, headers = {}) {
  const res = await fetch(url, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, body: json };
}

export async function must(method, url, body, headers) {
  const r = await http(method, url, body, headers);
  if (r.status >= 300) throw new Error(`${method} ${url}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body;
}

/** A signed LN Markets REST call against the simulator (the SDK's scheme). */
export async function lnm(sim, creds, method, path, body) {
  const url = new URL(`${sim}/v3${path}`);
  const data = body === undefined ? url.search : JSON.stringify(body);
  const ts = Date.now();
  const signature = createHmac("sha256", creds.secret).update(`${ts}${method.toLowerCase()}${url.pathname}${data}`).digest("base64");
  return must(method, url.toString(), body, {
    "lnm-access-key": creds.key, "lnm-access-passphrase": creds.passphrase, "lnm-access-timestamp": String(ts), "lnm-access-signature": signature,
  });
}

let seq = 0;
/** A new trader (user) on the platform: its token and auth header. */
export async function newTrader(stack) {
  seq++;
  const email = `bench-${process.pid}-${Date.now()}-${seq}@example.test`;
  const reg = await must("POST", `${stack.platform}/v1/auth/register`, { email, password: `bench-password-${seq}-long` });
  return { token: reg.token, auth: { authorization: `Bearer ${reg.token}` } };
}

/**
 * A trader with one simulator account (the active one), a long and a Margin Guard. `trader`
 * reuses an existing user (registration hashes a password: the slowest step of seeding),
 * whose earlier account was deleted; the new account is made the active one.
 */
export async function guardedAccount(stack, { guard = {}, balance = 5_000_000, leverage = 50, quantity = 1_000, trader = null } = {}) {
  const t = trader ?? (await newTrader(stack));
  const { token, auth } = t;
  seq++;
  const keys = await must("POST", `${stack.sim}/__sim/keys`, { balance });
  const acc = await must("POST", `${stack.platform}/v1/accounts`, { name: `Bench ${seq}`, network: "simulator", credentials: { key: keys.key, secret: keys.secret, passphrase: keys.passphrase } }, auth);
  if (trader && !acc.active) await must("POST", `${stack.platform}/v1/accounts/${acc.id}/activate`, undefined, auth);
  const trade = await lnm(stack.sim, keys, "POST", "/futures/isolated/trade", { type: "market", side: "buy", leverage, quantity });
  const automation = await must("POST", `${stack.platform}/v1/accounts/${acc.id}/automations`, {
    type: "margin_guard", config: { maxAddPerTradeSats: 2_000_000, maxAddPerDaySats: 2_000_000, ...guard },
  }, auth);
  return { token, auth, trader: t, keys, accountId: acc.id, trade, automationId: automation.id, leverage };
}

/** One account's entry in `GET /v1/automations/status` (null when the call fails); `_at`: when it was read. */
export async function accountStatus(stack, a) {
  const r = await http("GET", `${stack.platform}/v1/automations/status`, undefined, a.auth).catch(() => null);
  const st = r?.body?.accounts?.find((x) => x.accountId === a.accountId) ?? null;
  return st && { ...st, _at: Date.now() };
}

/** Status of many accounts, 25 requests in flight. */
export async function statuses(stack, accounts) {
  const out = [];
  for (let i = 0; i < accounts.length; i += 25) out.push(...(await Promise.all(accounts.slice(i, i + 25).map((a) => accountStatus(stack, a)))));
  return out;
}

/**
 * At rest (issue 20): the account's levels are registered with the market feed, it holds no
 * socket of its own, is not in its hot zone, and its first runs are done.
 */
export function atRest(st) {
  return !!st && st.marketFeed?.registeredAt != null && !st.marketFeed.failed && !st.marketFeed.hot && st.stream?.state !== "open"
    && (st.monitor?.status?.runs ?? 0) >= 1 && (st.automations ?? []).every((x) => x.status.runs >= 1);
}

/** Waits (bounded) until every account is at rest; returns how many are. */
export async function waitRest(stack, accounts, timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs;
  let pending = accounts;
  while (pending.length && Date.now() < deadline) {
    const st = await statuses(stack, pending);
    pending = pending.filter((_, i) => !atRest(st[i]));
    if (pending.length) await sleep(1_000);
  }
  return accounts.length - pending.length;
}

/** Waits until every account's stream is open and its first runs are done (bounded). */
export async function waitStreams(stack, accounts, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  let pending = accounts;
  while (pending.length && Date.now() < deadline) {
    const next = [];
    for (let i = 0; i < pending.length; i += 25) {
      const chunk = pending.slice(i, i + 25);
      const st = await Promise.all(chunk.map((a) => http("GET", `${stack.platform}/v1/automations/status`, undefined, a.auth)));
      st.forEach((r, j) => {
        const acc = r.body?.accounts?.find((x) => x.accountId === chunk[j].accountId);
        const ok = acc && acc.stream?.state === "open" && acc.automations?.every((x) => x.status.runs >= 1);
        if (!ok) next.push(chunk[j]);
      });
    }
    pending = next;
    if (pending.length) await sleep(500);
  }
  return accounts.length - pending.length;
}

/**
 * Verifies the user's webhook channel as its owner would (issue 22: an unverified channel gets
 * only throttled test messages and no events): asks for a code, reads it where `readCode`
 * finds it (the receiver), and sends it back.
 */
export async function verifyWebhook(stack, auth, readCode, timeoutMs = 10_000) {
  await must("POST", `${stack.platform}/v1/notifications/channels/webhook/verification`, undefined, auth);
  const deadline = Date.now() + timeoutMs;
  let code = null;
  while (!(code = await readCode()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (!code) throw new Error("the webhook's verification code never arrived");
  await must("POST", `${stack.platform}/v1/notifications/channels/webhook/verify`, { code }, auth);
}

/** The newest verification code the simulator's inbox holds for a webhook target. */
export async function inboxWebhookCode(stack, target) {
  const r = await must("GET", `${stack.sim}/__sim/inbox?channel=webhook&target=${encodeURIComponent(target)}`);
  const codes = r.data.map((e) => e.json?.data?.code).filter((c) => typeof c === "string" || typeof c === "number");
  return codes.length ? String(codes[codes.length - 1]) : null;
}
