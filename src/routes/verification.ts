import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { hashPassword, verifyPassword } from "../auth/password";
import { signsOwnTokens } from "../auth/access-token";
import { newOpaqueToken, opaqueTokenHash } from "../auth/opaque-token";
import { signedIn } from "../auth/sign-in";

import type { Db } from "../db/client";
import { isUniqueViolation } from "../db/constraint";
import * as invitationsDb from "../db/invitations";
import type { AppEnv } from "../env";
import { ApiError, fieldProblem, MESSAGES } from "../errors";
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
  const found = await invitationsDb.findUsableToken(c.var.db, await opaqueTokenHash(token), new Date().toISOString());
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
    "No authentication; limited per client address. Verifies the address, uses the token (once) and sets the password when one is given. The first verification of an address wins: other accounts' invitations of it stop working. Signs the user in: the answer carries the tokens of a new session, as sign-in's does (when this deployment issues the tokens). The link of a self-registration (POST /user/register) needs the password chosen at registration, so only whoever registered completes it.",
  security: [],
  middleware: [limitCredentialsByClient, refuseEmptyParameterNames, jsonBody],
  request: { query: noQuery, body: jsonBodyOf(VerifyBody) },
  responses: {
    200: jsonContent(VerifyResponse, "Verified", VERIFY_EXAMPLE),
    ...publicErrors,
    401: errorResponse(
      "A self-registration's link with a password other than the one chosen at registration",
      "invalid_credentials",
      MESSAGES.invalidCredentials,
    ),
    405: methodNotAllowed(METHODS),
  },
});

verification.openapi(verifyRoute, async (c) => {
  const body = c.req.valid("json");
  const db = c.var.db;
  const now = new Date();
  const tokenHash = await opaqueTokenHash(body.token);
  // Verifying signs the user in, when this deployment issues the tokens: the session opens in the
  // verification's own batch.
  const refresh = signsOwnTokens(c.env) ? await newOpaqueToken() : undefined;
  const verify = (passwordHash: string | null, registrationPasswordChecked: boolean) =>
    verifyOnce(
      db,
      tokenHash,
      { passwordHash, registrationPasswordChecked, session: refresh && { refreshHash: refresh.hash, now } },
      now,
    );
  let outcome = await verify(body.password === undefined ? null : await hashPassword(body.password), false);
  // A self-registration's link is completed with the password chosen at registration: whoever
  // registered someone else's address cannot have its owner's click verify an account whose password
  // they hold. That password is read by the first batch and checked here, so this path alone takes
  // a second round trip. An invitee (created by an administrator) may set a new one instead.
  if (!outcome.user && outcome.token?.selfRegistered) {
    if (body.password === undefined) {
      throw new ApiError("validation_failed", MESSAGES.registrationPasswordRequired, [
        fieldProblem("body", "password", MESSAGES.registrationPasswordRequired),
      ]);
    }
    if (!(await verifyPassword(body.password, outcome.token.passwordHash)))
      throw new ApiError("invalid_credentials", MESSAGES.invalidCredentials);
    outcome = await verify(null, true);
  }
  if (outcome.needsPassword) {
    throw new ApiError("validation_failed", MESSAGES.passwordRequired, [
      fieldProblem("body", "password", MESSAGES.passwordRequired),
    ]);
  }
  const user = outcome.user;
  if (!user) throw invalidVerificationToken();
  const session = refresh && outcome.sessionId ? await signedIn(c.env, user, outcome.sessionId, refresh.token, now) : undefined;
  return c.json({ success: true as const, message: MESSAGES.emailVerified, user: toSignedInUser(user), ...session }, 200);
});

/** One verification batch; a concurrent verification of the same address by another account that won is an unusable token. */
async function verifyOnce(db: Db, tokenHash: string, verification: invitationsDb.Verification, now: Date) {
  try {
    return await invitationsDb.verifyEmail(db, tokenHash, verification, now.toISOString());
  } catch (error) {
    if (isUniqueViolation(error)) throw invalidVerificationToken();
    throw error;
  }
}

allowOnly(verification, VERIFY, METHODS);
