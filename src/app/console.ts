/**
 * `GET /app`: the trader console (issue 23). The page is a shell: the console itself is plain
 * ES modules under public/app/ (no build step), served by Workers static assets next to
 * uPlot and the QR-code library that scripts/vendor-assets.mjs copies from npm into
 * public/vendor/. Pages are hash routes (`/app#/positions`), so this one route serves them all.
 *
 * The shell sends its own strict Content-Security-Policy: scripts and styles from this origin
 * only (no inline code at all), same-origin requests only, no frames, no form posts.
 */
import type { Context } from "hono";

const CONSOLE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>LN Markets automation</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/vendor/uPlot.min.css">
<link rel="stylesheet" href="/app/console.css">
<script src="/vendor/uPlot.iife.min.js" defer></script>
<script src="/vendor/qrcode.js" defer></script>
<script type="module" src="/app/main.js"></script>
</head><body>
<a class="skip" href="#main">Skip to content</a>
<header id="top"><a class="brand" href="#/positions">LNMA</a><nav id="nav" aria-label="Pages" hidden></nav>
<span id="who" class="muted"></span><button id="logout" type="button" hidden>Sign out</button></header>
<div id="flash" role="status" aria-live="polite"></div>
<main id="main" tabindex="-1"><noscript>The console needs JavaScript. The API is documented at <a href="/docs">/docs</a>.</noscript></main>
</body></html>`;

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

/** The console shell with its CSP; never cached, so a deploy's new assets are picked up. */
export function consoleResponse(c: Context): Response {
  c.header("content-security-policy", CONSOLE_CSP);
  c.header("cache-control", "no-store");
  return c.html(CONSOLE_HTML);
}
