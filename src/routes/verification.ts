import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { hashPassword } from "../auth/password";
import { signsOwnTokens } from "../auth/access-token";
import { startSession } from "../auth/sign-in";
import { opaqueTokenHash } from "../auth/opaque-token";
import { createDb } from "../db/client";
import { isUniqueViolation } from "../db/constraint";
import * as invitationsDb from "../db/invitations";
import type { AppEnv } from "../env";
import { ApiError, MESSAGES } from "../errors";
import { jsonBody } from "../middleware/json-body";
import { allowOnly } from "../middleware/method-not-allowed";
import { limitCredentialsByClient } from "../middleware/rate-limit";
import { refuseEmptyParameterNames, validationHook } from "../middleware/validate";
import { errorResponse, noQuery } from "../schemas/common";
import { bodyErrorResponses, jsonBodyOf, jsonContent, methodNotAllowed, rateLimited } from "../schemas/envelope";
import {
  PRE_VERIFY_EXAMPLE,
  PreVerifyBody,
  PreVerifyResponse,
  VERIFY_EXAMPLE,
  VerifyBody,
  VerifyResponse,
} from "../schemas/verification";
import { toSignedInUser } from "../schemas/sessions";

// Email verification, without authentication: the token from the invitation's link is the
// credential. Unknown, used, expired, revoked and superseded tokens all get one answer.

export const verification = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const PRE_VERIFY = "/user/pre-verify-email";
const VERIFY = "/user/verify-email";
const METHODS = ["POST"];

const invalidVerificationToken = () => new ApiError("invalid_token", MESSAGES.invalidVerificationToken);

const publicErrors = {
  400: errorResponse(
    "Invalid input, or (`invalid_token`) the token is unknown, used, expired or no longer valid",
    "invalid_token",
    MESSAGES.invalidVerificationToken,
  ),
  429: rateLimited,
  500: errorResponse("Unexpected failure; nothing was written", "internal_error", MESSAGES.internal),
  ...bodyErrorResponses,
};

const preVerifyRoute = createRoute({
  method: "post",
  operationId: "preVerifyEmail",
  path: PRE_VERIFY,
  tags: ["Verification"],
  summary: "Check a verification token before using it",
  description:
    "No authentication; limited per client address. Changes nothing: tells the link's holder how the account signs in, so a client can ask for a password when it has none.",
  security: [],
  middleware: [limitCredentialsByClient, refuseEmptyParameterNames, jsonBody],
  request: { query: noQuery, body: jsonBodyOf(PreVerifyBody) },
  responses: {
    200: jsonContent(PreVerifyResponse, "The token can verify its address", PRE_VERIFY_EXAMPLE),
    ...publicErrors,
    405: methodNotAllowed(METHODS),
  },
});

verification.openapi(preVerifyRoute, async (c) => {
  const { token } = c.req.valid("json");
  const found = await invitationsDb.findUsableToken(createDb(c.env.DB), await opaqueTokenHash(token), new Date().toISOString());
  if (!found) throw invalidVerificationToken();
  return c.json(
    {
      success: true as const,
      message: MESSAGES.verificationTokenValid,
      authMethod: found.authMethod,
      hasPassword: found.hasPassword,
    },
    200,
  );
});

allowOnly(verification, PRE_VERIFY, METHODS);

const verifyRoute = createRoute({
  method: "post",
  operationId: "verifyEmail",
  path: VERIFY,
  tags: ["Verification"],
  summary: "Verify an email address with the token from its link",
  description:
    "No authentication; limited per client address. Verifies the address, uses the token (once) and sets the password when one is given. The first verification of an address wins: other accounts' invitations of it stop working. Signs the user in: the answer carries the tokens of a new session, as sign-in's does (when this deployment issues the tokens, JWT_ALG HS256).",
  security: [],
  middleware: [limitCredentialsByClient, refuseEmptyParameterNames, jsonBody],
  request: { query: noQuery, body: jsonBodyOf(VerifyBody) },
  responses: {
    200: jsonContent(VerifyResponse, "Verified", VERIFY_EXAMPLE),
    ...publicErrors,
    405: methodNotAllowed(METHODS),
  },
});

verification.openapi(verifyRoute, async (c) => {
  const body = c.req.valid("json");
  // Hashed before the token is looked up, so a valid and an invalid token cost the same.
  const passwordHash = body.password === undefined ? null : await hashPassword(body.password);
  const db = createDb(c.env.DB);
  let outcome;
  try {
    outcome = await invitationsDb.verifyEmail(db, await opaqueTokenHash(body.token), passwordHash, new Date().toISOString());
  } catch (error) {
    // A concurrent verification of the same address by another account won.
    if (isUniqueViolation(error)) throw invalidVerificationToken();
    throw error;
  }
  if (outcome.needsPassword) {
    throw new ApiError("validation_failed", MESSAGES.passwordRequired, [
      { path: "password", message: MESSAGES.passwordRequired },
    ]);
  }
  const user = outcome.user;
  if (!user) throw invalidVerificationToken();
  // Verifying signs the user in, when this deployment issues the tokens.
  const session = signsOwnTokens(c.env) ? await startSession(c.env, db, user, null, new Date()) : undefined;
  return c.json({ success: true as const, message: MESSAGES.emailVerified, user: toSignedInUser(user), ...session }, 200);
});

allowOnly(verification, VERIFY, METHODS);
