#!/usr/bin/env node
// Copies the browser files the dashboard, the console (/app) and /docs load from npm packages into public/vendor/, which
// Workers static assets serve (wrangler.toml [assets]). Runs on `npm install` (postinstall),
// so dev, tests, CI and deploy always serve the versions pinned in package-lock.json.
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const out = "public/vendor";
mkdirSync(out, { recursive: true });
const uplotDir = join(dirname(require.resolve("uplot/package.json")), "dist");
for (const f of ["uPlot.iife.min.js", "uPlot.min.css"]) copyFileSync(join(uplotDir, f), join(out, f));
// Swagger UI for /docs (src/api/docs.ts).
const swaggerDir = dirname(require.resolve("swagger-ui-dist/package.json"));
for (const f of ["swagger-ui-bundle.js", "swagger-ui.css"]) copyFileSync(join(swaggerDir, f), join(out, f));
// QR codes of Lightning invoices in the console (/app): a classic script defining `qrcode`.
copyFileSync(require.resolve("qrcode-generator"), join(out, "qrcode.js")); // its "require" export: dist/qrcode.js
console.log(`vendor-assets: uPlot, qrcode-generator and Swagger UI copied to ${out}`);
