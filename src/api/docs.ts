/**
 * `/docs`: Swagger UI over /openapi.json, so request bodies and responses show their fields
 * with every `$ref` resolved. Its files are vendored from the pinned `swagger-ui-dist` package
 * into public/vendor/ by scripts/vendor-assets.mjs and served as static assets: no CDN, since
 * dev runs with no network. The initialiser is a static file too (public/docs-init.js), so the
 * page needs no inline script and keeps a strict CSP.
 */
import type { Context } from "hono";

export const FAVICON = "/favicon.svg";

const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>LN Markets automation API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="${FAVICON}" type="image/svg+xml">
<link rel="stylesheet" href="/vendor/swagger-ui.css">
</head><body>
<noscript>The API reference needs JavaScript; the machine-readable spec is at <a href="/openapi.json">/openapi.json</a>.</noscript>
<div id="docs"></div>
<script src="/vendor/swagger-ui-bundle.js"></script>
<script src="/docs-init.js"></script>
</body></html>`;

/** The docs page with a CSP that allows only this origin's scripts and styles. */
export function docsResponse(c: Context): Response {
  c.header(
    "content-security-policy",
    [
      "default-src 'self'",
      "script-src 'self'",
      // Swagger UI sets inline style attributes on its collapsible sections.
      "style-src 'self' 'unsafe-inline'",
      "img-src 'self' data:",
      "connect-src 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "form-action 'none'",
    ].join("; "),
  );
  return c.html(DOCS_HTML);
}
