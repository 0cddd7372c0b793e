#!/usr/bin/env node
// Screenshots of every page of the trader console (/app) at 1280 and 375 px wide, into
// docs/console/. Starts the dev stack (scripts/dev.mjs: 127.0.0.1:8787 and :8788, so no other
// `npm run dev` may run), walks the console as a new trader (sign up, simulator keys, a paper
// trade, a Margin Guard that adds margin when the price falls, a simulation, a Pro invoice paid
// with the simulator's wallet, a webhook channel), then stops everything it started.
//   npm run console:screenshots
// The channel verification, the critical-routing refusal and the password reset pages
// (notifications-critical, notifications-verify, forgot, reset; notifications too) come from
// their browser test, on a stack of its own:
//   CONSOLE_SHOTS=1 npm exec -- vitest run --project browser test/browser/notifications.test.mjs
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import sparticuz from "@sparticuz/chromium";
import { chromium } from "playwright-core";

const BASE = "http://127.0.0.1:8787";
const SIM = "http://127.0.0.1:8788";
const OUT = "docs/console";
const WIDTHS = [1280, 375];
mkdirSync(OUT, { recursive: true });

const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };
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
const simPost = (path, body) => fetch(`${SIM}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body ?? {}) }).then((r) => r.json());

let browser;
try {
  for (let i = 0; i < 240 && !out.includes("metrics token"); i++) await sleep(500);
  if (!out.includes("metrics token")) throw new Error("dev stack did not come up");
  await simPost("/__sim/price", { price: 100_000 });

  browser = await chromium.launch({ executablePath: await sparticuz.executablePath(), args: sparticuz.args, headless: true });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: "en-US" });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const shoot = async (name, settle = 300) => {
    for (const w of WIDTHS) {
      await page.setViewportSize({ width: w, height: w === 375 ? 812 : 900 });
      await sleep(settle);
      await page.screenshot({ path: `${OUT}/${name}-${w}.png`, fullPage: true });
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  };

  await page.goto(`${BASE}/app`);
  await page.waitForSelector("#signin");
  await shoot("signin");
  await page.click("a[href='#/signup']");
  await page.fill("#signup input[name=email]", `trader-${Date.now()}@example.test`);
  await page.fill("#signup input[name=password]", "trader-password");
  await page.click("#signup button[type=submit]");
  await page.waitForSelector("#connect");
  await page.click("#sim-keys");
  await page.waitForFunction(() => document.querySelector("#connect [name='credentials.secret']").value.length > 16);
  await shoot("connect");
  await page.click("#connect button[type=submit]");
  await page.waitForSelector("#paper-trade");
  await page.click("#paper-trade button[type=submit]");
  await page.waitForSelector(".trade[data-risk]");

  await page.click("nav a[href='#/guards']");
  await page.waitForSelector("#new-margin_guard");
  await page.click("#new-margin_guard button[type=submit]");
  await page.waitForSelector(".guard[data-type=margin_guard]");
  await sleep(6_000); // the guard's first run
  await page.click("nav a[href='#/positions']");
  await page.waitForSelector(".trade[data-risk]");
  await simPost("/__sim/price", { price: 95_000 });
  await sleep(4_000);
  await shoot("positions-warn");
  await simPost("/__sim/price", { price: 91_600 });
  await page.waitForSelector("#orders tr[data-action='add_margin']", { timeout: 60_000 });
  await shoot("positions");
  await page.click("nav a[href='#/guards']");
  await page.waitForSelector(".guard[data-type=margin_guard]");
  await shoot("guards");
  await page.click("nav a[href='#/activity']");
  await page.waitForSelector("#activity table");
  await shoot("activity");
  await page.selectOption("#kind", "logs");
  await page.waitForSelector("#activity tr[data-event]");
  await shoot("activity-decisions");

  await page.click("nav a[href='#/simulations']");
  await page.waitForSelector("#new-simulation");
  await page.click("#new-simulation button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#sim-status")?.textContent === "completed", undefined, { timeout: 60_000 });
  await page.waitForSelector("#chart-equity canvas");
  await shoot("simulations", 800);

  await page.click("nav a[href='#/notifications']");
  await page.waitForSelector("#channels");
  await page.fill("#channels [name='webhook.url']", `${SIM}/__sim/inbox/webhook/console`);
  await page.fill("#channels [name='webhook.secret']", "console-webhook-secret");
  await page.uncheck("#channels [name='route:auto_entry.opened:webhook']");
  await page.click("#channels button[type=submit]");
  await page.waitForFunction(() => /saved/.test(document.getElementById("flash").textContent));
  await page.click("#send-test");
  await page.waitForFunction(() => /sent/.test(document.querySelector("#recent")?.textContent ?? ""), undefined, { timeout: 30_000 });
  await shoot("notifications");

  await page.click("nav a[href='#/plan']");
  await page.waitForSelector("#buy-pro");
  await page.click("#buy-pro");
  await page.waitForSelector("#invoice svg");
  await shoot("plan-invoice");
  await page.click("#dev-pay");
  // The platform checks the invoice about every 30 s (payments queue, cron sweeper): the page
  // turns to "paid" by itself when it does.
  try {
    await page.waitForFunction(() => document.querySelector("#payment-status")?.dataset.status === "paid", undefined, { timeout: 150_000 });
    await shoot("plan-paid");
  } catch {
    console.error("console-screenshots: the payment was not confirmed within 150 s (no plan-paid screenshot)");
  }

  await simPost("/__sim/price", { price: 100_000 });
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  console.log(`console-screenshots: ok: ${OUT}/*-{${WIDTHS.join(",")}}.png`);
} catch (e) {
  console.error(`console-screenshots: FAILED: ${e.message}`);
  try {
    await browser?.contexts()[0]?.pages()[0]?.screenshot({ path: `${OUT}/failure.png`, fullPage: true });
  } catch {
    /* no page */
  }
  process.exitCode = 1;
} finally {
  await browser?.close();
  stop();
}
