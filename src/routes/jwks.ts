import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import * as z from "../lib/zod";
import { parseAuthConfig, publishedKeys } from "../auth/config";
import type { AppEnv } from "../env";
import { ApiError, MESSAGES } from "../errors";
import { allowOnly } from "../middleware/method-not-allowed";
import { limitByClient } from "../middleware/rate-limit";
import { refuseEmptyParameterNames, validationHook } from "../middleware/validate";
import { errorResponse, noQuery, wire } from "../schemas/common";
import { jsonContent, methodNotAllowed, rateLimited } from "../schemas/envelope";

// The public keys of this service's own ES256 tokens (JWT_SIGNING_KEYS), so the platform's other
// services verify them without sharing a secret. Every configured key is published, the previous
// ones too, so tokens signed before a rotation keep verifying until they expire.

export const jwks = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const PATH = "/.well-known/jwks.json";
// Verifiers may keep the set this long; a new key is added (second in JWT_SIGNING_KEYS) at least
// this long before it starts signing (first).
const MAX_AGE_SECONDS = 300;

const PublicKey = z
  .strictObject({
    kty: z.literal("EC"),
    crv: z.literal("P-256"),
    x: wire.text(100),
    y: wire.text(100),
    kid: wire.text(100),
    alg: z.literal("ES256"),
    use: z.literal("sig"),
  })
  .openapi("PublicJwk");

const jwksRoute = createRoute({
  method: "get",
  operationId: "getJwks",
  path: PATH,
  tags: ["Sessions"],
  summary: "The public keys that verify this service's tokens",
  description:
    "No authentication; limited per client address. Only when this service signs ES256 tokens of its own (JWT_SIGNING_KEYS); 404 otherwise (HS256 tokens are verified with the shared secret, an identity provider publishes its own keys).",
  security: [],
  middleware: [limitByClient, refuseEmptyParameterNames],
  request: { query: noQuery },
  responses: {
    200: jsonContent(
      z.strictObject({ keys: z.array(PublicKey).min(1).max(10) }),
      "The key set (RFC 7517), cacheable",
      {
        keys: [
          {
            kty: "EC",
            crv: "P-256",
            x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
            kid: "2026-12",
            alg: "ES256",
            use: "sig",
          },
        ],
      },
      { "Cache-Control": wire.text(100).openapi({ description: `public, max-age=${MAX_AGE_SECONDS}` }) },
    ),
    400: errorResponse("A query parameter was sent", "validation_failed", "Validation failed: foo: Unknown field"),
    404: errorResponse("This service does not sign asymmetric tokens of its own", "not_found", MESSAGES.notFound),
    405: methodNotAllowed(["GET"]),
    429: rateLimited,
    500: errorResponse("The signing configuration is unusable (logged)", "internal_error", MESSAGES.internal),
  },
});

jwks.openapi(jwksRoute, (c) => {
  const keys = publishedKeys(parseAuthConfig(c.env));
  if (keys.length === 0) throw new ApiError("not_found", MESSAGES.notFound);
  c.header("Cache-Control", `public, max-age=${MAX_AGE_SECONDS}`);
  return c.json({ keys: keys as z.infer<typeof PublicKey>[] }, 200);
});

allowOnly(jwks, PATH, ["GET"]);
