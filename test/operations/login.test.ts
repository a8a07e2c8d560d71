import { env } from "cloudflare:workers";
import { decodeJwt } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ACCESS_TOKEN_TTL_SECONDS } from "../../src/auth/access-token";
import { PBKDF2_ITERATIONS } from "../../src/auth/password";
import { opaqueTokenHash } from "../../src/auth/opaque-token";
import { ROLE } from "../../src/auth/roles";
import { MESSAGES } from "../../src/errors";
import { answerText, call, expectError } from "../helpers/api";
import { callWith } from "../helpers/faults";
import { createOrg, FIXTURE_PASSWORD, insertUser } from "../helpers/fixtures";
import { idpKey, idpToken, inlineIdp } from "../helpers/idp";
import { invitedUser } from "../helpers/invitations";
import { expectUnchanged } from "../helpers/snapshot";
import { login, orgAs, sessionRow } from "../helpers/sign-in";

afterEach(() => vi.restoreAllMocks());

describe("login: POST /user/login", () => {
  describe("happy path", () => {
    it("opens a session: a one-hour access token with Flashback's claims and the session id, a refresh token stored as a hash", async () => {
      const org = await createOrg();
      const user = org.users.WORKSPACES;
      const before = Math.floor(Date.now() / 1000);
      const deviceInfo = { userAgent: "Mozilla/5.0", deviceType: "DESKTOP", os: "Linux", browser: "Firefox" };
      const res = await login(user.email.toUpperCase(), FIXTURE_PASSWORD, { deviceInfo });
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

    it("signs in an invited user with the password set at verification", async () => {
      const org = await createOrg();
      const invited = await invitedUser(org.users.OWNER);
      await call("POST", "/user/verify-email", { body: { token: invited.token, password: "Chosen-pass-7" } });
      const res = await login(invited.address, "Chosen-pass-7");
      expect(res.status, res.text).toBe(200);
      expect((await orgAs(org.id, res.body.accessToken)).status).toBe(200);
    });
  });

  describe("errors", () => {
    it("answers an unknown address, a wrong password, a deleted account and one without a password identically, after the same hashing", async () => {
      const org = await createOrg();
      // Accounts with a real (100,000-iteration) hash: created through the API, verified here.
      const created = async (extra: Record<string, unknown> = {}) => {
        const res = await call("POST", "/organization/users", {
          token: org.users.OWNER.token,
          body: {
            email: `login-${crypto.randomUUID()}@example.com`,
            password: FIXTURE_PASSWORD,
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
        [`nobody-${crypto.randomUUID()}@example.com`, FIXTURE_PASSWORD],
        [live.email, "Wrong-pass-1"],
        [deleted.email, FIXTURE_PASSWORD],
        [passwordless.email, FIXTURE_PASSWORD],
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
  });

  describe("rules", () => {
    it("refuses an unverified account with 403 email_not_verified only once its password is proven", async () => {
      const org = await createOrg();
      const unverified = await insertUser(org.id, ROLE.USER, { unverified: true });
      expectError(await expectUnchanged(() => login(unverified.email)), 403, "email_not_verified", MESSAGES.emailNotVerified);
      expectError(await login(unverified.email, "Wrong-pass-1"), 401, "invalid_credentials");
    });

    it("limits attempts per address, whatever client address they come from, and per client address", async () => {
      const org = await createOrg();
      const perAddress = { LOGIN_RATE_LIMITER: env.TIGHT_RATE_LIMITER } as unknown as Partial<Env>;
      const body = { email: org.users.USER.email, password: "Wrong-pass-1" };
      await callWith(perAddress, "POST", "/user/login", { body, headers: { "CF-Connecting-IP": "198.51.100.1" } });
      const limited = await callWith(perAddress, "POST", "/user/login", {
        body,
        headers: { "CF-Connecting-IP": "198.51.100.2" },
      });
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
        body: { email: org.users.USER.email, password: FIXTURE_PASSWORD },
      });
      expectError(res, 403, "forbidden", MESSAGES.signInDisabled);
    });
  });
});
