import { afterEach, describe, expect, it, vi } from "vitest";
import { call } from "../helpers/api";
import { createOrg } from "../helpers/fixtures";
import { logout, signIn } from "../helpers/sign-in";

afterEach(() => vi.restoreAllMocks());

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
