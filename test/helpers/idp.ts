import { vi } from "vitest";
import type { Bindings } from "../../src/env";
import { b64url, encodePart } from "./jws";

// A stand-in external identity provider: RS256 keys, tokens signed with Web Crypto directly (not
// with src/auth/jwt.ts), and a JWKS endpoint served through the global fetch the worker uses.

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

/** A token with an RS256 header and a signature nobody checks: enough when the keys cannot load. */
export function unsignedIdpToken(userId: string): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: IDP_ISSUER, aud: IDP_AUDIENCE, sub: userId, iat: now, exp: now + 3600 };
  return `${encodePart({ alg: "RS256", typ: "JWT", kid: "k1" })}.${encodePart(payload)}.${b64url(new Uint8Array(256))}`;
}

/** The worker's configuration for the provider, with an inline key set. */
export function inlineIdp(keys: JsonWebKey[]): Partial<Bindings> {
  return { JWT_ALG: "RS256", JWT_JWKS: JSON.stringify({ keys }), JWT_ISSUER: IDP_ISSUER, JWT_AUDIENCE: IDP_AUDIENCE };
}

export type JwksEndpoint = { bindings: Partial<Bindings>; keys: JsonWebKey[]; down: boolean; requests: number };

const endpoints = new Map<string, JwksEndpoint>();

/**
 * A JWKS endpoint at a URL of its own (so the worker builds a fresh verifier for it), answering
 * 503 while `down`; every other request goes to the real fetch. Undone by vi.restoreAllMocks().
 */
export function jwksEndpoint(keys: JsonWebKey[], options: { down?: boolean } = {}): JwksEndpoint {
  const url = `https://id.example.test/${crypto.randomUUID()}/jwks.json`;
  const endpoint: JwksEndpoint = {
    bindings: { JWT_ALG: "RS256", JWT_JWKS_URL: url, JWT_ISSUER: IDP_ISSUER, JWT_AUDIENCE: IDP_AUDIENCE },
    keys,
    down: options.down ?? false,
    requests: 0,
  };
  endpoints.set(url, endpoint);
  if (!vi.isMockFunction(globalThis.fetch)) {
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const target = endpoints.get(input instanceof Request ? input.url : String(input));
      if (!target) return real(input, init);
      target.requests++;
      return target.down ? new Response("unavailable", { status: 503 }) : Response.json({ keys: target.keys });
    });
  }
  return endpoint;
}
