import type { Bindings } from "../../src/env";
import { b64url, encodePart } from "./jws";

// A stand-in external identity provider: RS256 keys and tokens signed with Web Crypto directly
// (not with src/auth/jwt.ts).

export const IDP_ISSUER = "https://id.example.test";
export const IDP_AUDIENCE = "org-api";

export type IdpKey = { kid: string; privateKey: CryptoKey; publicJwk: JsonWebKey & { kid: string } };

export async function idpKey(kid: string): Promise<IdpKey> {
  const pair = (await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const publicJwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
  return { kid, privateKey: pair.privateKey, publicJwk: { ...publicJwk, kid } };
}

/** An access token from the provider for `userId`, for this API unless `claims` says otherwise. */
export async function idpToken(key: IdpKey, userId: string, claims: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: IDP_ISSUER, aud: IDP_AUDIENCE, sub: userId, iat: now, exp: now + 3600, ...claims };
  const input = `${encodePart({ alg: "RS256", typ: "JWT", kid: key.kid })}.${encodePart(payload)}`;
  const signature = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key.privateKey, new TextEncoder().encode(input));
  return `${input}.${b64url(new Uint8Array(signature))}`;
}

/** The worker's configuration for the provider, with an inline key set. */
export function inlineIdp(keys: JsonWebKey[]): Partial<Bindings> {
  return { JWT_ALG: "RS256", JWT_JWKS: JSON.stringify({ keys }), JWT_ISSUER: IDP_ISSUER, JWT_AUDIENCE: IDP_AUDIENCE };
}
