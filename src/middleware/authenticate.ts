import { createMiddleware } from "hono/factory";
import { createVerifier, KeySetUnavailableError, TokenError, type Verifier } from "../auth/jwt";
import { isRole } from "../auth/roles";
import { createDb } from "../db/client";
import { findCaller } from "../db/users";
import { parseAuthConfig, type AppEnv, type Bindings } from "../env";
import { requiresVerifiedEmail } from "../invitations/config";
import { ApiError, MESSAGES, unavailableFor } from "../errors";
import { clientKey, enforceRateLimit } from "./rate-limit";

// One verifier per configuration, so keys are imported once per isolate, not per request.
const verifiers = new Map<string, Verifier>();

function verifierFor(env: Bindings): Verifier {
  const key = JSON.stringify([
    env.JWT_ALG,
    env.JWT_SECRET,
    env.JWT_JWKS,
    env.JWT_JWKS_URL,
    env.JWT_ISSUER,
    env.JWT_AUDIENCE,
    env.JWT_SIGNING_KEYS,
  ]);
  let verifier = verifiers.get(key);
  if (!verifier) {
    verifier = createVerifier(parseAuthConfig(env));
    verifiers.set(key, verifier);
  }
  return verifier;
}

const missing = () => new ApiError("unauthorized", MESSAGES.unauthorized, undefined, { "WWW-Authenticate": "Bearer" });
export const invalidToken = () =>
  new ApiError("unauthorized", MESSAGES.invalidToken, undefined, { "WWW-Authenticate": 'Bearer error="invalid_token"' });

/**
 * Verifies the bearer token, then loads the caller from the database: role, organization and
 * deletion state come from there on every request, never from the token.
 */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  // RFC 6750 §2.1: the scheme is case-insensitive; only the Bearer scheme is accepted.
  const [scheme, ...credentials] = (c.req.header("Authorization") ?? "").trim().split(/ +/);
  let refusal: ApiError | undefined;
  if (scheme?.toLowerCase() !== "bearer" || credentials.length === 0) refusal = missing();
  else if (credentials.length !== 1) refusal = invalidToken();

  let token;
  if (!refusal) {
    try {
      token = await verifierFor(c.env)(credentials[0] as string);
    } catch (error) {
      // The identity provider's keys have never loaded: the token cannot be judged yet.
      if (error instanceof KeySetUnavailableError) throw unavailableFor(error.retryAfterSeconds);
      if (!(error instanceof TokenError)) throw error;
      refusal = invalidToken();
    }
  }
  // Callers are counted by user once the token is verified, by address before that, so a flood
  // of bad tokens is limited too; a limited caller costs no database read.
  if (!token) {
    await enforceRateLimit(c, clientKey(c));
    throw refusal ?? invalidToken();
  }
  await enforceRateLimit(c, `user:${token.userId}`);

  const caller = await findCaller(createDb(c.env.DB), token.userId, token.iat, token.sessionId);
  if (!caller || !isRole(caller.role)) throw invalidToken();
  if (token.orgId !== undefined && token.orgId !== caller.orgId) throw invalidToken();
  // An address is verified once and never unverified, so a write need not check it again.
  if (!caller.validated && requiresVerifiedEmail(c.env)) throw new ApiError("email_not_verified", MESSAGES.emailNotVerified);
  c.set("caller", { id: caller.id, orgId: caller.orgId, role: caller.role, issuedAt: token.iat, sessionId: token.sessionId });
  c.set("organization", caller.organization);
  await next();
});
