import { afterEach, describe, expect, it, vi } from "vitest";
import { call } from "../helpers/api";
import { createOrg, type FixtureUser } from "../helpers/fixtures";

// POST /user/login, /user/refresh and /user/logout, with the bodies Flashback's client sends
// (userLogin, userRefresh and userLogout send `refresh_token`).

// Every fixture user's password (test/helpers/fixtures.ts).
const PASSWORD = "Fixture-pass-1";

afterEach(() => vi.restoreAllMocks());

const login = (email: string, password = PASSWORD, extra: Record<string, unknown> = {}) =>
  call("POST", "/user/login", { body: { email, password, ...extra } });
const logout = (token: string) => call("POST", "/user/logout", { body: { refresh_token: token } });

async function signIn(user: FixtureUser) {
  const res = await login(user.email);
  expect(res.status, res.text).toBe(200);
  return res.body as { accessToken: string; refreshToken: string; tokenId: string; expiresAt: number };
}

describe("listSessions: GET /token", () => {
  describe("happy path", () => {
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
  });
});
