import { afterEach, describe, expect, it, vi } from "vitest";
import { MESSAGES } from "../../src/errors";
import { call, expectError } from "../helpers/api";
import { createOrg } from "../helpers/fixtures";
import { expectUnchanged } from "../helpers/snapshot";
import { expectRefused, orgAs, refresh, sessionRow, signIn } from "../helpers/sign-in";

afterEach(() => vi.restoreAllMocks());

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
