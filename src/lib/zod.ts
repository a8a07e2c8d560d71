// zod as the schemas here import it: `import * as z from "../lib/zod"`. @hono/zod-openapi adds
// `.openapi()` to zod's schemas when it is first imported; importing it here first lets any module
// build a documented schema, whatever was imported before it. The namespace import (zod's own
// recommendation, rather than `import { z }`) lets the bundler keep only the zod functions used.
import "@hono/zod-openapi";
export * from "zod";
