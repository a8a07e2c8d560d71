import { jwksSchema, type AuthConfig, type Jwk } from "../env";
import { decodeBase64Url, decodeBase64UrlText, encodeBase64Url, encodeBase64UrlText } from "../lib/base64url";

// Bearer-token verification with Web Crypto (RFC 7519, RFC 8725). Written here rather than
// taken from hono/jwt because that one does not require `exp`, has no clock-skew leeway and
// imports the key on every call; everything the token says about the algorithm is ignored
// in favour of the configured one.

export const LEEWAY_SECONDS = 60;
export const MAX_TOKEN_LENGTH = 8192;

export type VerifiedToken = { userId: string; orgId?: string; iat?: number };

export class TokenError extends Error {}

type Algorithm = AuthConfig["JWT_ALG"];

const IMPORT_PARAMS = {
  HS256: { name: "HMAC", hash: "SHA-256" },
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
} as const;

const VERIFY_PARAMS = {
  HS256: { name: "HMAC" },
  RS256: { name: "RSASSA-PKCS1-v1_5" },
  ES256: { name: "ECDSA", hash: "SHA-256" },
} as const;

function fitsAlgorithm(jwk: Jwk, alg: Algorithm): boolean {
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (jwk.use !== undefined && jwk.use !== "sig") return false;
  return alg === "RS256" ? jwk.kty === "RSA" : jwk.kty === "EC" && jwk.crv === "P-256";
}

/** Resolves the verification key for a token header; keys are imported once and kept. */
type KeyResolver = (kid: unknown) => Promise<CryptoKey | undefined>;

function secretKeyResolver(secret: string): KeyResolver {
  const key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), IMPORT_PARAMS.HS256, false, ["verify"]);
  return () => key;
}

// For a remote key set: refetch every 10 minutes, and on an unknown `kid` (a rotation) at most
// every 30 seconds; give up on a fetch after 5 seconds and keep serving the last good set.
export const JWKS_REFRESH_MS = 10 * 60_000;
export const JWKS_COOLDOWN_MS = 30_000;
const JWKS_TIMEOUT_MS = 5_000;

type KeySource = { load: () => Promise<Jwk[]>; remote: boolean };

function remoteKeySource(url: string, fetcher: typeof fetch): KeySource {
  return {
    remote: true,
    load: async () => {
      const response = await fetcher(url, {
        headers: { Accept: "application/json" },
        signal: AbortSignal.timeout(JWKS_TIMEOUT_MS),
      });
      if (!response.ok) throw new Error(`JWKS ${url} answered ${response.status}`);
      return jwksSchema.parse(await response.json()).keys;
    },
  };
}

function jwksKeyResolver(source: KeySource, alg: Exclude<Algorithm, "HS256">, clock: () => number): KeyResolver {
  const imported = new WeakMap<Jwk, Promise<CryptoKey>>();
  const importOnce = (jwk: Jwk) => {
    let key = imported.get(jwk);
    if (!key) {
      const { alg: _alg, use: _use, key_ops: _ops, ...material } = jwk;
      key = crypto.subtle.importKey("jwk", material as JsonWebKey, IMPORT_PARAMS[alg], false, ["verify"]);
      imported.set(jwk, key);
    }
    return key;
  };
  let current: Promise<Jwk[]> | undefined;
  let loadedAt = -Infinity;
  const reload = () => {
    loadedAt = clock();
    const previous = current;
    const next = source.load().then(
      (keys) => keys.filter((jwk) => fitsAlgorithm(jwk, alg)),
      (error: unknown) => {
        if (!previous) throw error;
        console.error("JWKS refresh failed; keeping the previous keys", error);
        return previous;
      },
    );
    current = next;
    next.catch(() => {
      if (current === next) current = undefined;
    });
    return next;
  };
  // `kid` is untrusted input: it only ever selects from this in-memory set (RFC 8725 §3.10).
  const pick = (keys: Jwk[], kid: unknown) =>
    kid === undefined ? (keys.length === 1 ? keys[0] : undefined) : keys.find((k) => k.kid === kid);

  return async (kid) => {
    const stale = source.remote && clock() - loadedAt > JWKS_REFRESH_MS;
    let jwk = pick(await (current && !stale ? current : reload()), kid);
    if (!jwk && source.remote && kid !== undefined && clock() - loadedAt > JWKS_COOLDOWN_MS) {
      jwk = pick(await reload(), kid);
    }
    return jwk ? importOnce(jwk) : undefined;
  };
}

function parseJsonObject(part: string): Record<string, unknown> {
  const text = decodeBase64UrlText(part);
  if (text === null) throw new TokenError("token is not base64url");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TokenError("token is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new TokenError("token part is not an object");
  return value as Record<string, unknown>;
}

function numericDate(payload: Record<string, unknown>, claim: string, required: boolean): number | undefined {
  const value = payload[claim];
  if (value === undefined && !required) return undefined;
  // A NumericDate is a JSON number; strings, null and non-finite values are refused, not skipped.
  if (typeof value !== "number" || !Number.isFinite(value)) throw new TokenError(`${claim} must be a NumericDate`);
  return value;
}

function checkClaims(payload: Record<string, unknown>, config: AuthConfig, now: number): VerifiedToken {
  const exp = numericDate(payload, "exp", true) as number;
  if (now > exp + LEEWAY_SECONDS) throw new TokenError("token expired");
  const nbf = numericDate(payload, "nbf", false);
  if (nbf !== undefined && nbf > now + LEEWAY_SECONDS) throw new TokenError("token not yet valid");
  const iat = numericDate(payload, "iat", false);
  if (iat !== undefined && iat > now + LEEWAY_SECONDS) throw new TokenError("token issued in the future");

  if (config.JWT_ISSUER !== undefined && payload.iss !== config.JWT_ISSUER) throw new TokenError("wrong issuer");
  if (config.JWT_AUDIENCE !== undefined) {
    const aud = payload.aud;
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (!audiences.includes(config.JWT_AUDIENCE)) throw new TokenError("wrong audience");
  }
  // Refresh, invite or reset tokens must never pass as access tokens (RFC 8725 §3.11).
  if (payload.type !== undefined && payload.type !== "access") throw new TokenError("not an access token");

  // Flashback's tokens name the user `userId`; the standard claim is `sub`.
  const subject = "sub" in payload ? payload.sub : payload.userId;
  if (typeof subject !== "string" || subject.length === 0) throw new TokenError("token has no subject");
  if (payload.orgId !== undefined && typeof payload.orgId !== "string") throw new TokenError("orgId must be a string");
  return {
    userId: subject,
    ...(typeof payload.orgId === "string" ? { orgId: payload.orgId } : {}),
    ...(iat === undefined ? {} : { iat }),
  };
}

export type Verifier = (token: string, now?: number) => Promise<VerifiedToken>;

export type VerifierOptions = { fetch?: typeof fetch; clock?: () => number };

export function createVerifier(config: AuthConfig, options: VerifierOptions = {}): Verifier {
  const alg = config.JWT_ALG;
  const inline = config.JWT_JWKS?.keys ?? [];
  const source: KeySource = config.JWT_JWKS_URL
    ? remoteKeySource(config.JWT_JWKS_URL, options.fetch ?? ((input, init) => fetch(input, init)))
    : { remote: false, load: async () => inline };
  const resolveKey =
    alg === "HS256" ? secretKeyResolver(config.JWT_SECRET ?? "") : jwksKeyResolver(source, alg, options.clock ?? Date.now);

  return async (token, now = Math.floor(Date.now() / 1000)) => {
    if (token.length > MAX_TOKEN_LENGTH) throw new TokenError("token too long");
    const parts = token.split(".");
    if (parts.length !== 3) throw new TokenError("token is not a JWS compact serialization");
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];

    const header = parseJsonObject(headerPart);
    // The algorithm is pinned by configuration (RFC 8725 §3.1); `none` can never match.
    if (header.alg !== alg) throw new TokenError("unexpected algorithm");
    if (header.crit !== undefined) throw new TokenError("unsupported critical header");
    if (header.typ !== undefined && !(typeof header.typ === "string" && /^(jwt|at\+jwt)$/i.test(header.typ))) {
      throw new TokenError("unexpected token type");
    }

    const signature = decodeBase64Url(signaturePart);
    if (!signature || signature.length === 0) throw new TokenError("token signature is not base64url");
    const key = await resolveKey(header.kid);
    if (!key) throw new TokenError("no key for token");
    const signed = new TextEncoder().encode(`${headerPart}.${payloadPart}`);
    const valid = await crypto.subtle.verify(VERIFY_PARAMS[alg], key, signature, signed).catch(() => false);
    if (!valid) throw new TokenError("bad signature");

    return checkClaims(parseJsonObject(payloadPart), config, now);
  };
}

/** Issues an HS256 access token; used by the local tooling and the tests. */
export async function signToken(claims: Record<string, unknown>, secret: string): Promise<string> {
  const header = encodeBase64UrlText(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = encodeBase64UrlText(JSON.stringify(claims));
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), IMPORT_PARAMS.HS256, false, ["sign"]);
  const signature = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${header}.${payload}`));
  return `${header}.${payload}.${encodeBase64Url(new Uint8Array(signature))}`;
}
