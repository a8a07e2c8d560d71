import { decodeBase64Url, encodeBase64Url } from "../lib/base64url";

// Stored as `pbkdf2-sha256$<iterations>$<salt>$<hash>` (base64url), so the cost can be
// raised later and old hashes still verify. Workers refuse PBKDF2 above 100,000
// iterations (local workerd does not), so that is both our cost and a hard ceiling.
export const PBKDF2_ITERATIONS = 100_000;
export const PBKDF2_MAX_ITERATIONS = 100_000;
const SCHEME = "pbkdf2-sha256";
const SALT_BYTES = 16;
const HASH_BYTES = 32;

async function derive(password: string, salt: Uint8Array, iterations: number, bytes: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, bytes * 8);
  return new Uint8Array(bits);
}

export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > PBKDF2_MAX_ITERATIONS) {
    throw new RangeError(`PBKDF2 iterations must be between 1 and ${PBKDF2_MAX_ITERATIONS}`);
  }
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, iterations, HASH_BYTES);
  return [SCHEME, iterations, encodeBase64Url(salt), encodeBase64Url(hash)].join("$");
}

export type ParsedHash = { iterations: number; salt: Uint8Array; hash: Uint8Array };

function parsePasswordHash(stored: string): ParsedHash | null {
  const [scheme, rounds, salt, hash, ...rest] = stored.split("$");
  if (scheme !== SCHEME || rest.length > 0 || !rounds || !salt || !hash || !/^\d{1,7}$/.test(rounds)) return null;
  const iterations = Number(rounds);
  const saltBytes = decodeBase64Url(salt);
  const hashBytes = decodeBase64Url(hash);
  if (iterations < 1 || !saltBytes || !hashBytes || hashBytes.length === 0) return null;
  return { iterations, salt: saltBytes, hash: hashBytes };
}

/** Compares without an early exit, so timing does not reveal how many bytes matched. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

// A hash of a random password nobody knows, with the current parameters: what a password is checked
// against when there is no usable hash (no account, an account without a password, a malformed or
// over-cost hash), so those cost the same work as a wrong password and cannot be told apart by it.
const NO_ACCOUNT_HASH = "pbkdf2-sha256$100000$TZJPnpZyMhj-mNq-KQGnPQ$SsP1plTdjoqRR3ZKMTJDX5uRpzqn7MrU7o22C2EBg6U";

/**
 * Checks a password against a stored hash, or against NO_ACCOUNT_HASH when there is none. An
 * unusable hash (malformed, or above the platform ceiling, which would also cost too much) never
 * matches, after the same work.
 */
export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  const parsed = stored === undefined ? null : parsePasswordHash(stored);
  const usable = parsed !== null && parsed.iterations <= PBKDF2_MAX_ITERATIONS;
  const against = usable ? parsed : (parsePasswordHash(NO_ACCOUNT_HASH) as ParsedHash);
  const candidate = await derive(password, against.salt, against.iterations, against.hash.length);
  return usable && timingSafeEqual(candidate, against.hash);
}
