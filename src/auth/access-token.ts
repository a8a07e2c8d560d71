import { importJWK, SignJWT, type JWK } from "jose";
import type { UserRow } from "../db/schema";
import { issuesOwnTokens, parseAuthConfig, type AuthConfig, type AuthVars } from "./config";
import { signToken } from "./jwt";

// The access tokens this service issues at sign-in and refresh: one hour (Flashback's lifetime),
// with Flashback's claims (`userId`, `email`, `orgId`, `type`) beside `sub`, and `sid`, the session
// whose end refuses them on the next request. Signed HS256 with JWT_SECRET, or ES256 with the first
// of JWT_SIGNING_KEYS (its `kid` in the header), whose public halves /.well-known/jwks.json publishes.

export const ACCESS_TOKEN_TTL_SECONDS = 3600;

/** Whether this deployment signs its own tokens: with an external identity provider, that one does. */
export function signsOwnTokens(env: AuthVars): boolean {
  return issuesOwnTokens(parseAuthConfig(env));
}

// The signing key, imported once per isolate and key.
const signingKeys = new Map<string, Promise<CryptoKey | Uint8Array>>();

async function sign(config: AuthConfig, claims: Record<string, unknown>): Promise<string> {
  const signer = config.JWT_SIGNING_KEYS?.keys[0];
  if (!signer) return signToken(claims, config.JWT_SECRET ?? "");
  const id = JSON.stringify([signer.kid, signer.d]);
  let key = signingKeys.get(id);
  if (!key) {
    key = importJWK(signer as JWK, "ES256");
    signingKeys.set(id, key);
  }
  return new SignJWT(claims).setProtectedHeader({ alg: "ES256", typ: "JWT", kid: signer.kid }).sign(await key);
}

/** An access token for `user` in session `sessionId`; `expiresAt` in milliseconds since the epoch. */
export async function issueAccessToken(env: AuthVars, user: UserRow, sessionId: string, now: Date) {
  const config = parseAuthConfig(env);
  const iat = Math.floor(now.getTime() / 1000);
  const exp = iat + ACCESS_TOKEN_TTL_SECONDS;
  const token = await sign(config, {
    sub: user.id,
    userId: user.id,
    email: user.email,
    orgId: user.orgId,
    type: "access",
    sid: sessionId,
    iat,
    exp,
    ...(config.JWT_ISSUER !== undefined ? { iss: config.JWT_ISSUER } : {}),
    ...(config.JWT_AUDIENCE !== undefined ? { aud: config.JWT_AUDIENCE } : {}),
  });
  return { token, expiresAt: exp * 1000 };
}
