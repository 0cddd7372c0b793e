#!/usr/bin/env node
// The operator dashboard checked in headless Chromium (@sparticuz/chromium, which `npm install`
// brings, driven by playwright-core): start the dev stack, seed job events and a dead letter,
// log in as the dev operator, check the charts render, press Retry on the dead letter, check it
// was re-sent, and save a screenshot to docs/dashboard.png. Loopback only; everything started
// is stopped.
//   npm run dashboard:check
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import sparticuz from "@sparticuz/chromium";
import { chromium } from "playwright-core";

const BASE = "http://127.0.0.1:8787";
const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };
const d1 = (sql) => execFileSync("wrangler", ["d1", "execute", "DB", "--local", "--command", sql], { env, stdio: ["ignore", "ignore", "inherit"] });

const dev = spawn(process.execPath, ["scripts/dev.mjs"], { env, stdio: ["ignore", "pipe", "inherit"], detached: true });
let out = "";
dev.stdout.on("data", (b) => (out += b.toString()));
const stop = () => {
  try {
    process.kill(-dev.pid, "SIGTERM");
  } catch {
    /* already gone */
  }
};
process.on("exit", stop);

let browser;
try {
  for (let i = 0; i < 240 && !out.includes("metrics token"); i++) await sleep(500);
  if (!out.includes("metrics token")) throw new Error("dev stack did not come up");

  // Seed: 30 minutes of job events (some failures) and one dead letter for the demo trader.
  const now = Date.now();
  const dlqId = `dlq_${randomBytes(16).toString("hex")}`;
  const rows = [];
  for (let m = 29; m >= 0; m--) {
    for (let k = 0; k < 4 + (m % 5); k++) {
      const ev = (m + k) % 7 === 0 ? "fail" : "complete";
      rows.push(`('job_seed_${m}_${k}', ${now - m * 60_000 - k * 1000}, 'account', 'seed:${m}:${k}', '${ev}', ${40 + ((m * 37 + k * 11) % 300)}, ${ev === "fail" ? "'seeded failure'" : "NULL"}, NULL, NULL, NULL)`);
    }
  }
  d1(`INSERT OR IGNORE INTO job_events (id, ts, worker, job_id, event, duration_ms, error, metadata, account_id, trace_id) VALUES ${rows.join(",")};`);
  const demo = JSON.parse(execFileSync("wrangler", ["d1", "execute", "DB", "--local", "--json", "--command", "SELECT id FROM users WHERE email = 'demo@example.test'"], { env }).toString())[0].results[0].id;
  const body = JSON.stringify({ v: 1, id: `ntf_seed_${now}`, kind: "notification", userId: demo, event: "dashboard.check", severity: "info", title: "Dashboard check", body: "re-sent from the dashboard" });
  d1(`INSERT INTO dead_letters (id, queue, message_id, body, attempts, error_class, first_error, last_error, received_at, status) VALUES ('${dlqId}', 'notifications', 'ntf_seed_${now}', '${body.replaceAll("'", "''")}', 3, 'http_5xx', 'webhook 503', 'webhook 503', ${now}, 'open');`);

  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? (await sparticuz.executablePath()), args: sparticuz.args, headless: true });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 }, locale: "en-US" });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(`${BASE}/admin`);
  await page.fill("#email", "admin@example.test");
  await page.fill("#password", "admin-password");
  await page.click("#login button[type=submit]");
  await page.waitForSelector("#jobs canvas", { timeout: 15_000 });
  await page.waitForSelector("#failrate canvas");
  await page.waitForSelector(`button[data-retry="${dlqId}"]`);
  const kpis = await page.textContent("#kpis");
  await page.screenshot({ path: "docs/dashboard.png", fullPage: true });
  await page.click(`button[data-retry="${dlqId}"]`);
  await page.waitForFunction((id) => document.querySelector(`button[data-retry="${id}"]`)?.textContent === "Re-sent" || !document.querySelector(`button[data-retry="${id}"]`), dlqId, { timeout: 10_000 });
  const retried = JSON.parse(execFileSync("wrangler", ["d1", "execute", "DB", "--local", "--json", "--command", `SELECT status, retried_by FROM dead_letters WHERE id = '${dlqId}'`], { env }).toString())[0].results[0];
  if (retried.status !== "retried" || !retried.retried_by) throw new Error(`dead letter not re-sent: ${JSON.stringify(retried)}`);
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  if (await page.isVisible("#login")) throw new Error("the login form is still visible after logging in");
  console.log(`dashboard-check: ok: charts rendered, kpis "${kpis}", dead letter re-sent; screenshot docs/dashboard.png`);
} catch (e) {
  const status = await browser?.contexts()[0]?.pages()[0]?.textContent("#status").catch(() => null);
  console.error(`dashboard-check: FAILED: ${e.message}${status ? ` (page status: ${status})` : ""}`);
  process.exitCode = 1;
} finally {
  await browser?.close();
  stop();
}
