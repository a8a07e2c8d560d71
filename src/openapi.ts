import type { OpenAPIHono } from "@hono/zod-openapi";
import { BOOKMARK, BOOKMARK_EXAMPLE, BOOKMARK_HEADER } from "./middleware/d1-session";

// The contract as an OpenAPI 3.1 document, generated from the route definitions and their zod
// schemas: what is validated is what is documented. `npm run openapi` writes it to openapi.json.

const DOCUMENT_CONFIG = {
  openapi: "3.1.0",
  info: {
    title: "Organization API",
    version: "1.0.0",
    description:
      "Organizations and their users, compatible with the Flashback platform's organization API. " +
      "Every operation but the health check and email verification needs a bearer JWT; the role each one needs is in its description and in `x-required-role`. " +
      "Every error, on every operation, is the `Error` envelope, or RFC 9457 problem details (`Problem`, `application/problem+json`) when the request's Accept prefers them. " +
      "Names, addresses and the other free-text fields of request bodies are trimmed of surrounding white space before they are checked: their length limits and pattern apply to what remains, so a blank value is empty, and unpaired UTF-16 surrogates are refused as well. Email addresses, passwords and tokens are checked as sent.",
    license: { name: "Proprietary", identifier: "LicenseRef-Proprietary" },
    contact: { name: "Organization API maintainers", url: "https://github.com/" },
  },
  servers: [{ url: "/", description: "This deployment (locally: npm run dev)", "x-internal": false }],
  tags: [
    { name: "Organization", description: "The caller's own organization" },
    { name: "Users", description: "Users of the caller's organization; soft-deleted users can be reactivated" },
    { name: "Sessions", description: "Signing in with a password, refreshing and signing out" },
    { name: "Verification", description: "Verifying an email address with the token from its invitation's link" },
    { name: "Health", description: "Whether the service can serve requests" },
  ],
};

type AnyApp = OpenAPIHono<any, any, any>;

// Every operation takes the bookmark of the client's last answer (src/middleware/d1-session.ts):
// one parameter, listed on each operation rather than declared on each route.
const BOOKMARK_PARAMETER = {
  name: BOOKMARK_HEADER,
  in: "header",
  required: false,
  description:
    "The `x-d1-bookmark` of this client's last answer: the request reads at least what that answer had written. A value of another form is ignored.",
  schema: {
    type: "string",
    maxLength: 59,
    pattern: BOOKMARK.source,
    example: BOOKMARK_EXAMPLE,
  },
} as const;

type Operation = { parameters?: unknown[] };

export function openApiDocument(app: AnyApp) {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", BEARER_SCHEME);
  const document = app.getOpenAPI31Document(DOCUMENT_CONFIG);
  for (const item of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(item as Record<string, Operation>)) {
      if (typeof operation !== "object" || operation === null) continue;
      operation.parameters = [...(operation.parameters ?? []), { $ref: "#/components/parameters/D1Bookmark" }];
    }
  }
  document.components = {
    ...document.components,
    parameters: { ...document.components?.parameters, D1Bookmark: BOOKMARK_PARAMETER },
  };
  return document;
}

const BEARER_SCHEME = {
  type: "http",
  scheme: "bearer",
  bearerFormat: "JWT",
  description:
    "A JWT verified as RFC8725 (JSON Web Token Best Current Practices) recommends: the algorithm is fixed by configuration " +
    "(HS256, or RS256/ES256 through a JWKS), `exp` is required, `nbf`/`iat` allow 60 s of leeway, `iss`/`aud` are " +
    "checked when configured, and a `type` claim other than `access` is refused. The user is `sub` (or `userId`).",
} as const;
