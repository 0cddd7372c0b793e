// Shared by the admin scripts: argument checks, a D1 command through wrangler, the password
// hash the worker accepts (src/lib/crypto.ts: PBKDF2-SHA256, 600,000 iterations as six chained
// 100,000-iteration derivations, keyed with PASSWORD_PEPPER when it is given).
import { execFileSync } from "node:child_process";
import { createHmac, pbkdf2Sync, randomBytes } from "node:crypto";

export function failer(name) {
  return (msg) => {
    console.error(`${name}: ${msg}`);
    process.exit(2);
  };
}

export const sqlString = (s) => `'${String(s).replaceAll("'", "''")}'`;

export function normalEmail(raw, fail) {
  const email = raw?.trim().toLowerCase();
  if (!email || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) fail("--email <address> is required");
  return email;
}

/** Runs one SQL command on the bound D1 and returns the rows of its last statement. */
export function d1(sql, { local, env }, fail) {
  const args = ["d1", "execute", "DB", "--command", sql, "--json", local ? "--local" : "--remote"];
  if (env) args.push("--env", env);
  let out;
  try {
    out = execFileSync("wrangler", args, { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
  } catch {
    fail("the D1 command failed (is the database bound and are you logged in to Cloudflare?)");
  }
  try {
    const parsed = JSON.parse(out);
    const last = Array.isArray(parsed) ? parsed[parsed.length - 1] : parsed;
    return last?.results ?? [];
  } catch {
    return [];
  }
}

export const PBKDF2_ROUND = 100_000;
export const PBKDF2_ITERATIONS = 600_000;

export function hashPassword(password, pepper = process.env.PASSWORD_PEPPER) {
  const salt = randomBytes(16);
  let input = pepper ? createHmac("sha256", pepper).update(password).digest() : Buffer.from(password, "utf8");
  for (let done = 0; done < PBKDF2_ITERATIONS; done += PBKDF2_ROUND) input = pbkdf2Sync(input, salt, PBKDF2_ROUND, 32, "sha256");
  return `pbkdf2-sha256$${PBKDF2_ITERATIONS}$${salt.toString("base64")}$${input.toString("base64")}${pepper ? "$pepper" : ""}`;
}
