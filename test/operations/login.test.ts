import { env } from "cloudflare:workers";
import { decodeJwt } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ACCESS_TOKEN_TTL_SECONDS } from "../../src/auth/access-token";
import { PBKDF2_ITERATIONS } from "../../src/auth/password";
import { opaqueTokenHash } from "../../src/auth/opaque-token";
import { ROLE } from "../../src/auth/roles";
import { REFRESH_IDLE_MS } from "../../src/db/sessions";
import { MESSAGES } from "../../src/errors";
import { answerText, call, expectError, type ApiResponse } from "../helpers/api";
import { callWith } from "../helpers/faults";
import { createOrg, insertUser, type FixtureUser } from "../helpers/fixtures";
import { idpKey, idpToken, inlineIdp } from "../helpers/idp";
import { invitedUser } from "../helpers/invitations";
import { expectUnchanged, userRow } from "../helpers/snapshot";

// POST /user/login, /user/refresh and /user/logout, with the bodies Flashback's client sends
// (userLogin, userRefresh and userLogout send `refresh_token`).

// Every fixture user's password (test/helpers/fixtures.ts).
const PASSWORD = "Fixture-pass-1";

afterEach(() => vi.restoreAllMocks());

const login = (email: string, password = PASSWORD, extra: Record<string, unknown> = {}) =>
  call("POST", "/user/login", { body: { email, password, ...extra } });
const refresh = (token: string) => call("POST", "/user/refresh", { body: { refresh_token: token } });
const logout = (token: string) => call("POST", "/user/logout", { body: { refresh_token: token } });

async function signIn(user: FixtureUser) {
  const res = await login(user.email);
  expect(res.status, res.text).toBe(200);
  return res.body as { accessToken: string; refreshToken: string; tokenId: string; expiresAt: number };
}

const orgAs = (orgId: string, token: string) => call("GET", `/organization/${orgId}`, { token });

async function sessionRow(id: string) {
  return env.DB.prepare("SELECT user_id, ended_at, end_reason, device_info FROM sessions WHERE id = ?").bind(id).first();
}

function expectRefused(res: ApiResponse) {
  expectError(res, 401, "invalid_credentials", MESSAGES.invalidRefreshToken);
}

describe("POST /user/login", () => {
  it("opens a session: a one-hour access token with Flashback's claims and the session id, a refresh token stored as a hash", async () => {
    const org = await createOrg();
    const user = org.users.WORKSPACES;
    const before = Math.floor(Date.now() / 1000);
    const deviceInfo = { userAgent: "Mozilla/5.0", deviceType: "DESKTOP", os: "Linux", browser: "Firefox" };
    const res = await login(user.email.toUpperCase(), PASSWORD, { deviceInfo });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({
      success: true,
      accessToken: expect.any(String),
      refreshToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      tokenId: expect.any(String),
      expiresAt: expect.any(Number),
      user: { id: user.id, email: user.email, name: "Ada", orgId: org.id, orgRole: ROLE.WORKSPACES },
    });
    const claims = decodeJwt(res.body.accessToken);
    expect(claims).toMatchObject({
      sub: user.id,
      userId: user.id,
      email: user.email,
      orgId: org.id,
      type: "access",
      sid: res.body.tokenId,
    });
    expect((claims.exp as number) - (claims.iat as number)).toBe(ACCESS_TOKEN_TTL_SECONDS);
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(res.body.expiresAt).toBe((claims.exp as number) * 1000);

    expect(await sessionRow(res.body.tokenId)).toEqual({
      user_id: user.id,
      ended_at: null,
      end_reason: null,
      device_info: JSON.stringify(deviceInfo),
    });
    const stored = await env.DB.prepare("SELECT hash FROM refresh_tokens WHERE session_id = ?").bind(res.body.tokenId).all();
    expect(stored.results).toEqual([{ hash: await opaqueTokenHash(res.body.refreshToken) }]);
    expect((await orgAs(org.id, res.body.accessToken)).status).toBe(200);
  });

  it("answers an unknown address, a wrong password, a deleted account and one without a password identically, after the same hashing", async () => {
    const org = await createOrg();
    // Accounts with a real (100,000-iteration) hash: created through the API, verified here.
    const created = async (extra: Record<string, unknown> = {}) => {
      const res = await call("POST", "/organization/users", {
        token: org.users.OWNER.token,
        body: {
          email: `login-${crypto.randomUUID()}@example.com`,
          password: PASSWORD,
          firstName: "A",
          lastName: "B",
          sendInvite: false,
          ...extra,
        },
      });
      await env.DB.prepare("UPDATE users SET validated = 1 WHERE id = ?").bind(res.body.data.id).run();
      return res.body.data as { id: string; email: string };
    };
    const live = await created();
    const deleted = await created();
    await env.DB.prepare("UPDATE users SET deleted_at = ? WHERE id = ?").bind(new Date().toISOString(), deleted.id).run();
    const passwordless = await created();
    await env.DB.prepare("UPDATE users SET password_hash = '' WHERE id = ?").bind(passwordless.id).run();
    const derive = vi.spyOn(crypto.subtle, "deriveBits");
    const answers: string[] = [];
    for (const [email, password] of [
      [`nobody-${crypto.randomUUID()}@example.com`, PASSWORD],
      [live.email, "Wrong-pass-1"],
      [deleted.email, PASSWORD],
      [passwordless.email, PASSWORD],
    ] as const) {
      derive.mockClear();
      const res = await expectUnchanged(() => login(email, password));
      expectError(res, 401, "invalid_credentials", MESSAGES.invalidCredentials);
      // One PBKDF2, at the full cost, whatever the case.
      expect(derive, email).toHaveBeenCalledTimes(1);
      expect(derive.mock.calls[0]?.[0], email).toMatchObject({ name: "PBKDF2", iterations: PBKDF2_ITERATIONS });
      answers.push(answerText(res));
    }
    expect(new Set(answers).size).toBe(1);
    expect((await login(live.email)).status).toBe(200);
  });

  it("refuses an unverified account with 403 email_not_verified only once its password is proven", async () => {
    const org = await createOrg();
    const unverified = await insertUser(org.id, ROLE.USER, { unverified: true });
    expectError(await expectUnchanged(() => login(unverified.email)), 403, "email_not_verified", MESSAGES.emailNotVerified);
    expectError(await login(unverified.email, "Wrong-pass-1"), 401, "invalid_credentials");
  });

  it("signs in an invited user with the password set at verification", async () => {
    const org = await createOrg();
    const invited = await invitedUser(org.users.OWNER);
    await call("POST", "/user/verify-email", { body: { token: invited.token, password: "Chosen-pass-7" } });
    const res = await login(invited.address, "Chosen-pass-7");
    expect(res.status, res.text).toBe(200);
    expect((await orgAs(org.id, res.body.accessToken)).status).toBe(200);
  });

  it("limits attempts per address, whatever client address they come from, and per client address", async () => {
    const org = await createOrg();
    const perAddress = { LOGIN_RATE_LIMITER: env.TIGHT_RATE_LIMITER } as unknown as Partial<Env>;
    const body = { email: org.users.USER.email, password: "Wrong-pass-1" };
    await callWith(perAddress, "POST", "/user/login", { body, headers: { "CF-Connecting-IP": "198.51.100.1" } });
    const limited = await callWith(perAddress, "POST", "/user/login", { body, headers: { "CF-Connecting-IP": "198.51.100.2" } });
    expectError(limited, 429, "rate_limited");
    expect(limited.headers.get("Retry-After")).toBe("60");
    expect(limited.headers.get("RateLimit-Policy")).toBe('"requests";q=600;w=60, "credentials";q=20;w=60, "sign-in";q=10;w=60');
    expect(limited.headers.get("RateLimit")).toBe('"sign-in";r=0;t=60');

    const perClient = { AUTH_RATE_LIMITER: env.TIGHT_RATE_LIMITER } as unknown as Partial<Env>;
    const headers = { "CF-Connecting-IP": "198.51.100.77" };
    await callWith(perClient, "POST", "/user/login", { body, headers });
    const other = { email: org.users.OWNER.email, password: "Wrong-pass-1" };
    expectError(await callWith(perClient, "POST", "/user/login", { body: other, headers }), 429, "rate_limited");
  });

  it("leaves an identity provider's own `sid` claim alone: its tokens name no session of ours", async () => {
    const org = await createOrg();
    const key = await idpKey("k-sid");
    for (const sid of [crypto.randomUUID(), "AbC-123_sess"]) {
      const token = await idpToken(key, org.users.USER.id, { sid });
      const res = await callWith(inlineIdp([key.publicJwk]), "GET", `/organization/${org.id}`, { token });
      expect(res.status, res.text).toBe(200);
    }
  });

  it("is not offered when an external identity provider issues the tokens", async () => {
    const org = await createOrg();
    const key = await idpKey("k1");
    const res = await callWith(inlineIdp([key.publicJwk]), "POST", "/user/login", {
      body: { email: org.users.USER.email, password: PASSWORD },
    });
    expectError(res, 403, "forbidden", MESSAGES.signInDisabled);
  });
});

describe("POST /user/refresh", () => {
  it("rotates: new access and refresh tokens for the same session, the used one spent", async () => {
    const org = await createOrg();
    const session = await signIn(org.users.USER);
    const res = await call("POST", "/user/refresh", { body: { refreshToken: session.refreshToken } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({
      success: true,
      token: res.body.accessToken,
      accessToken: expect.any(String),
      refreshToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      expiresAt: expect.any(Number),
    });
    expect(res.body.refreshToken).not.toBe(session.refreshToken);
    expect(decodeJwt(res.body.accessToken).sid).toBe(session.tokenId);
    expect((await orgAs(org.id, res.body.accessToken)).status).toBe(200);
    expect((await refresh(res.body.refreshToken)).status).toBe(200);
  });

  it("ends the whole session when a used refresh token comes back (reuse), and the next request of its tokens is 401", async () => {
    const org = await createOrg();
    const session = await signIn(org.users.USER);
    const next = (await refresh(session.refreshToken)).body;
    expectRefused(await refresh(session.refreshToken));
    expect(await sessionRow(session.tokenId)).toMatchObject({ ended_at: expect.any(String), end_reason: "reuse" });
    expectError(await orgAs(org.id, next.accessToken), 401, "unauthorized");
    expectError(await orgAs(org.id, session.accessToken), 401, "unauthorized");
    expectRefused(await refresh(next.refreshToken));
  });

  it("lets at most one of two concurrent refreshes with one token succeed; the session then ends, consistently", async () => {
    const org = await createOrg();
    const session = await signIn(org.users.USER);
    const answers = await Promise.all([refresh(session.refreshToken), refresh(session.refreshToken)]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 401]);
    const winner = answers.find((r) => r.status === 200) as ApiResponse;
    expect(await sessionRow(session.tokenId)).toMatchObject({ end_reason: "reuse" });
    expectRefused(await refresh(winner.body.refreshToken));
    expectError(await orgAs(org.id, winner.body.accessToken), 401, "unauthorized");
  });

  it("refuses an idle, an expired, a tampered and an unknown refresh token, identically", async () => {
    const org = await createOrg();
    const idle = await signIn(org.users.USER);
    await env.DB.prepare("UPDATE refresh_tokens SET created_at = ? WHERE session_id = ?")
      .bind(new Date(Date.now() - REFRESH_IDLE_MS - 1000).toISOString(), idle.tokenId)
      .run();
    const expired = await signIn(org.users.BILLING);
    await env.DB.prepare("UPDATE sessions SET expires_at = ? WHERE id = ?")
      .bind(new Date(Date.now() - 1000).toISOString(), expired.tokenId)
      .run();
    const live = await signIn(org.users.WORKSPACES);
    const tampered = `${live.refreshToken.slice(0, -1)}${live.refreshToken.endsWith("A") ? "B" : "A"}`;
    const answers = [];
    for (const token of [idle.refreshToken, expired.refreshToken, tampered, "x".repeat(43)]) {
      const res = await expectUnchanged(() => refresh(token));
      expectRefused(res);
      answers.push(answerText(res));
    }
    expect(new Set(answers).size).toBe(1);
    expect((await refresh(live.refreshToken)).status).toBe(200);
  });

  it("refuses a body with both names, or neither", async () => {
    const org = await createOrg();
    const session = await signIn(org.users.USER);
    for (const body of [{ refresh_token: session.refreshToken, refreshToken: session.refreshToken }, {}]) {
      expectError(await expectUnchanged(() => call("POST", "/user/refresh", { body })), 400, "validation_failed");
    }
  });

  it("ends the sessions of a soft-deleted user, and a reactivation does not bring them back", async () => {
    const org = await createOrg();
    const session = await signIn(org.users.USER);
    expect((await call("DELETE", `/organization/users/${org.users.USER.id}`, { token: org.users.OWNER.token })).status).toBe(200);
    expect(await sessionRow(session.tokenId)).toMatchObject({ ended_at: expect.any(String), end_reason: "deleted" });
    expectError(await orgAs(org.id, session.accessToken), 401, "unauthorized");
    expectRefused(await refresh(session.refreshToken));
    expect(
      (await call("POST", `/organization/users/${org.users.USER.id}/activate`, { token: org.users.OWNER.token })).status,
    ).toBe(200);
    expectRefused(await refresh(session.refreshToken));
    expectError(await orgAs(org.id, session.accessToken), 401, "unauthorized");
  });

  it("refuses to refresh a session opened before a soft delete even if it was never ended", async () => {
    const org = await createOrg();
    const session = await signIn(org.users.USER);
    // A deletion whose session update never happened (written before sessions ended with it).
    const watermark = Math.ceil(Date.now() / 1000) + 1;
    await env.DB.prepare("UPDATE users SET tokens_valid_after = ? WHERE id = ?").bind(watermark, org.users.USER.id).run();
    expectRefused(await refresh(session.refreshToken));
  });
});

describe("POST /user/logout", () => {
  it("ends the session: its access token is refused on the very next request, its refresh token too", async () => {
    const org = await createOrg();
    const session = await signIn(org.users.OWNER);
    const other = await signIn(org.users.OWNER);
    const res = await logout(session.refreshToken);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ success: true, message: MESSAGES.signedOut });
    expect(await sessionRow(session.tokenId)).toMatchObject({ ended_at: expect.any(String), end_reason: "logout" });
    expectError(await orgAs(org.id, session.accessToken), 401, "unauthorized");
    expectRefused(await refresh(session.refreshToken));
    expectRefused(await logout(session.refreshToken));
    // Writes check the session in their own statement too, and other sessions are untouched.
    expectError(
      await call("PUT", `/organization/${org.id}`, { token: session.accessToken, body: { city: "Oslo" } }),
      401,
      "unauthorized",
    );
    expect((await orgAs(org.id, other.accessToken)).status).toBe(200);
  });

  it("ends the session when signing out with a refresh token someone already used, and still answers 401", async () => {
    const org = await createOrg();
    const session = await signIn(org.users.USER);
    const rotated = (await refresh(session.refreshToken)).body;
    expectRefused(await logout(session.refreshToken));
    expect(await sessionRow(session.tokenId)).toMatchObject({ end_reason: "reuse" });
    expectRefused(await refresh(rotated.refreshToken));
    expectError(await orgAs(org.id, rotated.accessToken), 401, "unauthorized");
  });
});

describe("GET /token and DELETE /token/{tokenId}", () => {
  it("lists the caller's live sessions, newest first, with the current one marked and never a token", async () => {
    const org = await createOrg();
    const first = await signIn(org.users.USER);
    const second = await signIn(org.users.USER);
    const ended = await signIn(org.users.USER);
    await logout(ended.refreshToken);
    await signIn(org.users.OWNER);
    const res = await call("GET", "/token", { token: second.accessToken });
    expect(res.status, res.text).toBe(200);
    expect(res.body.tokens.map((t: { id: string; current: boolean }) => [t.id, t.current])).toEqual([
      [second.tokenId, true],
      [first.tokenId, false],
    ]);
    for (const secret of [first.accessToken, first.refreshToken, second.refreshToken]) expect(res.text).not.toContain(secret);
  });

  it("ends one of the caller's own sessions: its access token is refused on the very next request, the others keep working", async () => {
    const org = await createOrg();
    const phone = await signIn(org.users.USER);
    const laptop = await signIn(org.users.USER);
    const res = await call("DELETE", `/token/${phone.tokenId}`, { token: laptop.accessToken });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ success: true, message: MESSAGES.sessionEnded });
    expect(await sessionRow(phone.tokenId)).toMatchObject({ ended_at: expect.any(String), end_reason: "revoked" });
    expectError(await orgAs(org.id, phone.accessToken), 401, "unauthorized");
    expectRefused(await refresh(phone.refreshToken));
    expect((await orgAs(org.id, laptop.accessToken)).status).toBe(200);
    expectError(await call("DELETE", `/token/${phone.tokenId}`, { token: laptop.accessToken }), 404, "not_found");
  });

  it("answers 404 for another user's session, of this organization or another, and an unknown id, ending nothing", async () => {
    const org = await createOrg();
    const other = await createOrg();
    const mine = await signIn(org.users.OWNER);
    const colleague = await signIn(org.users.USER);
    const foreign = await signIn(other.users.USER);
    for (const id of [colleague.tokenId, foreign.tokenId, crypto.randomUUID()]) {
      const res = await expectUnchanged(() => call("DELETE", `/token/${id}`, { token: mine.accessToken }));
      expectError(res, 404, "not_found", MESSAGES.sessionNotFound);
    }
    expect((await orgAs(org.id, colleague.accessToken)).status).toBe(200);
  });
});

describe("GET /user/profile", () => {
  it("answers the caller's profile in Flashback's UserProfileResponse shape", async () => {
    const org = await createOrg();
    await env.DB.prepare("UPDATE organizations SET mfa_enforced = 1, is_business = 1 WHERE id = ?").bind(org.id).run();
    const res = await call("GET", "/user/profile", { token: org.users.ADMINISTRATOR.token });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({
      success: true,
      data: {
        id: org.users.ADMINISTRATOR.id,
        name: "Ada",
        lastName: "Lovelace",
        email: org.users.ADMINISTRATOR.email,
        orgId: org.id,
        orgRole: ROLE.ADMINISTRATOR,
        orgRoleDescription: "ADMINISTRATORS",
        orgRoles: [0, 1, 2, 254],
        validated: true,
        mfaRequired: true,
        isBusiness: true,
      },
    });
  });
});

describe("PUT /user/{userId}", () => {
  it.each(["OWNER", "ADMINISTRATOR", "WORKSPACES", "BILLING", "USER"] as const)(
    "lets a %s change their own names, and no one else's (403, nothing written)",
    async (role) => {
      const org = await createOrg();
      const me = org.users[role];
      const res = await call("PUT", `/user/${me.id}`, { token: me.token, body: { name: "Grace", lastName: "Hopper" } });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({ success: true, message: MESSAGES.userUpdated });
      expect(await userRow(me.id)).toMatchObject({ first_name: "Grace", first_name_folded: "grace", last_name: "Hopper" });
      const other = role === "USER" ? org.users.BILLING : org.users.USER;
      const refused = await expectUnchanged(() =>
        call("PUT", `/user/${other.id}`, { token: me.token, body: { name: "Mallory" } }),
      );
      expectError(refused, 403, "forbidden", MESSAGES.ownAccountOnly);
    },
  );

  it("changes the password and ends every other session at once; the session making the change stays", async () => {
    const org = await createOrg();
    const user = org.users.USER;
    const here = await signIn(user);
    const elsewhere = await signIn(user);
    const res = await call("PUT", `/user/${user.id}`, { token: here.accessToken, body: { password: "Brand-n3w-secret" } });
    expect(res.status, res.text).toBe(200);
    expectError(await orgAs(org.id, elsewhere.accessToken), 401, "unauthorized");
    expectRefused(await refresh(elsewhere.refreshToken));
    expect(await sessionRow(elsewhere.tokenId)).toMatchObject({ end_reason: "password" });
    expect((await orgAs(org.id, here.accessToken)).status).toBe(200);
    expectError(await login(user.email), 401, "invalid_credentials");
    expect((await login(user.email, "Brand-n3w-secret")).status).toBe(200);
  });

  it("refuses a weak password and an empty body, writing nothing", async () => {
    const org = await createOrg();
    const me = org.users.USER;
    const weak = await expectUnchanged(() => call("PUT", `/user/${me.id}`, { token: me.token, body: { password: "short" } }));
    expectError(weak, 400, "validation_failed");
    const empty = await expectUnchanged(() => call("PUT", `/user/${me.id}`, { token: me.token, body: {} }));
    expectError(empty, 400, "bad_request", MESSAGES.noFields);
  });
});
