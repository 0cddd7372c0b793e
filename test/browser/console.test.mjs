// The trader console (/app) in headless Chromium, against the real workers: the platform and the
// simulator started by bench/lib/stack.mjs on free loopback ports (ENVIRONMENT=development, so
// the console offers simulator keys and paper trades). The browser is @sparticuz/chromium's,
// which `npm install` brings: nothing is installed by hand.
//
// A new trader signs up, connects simulator keys, opens a position, sees its risk, turns on a
// Margin Guard; the price is moved through the simulator's /__sim/price and the same page,
// never reloaded, shows the add-margin and the lower risk, pushed live by the account over its
// WebSocket (the page says "live" and does not poll the positions meanwhile); then the trader
// closes the trade by keyboard from its card, confirmed on the dry run (manual controls).
import chromium from "@sparticuz/chromium";
import { chromium as playwright } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { http, must, startStack } from "../../bench/lib/stack.mjs";

let stack;
let browser;
const pageErrors = [];

beforeAll(async () => {
  [stack, browser] = await Promise.all([
    startStack({ name: `console-${process.pid}` }),
    playwright.launch({ executablePath: await chromium.executablePath(), args: chromium.args, headless: true }),
  ]);
  await must("POST", `${stack.sim}/__sim/price`, { price: 100_000 });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Waits for a condition read from the page (polled), with a clear failure message. */
async function until(page, what, fn, arg, timeout = 30_000) {
  try {
    return await page.waitForFunction(fn, arg, { timeout, polling: 250 });
  } catch (e) {
    throw new Error(`console: ${what} did not happen within ${timeout / 1000}s (${e.message.split("\n")[0]})`);
  }
}

test("a new trader signs up, connects simulator keys, opens a trade, turns on a Margin Guard and watches it add margin live", async () => {
  const context = await browser.newContext({ viewport: { width: 375, height: 800 }, locale: "en-US" });
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  // Uncaught errors and console errors fail the test; a 4xx the page asked for (the bad key and
  // the bad actAt below) is an answer it shows, not an error.
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && pageErrors.push(m.text()));
  const csp = [];
  page.on("response", (r) => r.url().endsWith("/app") && csp.push(r.headers()["content-security-policy"]));

  // Sign up (the origin sends a person to the console).
  await page.goto(`${stack.platform}/`);
  await page.waitForSelector("#signin");
  expect(csp[0]).toContain("script-src 'self'");
  await page.click("a[href='#/signup']");
  await page.fill("#signup input[name=email]", `console-${Date.now()}@example.test`);
  await page.fill("#signup input[name=password]", "console-password");
  await page.press("#signup input[name=password]", "Enter");

  // A newcomer lands on "connect an account"; the API's own message for a bad key shows by the field.
  await page.waitForSelector("#connect");
  await page.fill("#connect [name='credentials.key']", "x");
  await page.click("#connect button[type=submit]");
  await until(page, "the key's validation message", () => /short/.test(document.querySelector("[data-error-for='credentials.key']")?.textContent ?? ""));
  await page.click("#sim-keys");
  await until(page, "simulator keys filled in", () => document.querySelector("#connect [name='credentials.secret']").value.length > 16);
  await page.click("#connect button[type=submit]");

  // Positions: open a paper trade from the console (10x long, liquidation near 90,911).
  await page.waitForSelector("#paper-trade", { timeout: 30_000 });
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.click("#paper-trade button[type=submit]");
  await page.waitForSelector(".trade[data-risk]", { timeout: 20_000 });
  const opened = await page.$eval(".trade", (t) => ({ margin: Number(t.dataset.margin), risk: Number(t.dataset.risk), text: t.querySelector(".risk-value").textContent }));
  expect(opened.risk).toBeLessThan(0.1);
  expect(opened.text).toMatch(/%/);

  // Guards: a Margin Guard with the form's defaults (warn 0.8, act 0.9, back to 0.5).
  await page.click("nav a[href='#/guards']");
  await page.waitForSelector("#new-margin_guard");
  await page.fill("#new-margin_guard [name='config.actAt']", "2");
  await page.click("#new-margin_guard button[type=submit]");
  await until(page, "the API's validation message for actAt", () => (document.querySelector("#new-margin_guard [data-error-for='config.actAt']")?.textContent ?? "").length > 0);
  await page.fill("#new-margin_guard [name='config.actAt']", "0.9");
  await page.click("#new-margin_guard button[type=submit]");
  await page.waitForSelector(".guard[data-type=margin_guard][data-enabled=true]");

  // The guard's first run registers its trigger levels with the price feed: wait for it (the
  // API says so) before the price moves.
  const token = await page.evaluate(() => sessionStorage.getItem("lnma.token"));
  const auth = { authorization: `Bearer ${token}` };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const st = await http("GET", `${stack.platform}/v1/automations/status`, undefined, auth);
    const acc = st.body?.accounts?.[0];
    if (acc?.automations?.length && acc.automations.every((a) => a.status.runs >= 1)) break;
    if (Date.now() > deadline) throw new Error(`the guard did not run: ${JSON.stringify(acc?.automations?.map((a) => a.status))}`);
    await new Promise((r) => setTimeout(r, 500));
  }

  await page.click("nav a[href='#/positions']");
  await until(page, "the gauge marked at the guard's levels", () => /Margin Guard/.test(document.querySelector("#last-runs")?.textContent ?? ""));
  // Positions come pushed over the account's WebSocket (issue 23), not polled.
  await until(page, "the positions page in live mode", () => document.querySelector("#feed-mode")?.dataset.mode === "live");
  const polled = [];
  page.on("request", (r) => /\/v1\/accounts\/[^/]+\/positions$/.test(new URL(r.url()).pathname) && polled.push(r.url()));

  // The price falls past the act level: risk (100,002.5 - 91,600) / (100,002.5 - 90,911.5) = 0.92.
  await must("POST", `${stack.sim}/__sim/price`, { price: 95_000 });
  await must("POST", `${stack.sim}/__sim/price`, { price: 91_600 });

  // Without a reload: more margin, risk back near the target, and the add-margin order listed.
  await until(page, "the add-margin to show on the trade", (m) => Number(document.querySelector(".trade")?.dataset.margin) > m, opened.margin);
  await until(page, "the lower risk", () => Number(document.querySelector(".trade")?.dataset.risk) < 0.6);
  await until(page, "the add-margin order in the list", () => !!document.querySelector("#orders tr[data-action='add_margin']"));
  const after = await page.$eval(".trade", (t) => ({ margin: Number(t.dataset.margin), risk: Number(t.dataset.risk), text: t.querySelector(".risk-value").textContent, price: document.querySelector("#last-price").textContent }));
  expect(after.price).toBe("$91,600");
  expect(after.risk).toBeGreaterThan(0.3);
  expect(await page.$eval("#feed-mode", (e) => [e.dataset.mode, e.textContent])).toEqual(["live", "live"]);
  expect(polled).toEqual([]);

  // Manual controls (issue 23), by keyboard: the trade's Close opens a confirmation with the
  // dry run (nothing sent), Escape cancels and gives focus back; confirmed, the trade is gone.
  await page.focus(".trade [data-manual=close]");
  await page.keyboard.press("Enter");
  await until(page, "the close's dry run", () => /would close/.test(document.querySelector("dialog.confirm[open] .dry-summary")?.textContent ?? ""));
  await page.keyboard.press("Escape");
  await until(page, "focus back on Close", () => document.activeElement?.dataset?.manual === "close" && !document.querySelector("dialog.confirm"));
  await page.keyboard.press("Enter");
  await until(page, "the close's dry run again", () => /would close/.test(document.querySelector("dialog.confirm[open] .dry-summary")?.textContent ?? ""));
  await page.click("dialog.confirm button.danger");
  await until(page, "the trade closed", () => !document.querySelector(".trade") && /No running trade/.test(document.querySelector("#trades")?.textContent ?? ""));
  expect(await page.evaluate(() => window.__sameDocument)).toBe(true);
  expect(pageErrors).toEqual([]);
  await context.close();
});

test("a backtest from the console: price with the guard's actions and the liquidation marked, equity of both runs", async () => {
  // A browser of its own: this Chromium runs as one process, which ends with the last test's context.
  const own = await playwright.launch({ executablePath: await chromium.executablePath(), args: chromium.args, headless: true });
  const context = await own.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US" });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && errors.push(m.text()));
  await page.goto(`${stack.platform}/app#/signup`);
  await page.waitForSelector("#signup");
  await page.fill("#signup input[name=email]", `console-bt-${Date.now()}@example.test`);
  await page.fill("#signup input[name=password]", "console-password");
  await page.press("#signup input[name=password]", "Enter");
  await page.waitForSelector("#connect");

  // 2 January 2025 of the simulator's history (the form's defaults): a 100x long the guard
  // keeps alive, liquidated without it (test/backtests.test.ts).
  await page.click("nav a[href='#/simulations']");
  await page.waitForSelector("#new-backtest");
  await page.click("#new-backtest button[type=submit]");
  await until(page, "the backtest to complete", () => document.querySelector("#sim-status")?.textContent === "completed", undefined, 60_000);
  await until(page, "the charts drawn", () => !!document.querySelector("#chart-price[data-marks] .uplot") && !!document.querySelector("#chart-equity .uplot"));
  const seen = await page.evaluate(() => ({
    marks: JSON.parse(document.querySelector("#chart-price").dataset.marks),
    priceLegend: [...document.querySelectorAll("#chart-price .u-legend .u-label")].map((e) => e.textContent),
    equityLegend: [...document.querySelectorAll("#chart-equity .u-legend .u-label")].map((e) => e.textContent),
    saved: document.querySelector("#bt-saved")?.textContent,
    rows: [...document.querySelectorAll("#bt-summary tbody tr")].map((r) => r.firstChild.textContent),
    risk: !!document.querySelector("#chart-risk"),
  }));
  expect(seen.marks.acted).toBeGreaterThan(0);
  expect(seen.marks.liqA).toBe(0);
  expect(seen.marks.liqB).toBe(1);
  expect(seen.priceLegend).toEqual(expect.arrayContaining(["price", "automation acted", "liquidated (automated)", "liquidated (no automation)"]));
  expect(seen.equityLegend).toEqual(expect.arrayContaining(["automated", "no automation"]));
  expect(seen.saved).toMatch(/^saved 1 of 1 liquidations for [\d,]+ sats$/);
  expect(seen.rows).toEqual(["Final PnL", "Max drawdown", "Liquidations", "Added as margin", "Fees", "Funding (paid)"]);
  expect(seen.risk).toBe(false);
  expect(errors).toEqual([]);
  await own.close();
});
