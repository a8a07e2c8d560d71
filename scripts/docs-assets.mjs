// Copies the API reference's browser bundle into the static assets (public/docs/scalar.js).
// Run by wrangler's [build] step before `wrangler dev` and `wrangler deploy`.
import { copyFileSync, mkdirSync } from "node:fs";

mkdirSync("public/docs", { recursive: true });
copyFileSync("node_modules/@scalar/api-reference/dist/browser/standalone.js", "public/docs/scalar.js");
