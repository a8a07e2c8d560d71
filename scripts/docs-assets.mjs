// Assembles the static assets: the API reference's browser bundle (public/docs/scalar.js) and the
// OpenAPI document (public/openapi.json).
// Run by wrangler's [build] step before `wrangler dev` and `wrangler deploy`.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";

mkdirSync("public/docs", { recursive: true });
copyFileSync("node_modules/@scalar/api-reference/dist/browser/standalone.js", "public/docs/scalar.js");
// The published document, served as it is committed (npm run openapi writes it; a test holds it to
// the routes). Static assets are answered before the Worker runs, so `_headers` gives it the
// headers the Worker gives its own answers.
copyFileSync("openapi.json", "public/openapi.json");
writeFileSync(
  "public/_headers",
  `/openapi.json
  Cache-Control: no-cache
  X-Content-Type-Options: nosniff
  Referrer-Policy: no-referrer
  Cross-Origin-Resource-Policy: same-origin
  Strict-Transport-Security: max-age=15552000; includeSubDomains
`,
);
