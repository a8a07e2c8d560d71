import { describe, expect, it } from "vitest";
import { ROLE } from "../../src/auth/roles";
import { answerText, call, expectError, ORG_USER_FIELDS } from "../helpers/api";
import { createOrg, insertUser, tokenFor } from "../helpers/fixtures";
import { expectUnchanged, userRow } from "../helpers/snapshot";
import { callWith, interleavedDb } from "../helpers/faults";
import { MESSAGES } from "../../src/errors";
import { key, keysOf } from "../helpers/idempotency";
import { activatePath, setDeleted } from "../helpers/users";

// 404 for another organization's user and an unknown id is asserted with deleteUser's, in delete-user.test.ts.
describe("activateUser: POST /organization/users/{userId}/activate", () => {
  describe("happy path", () => {
    it("reactivates: 200, deletedAt null in the answer and the row; tokens issued before the deletion stay refused, new ones work", async () => {
      const org = await createOrg();
      const target = org.users.USER;
      await call("DELETE", `/organization/users/${target.id}`, { token: org.users.OWNER.token });
      expectError(await call("GET", `/organization/${org.id}`, { token: target.token }), 401, "unauthorized");

      const res = await call("POST", `/organization/users/${target.id}/activate`, { token: org.users.WORKSPACES.token });

      expect(res.status, res.text).toBe(200);
      expect(res.body.message).toBe("User activated successfully");
      expect(Object.keys(res.body.data).sort()).toEqual(ORG_USER_FIELDS);
      expect(res.body.data).toMatchObject({ id: target.id, email: target.email, deletedAt: null });
      const row = await userRow(target.id);
      expect(row).toMatchObject({ deleted_at: null });
      expectError(await call("GET", `/organization/${org.id}`, { token: target.token }), 401, "unauthorized");
      const fresh = await tokenFor(target.id, { iat: (row?.tokens_valid_after as number) + 1 });
      const back = await call("GET", `/organization/${org.id}`, { token: fresh });
      expect(back.status, back.text).toBe(200);
      const visible = await call("GET", `/organization/users/${target.id}`, { token: org.users.OWNER.token });
      expect(visible.status, visible.text).toBe(200);
    });
  });

  describe("errors", () => {
    it("refuses to activate a live user with 400 'User is not deleted'", async () => {
      const org = await createOrg();
      const res = await expectUnchanged(() =>
        call("POST", `/organization/users/${org.users.USER.id}/activate`, { token: org.users.OWNER.token }),
      );
      expectError(res, 400, "bad_request", "User is not deleted");
    });
  });

  describe("rules", () => {
    // A refused write is explained by the target as that write saw it, read in the same transaction:
    // a concurrent change landing right after the write must not change the reason given.
    describe("refusals explained by the state the write saw", () => {
      it("activate of a live user is 400 User is not deleted, though another request deleted them right after", async () => {
        const org = await createOrg();
        const target = await insertUser(org.id, ROLE.USER);
        const DB = interleavedDb(/^update "users"/i, setDeleted(target.id, true), { after: true });
        const res = await callWith({ DB }, "POST", `/organization/users/${target.id}/activate`, { token: org.users.OWNER.token });
        expectError(res, 400, "bad_request", "User is not deleted");
        expect((await userRow(target.id))?.deleted_at).not.toBeNull();
      });
    });

    describe("Idempotency-Key", () => {
      it("answers a retry with the first answer where, without the key, it would be refused as not deleted", async () => {
        const org = await createOrg();
        const token = org.users.OWNER.token;
        const deleted = await insertUser(org.id, ROLE.USER, { deleted: true });
        const headers = { "Idempotency-Key": key() };
        const first = await call("POST", activatePath(deleted.id), { token, headers });
        expect(first.status).toBe(200);
        const retry = await expectUnchanged(() => call("POST", activatePath(deleted.id), { token, headers }));
        expect(retry.status).toBe(200);
        expect(retry.headers.get("Idempotent-Replayed")).toBe("true");
        expect(answerText(retry)).toBe(answerText(first));
        expectError(await call("POST", activatePath(deleted.id), { token }), 400, "bad_request", MESSAGES.notDeleted);
      });

      it("does nothing on a retry even where the work could be done again: a user deleted since stays deleted", async () => {
        const org = await createOrg();
        const token = org.users.OWNER.token;
        const user = await insertUser(org.id, ROLE.USER, { deleted: true });
        const headers = { "Idempotency-Key": key() };
        const first = await call("POST", activatePath(user.id), { token, headers });
        expect(first.status).toBe(200);
        expect((await call("DELETE", `/organization/users/${user.id}`, { token })).status).toBe(200);
        const retry = await expectUnchanged(() => call("POST", activatePath(user.id), { token, headers }));
        expect(retry.headers.get("Idempotent-Replayed")).toBe("true");
        expect(answerText(retry)).toBe(answerText(first));
      });

      it("keeps no answer when the write was refused after the verdict (not deleted)", async () => {
        const org = await createOrg();
        const owner = org.users.OWNER;
        const live = await insertUser(org.id, ROLE.USER);
        const headers = { "Idempotency-Key": key() };
        expectError(await call("POST", activatePath(live.id), { token: owner.token, headers }), 400, "bad_request");
        expect(await keysOf(owner.id)).toEqual([]);
      });
    });
  });
});
