// A client sends the same access token with every request until it expires. Its signature and
// claims, once verified, stand as long as the token has not expired and the key that verified it
// is still the key its `kid` selects; so each isolate keeps what it verified, by the token's exact
// text, and verifies a token again only when that no longer holds (a key rotated out of the set,
// or replaced). Only the verification is kept: whether the caller and their session still stand
// is read from the database on every request (src/db/verdict.ts).

/** How many verified tokens an isolate keeps; the one unused the longest leaves first. */
const VERIFIED_TOKENS_KEPT = 1024;

export type Verified<Claims> = {
  claims: Claims;
  /** The header's `kid` and the key it selected when the token was verified. */
  kid: unknown;
  key: CryptoKey;
  /** The token's `exp` and the time of the verification, in seconds. */
  exp: number;
  verifiedAt: number;
};

export function verifiedTokens<Claims>(limit = VERIFIED_TOKENS_KEPT) {
  const kept = new Map<string, Verified<Claims>>();
  return {
    /**
     * The verification of `token`, while it still holds at `now` (in seconds, jose's `exp` rule
     * with `leeway`): no later than the token's expiry, and not before the verification itself,
     * since a token valid at one time may not be at an earlier one (`nbf`, a future `iat`).
     */
    get(token: string, now: number, leeway: number): Verified<Claims> | undefined {
      const found = kept.get(token);
      if (!found) return undefined;
      if (found.exp <= now - leeway) {
        kept.delete(token);
        return undefined;
      }
      if (now < found.verifiedAt) return undefined;
      // Used again: it is now the last to leave.
      kept.delete(token);
      kept.set(token, found);
      return found;
    },
    forget(token: string): void {
      kept.delete(token);
    },
    remember(token: string, verified: Verified<Claims>): void {
      kept.delete(token);
      if (kept.size >= limit) kept.delete(kept.keys().next().value as string);
      kept.set(token, verified);
    },
  };
}
