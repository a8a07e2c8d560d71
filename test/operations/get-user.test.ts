import { describe, expect, it } from "vitest";
import { call, expectError, ORG_USER_FIELDS } from "../helpers/api";
import { createOrg, ISO } from "../helpers/fixtures";
import { userRow } from "../helpers/snapshot";

// The user's ETag, If-None-Match and 304: test/http/preconditions.test.ts.
describe("getUser: GET /organization/users/{userId}", () => {
  describe("happy path", () => {
    it("hides the deleted user from GET (404) unless includeDeleted=true, which shows deletedAt", async () => {
      const org = await createOrg();
      const target = org.users.USER;
      await call("DELETE", `/organization/users/${target.id}`, { token: org.users.OWNER.token });
      const row = await userRow(target.id);

      const hidden = await call("GET", `/organization/users/${target.id}`, { token: org.users.OWNER.token });
      expectError(hidden, 404, "not_found", "User not found");

      const shown = await call("GET", `/organization/users/${target.id}?includeDeleted=true`, { token: org.users.OWNER.token });
      expect(shown.status, shown.text).toBe(200);
      expect(Object.keys(shown.body).sort()).toEqual(ORG_USER_FIELDS);
      expect(shown.body).toMatchObject({ id: target.id, deletedAt: row?.deleted_at });
      expect(shown.body.deletedAt).toMatch(ISO);
    });
  });
});
