#!/usr/bin/env node
// `npm run admin:create -- --email ops@example.com [--env production] [--local]`
// Creates the first operator in D1 with a D1 command (never a default account). Create only:
// if the email is already registered it refuses (issue 22: whoever registered the operator's
// address first would otherwise become admin); promoting an existing user is the separate
// `npm run admin:promote`, which shows the account first. The password is read from
// ADMIN_PASSWORD or prompted, hashed here with the worker's scheme (scripts/lib/d1.mjs; set
// PASSWORD_PEPPER to the worker's secret to pepper it now, else the first login re-hashes it),
// and never printed.
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline/promises";
import { parseArgs } from "node:util";
import { d1, failer, hashPassword, normalEmail, sqlString as q } from "./lib/d1.mjs";

const { values } = parseArgs({
  options: { email: { type: "string" }, env: { type: "string" }, local: { type: "boolean", default: false } },
});
const fail = failer("admin:create");
const email = normalEmail(values.email, fail);
if (!values.local && !values.env) fail("pass --env staging|production for a remote database, or --local");

const existing = d1(`SELECT id, role FROM users WHERE email = ${q(email)};`, values, fail);
if (existing.length) {
  fail(`${email} is already registered (${existing[0].id}, role ${existing[0].role}); nothing changed. ` +
    `If that account is really yours: npm run admin:promote -- --email ${email} ${values.local ? "--local" : `--env ${values.env}`}`);
}

let password = process.env.ADMIN_PASSWORD;
if (!password) {
  if (!process.stdin.isTTY) fail("set ADMIN_PASSWORD or run in a terminal to be prompted");
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  password = await rl.question("Password for the operator (min 12 chars): ");
  rl.close();
}
if (!password || password.length < 12) fail("the password must be at least 12 characters");

const id = `usr_${randomUUID().replaceAll("-", "")}`;
const now = Date.now();
// A plain INSERT: if the email was registered in between, the unique index refuses it.
d1(
  `INSERT INTO users (id, email, password_hash, role, created_at, updated_at) VALUES (${q(id)}, ${q(email)}, ${q(hashPassword(password))}, 'admin', ${now}, ${now});`,
  values,
  fail,
);
console.log(`admin:create: created operator ${email} (${id})`);
