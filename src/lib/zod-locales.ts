// Stands in for zod's locales barrel (zod/v4/locales/index.js) in the deployed bundle, through the
// [alias] in wrangler.toml. @hono/zod-openapi passes zod's whole namespace to a function, so the
// bundler keeps every export of it, the 40-odd translated error-message locales included: about
// 250 KB minified (38 KiB gzip) that this English-only API never loads. zod configures English
// itself; `z.locales.en` stays available. The tests and the scripts use zod unchanged.
export { default as en } from "zod/v4/locales/en.js";
