import { afterEach, describe, expect, it, vi } from "vitest";
import {
  createVerifier,
  JWKS_COOLDOWN_MS,
  JWKS_REFRESH_MS,
  KeySetUnavailableError,
  LEEWAY_SECONDS,
  TokenError,
} from "../../src/auth/jwt";
import { verifiedTokens } from "../../src/auth/verified-tokens";
import { parseAuthConfig, type AuthVars } from "../../src/auth/config";
import { b64url, encodePart } from "../helpers/jws";

// The verifier on its own, with explicit configurations and an explicit clock.

type Json = Record<string, unknown>;
type Vars = AuthVars;

const SECRET = "unit-test-secret-0123456789abcdef0123";
const NOW = 1_800_000_000;
const USER = "0196f1b2-7c3a-7d4e-8f10-2a3b4c5d6e7f";

const encoder = new TextEncoder();

/** Signs `header.payload` with any Web Crypto key and algorithm parameters. */
async function sign(header: Json, payload: Json, key: CryptoKey, params: string | SubtleCryptoSignAlgorithm): Promise<string> {
  const input = `${encodePart(header)}.${encodePart(payload)}`;
  return `${input}.${b64url(new Uint8Array(await crypto.subtle.sign(params, key, encoder.encode(input))))}`;
}

async function hmacKey(secret: string | Uint8Array): Promise<CryptoKey> {
  const bytes = typeof secret === "string" ? encoder.encode(secret) : secret;
  return crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

async function hs256(payload: Json, header: Json = { alg: "HS256", typ: "JWT" }, secret: string | Uint8Array = SECRET) {
  return sign(header, payload, await hmacKey(secret), "HMAC");
}

const IAT = NOW - 10;
const claims = (overrides: Json = {}): Json => ({ sub: USER, iat: IAT, exp: NOW + 3600, ...overrides });
/** What the verifier returns for a token made from `claims()`. */
const verified = (overrides: Json = {}) => ({ userId: USER, iat: IAT, ...overrides });

// An external identity provider's tokens: its issuer, and this API as their audience.
const ISS = "https://id.example.test";
const AUD = "org-api";
const idp = (overrides: Json = {}): Json => claims({ iss: ISS, aud: AUD, ...overrides });

const config = (vars: Vars) => parseAuthConfig(vars);
const hsVerifier = (vars: Vars = {}) => createVerifier(config({ JWT_ALG: "HS256", JWT_SECRET: SECRET, ...vars }));

async function expectRefused(promise: Promise<unknown>): Promise<void> {
  await expect(promise).rejects.toBeInstanceOf(TokenError);
}

describe("HS256", () => {
  it("accepts a well-signed token and returns its subject", async () => {
    await expect(hsVerifier()(await hs256(claims()), NOW)).resolves.toEqual(verified());
  });

  it("returns the orgId claim when present", async () => {
    const orgId = "0196f1b2-7c3a-7d4e-8f10-000000000001";
    await expect(hsVerifier()(await hs256(claims({ orgId })), NOW)).resolves.toEqual(verified({ orgId }));
  });

  it("refuses a non-string orgId claim", async () => {
    await expectRefused(hsVerifier()(await hs256(claims({ orgId: 7 })), NOW));
  });

  it("takes userId when sub is absent and sub when both are present", async () => {
    const other = "0196f1b2-7c3a-7d4e-8f10-000000000002";
    await expect(hsVerifier()(await hs256(claims({ sub: undefined, userId: other })), NOW)).resolves.toEqual(
      verified({ userId: other }),
    );
    await expect(hsVerifier()(await hs256(claims({ userId: other })), NOW)).resolves.toEqual(verified());
  });

  it("refuses a present but null sub instead of falling back to userId", async () => {
    await expectRefused(hsVerifier()(await hs256(claims({ sub: null, userId: "0196f1b2-7c3a-7d4e-8f10-000000000002" })), NOW));
  });

  it("refuses a token signed with another secret", async () => {
    await expectRefused(hsVerifier()(await hs256(claims(), undefined, "another-secret-0123456789abcdef0123"), NOW));
  });

  it("refuses a token longer than 8192 characters before looking at it", async () => {
    const token = await hs256(claims({ filler: "x".repeat(6200) }));
    expect(token.length).toBeGreaterThan(8192);
    await expectRefused(hsVerifier()(token, NOW));
  });
});

describe("issuer and audience", () => {
  const strict = () => hsVerifier({ JWT_ISSUER: ISS, JWT_AUDIENCE: AUD });

  it("accepts the configured issuer and audience", async () => {
    await expect(strict()(await hs256(claims({ iss: ISS, aud: AUD })), NOW)).resolves.toEqual(verified());
  });

  it("accepts an audience array that contains the configured audience", async () => {
    await expect(strict()(await hs256(claims({ iss: ISS, aud: ["billing", AUD] })), NOW)).resolves.toEqual(verified());
  });

  it.each<[string, Json]>([
    ["a wrong issuer", { iss: "https://evil.example.test", aud: AUD }],
    ["a missing issuer", { aud: AUD }],
    ["a wrong audience", { iss: ISS, aud: "billing" }],
    ["a missing audience", { iss: ISS }],
    ["an audience array without ours", { iss: ISS, aud: ["billing", "reports"] }],
    ["an audience that merely starts with ours", { iss: ISS, aud: `${AUD}-admin` }],
  ])("refuses %s", async (_name, overrides) => {
    await expectRefused(strict()(await hs256(claims(overrides)), NOW));
  });

  it("ignores iss and aud when neither is configured", async () => {
    await expect(hsVerifier()(await hs256(claims({ iss: "anyone", aud: "anything" })), NOW)).resolves.toEqual(verified());
  });
});

describe("time claims with a 60 s leeway", () => {
  it("uses a leeway of 60 seconds", () => {
    expect(LEEWAY_SECONDS).toBe(60);
  });

  it.each<[string, Json, boolean]>([
    // RFC 7519 §4.1.4: the current time must be before exp (plus the leeway), as jose checks it.
    ["exp = now - 59", { exp: NOW - 59 }, true],
    ["exp = now - 60", { exp: NOW - 60 }, false],
    ["nbf = now + 60", { nbf: NOW + 60 }, true],
    ["nbf = now + 61", { nbf: NOW + 61 }, false],
    ["iat = now + 60", { iat: NOW + 60 }, true],
    ["iat = now + 61", { iat: NOW + 61 }, false],
  ])("%s accepted: %s", async (_name, overrides, accepted) => {
    const result = hsVerifier()(await hs256(claims(overrides)), NOW);
    if (accepted) await expect(result).resolves.toEqual(verified({ iat: claims(overrides).iat }));
    else await expectRefused(result);
  });

  it.each<[string, Json]>([
    ["a missing exp", { exp: undefined }],
    ["a string exp", { exp: String(NOW + 3600) }],
    ["a null exp", { exp: null }],
    ["a string nbf", { nbf: "0" }],
    ["a string iat", { iat: "0" }],
  ])("refuses %s", async (_name, overrides) => {
    await expectRefused(hsVerifier()(await hs256(claims(overrides)), NOW));
  });
});

type KeyPair = { privateKey: CryptoKey; publicJwk: JsonWebKey & { kid?: string } };

/** Narrows generateKey's result: asymmetric algorithms always yield a pair. */
function asPair(key: CryptoKey | CryptoKeyPair): CryptoKeyPair {
  if (!("privateKey" in key)) throw new Error("expected a key pair");
  return key;
}

async function rsaPair(kid?: string): Promise<KeyPair> {
  const pair = asPair(
    await crypto.subtle.generateKey(
      { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      true,
      ["sign", "verify"],
    ),
  );
  const publicJwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
  return { privateKey: pair.privateKey, publicJwk: { ...publicJwk, ...(kid ? { kid } : {}) } };
}

async function ecPair(kid?: string): Promise<KeyPair> {
  const pair = asPair(await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]));
  const publicJwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
  return { privateKey: pair.privateKey, publicJwk: { ...publicJwk, ...(kid ? { kid } : {}) } };
}

const RS256 = "RSASSA-PKCS1-v1_5";
const ES256: SubtleCryptoSignAlgorithm = { name: "ECDSA", hash: "SHA-256" };

const jwksVerifier = (alg: "RS256" | "ES256", keys: JsonWebKey[]) =>
  createVerifier(config({ JWT_ALG: alg, JWT_JWKS: JSON.stringify({ keys }), JWT_ISSUER: ISS, JWT_AUDIENCE: AUD }));

describe("RS256 through a JWKS", () => {
  it("accepts a token signed by the key its kid names", async () => {
    const key = await rsaPair("k1");
    const token = await sign({ alg: "RS256", typ: "JWT", kid: "k1" }, idp(), key.privateKey, RS256);
    await expect(jwksVerifier("RS256", [key.publicJwk])(token, NOW)).resolves.toEqual(verified());
  });

  it("accepts a token without kid when the set holds a single usable key", async () => {
    const key = await rsaPair();
    const token = await sign({ alg: "RS256", typ: "JWT" }, idp(), key.privateKey, RS256);
    await expect(jwksVerifier("RS256", [key.publicJwk])(token, NOW)).resolves.toEqual(verified());
  });

  it("refuses a kid that is not in the set", async () => {
    const key = await rsaPair("k1");
    const token = await sign({ alg: "RS256", typ: "JWT", kid: "k9" }, idp(), key.privateKey, RS256);
    await expectRefused(jwksVerifier("RS256", [key.publicJwk])(token, NOW));
  });

  it("selects the key by kid among two keys", async () => {
    const [first, second] = [await rsaPair("k1"), await rsaPair("k2")];
    const verify = jwksVerifier("RS256", [first.publicJwk, second.publicJwk]);
    const signedBy = (key: KeyPair, kid?: string) =>
      sign({ alg: "RS256", typ: "JWT", ...(kid ? { kid } : {}) }, idp(), key.privateKey, RS256);

    await expect(verify(await signedBy(first, "k1"), NOW)).resolves.toEqual(verified());
    await expect(verify(await signedBy(second, "k2"), NOW)).resolves.toEqual(verified());
    await expectRefused(verify(await signedBy(second, "k1"), NOW));
  });

  it("refuses a token without kid when the set holds several usable keys", async () => {
    const [first, second] = [await rsaPair("k1"), await rsaPair("k2")];
    const verify = jwksVerifier("RS256", [first.publicJwk, second.publicJwk]);
    // No guessing: neither key is tried, not even the first one.
    await expectRefused(verify(await sign({ alg: "RS256", typ: "JWT" }, idp(), first.privateKey, RS256), NOW));
    await expectRefused(verify(await sign({ alg: "RS256", typ: "JWT" }, idp(), second.privateKey, RS256), NOW));
  });

  it("does not use a JWK whose alg differs from the configured one", async () => {
    const key = await rsaPair("k1");
    const token = await sign({ alg: "RS256", typ: "JWT", kid: "k1" }, idp(), key.privateKey, RS256);
    await expect(jwksVerifier("RS256", [{ ...key.publicJwk, alg: "RS256" }])(token, NOW)).resolves.toEqual(verified());
    await expectRefused(jwksVerifier("RS256", [{ ...key.publicJwk, alg: "RS512" }])(token, NOW));
  });

  it("does not use a JWK meant for encryption", async () => {
    const key = await rsaPair("k1");
    const token = await sign({ alg: "RS256", typ: "JWT", kid: "k1" }, idp(), key.privateKey, RS256);
    await expectRefused(jwksVerifier("RS256", [{ ...key.publicJwk, use: "enc" }])(token, NOW));
  });

  it.each<[string, (jwk: JsonWebKey) => Uint8Array]>([
    ["the public JWK JSON", (jwk) => encoder.encode(JSON.stringify(jwk))],
    ["the modulus bytes", (jwk) => encoder.encode(jwk.n ?? "")],
  ])("refuses an HS256 token HMAC-signed with %s (algorithm confusion)", async (_name, material) => {
    const key = await rsaPair("k1");
    const verify = jwksVerifier("RS256", [key.publicJwk]);
    const secret = material(key.publicJwk);
    await expectRefused(verify(await hs256(idp(), { alg: "HS256", typ: "JWT", kid: "k1" }, secret), NOW));
    // Nor does an RS256 header over an HMAC signature pass.
    await expectRefused(verify(await hs256(idp(), { alg: "RS256", typ: "JWT", kid: "k1" }, secret), NOW));
  });

  it("refuses an ES256 token when RS256 is configured, even if its key is in the set", async () => {
    const [rsa, ec] = [await rsaPair("rsa"), await ecPair("ec")];
    const verify = jwksVerifier("RS256", [rsa.publicJwk, ec.publicJwk]);
    await expectRefused(verify(await sign({ alg: "ES256", typ: "JWT", kid: "ec" }, idp(), ec.privateKey, ES256), NOW));
    await expectRefused(verify(await sign({ alg: "RS256", typ: "JWT", kid: "ec" }, idp(), ec.privateKey, ES256), NOW));
  });

  it("still checks the claims of a well-signed RS256 token", async () => {
    const key = await rsaPair("k1");
    const token = await sign({ alg: "RS256", typ: "JWT", kid: "k1" }, idp({ exp: NOW - 61 }), key.privateKey, RS256);
    await expectRefused(jwksVerifier("RS256", [key.publicJwk])(token, NOW));
  });
});

describe("ES256 through a JWKS", () => {
  it("accepts a token signed by the configured P-256 key", async () => {
    const key = await ecPair("e1");
    const token = await sign({ alg: "ES256", typ: "JWT", kid: "e1" }, idp(), key.privateKey, ES256);
    await expect(jwksVerifier("ES256", [key.publicJwk])(token, NOW)).resolves.toEqual(verified());
  });

  it("refuses a token signed by another P-256 key", async () => {
    const [trusted, attacker] = [await ecPair("e1"), await ecPair("e1")];
    const token = await sign({ alg: "ES256", typ: "JWT", kid: "e1" }, idp(), attacker.privateKey, ES256);
    await expectRefused(jwksVerifier("ES256", [trusted.publicJwk])(token, NOW));
  });

  it("refuses an RS256 token when ES256 is configured", async () => {
    const [ec, rsa] = [await ecPair("e1"), await rsaPair("r1")];
    const verify = jwksVerifier("ES256", [ec.publicJwk, rsa.publicJwk]);
    await expectRefused(verify(await sign({ alg: "RS256", typ: "JWT", kid: "r1" }, idp(), rsa.privateKey, RS256), NOW));
  });

  it("refuses alg none", async () => {
    const key = await ecPair("e1");
    const token = `${encodePart({ alg: "none", typ: "JWT" })}.${encodePart(idp())}.`;
    await expectRefused(jwksVerifier("ES256", [key.publicJwk])(token, NOW));
  });
});

describe("an external identity provider is strict", () => {
  it("refuses a token the same provider issued for another application or that another issuer signed", async () => {
    const key = await rsaPair("k1");
    const verify = jwksVerifier("RS256", [key.publicJwk]);
    const signed = (payload: Json) => sign({ alg: "RS256", typ: "JWT", kid: "k1" }, payload, key.privateKey, RS256);
    await expect(verify(await signed(idp()), NOW)).resolves.toEqual(verified());
    await expectRefused(verify(await signed(idp({ aud: "billing" })), NOW));
    await expectRefused(verify(await signed(idp({ aud: undefined })), NOW));
    await expectRefused(verify(await signed(idp({ iss: "https://other.example.test" })), NOW));
  });
});

describe("a JWKS key that cannot be imported", () => {
  // A modulus that is not base64url: Web Crypto refuses to import the key.
  const broken: JsonWebKey & { kid: string } = { kty: "RSA", kid: "bad", n: "not*base64url", e: "AQAB" };
  const jwkImports = (spy: { mock: { calls: unknown[][] } }, n: string | undefined) =>
    spy.mock.calls.filter(([format, data]) => format === "jwk" && (data as JsonWebKey).n === n).length;

  it("refuses the tokens of that key, accepts the others, and tries the import again on a later token", async () => {
    const good = await rsaPair("good");
    const verify = jwksVerifier("RS256", [broken, good.publicJwk]);
    const tokenFor = (kid: string) => sign({ alg: "RS256", typ: "JWT", kid }, idp(), good.privateKey, RS256);
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    // Counts the real imports (the calls go through to Web Crypto unchanged).
    const imports = vi.spyOn(crypto.subtle, "importKey");
    try {
      await expectRefused(verify(await tokenFor("bad"), NOW));
      await expect(verify(await tokenFor("good"), NOW)).resolves.toEqual(verified());
      await expectRefused(verify(await tokenFor("bad"), NOW));
      await expect(verify(await tokenFor("good"), NOW)).resolves.toEqual(verified());

      expect(jwkImports(imports, broken.n), "the failed import is not remembered").toBe(2);
      expect(jwkImports(imports, good.publicJwk.n), "the good key is imported once").toBe(1);
      expect(errors).toHaveBeenCalledWith(
        JSON.stringify({ level: "error", event: "jwks_key_import_failed", error: { class: "DOMException" } }),
      );
    } finally {
      imports.mockRestore();
      errors.mockRestore();
    }
  });
});

/** A stand-in for the identity provider's JWKS endpoint, counting how often it is asked. */
function jwksEndpoint(initial: JsonWebKey[]) {
  const endpoint = {
    keys: initial,
    failing: false,
    unreachable: false,
    requests: 0,
    fetch: (async () => {
      endpoint.requests++;
      if (endpoint.unreachable) throw new TypeError("Network connection lost.");
      if (endpoint.failing) return new Response("unavailable", { status: 503 });
      return Response.json({ keys: endpoint.keys });
    }) as typeof fetch,
  };
  return endpoint;
}

const JWKS_URL = "https://idp.example/.well-known/jwks.json";
const remoteVerifier = (endpoint: ReturnType<typeof jwksEndpoint>, clock: { now: number }) =>
  createVerifier(config({ JWT_ALG: "RS256", JWT_JWKS_URL: JWKS_URL, JWT_ISSUER: ISS, JWT_AUDIENCE: AUD }), {
    fetch: endpoint.fetch,
    clock: () => clock.now,
  });
const rsToken = (key: KeyPair, kid: string) => sign({ alg: "RS256", typ: "JWT", kid }, idp(), key.privateKey, RS256);

describe("RS256 through a JWKS URL", () => {
  it("fetches the key set once and reuses it for later tokens", async () => {
    const key = await rsaPair("k1");
    const endpoint = jwksEndpoint([key.publicJwk]);
    const clock = { now: 0 };
    const verify = remoteVerifier(endpoint, clock);
    await expect(verify(await rsToken(key, "k1"), NOW)).resolves.toEqual(verified());
    await expect(verify(await rsToken(key, "k1"), NOW)).resolves.toEqual(verified());
    expect(endpoint.requests).toBe(1);
  });

  it("picks up a rotated key on an unknown kid, but asks the endpoint at most once per cooldown", async () => {
    const old = await rsaPair("old");
    const rotated = await rsaPair("new");
    const endpoint = jwksEndpoint([old.publicJwk]);
    const clock = { now: 0 };
    const verify = remoteVerifier(endpoint, clock);
    await verify(await rsToken(old, "old"), NOW);
    endpoint.keys = [old.publicJwk, rotated.publicJwk];

    // Within the cooldown an unknown kid is refused without another request.
    clock.now = JWKS_COOLDOWN_MS - 1;
    await expectRefused(verify(await rsToken(rotated, "new"), NOW));
    expect(endpoint.requests).toBe(1);

    clock.now = JWKS_COOLDOWN_MS + 1;
    await expect(verify(await rsToken(rotated, "new"), NOW)).resolves.toEqual(verified());
    expect(endpoint.requests).toBe(2);
    await expectRefused(verify(await rsToken(rotated, "unknown"), NOW));
    expect(endpoint.requests).toBe(2);
  });

  it("refreshes a stale set and keeps the last good keys when the endpoint fails", async () => {
    const key = await rsaPair("k1");
    const endpoint = jwksEndpoint([key.publicJwk]);
    const clock = { now: 0 };
    const verify = remoteVerifier(endpoint, clock);
    await verify(await rsToken(key, "k1"), NOW);
    endpoint.failing = true;
    clock.now = JWKS_REFRESH_MS + 1;
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    await expect(verify(await rsToken(key, "k1"), NOW)).resolves.toEqual(verified());
    errors.mockRestore();
    expect(endpoint.requests).toBe(2);
  });

  it("fails as unavailable (not a token error) with the cooldown to wait when the key set was never available", async () => {
    const endpoint = jwksEndpoint([]);
    endpoint.failing = true;
    const verify = remoteVerifier(endpoint, { now: 0 });
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const result = verify(await rsToken(await rsaPair("k1"), "k1"), NOW);
    await expect(result).rejects.toBeInstanceOf(KeySetUnavailableError);
    await expect(result).rejects.toMatchObject({ retryAfterSeconds: JWKS_COOLDOWN_MS / 1000 });
    await expect(result).rejects.not.toBeInstanceOf(TokenError);
    errors.mockRestore();
  });
});

describe("a verified token is kept by its verifier", () => {
  // Signature checks are counted on the real Web Crypto, which still does every check.
  const countVerifications = () => vi.spyOn(crypto.subtle, "verify");
  afterEach(() => vi.restoreAllMocks());

  it("checks a token's signature once, and answers it the same while it stands", async () => {
    const verify = hsVerifier();
    const token = await hs256(claims());
    const checks = countVerifications();
    await expect(verify(token, NOW)).resolves.toEqual(verified());
    await expect(verify(token, NOW + 3000)).resolves.toEqual(verified());
    expect(checks).toHaveBeenCalledTimes(1);
    // Another token is verified on its own.
    await expect(verify(await hs256(claims({ iat: IAT + 1 })), NOW)).resolves.toEqual(verified({ iat: IAT + 1 }));
    expect(checks).toHaveBeenCalledTimes(2);
  });

  it("refuses a kept token once it has expired, as jose would", async () => {
    const verify = hsVerifier();
    const token = await hs256(claims({ exp: NOW + 100 }));
    await verify(token, NOW);
    await expect(verify(token, NOW + 100 + LEEWAY_SECONDS - 1)).resolves.toEqual(verified());
    await expectRefused(verify(token, NOW + 100 + LEEWAY_SECONDS));
  });

  it("does not answer from a verification made later than the time asked about", async () => {
    const verify = hsVerifier();
    const token = await hs256(claims({ nbf: NOW }));
    await verify(token, NOW);
    // Before its nbf (beyond the leeway), the token is refused although a later verification holds.
    await expectRefused(verify(token, NOW - LEEWAY_SECONDS - 1));
  });

  it("verifies a kept token again when its key has left the set, and refuses it", async () => {
    const old = await rsaPair("k1");
    const rotated = await rsaPair("k2");
    const endpoint = jwksEndpoint([old.publicJwk]);
    const clock = { now: 0 };
    const verify = remoteVerifier(endpoint, clock);
    const token = await rsToken(old, "k1");
    await expect(verify(token, NOW)).resolves.toEqual(verified());
    endpoint.keys = [rotated.publicJwk];
    clock.now = JWKS_REFRESH_MS + 1;
    await expectRefused(verify(token, NOW));
    expect(endpoint.requests).toBe(2);
  });

  it("does not keep a refused token", async () => {
    const verify = hsVerifier();
    const token = await hs256(claims(), undefined, "another-secret-0123456789abcdef0123");
    const checks = countVerifications();
    await expectRefused(verify(token, NOW));
    await expectRefused(verify(token, NOW));
    expect(checks).toHaveBeenCalledTimes(2);
  });

  it("keeps a bounded number of tokens, the longest kept leaving first", () => {
    const kept = verifiedTokens<string>(2);
    const entry = (claims: string) => ({ claims, kid: undefined, key: {} as CryptoKey, exp: NOW + 3600, verifiedAt: NOW });
    kept.remember("a", entry("a"));
    kept.remember("b", entry("b"));
    kept.remember("c", entry("c"));
    expect(kept.get("a", NOW, LEEWAY_SECONDS)).toBeUndefined();
    expect(kept.get("b", NOW, LEEWAY_SECONDS)?.claims).toBe("b");
    expect(kept.get("c", NOW, LEEWAY_SECONDS)?.claims).toBe("c");
  });
});

describe("a JWKS URL that cannot be fetched", () => {
  const expectUnavailable = async (promise: Promise<unknown>, retryAfterSeconds: number) => {
    await expect(promise).rejects.toBeInstanceOf(KeySetUnavailableError);
    await expect(promise).rejects.toMatchObject({ retryAfterSeconds });
  };
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each<[string, "failing" | "unreachable"]>([
    ["answers an error status", "failing"],
    ["cannot be reached", "unreachable"],
  ])("when it %s first: unavailable at once during the cooldown, asked again after it", async (_name, fault) => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const key = await rsaPair("k1");
    const endpoint = jwksEndpoint([key.publicJwk]);
    endpoint[fault] = true;
    const clock = { now: 0 };
    const verify = remoteVerifier(endpoint, clock);
    const token = await rsToken(key, "k1");

    await expectUnavailable(verify(token, NOW), 30);
    expect(endpoint.requests).toBe(1);
    clock.now = 1_500;
    await expectUnavailable(verify(token, NOW), 29);
    clock.now = JWKS_COOLDOWN_MS - 1;
    await expectUnavailable(verify(token, NOW), 1);
    expect(endpoint.requests, "no request waits for a new fetch during the cooldown").toBe(1);

    endpoint[fault] = false;
    clock.now = JWKS_COOLDOWN_MS + 1;
    await expect(verify(token, NOW)).resolves.toEqual(verified());
    expect(endpoint.requests).toBe(2);
  });

  it("shares one fetch among tokens that arrive while it is in flight", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const key = await rsaPair("k1");
    const endpoint = jwksEndpoint([key.publicJwk]);
    const verify = remoteVerifier(endpoint, { now: 0 });
    const token = await rsToken(key, "k1");
    await expect(Promise.all([verify(token, NOW), verify(token, NOW), verify(token, NOW)])).resolves.toEqual([
      verified(),
      verified(),
      verified(),
    ]);
    expect(endpoint.requests).toBe(1);

    const down = jwksEndpoint([]);
    down.failing = true;
    const verifyDown = remoteVerifier(down, { now: 0 });
    const results = await Promise.allSettled([verifyDown(token, NOW), verifyDown(token, NOW)]);
    expect(results.map((r) => r.status === "rejected" && r.reason instanceof KeySetUnavailableError)).toEqual([true, true]);
    expect(down.requests).toBe(1);
  });

  it("while a refresh of a stale set is under way, other tokens are verified with the keys already held", async () => {
    const key = await rsaPair("k1");
    const endpoint = jwksEndpoint([key.publicJwk]);
    const clock = { now: 0 };
    let answer!: () => void;
    const held = new Promise<void>((resolve) => (answer = resolve));
    const slow = {
      ...endpoint,
      fetch: (async (...args: Parameters<typeof fetch>) => {
        if (endpoint.requests > 0) await held;
        return endpoint.fetch(...args);
      }) as typeof fetch,
    };
    const verify = remoteVerifier(slow, clock);
    const token = await rsToken(key, "k1");
    await verify(token, NOW);

    clock.now = JWKS_REFRESH_MS + 1;
    const refreshing = verify(token, NOW); // starts the refresh, which the endpoint holds
    await expect(verify(token, NOW)).resolves.toEqual(verified()); // does not wait for it
    answer();
    await expect(refreshing).resolves.toEqual(verified());
    expect(endpoint.requests).toBe(2);
  });

  it("after a failed refresh, serves the last good keys without asking again until the cooldown is over", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const key = await rsaPair("k1");
    const endpoint = jwksEndpoint([key.publicJwk]);
    const clock = { now: 0 };
    const verify = remoteVerifier(endpoint, clock);
    const token = await rsToken(key, "k1");
    await verify(token, NOW);

    endpoint.unreachable = true;
    const failedAt = JWKS_REFRESH_MS + 1;
    clock.now = failedAt;
    await expect(verify(token, NOW)).resolves.toEqual(verified());
    expect(endpoint.requests).toBe(2);
    expect(errors).toHaveBeenCalledWith(
      JSON.stringify({ level: "error", event: "jwks_refresh_failed_keeping_previous_keys", error: { class: "TypeError" } }),
    );

    clock.now = failedAt + JWKS_COOLDOWN_MS - 1;
    await expect(verify(token, NOW)).resolves.toEqual(verified());
    // An unknown kid is refused from the last good set, without asking either.
    await expectRefused(verify(await rsToken(key, "rotated"), NOW));
    expect(endpoint.requests).toBe(2);

    clock.now = failedAt + JWKS_COOLDOWN_MS + 1;
    await expect(verify(token, NOW)).resolves.toEqual(verified());
    expect(endpoint.requests).toBe(3);
  });

  it("logs the failure's class name only, never the error object or its message", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const endpoint = jwksEndpoint([]);
    endpoint.unreachable = true;
    await expect(remoteVerifier(endpoint, { now: 0 })(await rsToken(await rsaPair("k1"), "k1"), NOW)).rejects.toBeInstanceOf(
      KeySetUnavailableError,
    );
    expect(errors.mock.calls).toEqual([
      [JSON.stringify({ level: "error", event: "jwks_fetch_failed_no_keys_yet", error: { class: "TypeError" } })],
    ]);
  });
});

describe("parseAuthConfig", () => {
  it("accepts HS256 with a 32-byte secret and defaults JWT_ALG to HS256", () => {
    expect(parseAuthConfig({ JWT_SECRET: "s".repeat(32) })).toMatchObject({
      JWT_ALG: "HS256",
      JWT_SECRET: "s".repeat(32),
    });
  });

  it.each<[string, Vars, RegExp]>([
    ["HS256 with a 31-byte secret", { JWT_ALG: "HS256", JWT_SECRET: "s".repeat(31) }, /JWT_SECRET/],
    ["HS256 without a secret", { JWT_ALG: "HS256" }, /JWT_SECRET/],
    ["HS256 with a blank secret", { JWT_ALG: "HS256", JWT_SECRET: "   " }, /JWT_SECRET/],
    ["RS256 without JWKS", { JWT_ALG: "RS256" }, /JWT_JWKS/],
    ["ES256 without JWKS", { JWT_ALG: "ES256", JWT_SECRET: SECRET }, /JWT_JWKS/],
    ["invalid JSON in JWT_JWKS", { JWT_ALG: "RS256", JWT_JWKS: "{keys:" }, /JWT_JWKS/],
    ["a JWKS without keys", { JWT_ALG: "RS256", JWT_JWKS: '{"keys":[]}' }, /JWT_JWKS/],
    ["an unknown JWT_ALG", { JWT_ALG: "HS512", JWT_SECRET: SECRET }, /JWT_ALG/],
    ["JWT_ALG none", { JWT_ALG: "none", JWT_SECRET: SECRET }, /JWT_ALG/],
    ["a JWKS URL over plain http", { JWT_ALG: "RS256", JWT_JWKS_URL: "http://idp.example/jwks.json" }, /JWT_JWKS_URL/],
    [
      "both an inline JWKS and a JWKS URL",
      { JWT_ALG: "RS256", JWT_JWKS: '{"keys":[{"kty":"RSA"}]}', JWT_JWKS_URL: "https://idp.example/jwks.json" },
      /JWT_JWKS/,
    ],
  ])("refuses %s", (_name, vars, field) => {
    expect(() => config(vars)).toThrow(field);
  });

  const JWKS = '{"keys":[{"kty":"RSA","kid":"k1"}]}';

  it.each<[string, Vars]>([
    ["RS256 with an inline JWKS", { JWT_ALG: "RS256", JWT_JWKS: JWKS }],
    ["ES256 with a JWKS URL", { JWT_ALG: "ES256", JWT_JWKS_URL: JWKS_URL }],
  ])("accepts %s with an issuer and an audience", (_name, vars) => {
    expect(config({ ...vars, JWT_ISSUER: ISS, JWT_AUDIENCE: AUD })).toMatchObject({ JWT_ISSUER: ISS, JWT_AUDIENCE: AUD });
  });

  it.each<[string, Vars, RegExp]>([
    ["RS256 (inline JWKS) without JWT_ISSUER", { JWT_ALG: "RS256", JWT_JWKS: JWKS, JWT_AUDIENCE: AUD }, /JWT_ISSUER/],
    ["RS256 (inline JWKS) without JWT_AUDIENCE", { JWT_ALG: "RS256", JWT_JWKS: JWKS, JWT_ISSUER: ISS }, /JWT_AUDIENCE/],
    ["RS256 (JWKS URL) without JWT_ISSUER", { JWT_ALG: "RS256", JWT_JWKS_URL: JWKS_URL, JWT_AUDIENCE: AUD }, /JWT_ISSUER/],
    ["ES256 (JWKS URL) without JWT_AUDIENCE", { JWT_ALG: "ES256", JWT_JWKS_URL: JWKS_URL, JWT_ISSUER: ISS }, /JWT_AUDIENCE/],
    ["ES256 (inline JWKS) without either", { JWT_ALG: "ES256", JWT_JWKS: JWKS }, /JWT_ISSUER.*JWT_AUDIENCE/],
    ["RS256 with a blank JWT_AUDIENCE", { JWT_ALG: "RS256", JWT_JWKS: JWKS, JWT_ISSUER: ISS, JWT_AUDIENCE: " " }, /JWT_AUDIENCE/],
  ])("refuses %s (RFC 8725 §3.8-3.9)", (_name, vars, field) => {
    expect(() => config(vars)).toThrow(field);
  });

  it("counts the secret length in bytes, not characters", () => {
    // 16 two-byte characters: 32 bytes.
    expect(() => config({ JWT_SECRET: "é".repeat(16) })).not.toThrow();
    expect(() => config({ JWT_SECRET: `${"é".repeat(15)}a` })).toThrow(/JWT_SECRET/);
  });
});
