// Stands in for the package entry "zod" in the bundle and in the tests, through the [alias] in
// wrangler.toml (and vitest.config.ts). @hono/zod-openapi imports zod's `z` object and hands it to
// extendZodWithOpenApi; an object used as a value keeps every export of zod in the bundle (about
// 100 KB minified, 28 KB gzip). That function only reads `z.ZodType`, so this module's `z` has only
// that, and every other export is zod's own. Our code imports zod as a namespace (src/lib/zod.ts).
import { ZodType } from "zod/v4";

export * from "zod/v4";
export const z = { ZodType };
