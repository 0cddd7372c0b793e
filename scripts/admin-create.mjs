#!/usr/bin/env node
// `npm run admin:create -- --email ops@example.com [--env production] [--local]`
// Creates the first operator in D1 with a D1 command (never a default account). The password
// is read from ADMIN_PASSWORD or prompted, hashed here with the same PBKDF2-SHA256 scheme the
// worker uses (100,000 iterations, 16-byte salt), and never printed.
import { execFileSync } from "node:child_process";
import { randomBytes, pbkdf2Sync, randomUUID } from "node:crypto";
import { createInterface } from "node:readline/promises";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { email: { type: "string" }, env: { type: "string" }, local: { type: "boolean", default: false } },
});
const fail = (msg) => {
  console.error(`admin:create: ${msg}`);
  process.exit(2);
};
const email = values.email?.trim().toLowerCase();
if (!email || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) fail("--email <address> is required");
if (!values.local && !values.env) fail("pass --env staging|production for a remote database, or --local");

let password = process.env.ADMIN_PASSWORD;
if (!password) {
  if (!process.stdin.isTTY) fail("set ADMIN_PASSWORD or run in a terminal to be prompted");
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  password = await rl.question("Password for the operator (min 12 chars): ");
  rl.close();
}
if (!password || password.length < 12) fail("the password must be at least 12 characters");

const ITER = 100_000;
const salt = randomBytes(16);
const hash = pbkdf2Sync(password, salt, ITER, 32, "sha256");
const passwordHash = `pbkdf2-sha256$${ITER}$${salt.toString("base64")}$${hash.toString("base64")}`;
const id = `usr_${randomUUID().replaceAll("-", "")}`;
const now = Date.now();
const q = (s) => `'${s.replaceAll("'", "''")}'`;
const sql =
  `INSERT INTO users (id, email, password_hash, role, created_at, updated_at) VALUES (${q(id)}, ${q(email)}, ${q(passwordHash)}, 'admin', ${now}, ${now}) ` +
  `ON CONFLICT(email) DO UPDATE SET role = 'admin', updated_at = ${now};`;

const args = ["d1", "execute", "DB", "--command", sql, values.local ? "--local" : "--remote"];
if (values.env) args.push("--env", values.env);
try {
  execFileSync("wrangler", args, { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
} catch {
  fail("the D1 command failed (is the database bound and are you logged in to Cloudflare?)");
}
console.log(`admin:create: ${email} is an operator`);
