import { createMiddleware } from "hono/factory";
import { createVerifier, KeySetUnavailableError, TokenError, type Verifier } from "../auth/jwt";
import { invalidToken } from "../auth/policy";
import { parseAuthConfig } from "../auth/config";
import type { AppEnv, Bindings } from "../env";
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

/**
 * Verifies the bearer token and names the caller; reads nothing. Role, organization and deletion
 * state come from the database in each operation's own batch (src/db/verdict.ts), never from the
 * token.
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
  c.set("caller", {
    id: token.userId,
    issuedAt: token.iat,
    sessionId: token.sessionId,
    orgId: token.orgId,
    verifiedOnly: requiresVerifiedEmail(c.env),
  });
  await next();
});
