import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MESSAGES } from "../../src/errors";
import { call, expectError, type ApiResponse } from "../helpers/api";
import { createOrg, type FixtureUser } from "../helpers/fixtures";
import { expectUnchanged } from "../helpers/snapshot";

// POST /user/login, /user/refresh and /user/logout, with the bodies Flashback's client sends
// (userLogin, userRefresh and userLogout send `refresh_token`).

// Every fixture user's password (test/helpers/fixtures.ts).
const PASSWORD = "Fixture-pass-1";

afterEach(() => vi.restoreAllMocks());

const login = (email: string, password = PASSWORD, extra: Record<string, unknown> = {}) =>
  call("POST", "/user/login", { body: { email, password, ...extra } });
const refresh = (token: string) => call("POST", "/user/refresh", { body: { refresh_token: token } });

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

describe("revokeSession: DELETE /token/{tokenId}", () => {
  describe("happy path", () => {
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
  });

  describe("errors", () => {
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
});
