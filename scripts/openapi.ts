// npm run openapi: writes the OpenAPI document generated from the routes to openapi.json.
// A test fails while the committed file differs from what the routes generate.
import { writeFileSync } from "node:fs";
import { app } from "../src/app";
import { openApiDocument } from "../src/openapi";

writeFileSync("openapi.json", `${JSON.stringify(openApiDocument(app), null, 2)}\n`);
console.log("Wrote openapi.json");
