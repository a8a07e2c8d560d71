// Assembles the static assets, served by the platform before the Worker runs (wrangler's [build]
// step runs it before `wrangler dev` and `wrangler deploy`): the OpenAPI document as committed
// (`npm run openapi` writes it; a test holds it to the routes), the interactive reference at /docs
// with its browser bundle, and `_headers`, which gives them the headers the Worker gives its own
// answers.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";

mkdirSync("public/docs", { recursive: true });
copyFileSync("node_modules/@scalar/api-reference/dist/browser/standalone.js", "public/docs/scalar.js");
copyFileSync("openapi.json", "public/openapi.json");

// The reference's configuration (Scalar, https://scalar.com): its hosted extras (AI chat, MCP,
// developer tools, telemetry) off, so the page talks to this origin only (`npm run check:docs`
// asserts it in a browser).
const REFERENCE_CONFIG = {
  url: "/openapi.json",
  withDefaultFonts: false,
  // Show every tag's operations rather than only the first tag's.
  defaultOpenAllTags: true,
  // The auth field asks for the bearer token straight away.
  authentication: { preferredSecurityScheme: "bearerAuth" },
  agent: { disabled: true },
  mcp: { disabled: true },
  showDeveloperTools: "never",
  telemetry: false,
};

// The page Scalar's own integrations render for that configuration; served at /docs.
writeFileSync(
  "public/docs.html",
  `<!doctype html>
<html>
  <head>
    <title>Organization API reference</title>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
  </head>
  <body>
    <div id="app"></div>
    <script src="/docs/scalar.js"></script>
    <script>
      Scalar.createApiReference("#app", ${JSON.stringify(REFERENCE_CONFIG)});
    </script>
  </body>
</html>
`,
);

// Revalidated rather than never stored (they change with each deployment), with the security
// headers of the Worker's answers (hono's secureHeaders defaults).
writeFileSync(
  "public/_headers",
  `/*
  X-Content-Type-Options: nosniff
  Referrer-Policy: no-referrer
  Cross-Origin-Resource-Policy: same-origin
  Cross-Origin-Opener-Policy: same-origin
  Strict-Transport-Security: max-age=15552000; includeSubDomains
  X-Frame-Options: SAMEORIGIN
/openapi.json
  Cache-Control: no-cache
/docs
  Cache-Control: no-cache
`,
);
