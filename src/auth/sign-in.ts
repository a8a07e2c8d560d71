import type { Db } from "../db/client";
import type { UserRow } from "../db/schema";
import { openSession } from "../db/sessions";
import type { AuthVars } from "../env";
import { issueAccessToken } from "./access-token";
import { newOpaqueToken } from "./opaque-token";

export type SignedIn = { accessToken: string; refreshToken: string; tokenId: string; expiresAt: number };

/**
 * Opens a session for `user` and issues its first tokens (sign-in, and verification of an address,
 * which signs the user in). Undefined when the user may no longer sign in.
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
  const access = await issueAccessToken(env, user, tokenId, now);
  return { accessToken: access.token, refreshToken: refresh.token, tokenId, expiresAt: access.expiresAt };
}
