import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { issueAccessToken, signsOwnTokens } from "../auth/access-token";
import { startSession } from "../auth/sign-in";
import { newOpaqueToken, opaqueTokenHash } from "../auth/opaque-token";
import { verifyPassword } from "../auth/password";
import * as sessionsDb from "../db/sessions";
import type { AppEnv } from "../env";
import { ApiError, MESSAGES } from "../errors";
import { jsonBody } from "../middleware/json-body";
import { allowOnly } from "../middleware/method-not-allowed";
import { enforceRateLimit, limitCredentialsByClient } from "../middleware/rate-limit";
import { refuseEmptyParameterNames, validationHook } from "../middleware/validate";
import { errorResponse, noQuery } from "../schemas/common";
import { bodyErrorResponses, jsonBodyOf, jsonContent, methodNotAllowed, rateLimitedBecause } from "../schemas/envelope";
import {
  LOGIN_EXAMPLE,
  LoginBody,
  LoginResponse,
  presentedRefreshToken,
  REFRESH_EXAMPLE,
  RefreshBody,
  RefreshResponse,
  SignedOutResponse,
  toSignedInUser,
} from "../schemas/sessions";

// Sign-in, refresh and sign-out: this service as its own identity provider (HS256). The password
// or the refresh token is the credential, so these routes take no bearer token.

export const sessions = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const LOGIN = "/user/login";
const REFRESH = "/user/refresh";
const LOGOUT = "/user/logout";
const METHODS = ["POST"];

const invalidCredentials = () => new ApiError("invalid_credentials", MESSAGES.invalidCredentials);
const invalidRefreshToken = () => new ApiError("invalid_credentials", MESSAGES.invalidRefreshToken);

const publicErrors = {
  400: errorResponse("Invalid input", "validation_failed", "Validation failed: email: Required"),
  429: rateLimitedBecause("Too many requests from this client address"),
  500: errorResponse("Unexpected failure; nothing was written", "internal_error", MESSAGES.internal),
  ...bodyErrorResponses,
};

const refuseUnlessOwnTokens = (env: AppEnv["Bindings"]) => {
  if (!signsOwnTokens(env)) throw new ApiError("forbidden", MESSAGES.signInDisabled);
};

const loginRoute = createRoute({
  method: "post",
  operationId: "login",
  path: LOGIN,
  tags: ["Sessions"],
  summary: "Sign in with email and password",
  description:
    "No bearer token. Opens a session: a one-hour access token and a refresh token. An unknown address, a wrong password and a deleted account get one identical 401 after the same work; a correct password of an address not yet verified gets 403 `email_not_verified`. Limited per client address and per address.",
  security: [],
  middleware: [limitCredentialsByClient, refuseEmptyParameterNames, jsonBody],
  request: { query: noQuery, body: jsonBodyOf(LoginBody) },
  responses: {
    200: jsonContent(LoginResponse, "Signed in", LOGIN_EXAMPLE),
    ...publicErrors,
    429: rateLimitedBecause("Too many attempts from this client address, or for this address"),
    401: errorResponse(
      "Unknown address, wrong password or deleted account (one answer)",
      "invalid_credentials",
      MESSAGES.invalidCredentials,
    ),
    403: errorResponse(
      "The password is right but the address is not verified (`email_not_verified`), or sign-in is not offered here (`forbidden`)",
      "email_not_verified",
      MESSAGES.emailNotVerified,
    ),
    405: methodNotAllowed(METHODS),
  },
});

sessions.openapi(loginRoute, async (c) => {
  refuseUnlessOwnTokens(c.env);
  const body = c.req.valid("json");
  // Per address too, so rotating client addresses does not speed up guessing one account's password.
  await enforceRateLimit(c, `login:${body.email.toLowerCase()}`, "LOGIN_RATE_LIMITER");
  const db = c.var.db;
  const account = await sessionsDb.findSignInAccount(db, body.email);
  // An unknown address costs the same hashing as a wrong password (verifyPassword), so the two
  // cannot be told apart.
  const proven = await verifyPassword(body.password, account?.passwordHash);
  if (!account || !proven) throw invalidCredentials();
  if (!account.validated) throw new ApiError("email_not_verified", MESSAGES.emailNotVerified);
  const deviceInfo = body.deviceInfo === undefined ? null : JSON.stringify(body.deviceInfo);
  c.set("actorId", account.id);
  const session = await startSession(c.env, db, account, deviceInfo, new Date());
  // Deleted or moved between the read and the write.
  if (!session) throw invalidCredentials();
  return c.json({ success: true as const, ...session, user: toSignedInUser(account) }, 200);
});

allowOnly(sessions, LOGIN, METHODS);

const refreshRoute = createRoute({
  method: "post",
  operationId: "refresh",
  path: REFRESH,
  tags: ["Sessions"],
  summary: "Trade a refresh token for a new access token and a new refresh token",
  description:
    "No bearer token. The refresh token presented is used up: the answer carries its replacement. Presenting one that was already used ends its whole session (reuse detection, RFC 9700 §4.14). Limited per client address.",
  security: [],
  middleware: [limitCredentialsByClient, refuseEmptyParameterNames, jsonBody],
  request: { query: noQuery, body: jsonBodyOf(RefreshBody) },
  responses: {
    200: jsonContent(RefreshResponse, "Refreshed", REFRESH_EXAMPLE),
    ...publicErrors,
    403: errorResponse(
      "Sign-in is not offered: an external identity provider issues the tokens (JWT_ALG is not HS256)",
      "forbidden",
      MESSAGES.signInDisabled,
    ),
    401: errorResponse(
      "Unknown, used, expired or revoked refresh token, or its user can no longer sign in (one answer)",
      "invalid_credentials",
      MESSAGES.invalidRefreshToken,
    ),
    405: methodNotAllowed(METHODS),
  },
});

sessions.openapi(refreshRoute, async (c) => {
  refuseUnlessOwnTokens(c.env);
  const presented = presentedRefreshToken(c.req.valid("json"));
  const now = new Date();
  const next = await newOpaqueToken();
  const rotated = await sessionsDb.rotateRefreshToken(c.var.db, await opaqueTokenHash(presented), next.hash, now);
  if (!rotated) throw invalidRefreshToken();
  const access = await issueAccessToken(c.env, rotated.user, rotated.sessionId, now);
  return c.json(
    {
      success: true as const,
      token: access.token,
      accessToken: access.token,
      refreshToken: next.token,
      expiresAt: access.expiresAt,
    },
    200,
  );
});

allowOnly(sessions, REFRESH, METHODS);

const logoutRoute = createRoute({
  method: "post",
  operationId: "logout",
  path: LOGOUT,
  tags: ["Sessions"],
  summary: "Sign out: end the session of a refresh token",
  description:
    "No bearer token: the refresh token identifies the session. Its access tokens are refused from the next request on. Limited per client address.",
  security: [],
  middleware: [limitCredentialsByClient, refuseEmptyParameterNames, jsonBody],
  request: { query: noQuery, body: jsonBodyOf(RefreshBody) },
  responses: {
    200: jsonContent(SignedOutResponse, "Signed out", { success: true, message: MESSAGES.signedOut }),
    ...publicErrors,
    401: errorResponse(
      "Unknown, used or already ended refresh token; a used one ends its session all the same (reuse)",
      "invalid_credentials",
      MESSAGES.invalidRefreshToken,
    ),
    405: methodNotAllowed(METHODS),
  },
});

sessions.openapi(logoutRoute, async (c) => {
  const presented = presentedRefreshToken(c.req.valid("json"));
  const ended = await sessionsDb.endSessionByRefreshToken(c.var.db, await opaqueTokenHash(presented), new Date());
  if (!ended) throw invalidRefreshToken();
  return c.json({ success: true as const, message: MESSAGES.signedOut }, 200);
});

allowOnly(sessions, LOGOUT, METHODS);
