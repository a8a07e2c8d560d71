import { importJWK, jwtVerify, SignJWT, type JWK, type JWTHeaderParameters } from "jose";
import { JOSEError } from "jose/errors";
import { issuesOwnTokens, jwksSchema, publishedKeys, type AuthConfig, type Jwk } from "./config";
import { errorClass, log } from "../log";
import { verifiedTokens } from "./verified-tokens";

// Bearer-token verification (RFC 7519, RFC 8725) with jose: the algorithm is pinned by
// configuration, `exp` is required, time claims get 60 s of leeway, and `iss`/`aud` are checked
// when configured (always, for an external identity provider: see ./config.ts). Keys are imported
// once per isolate, here rather than through jose's createRemoteJWKSet, because that one does not
// cool down after a failed fetch (every request would wait for a new one while the provider is
// down), fails a request when a refresh fails instead of keeping the last good keys, tries every
// key when a token has no `kid`, and reads Date.now() where tests need a clock.

export const LEEWAY_SECONDS = 60;
const MAX_TOKEN_LENGTH = 8192;

/** `sessionId` is the `sid` of a token this service issued at sign-in (src/routes/sessions.ts). */
export type VerifiedToken = { userId: string; orgId?: string; iat?: number; sessionId?: string };

/** The token is refused: 401 invalid_token. */
export class TokenError extends Error {}

/** No key set has been loaded yet and the provider cannot be reached: 503, retry after `retryAfterSeconds`. */
export class KeySetUnavailableError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super("The identity provider's key set is not available");
  }
}

type Algorithm = AuthConfig["JWT_ALG"];
type AsymmetricAlgorithm = Exclude<Algorithm, "HS256">;

const HMAC_SHA256 = { name: "HMAC", hash: "SHA-256" } as const;

function fitsAlgorithm(jwk: Jwk, alg: AsymmetricAlgorithm): boolean {
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (jwk.use !== undefined && jwk.use !== "sig") return false;
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes("verify"))) return false;
  return alg === "RS256" ? jwk.kty === "RSA" : jwk.kty === "EC" && jwk.crv === "P-256";
}

/** Only the public members are imported: a private key published by mistake is used as its public half. */
function publicMembers(jwk: Jwk): JWK {
  const { kty, n, e, crv, x, y } = jwk;
  return (kty === "RSA" ? { kty, n, e } : { kty, crv, x, y }) as JWK;
}

/** Resolves the verification key for a token header's `kid`; undefined when no key fits. */
type KeyResolver = (kid: unknown) => Promise<CryptoKey | undefined>;

function secretKeyResolver(secret: string): KeyResolver {
  const key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), HMAC_SHA256, false, ["verify"]);
  return () => key;
}

// For a remote key set: refetch every 10 minutes, and on an unknown `kid` (a rotation) at most
// every 30 seconds; give up on a fetch after 5 seconds. After a failed fetch (first or later) the
// endpoint is not asked again for 30 seconds either; meanwhile the last good keys stay in use, or,
// when none ever loaded, requests are answered 503 at once instead of each waiting for a fetch.
export const JWKS_REFRESH_MS = 10 * 60_000;
export const JWKS_COOLDOWN_MS = 30_000;
const JWKS_TIMEOUT_MS = 5_000;

type KeySource = { load: () => Promise<Jwk[]>; remote: boolean };

function remoteKeySource(url: string, fetcher: typeof fetch): KeySource {
  return {
    remote: true,
    load: async () => {
      const response = await fetcher(url, {
        headers: { Accept: "application/json, application/jwk-set+json" },
        signal: AbortSignal.timeout(JWKS_TIMEOUT_MS),
      });
      if (!response.ok) throw new Error(`JWKS endpoint answered ${response.status}`);
      return jwksSchema.parse(await response.json()).keys;
    },
  };
}

function jwksKeyResolver(source: KeySource, alg: AsymmetricAlgorithm, clock: () => number): KeyResolver {
  // One import per key, kept across refreshes of the set while the key stays in it; a failed
  // import is forgotten, so the next token for that key tries again.
  const imported = new Map<string, Promise<CryptoKey>>();
  const importOnce = (jwk: Jwk): Promise<CryptoKey> => {
    const material = publicMembers(jwk);
    const id = JSON.stringify(material);
    let key = imported.get(id);
    if (!key) {
      const pending = importJWK(material, alg).then((result) => {
        if (!(result instanceof CryptoKey) || result.type !== "public") throw new TypeError("not a public key");
        return result;
      });
      pending.catch(() => {
        if (imported.get(id) === pending) imported.delete(id);
      });
      imported.set(id, pending);
      key = pending;
    }
    return key;
  };
  const forgetRemoved = (set: Jwk[]) => {
    const kept = new Set(set.map((jwk) => JSON.stringify(publicMembers(jwk))));
    for (const id of imported.keys()) if (!kept.has(id)) imported.delete(id);
  };

  let keys: Jwk[] | undefined; // the last good set
  let loadedAt = -Infinity; // when the last good set was asked for
  let attemptedAt = -Infinity; // when the endpoint was last asked, successfully or not
  let pending: Promise<void> | undefined;
  const reload = (): Promise<void> => {
    if (pending) return pending;
    const startedAt = clock();
    attemptedAt = startedAt;
    pending = source
      .load()
      .then(
        (loaded) => {
          keys = loaded.filter((jwk) => fitsAlgorithm(jwk, alg));
          loadedAt = startedAt;
          forgetRemoved(keys);
        },
        (error: unknown) => {
          log({
            level: "error",
            event: keys ? "jwks_refresh_failed_keeping_previous_keys" : "jwks_fetch_failed_no_keys_yet",
            error: { class: errorClass(error) },
          });
        },
      )
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  const coolingDown = () => clock() - attemptedAt <= JWKS_COOLDOWN_MS;
  const stale = () => source.remote && clock() - loadedAt > JWKS_REFRESH_MS;
  // `kid` is untrusted input: it only ever selects from this in-memory set (RFC 8725 §3.10).
  const pick = (set: Jwk[], kid: unknown) =>
    kid === undefined ? (set.length === 1 ? set[0] : undefined) : set.find((k) => k.kid === kid);

  return async (kid) => {
    // While good keys exist, only the request that starts a refresh waits for it; the others verify
    // with the keys they have.
    if (pending && !keys) await pending;
    else if (!pending && (!keys || stale())) {
      if (!source.remote || !coolingDown()) await reload();
    }
    if (!keys) {
      const remaining = attemptedAt + JWKS_COOLDOWN_MS - clock();
      throw new KeySetUnavailableError(Math.max(1, Math.ceil(remaining / 1000)));
    }
    let jwk = pick(keys, kid);
    if (!jwk && source.remote && kid !== undefined && !coolingDown()) {
      await reload();
      jwk = pick(keys, kid);
    }
    if (!jwk) return undefined;
    try {
      return await importOnce(jwk);
    } catch (error) {
      log({ level: "error", event: "jwks_key_import_failed", error: { class: errorClass(error) } });
      throw new TokenError("key cannot be imported");
    }
  };
}

// RFC 7515 §7.1: three base64url parts without padding. jose's decoder also accepts padding and
// whitespace, so the one textual form is enforced here.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const ACCESS_TOKEN_TYP = /^(jwt|at\+jwt)$/i;
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function checkHeader(header: JWTHeaderParameters): void {
  if (header.crit !== undefined) throw new TokenError("unsupported critical header");
  // jose's `typ` option takes one value and requires the header; absent, JWT and at+jwt are all fine here.
  if (header.typ !== undefined && !(typeof header.typ === "string" && ACCESS_TOKEN_TYP.test(header.typ))) {
    throw new TokenError("unexpected token type");
  }
}

/**
 * The claims of an access token. `sid` names one of this service's sessions only in the tokens it
 * signs itself; an identity provider's `sid` (OIDC's session id) means nothing here.
 */
function accessClaims(payload: Record<string, unknown>, now: number, ownTokens: boolean): VerifiedToken {
  // jose has checked that iat, when present, is a number; a future one is refused here.
  const iat = typeof payload.iat === "number" ? payload.iat : undefined;
  if (iat !== undefined && iat > now + LEEWAY_SECONDS) throw new TokenError("token issued in the future");
  // Refresh, invite or reset tokens must never pass as access tokens (RFC 8725 §3.11).
  if (payload.type !== undefined && payload.type !== "access") throw new TokenError("not an access token");

  // Flashback's tokens name the user `userId`; the standard claim is `sub`.
  const subject = "sub" in payload ? payload.sub : payload.userId;
  if (typeof subject !== "string" || subject.length === 0) throw new TokenError("token has no subject");
  if (payload.orgId !== undefined && typeof payload.orgId !== "string") throw new TokenError("orgId must be a string");
  const sid = ownTokens ? payload.sid : undefined;
  if (sid !== undefined && !(typeof sid === "string" && SESSION_ID.test(sid))) throw new TokenError("sid must be a session id");
  return {
    userId: subject,
    ...(typeof payload.orgId === "string" ? { orgId: payload.orgId } : {}),
    ...(typeof sid === "string" ? { sessionId: sid } : {}),
    ...(iat !== undefined ? { iat } : {}),
  };
}

export type Verifier = (token: string, now?: number) => Promise<VerifiedToken>;

export type VerifierOptions = { fetch?: typeof fetch; clock?: () => number };

export function createVerifier(config: AuthConfig, options: VerifierOptions = {}): Verifier {
  const alg = config.JWT_ALG;
  // An identity provider's inline key set, or the public halves of this service's own signing keys.
  const inline = config.JWT_JWKS?.keys ?? publishedKeys(config);
  const source: KeySource = config.JWT_JWKS_URL
    ? remoteKeySource(config.JWT_JWKS_URL, options.fetch ?? ((input, init) => fetch(input, init)))
    : { remote: false, load: async () => inline };
  const resolveKey =
    alg === "HS256" ? secretKeyResolver(config.JWT_SECRET ?? "") : jwksKeyResolver(source, alg, options.clock ?? Date.now);

  const kept = verifiedTokens<VerifiedToken>();

  return async (token, now = Math.floor(Date.now() / 1000)) => {
    if (token.length > MAX_TOKEN_LENGTH) throw new TokenError("token too long");
    if (!COMPACT_JWS.test(token)) throw new TokenError("token is not a JWS compact serialization");
    const known = kept.get(token, now, LEEWAY_SECONDS);
    // The key is resolved as for a new token (a stale set is refreshed): the same key, the same verdict.
    if (known) {
      if ((await resolveKey(known.kid)) === known.key) return known.claims;
      kept.forget(token);
    }

    let used: { kid: unknown; key: CryptoKey } | undefined;
    const getKey = async (header: JWTHeaderParameters) => {
      checkHeader(header);
      const key = await resolveKey(header.kid);
      if (!key) throw new TokenError("no key for token");
      used = { kid: header.kid, key };
      return key;
    };
    let payload;
    try {
      // The algorithm is pinned by configuration (RFC 8725 §3.1); `none` can never match.
      ({ payload } = await jwtVerify(token, getKey, {
        algorithms: [alg],
        requiredClaims: ["exp"],
        clockTolerance: LEEWAY_SECONDS,
        currentDate: new Date(now * 1000),
        ...(config.JWT_ISSUER !== undefined ? { issuer: config.JWT_ISSUER } : {}),
        ...(config.JWT_AUDIENCE !== undefined ? { audience: config.JWT_AUDIENCE } : {}),
      }));
    } catch (error) {
      if (error instanceof TokenError || error instanceof KeySetUnavailableError) throw error;
      // jose refuses a token with a JOSEError, and a key unfit for the algorithm with a TypeError.
      if (error instanceof JOSEError || error instanceof TypeError) throw new TokenError("token refused");
      throw error;
    }
    const claims = accessClaims(payload, now, issuesOwnTokens(config));
    // `exp` is required (jose has checked it is a number).
    if (used) kept.remember(token, { claims, ...used, exp: payload.exp as number, verifiedAt: now });
    return claims;
  };
}

/** Issues an HS256 access token; used by the local tooling and the tests. */
export async function signToken(claims: Record<string, unknown>, secret: string): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(new TextEncoder().encode(secret));
}
