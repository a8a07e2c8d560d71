import type { Db } from "../db/client";
import type { UserRow } from "../db/schema";
import { openSession } from "../db/sessions";
import type { AuthVars } from "./config";
import { issueAccessToken } from "./access-token";
import { newOpaqueToken } from "./opaque-token";

export type SignedIn = { accessToken: string; refreshToken: string; tokenId: string; expiresAt: number };

/**
 * Opens a session for `user` and issues its first tokens (sign-in). Undefined when the user may no
 * longer sign in.
 */
export async function startSession(
  env: AuthVars,
  db: Db,
  user: UserRow,
  deviceInfo: string | null,
  now: Date,
): Promise<SignedIn | undefined> {
  const refresh = await newOpaqueToken();
  const tokenId = await openSession(db, user.id, refresh.hash, deviceInfo, now);
  if (!tokenId) return undefined;
  return signedIn(env, user, tokenId, refresh.token, now);
}

/** The tokens of a session just opened (`sessionId`, with `refreshToken` as its first refresh token). */
export async function signedIn(
  env: AuthVars,
  user: UserRow,
  sessionId: string,
  refreshToken: string,
  now: Date,
): Promise<SignedIn> {
  const access = await issueAccessToken(env, user, sessionId, now);
  return { accessToken: access.token, refreshToken, tokenId: sessionId, expiresAt: access.expiresAt };
}
