// npm run openapi: writes the OpenAPI document generated from the routes to openapi.json, and the
// typed client's declarations generated from that document to src/client/schema.d.ts.
// A test fails while the committed document differs from what the routes generate.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { app } from "../src/app";
import { openApiDocument } from "../src/openapi";

writeFileSync("openapi.json", `${JSON.stringify(openApiDocument(app), null, 2)}\n`);
// Fields with a default are optional to send; the generator would otherwise make them required.
execFileSync(
  "node_modules/.bin/openapi-typescript",
  ["openapi.json", "-o", "src/client/schema.d.ts", "--default-non-nullable", "false"],
  { stdio: "ignore" },
);
console.log("Wrote openapi.json and src/client/schema.d.ts");
