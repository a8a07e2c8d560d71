import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MESSAGES } from "../../src/errors";
import { call, expectError, type ApiResponse } from "../helpers/api";
import { createOrg, type FixtureUser } from "../helpers/fixtures";

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

describe("logout: POST /user/logout", () => {
  describe("happy path", () => {
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
  });

  describe("rules", () => {
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
});
