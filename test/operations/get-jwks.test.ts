import { createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { call, expectError } from "../helpers/api";
import { callWith } from "../helpers/faults";
import { createOrg, FIXTURE_PASSWORD } from "../helpers/fixtures";

// This service as an ES256 issuer: it signs with the first of JWT_SIGNING_KEYS and publishes every
// key's public half at /.well-known/jwks.json, so a token signed before a rotation keeps verifying.

async function signingKey(kid: string) {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(privateKey)), kid } };
}

const es256 = (...keys: { jwk: object }[]) =>
  ({
    JWT_ALG: "ES256",
    JWT_SECRET: "",
    JWT_SIGNING_KEYS: JSON.stringify({ keys: keys.map((k) => k.jwk) }),
  }) as unknown as Partial<Env>;

async function signInWith(config: Partial<Env>, email: string) {
  const res = await callWith(config, "POST", "/user/login", { body: { email, password: FIXTURE_PASSWORD } });
  expect(res.status, res.text).toBe(200);
  return res.body as { accessToken: string };
}

describe("getJwks: GET /.well-known/jwks.json", () => {
  describe("happy path", () => {
    it("publishes the public halves of the signing keys, cacheable; a token we sign verifies against them with jose", async () => {
      const org = await createOrg();
      const current = await signingKey("2026-12");
      const config = es256(current);
      const res = await callWith(config, "GET", "/.well-known/jwks.json");
      expect(res.status, res.text).toBe(200);
      expect(res.headers.get("Cache-Control")).toBe("public, max-age=300");
      expect(res.body.keys).toEqual([
        { kty: "EC", crv: "P-256", x: current.jwk.x, y: current.jwk.y, kid: "2026-12", alg: "ES256", use: "sig" },
      ]);
      expect(res.text).not.toContain(current.jwk.d as string);

      const { accessToken } = await signInWith(config, org.users.USER.email);
      expect(decodeProtectedHeader(accessToken)).toEqual({ alg: "ES256", typ: "JWT", kid: "2026-12" });
      const { payload } = await jwtVerify(accessToken, createLocalJWKSet(res.body), { algorithms: ["ES256"] });
      expect(payload).toMatchObject({ sub: org.users.USER.id, type: "access" });
      expect((await callWith(config, "GET", `/organization/${org.id}`, { token: accessToken })).status).toBe(200);
    });
  });

  describe("errors", () => {
    it("answers 404 when this service signs HS256 tokens (nothing to publish)", async () => {
      expectError(await call("GET", "/.well-known/jwks.json"), 404, "not_found");
    });
  });

  describe("rules", () => {
    it("keeps the previous key published after a rotation: its tokens still verify until they expire; an unknown kid does not", async () => {
      const org = await createOrg();
      const previous = await signingKey("2026-11");
      const next = await signingKey("2026-12");
      const { accessToken: before } = await signInWith(es256(previous), org.users.USER.email);

      const rotated = es256(next, previous);
      const set = (await callWith(rotated, "GET", "/.well-known/jwks.json")).body;
      expect(set.keys.map((k: { kid: string }) => k.kid)).toEqual(["2026-12", "2026-11"]);
      await jwtVerify(before, createLocalJWKSet(set), { algorithms: ["ES256"] });
      expect((await callWith(rotated, "GET", `/organization/${org.id}`, { token: before })).status).toBe(200);
      const { accessToken: after } = await signInWith(rotated, org.users.USER.email);
      expect(decodeProtectedHeader(after).kid).toBe("2026-12");

      // Signed by a key that is not published (a kid nobody configured): refused, and by jose too.
      const stranger = await signingKey("2026-10");
      const now = Math.floor(Date.now() / 1000);
      const forged = await new SignJWT({ sub: org.users.USER.id, type: "access", iat: now, exp: now + 600 })
        .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: "2026-10" })
        .sign(stranger.privateKey);
      expectError(await callWith(rotated, "GET", `/organization/${org.id}`, { token: forged }), 401, "unauthorized");
      await expect(jwtVerify(forged, createLocalJWKSet(set), { algorithms: ["ES256"] })).rejects.toThrow();
    });
  });
});
