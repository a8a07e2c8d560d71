import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ROLE } from "../../src/auth/roles";
import { signToken } from "../../src/auth/jwt";
import { call, expectError, type ApiResponse } from "../helpers/api";
import { callWith } from "../helpers/faults";
import {
  createOrg,
  createTwoOrgs,
  insertOrganization,
  insertUser,
  TEST_SECRET,
  tokenFor,
  type OrgFixture,
} from "../helpers/fixtures";
import { captureLogs } from "../helpers/logs";
import { expectUnchanged, userRow } from "../helpers/snapshot";
import { idpKey, idpToken, inlineIdp, jwksEndpoint } from "../helpers/idp";
import { b64url, encodePart } from "../helpers/jws";

// Every way a request can fail authentication, through the real worker and a real D1.
// Odd tokens are built here by hand (not with src/auth/jwt.ts), so the verifier is checked
// against an independent encoder.

type Json = Record<string, unknown>;

const MISSING = "Bearer";
const INVALID = 'Bearer error="invalid_token"';

const encoder = new TextEncoder();

async function hmac(data: string, secret: string, hash: "SHA-256" | "SHA-384" = "SHA-256"): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash }, false, ["sign"]);
  return b64url(new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(data))));
}

type ForgeOptions = {
  header?: Json;
  /** An object is JSON-encoded; a string is used as the raw payload text. */
  payload: Json | string;
  secret?: string;
  hash?: "SHA-256" | "SHA-384";
  /** Used verbatim instead of an HMAC signature. */
  signature?: string;
};

/** A compact JWS, HMAC-signed with the test secret unless told otherwise. */
async function forge(options: ForgeOptions): Promise<string> {
  const signingInput = `${encodePart(options.header ?? { alg: "HS256", typ: "JWT" })}.${encodePart(options.payload)}`;
  const signature = options.signature ?? (await hmac(signingInput, options.secret ?? TEST_SECRET, options.hash));
  return `${signingInput}.${signature}`;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Standard access-token claims for a user, with overrides (an `undefined` value drops the claim). */
function claims(userId: string, overrides: Json = {}): Json {
  const now = nowSeconds();
  return { sub: userId, iat: now, exp: now + 3600, ...overrides };
}

const RENAME = { name: "Renamed by an attacker" };

/** A write the token's user could make if the token were valid: must be 401 and change nothing. */
async function expectRejectedWrite(org: OrgFixture, authorization: string, wwwAuthenticate = INVALID): Promise<ApiResponse> {
  const res = await expectUnchanged(() =>
    call("PUT", `/organization/${org.id}`, { headers: { Authorization: authorization }, body: RENAME }),
  );
  expectError(res, 401, "unauthorized");
  expect(res.headers.get("WWW-Authenticate")).toBe(wwwAuthenticate);
  return res;
}

async function expectRejectedRead(orgId: string, token: string): Promise<void> {
  const res = await call("GET", `/organization/${orgId}`, { token });
  expectError(res, 401, "unauthorized");
  expect(res.headers.get("WWW-Authenticate")).toBe(INVALID);
}

async function expectAccepted(orgId: string, token: string): Promise<void> {
  const res = await call("GET", `/organization/${orgId}`, { token });
  expect(res.status, res.text).toBe(200);
  expect(res.body.data.id).toBe(orgId);
}

describe("the local token builder (control)", () => {
  it("produces a token the worker accepts for a write, so every rejection below is due to the defect under test", async () => {
    const org = await createOrg();
    const token = await forge({ payload: claims(org.users.OWNER.id) });
    const res = await call("PUT", `/organization/${org.id}`, { token, body: RENAME });
    expect(res.status, res.text).toBe(200);
    expect(res.body.data.name).toBe(RENAME.name);
  });
});

describe("missing or non-Bearer credentials", () => {
  it("answers 401 with a plain Bearer challenge when there is no Authorization header", async () => {
    const org = await createOrg();
    const res = await call("GET", `/organization/${org.id}`);
    expectError(res, 401, "unauthorized");
    expect(res.headers.get("WWW-Authenticate")).toBe(MISSING);
  });

  it.each([
    ["Basic", () => `Basic ${btoa("owner:password")}`],
    ["Basic x", () => "Basic x"],
    ["Token x", () => "Token x"],
    ["Bearer with an empty token", () => "Bearer "],
    ["Bearer alone", () => "Bearer"],
  ])("refuses %s with a plain Bearer challenge and changes nothing", async (_name, authorization) => {
    const org = await createOrg();
    await expectRejectedWrite(org, authorization(), MISSING);
  });

  it("refuses a valid token sent under another scheme", async () => {
    const org = await createOrg();
    await expectRejectedWrite(org, `Token ${org.users.OWNER.token}`, MISSING);
  });
});

describe("malformed tokens", () => {
  it.each<[string, (valid: string) => string]>([
    ["one part", (valid) => valid.split(".")[0] ?? ""],
    ["two parts", (valid) => valid.split(".").slice(0, 2).join(".")],
    ["four parts", (valid) => `${valid}.AAAA`],
    ["a header that is not base64url", (valid) => `!!!${valid}`],
    ["a signature with standard base64 characters", (valid) => `${valid.slice(0, -2)}+/`],
    ["a padded signature", (valid) => `${valid}=`],
    ["an empty signature", (valid) => valid.slice(0, valid.lastIndexOf(".") + 1)],
    ["random text", () => "not-a-jwt"],
    ["two credentials after the scheme", (valid) => `${valid} ${valid}`],
  ])("refuses %s", async (_name, mangle) => {
    const org = await createOrg();
    await expectRejectedWrite(org, `Bearer ${mangle(org.users.OWNER.token)}`);
  });

  it("refuses a correctly signed token whose payload is not JSON", async () => {
    const org = await createOrg();
    await expectRejectedWrite(org, `Bearer ${await forge({ payload: `{"sub":"${org.users.OWNER.id}"` })}`);
  });

  it("refuses a correctly signed token whose payload is a JSON array", async () => {
    const org = await createOrg();
    await expectRejectedWrite(org, `Bearer ${await forge({ payload: JSON.stringify([org.users.OWNER.id]) })}`);
  });
});

describe("signatures", () => {
  it("refuses a token signed with another secret", async () => {
    const org = await createOrg();
    const token = await forge({ payload: claims(org.users.OWNER.id), secret: "another-secret-0123456789abcdef-0123456789" });
    await expectRejectedWrite(org, `Bearer ${token}`);
  });

  it("refuses a payload swapped for another user's while keeping the original signature", async () => {
    const org = await createOrg();
    const [header, , signature] = org.users.USER.token.split(".");
    const tampered = `${header}.${encodePart(claims(org.users.OWNER.id))}.${signature}`;
    await expectRejectedWrite(org, `Bearer ${tampered}`);
  });

  it("refuses an expired token whose exp was pushed forward after signing", async () => {
    const org = await createOrg();
    const now = nowSeconds();
    const expired = await forge({ payload: claims(org.users.OWNER.id, { iat: now - 7200, exp: now - 3600 }) });
    const [header, , signature] = expired.split(".");
    const extended = `${header}.${encodePart(claims(org.users.OWNER.id, { iat: now - 7200, exp: now + 3600 }))}.${signature}`;
    await expectRejectedWrite(org, `Bearer ${extended}`);
  });
});

describe("the algorithm is pinned to HS256", () => {
  it.each<[string, (payload: Json) => Promise<string>]>([
    ["alg none with an empty signature", (payload) => forge({ header: { alg: "none", typ: "JWT" }, payload, signature: "" })],
    ["alg none with a valid HMAC signature", (payload) => forge({ header: { alg: "none", typ: "JWT" }, payload })],
    ["alg NONE with a valid HMAC signature", (payload) => forge({ header: { alg: "NONE", typ: "JWT" }, payload })],
    ["no alg at all", (payload) => forge({ header: { typ: "JWT" }, payload })],
    [
      "HS384 signed with the configured secret",
      (payload) => forge({ header: { alg: "HS384", typ: "JWT" }, payload, hash: "SHA-384" }),
    ],
    ["an RS256 header over an HS256 signature", (payload) => forge({ header: { alg: "RS256", typ: "JWT" }, payload })],
    ["a lower-case hs256 header", (payload) => forge({ header: { alg: "hs256", typ: "JWT" }, payload })],
  ])("refuses %s", async (_name, build) => {
    const org = await createOrg();
    await expectRejectedWrite(org, `Bearer ${await build(claims(org.users.OWNER.id))}`);
  });

  it("refuses a token with a crit header", async () => {
    const org = await createOrg();
    const token = await forge({ header: { alg: "HS256", typ: "JWT", crit: ["exp"] }, payload: claims(org.users.OWNER.id) });
    await expectRejectedWrite(org, `Bearer ${token}`);
  });

  it.each([["JOSE"], ["refresh+jwt"], ["JWE"], [1]])("refuses typ %s", async (typ) => {
    const org = await createOrg();
    const token = await forge({ header: { alg: "HS256", typ }, payload: claims(org.users.OWNER.id) });
    await expectRejectedWrite(org, `Bearer ${token}`);
  });

  it.each([["JWT"], ["at+jwt"], [undefined]])("accepts typ %s", async (typ) => {
    const org = await createOrg();
    await expectAccepted(org.id, await forge({ header: { alg: "HS256", typ }, payload: claims(org.users.OWNER.id) }));
  });

  it("ignores a kid carrying SQL: the token still verifies by its signature alone and nothing is touched", async () => {
    const org = await createOrg();
    const header = { alg: "HS256", typ: "JWT", kid: "' OR 1=1; DROP TABLE users;--" };
    const token = await forge({ header, payload: claims(org.users.OWNER.id) });
    await expectUnchanged(() => expectAccepted(org.id, token));
    expect(await userRow(org.users.OWNER.id)).not.toBeNull();
  });

  it("refuses a badly signed token whatever its kid says", async () => {
    const org = await createOrg();
    const header = { alg: "HS256", typ: "JWT", kid: "' OR 1=1--" };
    const token = await forge({ header, payload: claims(org.users.OWNER.id), secret: "attacker-chosen-secret-0123456789abcdef" });
    await expectRejectedWrite(org, `Bearer ${token}`);
  });
});

describe("time claims (60 s leeway)", () => {
  it.each<[string, (now: number) => Json]>([
    ["expired beyond the leeway", (now) => ({ iat: now - 3600, exp: now - 120 })],
    ["without exp", () => ({ exp: undefined })],
    ["with a string exp", () => ({ exp: "9999999999" })],
    ["with exp 0", () => ({ exp: 0 })],
    ["with exp null", () => ({ exp: null })],
    ["with nbf beyond the leeway", (now) => ({ nbf: now + 120 })],
    ["with iat beyond the leeway", (now) => ({ iat: now + 120 })],
    ["with a string nbf", () => ({ nbf: "0" })],
  ])("refuses a token %s", async (_name, overrides) => {
    const org = await createOrg();
    const token = await forge({ payload: claims(org.users.OWNER.id, overrides(nowSeconds())) });
    await expectRejectedWrite(org, `Bearer ${token}`);
  });

  it.each<[string, (now: number) => Json]>([
    ["expired within the leeway", (now) => ({ iat: now - 3600, exp: now - 30 })],
    ["with nbf within the leeway", (now) => ({ nbf: now + 30 })],
    ["with iat within the leeway", (now) => ({ iat: now + 30 })],
  ])("accepts a token %s", async (_name, overrides) => {
    const org = await createOrg();
    await expectAccepted(org.id, await forge({ payload: claims(org.users.OWNER.id, overrides(nowSeconds())) }));
  });
});

describe("subject and token type", () => {
  it.each([["refresh"], ["invite"], ["reset"], [""]])("refuses a token of type %j", async (type) => {
    const org = await createOrg();
    await expectRejectedWrite(org, `Bearer ${await tokenFor(org.users.OWNER.id, { type })}`);
  });

  it("accepts a token of type access", async () => {
    const org = await createOrg();
    await expectAccepted(org.id, await tokenFor(org.users.OWNER.id, { type: "access" }));
  });

  it("accepts Flashback's userId claim in place of sub", async () => {
    const org = await createOrg();
    await expectAccepted(
      org.id,
      await forge({ payload: claims(org.users.OWNER.id, { sub: undefined, userId: org.users.OWNER.id }) }),
    );
  });

  it("prefers sub over userId: a valid userId does not rescue an unknown sub", async () => {
    const org = await createOrg();
    const token = await forge({ payload: claims(crypto.randomUUID(), { userId: org.users.OWNER.id }) });
    await expectRejectedWrite(org, `Bearer ${token}`);
  });

  it("prefers sub over userId: the caller is the sub user, with the sub user's role", async () => {
    const org = await createOrg();
    const token = await forge({ payload: claims(org.users.USER.id, { userId: org.users.OWNER.id }) });
    const res = await expectUnchanged(() => call("PUT", `/organization/${org.id}`, { token, body: RENAME }));
    expectError(res, 403, "forbidden");
  });

  it.each<[string, Json]>([
    ["neither sub nor userId", { sub: undefined }],
    ["an empty sub", { sub: "" }],
    ["a numeric sub", { sub: 42 }],
  ])("refuses a token with %s", async (_name, overrides) => {
    const org = await createOrg();
    await expectRejectedWrite(org, `Bearer ${await forge({ payload: claims(org.users.OWNER.id, overrides) })}`);
  });
});

describe("the caller is loaded from the database on every request", () => {
  it("refuses a well-signed token for an unknown user", async () => {
    const org = await createOrg();
    await expectRejectedWrite(org, `Bearer ${await tokenFor(crypto.randomUUID())}`);
  });

  it("refuses a soft-deleted user's token", async () => {
    const org = await createOrg();
    await expectRejectedRead(org.id, org.deleted.token);
  });

  it("locks a user out as soon as they are deleted, and keeps every earlier token dead after reactivation", async () => {
    const org = await createOrg();
    const member = org.users.ADMINISTRATOR;
    const owner = org.users.OWNER.token;
    const withoutIat = await signToken({ sub: member.id, exp: Math.floor(Date.now() / 1000) + 3600 }, TEST_SECRET);
    await expectAccepted(org.id, member.token);
    await expectAccepted(org.id, withoutIat);

    const removed = await call("DELETE", `/organization/users/${member.id}`, { token: owner });
    expect(removed.status, removed.text).toBe(200);
    await expectRejectedRead(org.id, member.token);
    await expectRejectedWrite(org, `Bearer ${member.token}`);

    const restored = await call("POST", `/organization/users/${member.id}/activate`, { token: owner });
    expect(restored.status, restored.text).toBe(200);
    // The deletion set the watermark; the reactivation did not move it back.
    await expectRejectedRead(org.id, member.token);
    await expectRejectedWrite(org, `Bearer ${member.token}`);
    await expectRejectedRead(org.id, withoutIat);
    const { tokens_valid_after: watermark } = (await env.DB.prepare("SELECT tokens_valid_after FROM users WHERE id = ?")
      .bind(member.id)
      .first<{ tokens_valid_after: number }>())!;
    expect(watermark).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    // Tokens issued up to the end of the deletion's second are refused, fractional `iat` included;
    // one issued after it works.
    await expectRejectedRead(org.id, await tokenFor(member.id, { iat: watermark }));
    await expectRejectedRead(org.id, await tokenFor(member.id, { iat: watermark - 0.5 }));
    await expectAccepted(org.id, await tokenFor(member.id, { iat: watermark + 1 }));
  });

  it("refuses the user of a soft-deleted organization", async () => {
    const orgId = await insertOrganization({ deletedAt: "2026-01-01T00:00:00.000Z" });
    const owner = await insertUser(orgId, ROLE.OWNER);
    await expectRejectedRead(orgId, owner.token);
    const res = await expectUnchanged(() => call("PUT", `/organization/${orgId}`, { token: owner.token, body: RENAME }));
    expectError(res, 401, "unauthorized");
  });

  it("accepts an orgId claim equal to the user's organization", async () => {
    const org = await createOrg();
    await expectAccepted(org.id, await tokenFor(org.users.OWNER.id, { orgId: org.id }));
  });

  it("refuses an orgId claim naming another organization", async () => {
    const { a, b } = await createTwoOrgs();
    await expectRejectedWrite(a, `Bearer ${await tokenFor(a.users.OWNER.id, { orgId: b.id })}`);
    await expectRejectedRead(b.id, await tokenFor(a.users.OWNER.id, { orgId: b.id }));
  });

  it("applies a role change made in the database on the next request", async () => {
    const org = await createOrg();
    const admin = org.users.ADMINISTRATOR;
    const before = await call("PUT", `/organization/${org.id}`, { token: admin.token, body: { city: "Lyon" } });
    expect(before.status, before.text).toBe(200);

    await env.DB.prepare("UPDATE users SET org_role = ? WHERE id = ?").bind(ROLE.USER, admin.id).run();
    const after = await expectUnchanged(() => call("PUT", `/organization/${org.id}`, { token: admin.token, body: RENAME }));
    expectError(after, 403, "forbidden", "Insufficient permissions: only OWNER and ADMINISTRATOR roles can modify organization");
  });

  it("applies a demotion made through the API on the next request", async () => {
    const org = await createOrg();
    const admin = org.users.ADMINISTRATOR;
    const before = await call("PUT", `/organization/${org.id}`, { token: admin.token, body: { city: "Lyon" } });
    expect(before.status, before.text).toBe(200);

    const demoted = await call("PUT", `/organization/users/${admin.id}`, {
      token: org.users.OWNER.token,
      body: { orgRole: ROLE.WORKSPACES },
    });
    expect(demoted.status, demoted.text).toBe(200);
    const after = await expectUnchanged(() => call("PUT", `/organization/${org.id}`, { token: admin.token, body: RENAME }));
    expectError(after, 403, "forbidden");
  });
});

describe("token size", () => {
  /** A signed token for `userId` padded with a filler claim to the largest length not above `max`. */
  async function paddedToken(userId: string, max: number): Promise<string> {
    let best = "";
    for (let filler = Math.floor((max * 3) / 4) - 300; ; filler++) {
      const token = await forge({ payload: claims(userId, { filler: "x".repeat(filler) }) });
      if (token.length > max) return best;
      best = token;
    }
  }

  it("accepts a token of up to 8192 characters", async () => {
    const org = await createOrg();
    const token = await paddedToken(org.users.OWNER.id, 8192);
    expect(token.length).toBeGreaterThan(8185);
    await expectAccepted(org.id, token);
  });

  it("refuses a token longer than 8192 characters", async () => {
    const org = await createOrg();
    const token = await forge({ payload: claims(org.users.OWNER.id, { filler: "x".repeat(6200) }) });
    expect(token.length).toBeGreaterThan(8192);
    await expectRejectedWrite(org, `Bearer ${token}`);
  });
});

describe("every write endpoint refuses unauthenticated calls without touching the database", () => {
  type Write = { method: string; path: (org: OrgFixture) => string; body?: Json };
  const writes: [string, Write][] = [
    ["PUT /organization/{orgId}", { method: "PUT", path: (org) => `/organization/${org.id}`, body: RENAME }],
    [
      "POST /organization/users",
      {
        method: "POST",
        path: () => "/organization/users",
        body: {
          email: "intruder@example.com",
          password: "Intruder-pass-1",
          firstName: "In",
          lastName: "Truder",
          orgRole: ROLE.OWNER,
        },
      },
    ],
    [
      "PUT /organization/users/{userId}",
      { method: "PUT", path: (org) => `/organization/users/${org.users.USER.id}`, body: { orgRole: ROLE.OWNER } },
    ],
    [
      "DELETE /organization/users/{userId}",
      { method: "DELETE", path: (org) => `/organization/users/${org.users.ADMINISTRATOR.id}` },
    ],
    [
      "POST /organization/users/{userId}/activate",
      { method: "POST", path: (org) => `/organization/users/${org.deleted.id}/activate` },
    ],
  ];

  it.each(writes)("%s without a token: 401, plain challenge", async (_name, write) => {
    const org = await createOrg();
    const res = await expectUnchanged(() => call(write.method, write.path(org), { body: write.body }));
    expectError(res, 401, "unauthorized");
    expect(res.headers.get("WWW-Authenticate")).toBe(MISSING);
  });

  it.each(writes)("%s with an expired owner token: 401, invalid_token", async (_name, write) => {
    const org = await createOrg();
    const now = nowSeconds();
    const token = await tokenFor(org.users.OWNER.id, { iat: now - 7200, exp: now - 3600 });
    const res = await expectUnchanged(() => call(write.method, write.path(org), { token, body: write.body }));
    expectError(res, 401, "unauthorized");
    expect(res.headers.get("WWW-Authenticate")).toBe(INVALID);
  });

  it.each(writes)("%s with a valid owner token succeeds (control)", async (_name, write) => {
    const org = await createOrg();
    const res = await call(write.method, write.path(org), { token: org.users.OWNER.token, body: write.body });
    expect(res.status, res.text).toBeLessThan(300);
  });
});

describe("an external identity provider (RS256)", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const read = (org: OrgFixture, overrides: Parameters<typeof callWith>[0], token: string) =>
    callWith(overrides, "GET", `/organization/${org.id}`, { token });

  it("accepts its token for this API and refuses one it issued for another application", async () => {
    const org = await createOrg();
    const key = await idpKey("k1");
    const provider = inlineIdp([key.publicJwk]);
    const owner = org.users.OWNER.id;

    expect((await read(org, provider, await idpToken(key, owner))).status).toBe(200);
    for (const claims of [{ aud: "billing" }, { aud: ["billing", "reports"] }, { iss: "https://other.example.test" }]) {
      const token = await idpToken(key, owner, claims);
      const res = await expectUnchanged(() => callWith(provider, "PUT", `/organization/${org.id}`, { token, body: RENAME }));
      expectError(res, 401, "unauthorized");
      expect(res.headers.get("WWW-Authenticate")).toBe(INVALID);
    }
  });

  it.each(["JWT_ISSUER", "JWT_AUDIENCE"] as const)("answers 500, naming nothing, when %s is not configured", async (name) => {
    const org = await createOrg();
    const key = await idpKey("k1");
    const logs = captureLogs();
    const res = await read(org, { ...inlineIdp([key.publicJwk]), [name]: "" }, await idpToken(key, org.users.OWNER.id));
    logs.restore();
    expectError(res, 500, "internal_error", "Internal server error");
    expect(res.text).not.toMatch(/JWT_/);
    // The operator's log line names the missing setting.
    expect(logs.lines().find((line) => line.event === "request")?.error).toMatchObject({ message: expect.stringMatching(name) });
  });

  it("refuses a token for a key that cannot be imported with 401 invalid_token, and still accepts the other keys", async () => {
    const org = await createOrg();
    const good = await idpKey("good");
    const broken = { kty: "RSA", kid: "bad", n: "not*base64url", e: "AQAB" };
    const provider = inlineIdp([broken, good.publicJwk]);
    vi.spyOn(console, "error").mockImplementation(() => {});

    const res = await read(org, provider, await idpToken({ ...good, kid: "bad" }, org.users.OWNER.id));
    expectError(res, 401, "unauthorized");
    expect(res.headers.get("WWW-Authenticate")).toBe(INVALID);
    expect((await read(org, provider, await idpToken(good, org.users.OWNER.id))).status).toBe(200);
  });

  it("answers 503 with Retry-After, without a fetch per request, while its key set has never loaded", async () => {
    const org = await createOrg();
    const key = await idpKey("k1");
    const endpoint = jwksEndpoint([key.publicJwk], { down: true });
    const logs = captureLogs();
    const token = await idpToken(key, org.users.OWNER.id);

    for (let i = 0; i < 3; i++) {
      const res = await expectUnchanged(() =>
        callWith(endpoint.bindings, "PUT", `/organization/${org.id}`, { token, body: RENAME }),
      );
      expectError(res, 503, "service_unavailable", "Service temporarily unavailable; retry after the period in Retry-After");
      const retryAfter = Number(res.headers.get("Retry-After"));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(30);
      expect(res.headers.get("WWW-Authenticate")).toBeNull();
    }
    logs.restore();
    expect(endpoint.requests, "one fetch, then the cooldown").toBe(1);
    expect(logs.lines().filter((line) => line.event !== "request")).toEqual([
      { level: "error", event: "jwks_fetch_failed_no_keys_yet", error: { class: "Error" } },
    ]);
  });

  it("fetches its key set once for many requests when the endpoint is up (control)", async () => {
    const org = await createOrg();
    const key = await idpKey("k1");
    const endpoint = jwksEndpoint([key.publicJwk]);
    for (let i = 0; i < 3; i++) {
      expect((await read(org, endpoint.bindings, await idpToken(key, org.users.OWNER.id))).status).toBe(200);
    }
    expect(endpoint.requests).toBe(1);
  });
});
