import { afterEach, describe, expect, it, vi } from "vitest";
import { MESSAGES } from "../../src/errors";
import { call, expectError } from "../helpers/api";
import { createOrg } from "../helpers/fixtures";
import { expectUnchanged, userRow } from "../helpers/snapshot";
import { expectRefused, login, orgAs, refresh, sessionRow, signIn } from "../helpers/sign-in";

afterEach(() => vi.restoreAllMocks());

describe("updateOwnAccount: PUT /user/{userId}", () => {
  describe("happy path", () => {
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
  });

  describe("errors", () => {
    it("refuses a weak password and an empty body, writing nothing", async () => {
      const org = await createOrg();
      const me = org.users.USER;
      const weak = await expectUnchanged(() => call("PUT", `/user/${me.id}`, { token: me.token, body: { password: "short" } }));
      expectError(weak, 400, "validation_failed");
      const empty = await expectUnchanged(() => call("PUT", `/user/${me.id}`, { token: me.token, body: {} }));
      expectError(empty, 400, "bad_request", MESSAGES.noFields);
    });
  });

  describe("rules", () => {
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
  });
});
