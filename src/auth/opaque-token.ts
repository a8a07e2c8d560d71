import { encodeBase64Url } from "../lib/base64url";
import { sha256Hex } from "../lib/sha256";

// Opaque tokens (email verification links, refresh tokens) are 32 random bytes, base64url. Only
// their SHA-256 is stored, so the database, its backups and its logs never hold a usable token: the
// plaintext exists only with its holder. 256 bits cannot be guessed, so a plain hash (no salt, no
// stretching) is enough and lets a presented token be found by an index lookup.

const TOKEN_BYTES = 32;

export const opaqueTokenHash = (token: string): Promise<string> => sha256Hex(token);

export async function newOpaqueToken(): Promise<{ token: string; hash: string }> {
  const token = encodeBase64Url(crypto.getRandomValues(new Uint8Array(TOKEN_BYTES)));
  return { token, hash: await opaqueTokenHash(token) };
}
