// The console's notification channels and password reset (issues 22 and 23) in headless
// Chromium, against the real workers (bench/lib/stack.mjs). A small HTTP server here stands for
// the trader's webhook and for the email provider (EMAIL_API_URL points at it), so the test
// reads the verification code where the webhook's owner would (`data.code`) and the reset link
// where the account's owner would (the email).
//
// At 375 px, mostly by keyboard: a webhook and an email are saved (first refused: margin.critical
// unticked everywhere would go nowhere), the webhook's code is sent, a wrong code is refused by
// the field, the right one verifies it; test sends past the unverified email's limit show the
// 429's wait. Then "Forgot password?" and the emailed link set a new password.
//
// CONSOLE_SHOTS=1 also writes docs/console/{notifications-critical,notifications,notifications-verify,forgot,reset}-{1280,375}.png.
import { createServer } from "node:http";
import { mkdirSync } from "node:fs";
import chromium from "@sparticuz/chromium";
import { chromium as playwright } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startStack } from "../../bench/lib/stack.mjs";
import { freshRateWindow, rateWindow } from "../rate-window";

let stack;
let browser;
let receiver;
const got = []; // {path, json}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      try { got.push({ path: req.url, json: JSON.parse(body) }); } catch { got.push({ path: req.url, json: null }); }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  const at = `http://127.0.0.1:${receiver.address().port}`;
  [stack, browser] = await Promise.all([
    startStack({ name: `console-ntf-${process.pid}`, vars: { EMAIL_API_URL: `${at}/email` } }),
    playwright.launch({ executablePath: await chromium.executablePath(), args: chromium.args, headless: true }),
  ]);
  stack.receiver = at;
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  receiver?.close();
});

async function until(page, what, fn, arg, timeout = 30_000) {
  try {
    return await page.waitForFunction(fn, arg, { timeout, polling: 200 });
  } catch (e) {
    throw new Error(`console: ${what} did not happen within ${timeout / 1000}s (${e.message.split("\n")[0]})`);
  }
}

async function received(what, pick, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const hit = got.map(pick).filter(Boolean).pop();
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`${what} never reached the receiver: ${JSON.stringify(got.map((g) => g.path))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const SHOTS = process.env.CONSOLE_SHOTS === "1";
async function shoot(page, name) {
  if (!SHOTS) return;
  mkdirSync("docs/console", { recursive: true });
  const size = page.viewportSize();
  for (const w of [1280, 375]) {
    await page.setViewportSize({ width: w, height: w === 375 ? 812 : 900 });
    await new Promise((r) => setTimeout(r, 300));
    await page.screenshot({ path: `docs/console/${name}-${w}.png`, fullPage: true });
  }
  await page.setViewportSize(size);
}

test("notification channels: a critical event routed nowhere is refused; a webhook is verified with its code; a test send's 429 says when to retry; a password is reset from the emailed link", async () => {
  const context = await browser.newContext({ viewport: { width: 375, height: 812 }, locale: "en-US" });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && errors.push(m.text()));
  const email = `console-ntf-${Date.now()}@example.test`;

  await page.goto(`${stack.platform}/app#/signup`);
  await page.waitForSelector("#signup");
  await page.fill("#signup input[name=email]", email);
  await page.fill("#signup input[name=password]", "console-password");
  await page.press("#signup input[name=password]", "Enter");
  await page.waitForSelector("#connect");
  await page.click("nav a[href='#/notifications']");
  await page.waitForSelector("#channels");
  expect(await page.$eval("#verify-webhook", (e) => e.dataset.verified)).toBe("none");

  // A webhook and an email, margin.critical unticked everywhere: refused by its row, nothing saved.
  await page.fill("#channels [name='webhook.url']", `${stack.receiver}/hook`);
  await page.fill("#channels [name='webhook.secret']", "console-webhook-secret");
  await page.fill("#channels [name='email.address']", email);
  for (const c of ["webhook", "telegram", "email"]) await page.uncheck(`#channels [name='route:margin.critical:${c}']`);
  await page.click("#channels button[type=submit]");
  const rowError = "#channels [data-error-for='preferences.events.margin.critical']";
  await until(page, "the critical rule's refusal by its row", (s) => /margin\.critical is critical and would reach no channel/.test(document.querySelector(s)?.textContent ?? ""), rowError);
  expect(await page.$eval("#verify-webhook", (e) => e.dataset.verified)).toBe("none");
  await shoot(page, "notifications-critical");
  await page.check("#channels [name='route:margin.critical:webhook']");
  await page.click("#channels button[type=submit]");
  await until(page, "the channels saved, unverified", () => document.querySelector("#verify-webhook")?.dataset.verified === "false" && /saved/.test(document.getElementById("flash").textContent));
  expect(await page.$eval(rowError, (e) => e.textContent)).toBe("");
  expect(await page.$eval("#verify-email", (e) => e.dataset.verified)).toBe("false");
  await shoot(page, "notifications");

  // The webhook's code, by keyboard: Send code, a wrong code refused by the field, then the right one.
  await page.focus("#send-code-webhook");
  await page.keyboard.press("Enter");
  const code = await received("the webhook's verification code", (g) => g.path === "/hook" && g.json?.event === "notification.verification" && String(g.json.data.code));
  await until(page, "the code's note, focus in the code field", () => /Code sent/.test(document.querySelector("#code-webhook-note")?.textContent ?? "") && document.activeElement?.id === "code-webhook");
  await page.keyboard.type(String((Number(code) + 1) % 1_000_000).padStart(6, "0"));
  await page.keyboard.press("Enter");
  await until(page, "the wrong code refused by its field", () => /wrong code; 4 tries left/.test(document.querySelector("#code-webhook-err")?.textContent ?? "") && document.querySelector("#code-webhook").getAttribute("aria-invalid") === "true");
  await page.fill("#code-webhook", code);
  await page.keyboard.press("Enter");
  await until(page, "the webhook verified", () => document.querySelector("#verify-webhook")?.dataset.verified === "true" && /verified/.test(document.getElementById("flash").textContent));
  expect(await page.$eval("#verify-webhook", (e) => e.textContent)).toContain("✓ verified");
  // The page's state matches the API's.
  const token = await page.evaluate(() => sessionStorage.getItem("lnma.token"));
  const view = await (await fetch(`${stack.platform}/v1/notifications/channels`, { headers: { authorization: `Bearer ${token}` } })).json();
  expect([view.webhook.verified, view.email.verified]).toEqual([true, false]);
  expect(view.preferences.events["margin.critical"]).toEqual({ channels: ["webhook"] });

  // Test sends: the unverified email takes 3 a minute; the 4th is a 429 shown with its wait.
  // The limiter's windows are fixed (test/rate-window.ts): the four sends happen in one.
  const started = await freshRateWindow(25);
  for (let i = 0; i < 3; i++) {
    await page.click("#send-test");
    await until(page, `test send ${i + 1}`, () => /Test sent/.test(document.getElementById("flash").textContent) && !document.querySelector("#send-test").disabled);
    await page.evaluate(() => { document.getElementById("flash").textContent = ""; });
  }
  await page.click("#send-test");
  expect(rateWindow(), "the four test sends took longer than 25 s and crossed the limiter's window").toBe(started);
  await until(page, "the 429's wait by the button", () => /Try again in \d+ s/.test(document.querySelector("#send-test-err")?.textContent ?? "") && document.querySelector("#send-test").disabled && /\(\d+ s\)/.test(document.querySelector("#send-test").textContent));
  await shoot(page, "notifications-verify");

  // Password reset: signed out, "Forgot password?", the emailed link, a new password.
  await page.click("#logout");
  await page.waitForSelector("#signin");
  await page.click("#forgot-link");
  await page.waitForSelector("#forgot");
  await page.fill("#forgot input[name=email]", email);
  await page.press("#forgot input[name=email]", "Enter");
  await until(page, "the neutral answer", () => /If an account exists for this email, an email is on its way/.test(document.querySelector("#forgot-done")?.textContent ?? ""));
  await shoot(page, "forgot");
  const link = await received("the reset email", (g) => g.path === "/email" && g.json?.to === email && /Choose a new password here: (\S+)/.exec(g.json.text)?.[1]);
  expect(link).toMatch(new RegExp(`^${stack.platform.replace(/\./g, "\\.")}/app#/reset\\?token=pwr_[A-Za-z0-9_-]{43}$`));
  await page.goto(link);
  await page.waitForSelector("#reset");
  expect(await page.evaluate(() => location.hash)).toBe("#/reset"); // the token is out of the address bar
  await page.fill("#reset input[name=password]", "the-new-password");
  await page.fill("#reset input[name=repeat]", "another-password");
  await page.press("#reset input[name=repeat]", "Enter");
  await until(page, "the mismatch by its field", () => /differ/.test(document.querySelector("#reset [data-error-for='repeat']")?.textContent ?? ""));
  await page.fill("#reset input[name=repeat]", "the-new-password");
  await shoot(page, "reset");
  await page.press("#reset input[name=repeat]", "Enter");
  await until(page, "the password changed", () => /Your password is changed/.test(document.querySelector("#reset-done")?.textContent ?? ""));
  await page.click("#reset-done a[href='#/signin']");
  await page.waitForSelector("#signin");
  await page.fill("#signin input[name=email]", email);
  await page.fill("#signin input[name=password]", "the-new-password");
  await page.press("#signin input[name=password]", "Enter");
  await page.waitForSelector("#connect");

  // The link works once: opened again, its token is refused by the form.
  await page.goto(link);
  await page.waitForSelector("#reset");
  await page.fill("#reset input[name=password]", "yet-another-password");
  await page.fill("#reset input[name=repeat]", "yet-another-password");
  await page.press("#reset input[name=repeat]", "Enter");
  await until(page, "the used token refused", () => /already used or expired.*Forgot password/.test(document.querySelector("#reset [data-error-for='token']")?.textContent ?? ""));
  expect(errors).toEqual([]);
  await context.close();
});
