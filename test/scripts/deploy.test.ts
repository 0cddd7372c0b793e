import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/** A stub `wrangler` on PATH: answers `secret list` with the given names and logs every call. */
function stubWrangler(secrets: string[]) {
  const dir = mkdtempSync(join(tmpdir(), "stub-wrangler-"));
  const log = join(dir, "calls.log");
  writeFileSync(
    join(dir, "wrangler"),
    `#!/bin/sh\necho "$@" >> "${log}"\nif [ "$1" = "secret" ]; then echo '${JSON.stringify(secrets.map((name) => ({ name, type: "secret_text" })))}'; fi\nexit 0\n`,
  );
  chmodSync(join(dir, "wrangler"), 0o755);
  return { dir, calls: () => readFileSync(log, "utf8").trim().split("\n") };
}

function deploy(args: string[], pathDir: string) {
  return spawnSync(process.execPath, ["scripts/deploy.mjs", ...args], { encoding: "utf8", env: { ...process.env, PATH: `${pathDir}:${process.env.PATH}` } });
}

describe("npm run deploy", () => {
  it("refuses clearly when a required secret is missing, before touching D1 or deploying", () => {
    const stub = stubWrangler(["JWT_SECRET", "CREDENTIALS_KEYS", "LIGHTNING_API_KEY", "TELEGRAM_BOT_TOKEN"]);
    const r = deploy(["--env", "production"], stub.dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("missing secret(s) METRICS_TOKEN");
    expect(r.stderr).toContain("wrangler secret put NAME --env production");
    expect(stub.calls()).toEqual(["secret list --env production --format json"]);
  });

  it("refuses an unknown environment", () => {
    const stub = stubWrangler([]);
    const r = deploy(["--env", "moon"], stub.dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--env must be one of staging, production/);
  });

  it("with every secret set, migrates then deploys (smoke test skipped here)", () => {
    const stub = stubWrangler(["JWT_SECRET", "CREDENTIALS_KEYS", "LIGHTNING_API_KEY", "TELEGRAM_BOT_TOKEN", "METRICS_TOKEN"]);
    const r = deploy(["--env", "staging", "--skip-smoke"], stub.dir);
    expect(r.status, r.stderr).toBe(0);
    expect(stub.calls()).toEqual([
      "secret list --env staging --format json",
      "d1 migrations apply DB --remote --env staging",
      "deploy --env staging",
    ]);
  });
});
