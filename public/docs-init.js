// Starts Swagger UI on /openapi.json (see src/api/docs.ts). A static file, not an inline
// script, so the page's CSP can forbid inline scripts.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#docs",
    deepLinking: true,
    defaultModelsExpandDepth: 0,
    defaultModelExpandDepth: 3,
    docExpansion: "list",
    persistAuthorization: true,
    tryItOutEnabled: false,
  });
});
