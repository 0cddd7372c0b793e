#!/usr/bin/env node
// `npm run admin:promote -- --email user@example.com (--env production | --local) [--confirm <user id>]`
// Makes an existing user an operator, explicitly (issue 22). Without --confirm it only shows
// the account it would promote (id, email, role, created, plan, exchange accounts) and exits 1;
// re-run with --confirm <that id> to promote it. The id must match, so a look-alike account
// registered under the address cannot be promoted by accident.
import { parseArgs } from "node:util";
import { d1, failer, normalEmail, sqlString as q } from "./lib/d1.mjs";

const { values } = parseArgs({
  options: { email: { type: "string" }, env: { type: "string" }, local: { type: "boolean", default: false }, confirm: { type: "string" } },
});
const fail = failer("admin:promote");
const email = normalEmail(values.email, fail);
if (!values.local && !values.env) fail("pass --env staging|production for a remote database, or --local");

const rows = d1(
  `SELECT u.id, u.email, u.role, u.plan_id, u.created_at, (SELECT COUNT(*) FROM exchange_accounts a WHERE a.user_id = u.id) AS accounts FROM users u WHERE u.email = ${q(email)};`,
  values,
  fail,
);
const user = rows[0];
if (!user) fail(`no user with email ${email}`);
console.log(`account: id=${user.id} email=${user.email} role=${user.role} plan=${user.plan_id} created=${new Date(user.created_at).toISOString()} exchange_accounts=${user.accounts}`);
if (user.role === "admin") {
  console.log("admin:promote: already an operator; nothing changed");
  process.exit(0);
}
if (!values.confirm) {
  console.log(`admin:promote: nothing changed. Check this is the right account, then re-run with --confirm ${user.id}`);
  process.exit(1);
}
if (values.confirm !== user.id) fail(`--confirm ${values.confirm} is not the id of ${email} (${user.id}); nothing changed`);
d1(`UPDATE users SET role = 'admin', updated_at = ${Date.now()} WHERE id = ${q(user.id)} AND email = ${q(email)};`, values, fail);
console.log(`admin:promote: ${email} (${user.id}) is now an operator`);
