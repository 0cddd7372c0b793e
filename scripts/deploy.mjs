#!/usr/bin/env node
// `npm run deploy -- --env staging|production`
//  1. refuses unless every secret of wrangler.toml's [secrets].required exists in that env
//     (`wrangler secret list`), naming the missing ones
//  2. applies D1 migrations remotely
//  3. deploys
//  4. smoke-tests /health on the deployed URL (DEPLOY_URL, else the URL wrangler printed)
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const ENVS = ["staging", "production"];
const { values } = parseArgs({ options: { env: { type: "string" }, "skip-smoke": { type: "boolean", default: false } } });
const fail = (msg, code = 2) => {
  console.error(`deploy: ${msg}`);
  process.exit(code);
};
if (!values.env || !ENVS.includes(values.env)) fail(`--env must be one of ${ENVS.join(", ")}`);
const env = values.env;
const childEnv = { ...process.env, WRANGLER_SEND_METRICS: "false" };

function wrangler(args, { capture = false } = {}) {
  const r = spawnSync("wrangler", args, { encoding: "utf8", env: childEnv, stdio: capture ? ["ignore", "pipe", "pipe"] : "inherit" });
  if (r.error) fail(`could not run wrangler: ${r.error.message}`);
  return r;
}

/** The names under [secrets] required = [...] in wrangler.toml (top level; envs may override). */
function requiredSecrets() {
  const toml = readFileSync("wrangler.toml", "utf8");
  const m = /\[secrets\][^[]*?required\s*=\s*\[([^\]]*)\]/s.exec(toml);
  if (!m) fail("wrangler.toml has no [secrets] required list");
  return [...m[1].matchAll(/"([A-Z0-9_]+)"/g)].map((x) => x[1]);
}

const required = requiredSecrets();
const listed = wrangler(["secret", "list", "--env", env, "--format", "json"], { capture: true });
if (listed.status !== 0) fail(`wrangler secret list failed (logged in? CLOUDFLARE_API_TOKEN set?):\n${listed.stderr.trim()}`);
let present;
try {
  present = new Set(JSON.parse(listed.stdout).map((s) => s.name));
} catch {
  fail("could not read the output of wrangler secret list");
}
const missing = required.filter((name) => !present.has(name));
if (missing.length) {
  fail(`refusing to deploy ${env}: missing secret(s) ${missing.join(", ")}. Set each with: wrangler secret put NAME --env ${env}`);
}
console.log(`deploy: ${env}: all ${required.length} required secrets are set`);

if (wrangler(["d1", "migrations", "apply", "DB", "--remote", "--env", env]).status !== 0) fail("D1 migrations failed; nothing deployed", 1);

const deployed = wrangler(["deploy", "--env", env], { capture: true });
process.stdout.write(deployed.stdout ?? "");
process.stderr.write(deployed.stderr ?? "");
if (deployed.status !== 0) fail("wrangler deploy failed", 1);

if (values["skip-smoke"]) process.exit(0);
const url = process.env.DEPLOY_URL ?? /https:\/\/[^\s]+\.workers\.dev/.exec(deployed.stdout ?? "")?.[0];
if (!url) fail("deployed, but no URL to smoke-test: set DEPLOY_URL", 1);
for (let attempt = 1; attempt <= 10; attempt++) {
  try {
    const res = await fetch(new URL("/health", url));
    const body = await res.json();
    if (res.ok && body.ok && body.environment === env) {
      console.log(`deploy: ${env} is live at ${url} (health ok)`);
      process.exit(0);
    }
  } catch {
    /* not yet */
  }
  await new Promise((r) => setTimeout(r, 3000));
}
fail(`deployed, but ${url}/health did not answer ok for ${env}`, 1);
