import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ROLE } from "../../src/auth/roles";
import { createDb } from "../../src/db/client";
import { POLICIES } from "../../src/auth/policy";
import { softDeleteUser, updateUser } from "../../src/db/users";
import { call, expectError, type ApiResponse } from "../helpers/api";
import { callerRef, createOrg, createTwoOrgs, insertUser, ISO } from "../helpers/fixtures";
import { expectUnchanged, userRow } from "../helpers/snapshot";
import { callWith, interleavedDb } from "../helpers/faults";
import { liveOwnerIds, orgWithTwoOwners, setDeleted, updateUserCall } from "../helpers/users";

describe("deleteUser: DELETE /organization/users/{userId}", () => {
  describe("happy path", () => {
    it("soft-deletes: 200 with data null, deleted_at set, the row otherwise kept; a second DELETE is 404", async () => {
      const org = await createOrg();
      const target = org.users.BILLING;
      const before = await userRow(target.id);

      const res = await call("DELETE", `/organization/users/${target.id}`, { token: org.users.WORKSPACES.token });

      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({ success: true, data: null, message: "User deleted successfully" });
      const after = await userRow(target.id);
      expect(after?.deleted_at).toMatch(ISO);
      // The token watermark is the end of the second of the deletion.
      expect(after?.tokens_valid_after).toBe(Math.ceil(Date.parse(after?.deleted_at as string) / 1000));
      expect(after).toEqual({
        ...before,
        deleted_at: after?.deleted_at,
        updated_at: after?.updated_at,
        tokens_valid_after: after?.tokens_valid_after,
        version: (before?.version as number) + 1,
      });

      const again = await expectUnchanged(() =>
        call("DELETE", `/organization/users/${target.id}`, { token: org.users.WORKSPACES.token }),
      );
      expectError(again, 404, "not_found", "User not found");
    });
  });

  describe("errors", () => {
    it("answers 404 when activating or deleting a foreign or unknown user, and writes nothing", async () => {
      const { a, b } = await createTwoOrgs();
      const token = a.users.OWNER.token;
      for (const id of [b.deleted.id, b.users.USER.id, crypto.randomUUID()]) {
        const activate = await expectUnchanged(() => call("POST", `/organization/users/${id}/activate`, { token }));
        expectError(activate, 404, "not_found", "User not found");
        const del = await expectUnchanged(() => call("DELETE", `/organization/users/${id}`, { token }));
        expectError(del, 404, "not_found", "User not found");
      }
    });

    it("refuses to delete oneself with 400 'Cannot delete yourself'", async () => {
      const org = await createOrg();
      const res = await expectUnchanged(() =>
        call("DELETE", `/organization/users/${org.users.WORKSPACES.id}`, { token: org.users.WORKSPACES.token }),
      );
      expectError(res, 400, "bad_request", "Cannot delete yourself");
    });
  });

  describe("rules", () => {
    it("refuses the deleted user's token at once with 401", async () => {
      const org = await createOrg();
      const target = org.users.USER;
      const before = await call("GET", `/organization/${org.id}`, { token: target.token });
      expect(before.status, before.text).toBe(200);

      const del = await call("DELETE", `/organization/users/${target.id}`, { token: org.users.OWNER.token });
      expect(del.status, del.text).toBe(200);

      const after = await call("GET", `/organization/${org.id}`, { token: target.token });
      expectError(after, 401, "unauthorized");
      expect(after.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
    });

    // A refused write is explained by the target as that write saw it, read in the same transaction:
    // a concurrent change landing right after the write must not change the reason given.
    describe("refusals explained by the state the write saw", () => {
      it("DELETE of a user who was deleted is 404, though another request reactivated them right after", async () => {
        const org = await createOrg();
        const target = await insertUser(org.id, ROLE.USER, { deleted: true });
        const DB = interleavedDb(/^update "users"/i, setDeleted(target.id, false), { after: true });
        const res = await callWith({ DB }, "DELETE", `/organization/users/${target.id}`, { token: org.users.OWNER.token });
        expectError(res, 404, "not_found", "User not found");
        expect(await userRow(target.id)).toMatchObject({ deleted_at: null });
      });
    });

    describe("the last live owner", () => {
      it("cannot be deleted: by themselves (400) nor by an ADMINISTRATOR (403), and nothing is written", async () => {
        const org = await createOrg();
        const owner = org.users.OWNER;
        const self = await expectUnchanged(() => call("DELETE", `/organization/users/${owner.id}`, { token: owner.token }));
        expectError(self, 400, "bad_request", "Cannot delete yourself");
        const admin = await expectUnchanged(() =>
          call("DELETE", `/organization/users/${owner.id}`, { token: org.users.ADMINISTRATOR.token }),
        );
        expectError(admin, 403, "forbidden");
        expect(await liveOwnerIds(org.id)).toEqual([owner.id]);
      });

      it("lets one of two owners delete the other, after which the remaining owner is the only live owner", async () => {
        const { org, a, b } = await orgWithTwoOwners();
        const res = await call("DELETE", `/organization/users/${b.id}`, { token: a.token });
        expect(res.status, res.text).toBe(200);
        expect(await liveOwnerIds(org.id)).toEqual([a.id]);
        expectError(await updateUserCall(a.token, a.id, { orgRole: ROLE.ADMINISTRATOR }), 409, "last_owner");
      });

      it("two owners deleting each other concurrently: one 200, the other refused, one owner left (10 rounds)", async () => {
        for (let round = 0; round < 10; round++) {
          const { org, a, b } = await orgWithTwoOwners();
          const responses = await Promise.all([
            call("DELETE", `/organization/users/${b.id}`, { token: a.token }),
            call("DELETE", `/organization/users/${a.id}`, { token: b.token }),
          ]);
          const detail = `round ${round}: ${responses.map((r) => r.text).join(" | ")}`;
          expect(
            responses.filter((r) => r.status === 200),
            detail,
          ).toHaveLength(1);
          // Whenever it was authenticated, the loser's write runs after its caller was deleted: 401.
          expectError(responses.find((r) => r.status !== 200) as ApiResponse, 401, "unauthorized");
          const owners = await liveOwnerIds(org.id);
          expect(owners, detail).toHaveLength(1);
          const { n } = (await env.DB.prepare("SELECT count(*) AS n FROM users WHERE org_id = ? AND org_role = 255")
            .bind(org.id)
            .first<{ n: number }>())!;
          expect(n).toBe(2);
        }
      });

      it("refuses to delete the only live owner even for a caller authorized as an owner (the guard behind 409)", async () => {
        const { org, a, b } = await orgWithTwoOwners();
        const db = createDb(env.DB);
        // b is gone; a is now the only live owner. A stale owner authorization for b must not remove a,
        // and neither may a itself: deleting oneself is refused first, demoting oneself as the last
        // owner. (A deletion can never reach the last-owner rule: outranking an owner target takes a
        // live owner caller; the rule stays in the verdict all the same.)
        await env.DB.prepare("UPDATE users SET deleted_at = ? WHERE id = ?").bind(new Date().toISOString(), b.id).run();
        const stale = await expectUnchanged(() =>
          softDeleteUser(db, POLICIES.deleteUser, { caller: callerRef(b), targetId: a.id }),
        );
        expect(stale).toEqual({ verdict: "token", row: undefined });
        // a's own deletion is refused as a deletion of oneself, before the owner rule.
        const deleted = await expectUnchanged(() =>
          softDeleteUser(db, POLICIES.deleteUser, { caller: callerRef(a), targetId: a.id }),
        );
        expect(deleted).toEqual({ verdict: "self", row: undefined });
        // The write's verdict, read in its batch: the target live and the only owner (so the 409).
        const demoted = await expectUnchanged(() =>
          updateUser(db, POLICIES.updateUser, { caller: callerRef(a), targetId: a.id }, { orgRole: ROLE.ADMINISTRATOR }),
        );
        expect(demoted).toEqual({ verdict: "last_owner", row: undefined });
        expect(await liveOwnerIds(org.id)).toEqual([a.id]);
      });
    });
  });
});
