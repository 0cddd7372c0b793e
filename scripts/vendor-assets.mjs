#!/usr/bin/env node
// Copies the browser files the dashboard loads from npm packages into public/vendor/, which
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
console.log(`vendor-assets: uPlot copied to ${out}`);
