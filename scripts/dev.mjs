#!/usr/bin/env node
// `npm run dev`: the whole platform on one machine with no network and no edits.
//  1. .dev.vars from .dev.vars.example when missing
//  2. D1 migrations applied to the local database
//  3. two `wrangler dev` processes: the platform on 127.0.0.1:8787, the simulator on :8788
//     (each with its own inspector port; service bindings connect across them locally)
//  4. the dev seed (demo trader with a simulator account, operator), then one line saying
//     where everything is.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import concurrently from "concurrently";

const PLATFORM = "http://127.0.0.1:8787";
const SIM = "http://127.0.0.1:8788";
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: process.env.CI ?? "true" };

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("[dev] created .dev.vars from .dev.vars.example");
}

console.log("[dev] applying D1 migrations to the local database…");
execFileSync("wrangler", ["d1", "migrations", "apply", "DB", "--local"], { stdio: "inherit", env });

const { result, commands } = concurrently(
  [
    { name: "sim", command: "wrangler dev -c sim/wrangler.toml --ip 127.0.0.1 --port 8788 --inspector-port 9230", prefixColor: "magenta", env },
    { name: "platform", command: "wrangler dev --ip 127.0.0.1 --port 8787 --inspector-port 9229 --test-scheduled", prefixColor: "cyan", env },
  ],
  { killOthersOn: ["failure", "success"], prefix: "name" },
);

async function waitFor(url, label, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      /* not up yet */
    }
    await sleep(500);
  }
  throw new Error(`${label} did not come up at ${url} within ${timeoutMs / 1000}s`);
}

async function seed() {
  await waitFor(`${SIM}/v3/ping`, "simulator");
  await waitFor(`${PLATFORM}/health`, "platform");
  // The seed is idempotent: a restart finds what it made last time.
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(`${PLATFORM}/__dev/seed`, { method: "POST" });
    if (res.ok) return res.json();
    if (attempt >= 10) throw new Error(`seed failed: ${res.status} ${await res.text()}`);
    await sleep(1000);
  }
}

// `wrangler dev` does not fire cron triggers by itself: fire the every-minute cron (payment
// sweeper, alert rules, watchdog, retention) through --test-scheduled's endpoint, as production does.
function runCronEveryMinute() {
  const fire = () => fetch(`${PLATFORM}/__scheduled?cron=${encodeURIComponent("* * * * *")}`).catch(() => undefined);
  void fire();
  setInterval(fire, 60_000).unref();
}

seed()
  .then((s) => {
    runCronEveryMinute();
    console.log(
      [
        "",
        "──────────────────────────────────────────────────────────────────────────",
        ` platform   ${PLATFORM}   (API /v1, docs /docs, dashboard /admin, /metrics)`,
        ` simulator  ${SIM}   (REST /v3, stream /v1, control /__sim, LNbits /lnbits)`,
        ` demo trader    ${s.demo.email} / ${s.demo.password}  account ${s.demo.accountId ?? "-"}`,
        ` operator       ${s.admin.email} / ${s.admin.password}`,
        ` metrics token  ${s.metricsToken}`,
        "──────────────────────────────────────────────────────────────────────────",
        "",
      ].join("\n"),
    );
  })
  .catch((e) => {
    console.error(`[dev] ${e.message}`);
    for (const c of commands) c.kill();
    process.exitCode = 1;
  });

result.catch(() => {
  process.exitCode = process.exitCode || 1;
});
