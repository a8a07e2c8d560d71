import type { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import { ROLE } from "./auth/roles";

// The contract as an OpenAPI 3.1 document, generated from the route definitions and their zod
// schemas: what is validated is what is documented. `npm run openapi` writes it to openapi.json.

export const DOCUMENT_CONFIG = {
  openapi: "3.1.0",
  info: {
    title: "Organization API",
    version: "1.0.0",
    description:
      "Organizations and their users, compatible with the Flashback platform's organization API. " +
      "Every operation needs a bearer JWT; the role each one needs is in its description and in `x-required-role`. " +
      "Every error, on every operation, is the `Error` envelope.",
    license: { name: "Proprietary", identifier: "LicenseRef-Proprietary" },
  },
  servers: [{ url: "/", description: "This deployment (locally: npm run dev)" }],
  tags: [
    { name: "Organization", description: "The caller's own organization" },
    { name: "Users", description: "Users of the caller's organization; soft-deleted users can be reactivated" },
  ],
};

type AnyApp = OpenAPIHono<any, any, any>;

export function openApiDocument(app: AnyApp) {
  return app.getOpenAPI31Document(DOCUMENT_CONFIG);
}

/** The minimum role of an operation, as an OpenAPI extension. */
export function requiredRole(role: keyof typeof ROLE) {
  return { "x-required-role": { name: role, value: ROLE[role] } };
}

/**
 * Serves the document at /openapi.json and the interactive reference at /docs, both without
 * authentication. The reference's script is a static asset (public/docs/scalar.js), so the page
 * needs no third-party CDN and the Worker bundle does not carry it.
 */
export function mountDocs(app: AnyApp) {
  let document: ReturnType<typeof openApiDocument> | undefined;
  app.get("/openapi.json", (c) => c.json((document ??= openApiDocument(app))));
  app.get(
    "/docs",
    Scalar({ url: "/openapi.json", cdn: "/docs/scalar.js", pageTitle: "Organization API reference", withDefaultFonts: false }),
  );
}
