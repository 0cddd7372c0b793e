/** Issue 22, item 2: admin:create creates only; admin:promote is explicit and shows the account. */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/** A stub `wrangler`: answers a SELECT with `rows` (wrangler's --json shape), logs every SQL. */
function stubWrangler(rows: object[]) {
  const dir = mkdtempSync(join(tmpdir(), "stub-wrangler-"));
  const log = join(dir, "sql.log");
  writeFileSync(join(dir, "rows.json"), JSON.stringify([{ results: rows, success: true }]));
  writeFileSync(join(dir, "empty.json"), JSON.stringify([{ results: [], success: true }]));
  writeFileSync(
    join(dir, "wrangler"),
    `#!/bin/sh\nfor a in "$@"; do case "$a" in *SELECT*|*INSERT*|*UPDATE*) echo "$a" >> "${log}";; esac; done\ncase "$*" in *SELECT*) cat "${dir}/rows.json";; *) cat "${dir}/empty.json";; esac\nexit 0\n`,
  );
  chmodSync(join(dir, "wrangler"), 0o755);
  return { dir, sql: () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []) };
}

function run(script: string, args: string[], pathDir: string) {
  return spawnSync(process.execPath, [script, ...args], {
    encoding: "utf8",
    env: { ...process.env, PATH: `${pathDir}:${process.env.PATH}`, ADMIN_PASSWORD: "a-long-operator-password" },
  });
}

const existing = { id: "usr_victim", email: "ops@example.com", role: "user", plan_id: "free", created_at: 1_700_000_000_000, accounts: 2 };

describe("npm run admin:create", () => {
  it("refuses an email that is already registered and changes nothing", () => {
    const stub = stubWrangler([existing]);
    const r = run("scripts/admin-create.mjs", ["--email", "OPS@example.com", "--local"], stub.dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("already registered (usr_victim, role user)");
    expect(r.stderr).toContain("admin:promote");
    const sql = stub.sql();
    expect(sql).toHaveLength(1);
    expect(sql[0]).toMatch(/^SELECT/);
    expect(sql.join("\n")).not.toMatch(/UPDATE|ON CONFLICT|INSERT/i);
  });

  it("creates a new operator with a plain INSERT (no upsert) and a 600,000-iteration hash", () => {
    const stub = stubWrangler([]);
    const r = run("scripts/admin-create.mjs", ["--email", "new-ops@example.com", "--local"], stub.dir);
    expect(r.status, r.stderr).toBe(0);
    const insert = stub.sql().find((s) => s.startsWith("INSERT"))!;
    expect(insert).toContain("'new-ops@example.com'");
    expect(insert).toContain("'admin'");
    expect(insert).toContain("pbkdf2-sha256$600000$");
    expect(insert).not.toMatch(/ON CONFLICT|a-long-operator-password/);
    expect(r.stdout).not.toContain("a-long-operator-password");
  });
});

describe("npm run admin:promote", () => {
  it("shows the account and changes nothing without --confirm", () => {
    const stub = stubWrangler([existing]);
    const r = run("scripts/admin-promote.mjs", ["--email", "ops@example.com", "--local"], stub.dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("id=usr_victim email=ops@example.com role=user plan=free");
    expect(r.stdout).toContain("exchange_accounts=2");
    expect(r.stdout).toContain("--confirm usr_victim");
    expect(stub.sql().some((s) => s.startsWith("UPDATE"))).toBe(false);
  });

  it("refuses a --confirm that is not the shown account's id", () => {
    const stub = stubWrangler([existing]);
    const r = run("scripts/admin-promote.mjs", ["--email", "ops@example.com", "--local", "--confirm", "usr_other"], stub.dir);
    expect(r.status).toBe(2);
    expect(stub.sql().some((s) => s.startsWith("UPDATE"))).toBe(false);
  });

  it("promotes exactly that id with --confirm", () => {
    const stub = stubWrangler([existing]);
    const r = run("scripts/admin-promote.mjs", ["--email", "ops@example.com", "--local", "--confirm", "usr_victim"], stub.dir);
    expect(r.status, r.stderr).toBe(0);
    expect(stub.sql().find((s) => s.startsWith("UPDATE"))).toMatch(/SET role = 'admin'.*WHERE id = 'usr_victim' AND email = 'ops@example.com'/);
  });
});
