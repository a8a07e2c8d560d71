import type { UserRow } from "../db/schema";
import { parseAuthConfig, type AuthVars } from "../env";
import { signToken } from "./jwt";

// The access tokens this service issues at sign-in and refresh: HS256 with JWT_SECRET, one hour
// (Flashback's lifetime), with Flashback's claims (`userId`, `email`, `orgId`, `type`) beside `sub`,
// and `sid`, the session whose end refuses them on the next request.

export const ACCESS_TOKEN_TTL_SECONDS = 3600;

/** Whether this deployment signs its own tokens: with an external identity provider, that one does. */
export function signsOwnTokens(env: AuthVars): boolean {
  return parseAuthConfig(env).JWT_ALG === "HS256";
}

/** An access token for `user` in session `sessionId`; `expiresAt` in milliseconds since the epoch. */
export async function issueAccessToken(env: AuthVars, user: UserRow, sessionId: string, now: Date) {
  const config = parseAuthConfig(env);
  const iat = Math.floor(now.getTime() / 1000);
  const exp = iat + ACCESS_TOKEN_TTL_SECONDS;
  const token = await signToken(
    {
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
    },
    config.JWT_SECRET ?? "",
  );
  return { token, expiresAt: exp * 1000 };
}
