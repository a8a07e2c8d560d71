import { afterEach, describe, expect, it, vi } from "vitest";
import { MESSAGES } from "../../src/errors";
import { call, expectError } from "../helpers/api";
import { createOrg } from "../helpers/fixtures";
import { expectRefused, logout, orgAs, refresh, sessionRow, signIn } from "../helpers/sign-in";

afterEach(() => vi.restoreAllMocks());

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
