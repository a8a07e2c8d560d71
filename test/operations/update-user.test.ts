import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ROLE } from "../../src/auth/roles";
import { createDb } from "../../src/db/client";
import { POLICIES } from "../../src/auth/policy";
import { softDeleteUser, updateUser } from "../../src/db/users";
import { answerText, call, expectError, ORG_USER_FIELDS, type ApiResponse } from "../helpers/api";
import { callerRef, createOrg, createTwoOrgs, insertUser, type FixtureUser } from "../helpers/fixtures";
import { expectUnchanged, userRow } from "../helpers/snapshot";
import { callWith, gatedDb, interleavedDb } from "../helpers/faults";
import { liveOwnerIds, orgWithTwoOwners, setDeleted, updateUserCall } from "../helpers/users";

const MESSAGES_TARGET_ABOVE = "Insufficient permissions: you cannot modify a user with a higher role than your own";

function statusesOf(responses: ApiResponse[]): number[] {
  return responses.map((r) => r.status).sort((x, y) => x - y);
}

// If-Match and REQUIRE_IF_MATCH: test/http/preconditions.test.ts.
describe("updateUser: PUT /organization/users/{userId}", () => {
  describe("happy path", () => {
    it("updates only the first name (trimmed) and leaves the rest of the row unchanged", async () => {
      const org = await createOrg();
      const target = org.users.USER;
      const before = await userRow(target.id);

      const res = await updateUserCall(org.users.WORKSPACES.token, target.id, { name: "  Ann-Marie " });

      expect(res.status, res.text).toBe(200);
      expect(res.body.message).toBe("User updated successfully");
      expect(Object.keys(res.body.data).sort()).toEqual(ORG_USER_FIELDS);
      expect(res.body.data).toMatchObject({
        id: target.id,
        name: "Ann-Marie",
        lastName: "Lovelace",
        orgRole: 0,
        deletedAt: null,
      });
      const after = await userRow(target.id);
      expect(after).toEqual({
        ...before,
        first_name: "Ann-Marie",
        first_name_folded: "ann-marie",
        updated_at: after?.updated_at,
        version: (before?.version as number) + 1,
      });
      expect(after?.updated_at).not.toBe(before?.updated_at);
    });

    it("updates only the last name, then only the role, each time answering the stored user", async () => {
      const org = await createOrg();
      const target = org.users.USER;

      const last = await updateUserCall(org.users.ADMINISTRATOR.token, target.id, { lastName: " Byron " });
      expect(last.status, last.text).toBe(200);
      expect(last.body.data).toMatchObject({ name: "Ada", lastName: "Byron", orgRole: 0 });
      expect(await userRow(target.id)).toMatchObject({
        first_name: "Ada",
        last_name: "Byron",
        last_name_folded: "byron",
        org_role: 0,
      });

      const role = await updateUserCall(org.users.ADMINISTRATOR.token, target.id, { orgRole: ROLE.WORKSPACES });
      expect(role.status, role.text).toBe(200);
      expect(role.body.data).toMatchObject({
        name: "Ada",
        lastName: "Byron",
        orgRole: 2,
        orgRoleDescription: "WORKSPACES",
        orgRoles: [0, 1, 2],
      });
      expect(await userRow(target.id)).toMatchObject({ first_name: "Ada", last_name: "Byron", org_role: 2 });

      const fetched = await call("GET", `/organization/users/${target.id}`, { token: org.users.OWNER.token });
      expect(fetched.body).toEqual(role.body.data);
    });
  });

  describe("errors", () => {
    it("refuses a body with no updatable field with 400 'No valid fields to update'", async () => {
      const org = await createOrg();
      const res = await expectUnchanged(() => updateUserCall(org.users.OWNER.token, org.users.USER.id, {}));
      expectError(res, 400, "bad_request", "No valid fields to update");
    });

    it("answers 404 for a soft-deleted, a foreign and an unknown user, with one body and no write", async () => {
      const { a, b } = await createTwoOrgs();
      const token = a.users.OWNER.token;
      const bodies = [];
      for (const id of [a.deleted.id, b.users.USER.id, b.deleted.id, crypto.randomUUID()]) {
        for (const body of [{ name: "X" }, { orgRole: ROLE.BILLING }]) {
          const res = await expectUnchanged(() => updateUserCall(token, id, body));
          expectError(res, 404, "not_found", "User not found");
          bodies.push(answerText(res));
        }
      }
      for (const body of bodies) expect(body).toBe(bodies[0]);
    });
  });

  describe("rules", () => {
    describe("concurrent updates of one user", () => {
      it("applies two concurrent updates of different fields of one user, both answered 200", async () => {
        const org = await createOrg();
        const target = org.users.BILLING;
        const [first, last] = await Promise.all([
          updateUserCall(org.users.OWNER.token, target.id, { name: "Katherine" }),
          updateUserCall(org.users.ADMINISTRATOR.token, target.id, { lastName: "Johnson" }),
        ]);

        expect(first.status, first.text).toBe(200);
        expect(last.status, last.text).toBe(200);
        expect(await userRow(target.id)).toMatchObject({
          first_name: "Katherine",
          first_name_folded: "katherine",
          last_name: "Johnson",
          last_name_folded: "johnson",
          org_role: 1,
        });
      });
      it("three updates of different fields, held until all passed their checks, all land: the answers show one serial order (5 rounds)", async () => {
        for (let round = 0; round < 5; round++) {
          const org = await createOrg();
          const target = await insertUser(org.id, ROLE.USER, { firstName: "Ada", lastName: "Lovelace" });
          // The three writes wait for one another, so they reach D1 together, after every check.
          const DB = gatedDb(/^update "users"/i, 3);
          const changes = [{ name: "Katherine" }, { lastName: "Johnson" }, { orgRole: ROLE.BILLING }];
          const callers = [org.users.OWNER, org.users.ADMINISTRATOR, org.users.WORKSPACES];
          const responses = await Promise.all(
            changes.map((body, i) =>
              callWith({ DB }, "PUT", `/organization/users/${target.id}`, { token: (callers[i] as FixtureUser).token, body }),
            ),
          );
          const detail = `round ${round}: ${responses.map((r) => r.text).join(" | ")}`;
          expect(statusesOf(responses), detail).toEqual([200, 200, 200]);
          // No update lost: the row has all three.
          expect(await userRow(target.id), detail).toMatchObject({
            first_name: "Katherine",
            first_name_folded: "katherine",
            last_name: "Johnson",
            last_name_folded: "johnson",
            org_role: ROLE.BILLING,
          });
          // Each answer is the row right after its own write: one saw only its change, one two, one all three.
          const applied = responses.map((r) => {
            const user = r.body.data as { name: string; lastName: string; orgRole: number };
            return [user.name === "Katherine", user.lastName === "Johnson", user.orgRole === ROLE.BILLING].filter(Boolean).length;
          });
          expect(applied.sort(), detail).toEqual([1, 2, 3]);
        }
      });
    });

    // A refused write is explained by the target as that write saw it, read in the same transaction:
    // a concurrent change landing right after the write must not change the reason given.
    describe("refusals explained by the state the write saw", () => {
      it("PUT of a user who was deleted is 404 and changes nothing, though they were reactivated right after", async () => {
        const org = await createOrg();
        const target = await insertUser(org.id, ROLE.USER, { deleted: true, firstName: "Ada" });
        const DB = interleavedDb(/^update "users"/i, setDeleted(target.id, false), { after: true });
        const res = await callWith({ DB }, "PUT", `/organization/users/${target.id}`, {
          token: org.users.OWNER.token,
          body: { name: "Grace" },
        });
        expectError(res, 404, "not_found", "User not found");
        expect(await userRow(target.id)).toMatchObject({ first_name: "Ada", deleted_at: null });
      });
    });

    describe("the last live owner", () => {
      it("cannot demote themselves when they are the only owner (409 last_owner, no write)", async () => {
        const org = await createOrg();
        for (const orgRole of [ROLE.ADMINISTRATOR, ROLE.USER]) {
          const res = await expectUnchanged(() => updateUserCall(org.users.OWNER.token, org.users.OWNER.id, { orgRole }));
          expectError(res, 409, "last_owner");
        }
        expect(await liveOwnerIds(org.id)).toEqual([org.users.OWNER.id]);
      });

      it("lets one of two owners demote the other, after which the remaining owner cannot demote themselves", async () => {
        const { org, a, b } = await orgWithTwoOwners();

        const res = await updateUserCall(a.token, b.id, { orgRole: ROLE.ADMINISTRATOR });
        expect(res.status, res.text).toBe(200);
        expect(res.body.data).toMatchObject({ id: b.id, orgRole: 254, orgRoleDescription: "ADMINISTRATORS" });
        expect(await liveOwnerIds(org.id)).toEqual([a.id]);

        const last = await expectUnchanged(() => updateUserCall(a.token, a.id, { orgRole: ROLE.ADMINISTRATOR }));
        expectError(last, 409, "last_owner");
      });

      it("two owners demoting each other, both already authorized as owners: one 200, the other refused as its demoted caller now is (403), one owner left (10 rounds)", async () => {
        for (let round = 0; round < 10; round++) {
          const { org, a, b } = await orgWithTwoOwners();
          // Both writes are held until both requests have passed authentication and every check.
          const DB = gatedDb(/^update "users"/i, 2);
          const responses = await Promise.all([
            callWith({ DB }, "PUT", `/organization/users/${b.id}`, { token: a.token, body: { orgRole: ROLE.ADMINISTRATOR } }),
            callWith({ DB }, "PUT", `/organization/users/${a.id}`, { token: b.token, body: { orgRole: ROLE.ADMINISTRATOR } }),
          ]);

          expect(responses.map((r) => r.status).sort(), `round ${round}: ${responses.map((r) => r.text).join(" | ")}`).toEqual([
            200, 403,
          ]);
          // The loser's write ran after its caller became an ADMINISTRATOR, who may not modify an OWNER.
          expectError(responses.find((r) => r.status === 403) as ApiResponse, 403, "forbidden", MESSAGES_TARGET_ABOVE);
          const winner = responses.find((r) => r.status === 200)?.body.data as { id: string };
          // The survivor is the one the winner did not demote.
          expect(await liveOwnerIds(org.id)).toEqual([winner.id === a.id ? b.id : a.id]);
        }
      });

      it("two owners demoting each other with plain concurrent requests: one 200, the other refused, one owner left (10 rounds)", async () => {
        for (let round = 0; round < 10; round++) {
          const { org, a, b } = await orgWithTwoOwners();
          const responses = await Promise.all([
            updateUserCall(a.token, b.id, { orgRole: ROLE.ADMINISTRATOR }),
            updateUserCall(b.token, a.id, { orgRole: ROLE.ADMINISTRATOR }),
          ]);
          const detail = `round ${round}: ${responses.map((r) => r.text).join(" | ")}`;
          expect(
            responses.filter((r) => r.status === 200),
            detail,
          ).toHaveLength(1);
          // Whenever it was authenticated, the loser's write runs after its caller was demoted, and an
          // ADMINISTRATOR may not modify an OWNER.
          expectError(responses.find((r) => r.status !== 200) as ApiResponse, 403, "forbidden", MESSAGES_TARGET_ABOVE);
          expect(await liveOwnerIds(org.id), detail).toHaveLength(1);
        }
      });

      it("the guarded statements let only one of two owner-authorized demotions or deletions through (10 rounds each)", async () => {
        // The exact writes the routes issue once both callers were authenticated as owners.
        const db = createDb(env.DB);
        for (let round = 0; round < 10; round++) {
          const { org, a, b } = await orgWithTwoOwners();
          const rows = await Promise.all([
            updateUser(db, POLICIES.updateUser, { caller: callerRef(a), targetId: b.id }, { orgRole: ROLE.USER }),
            updateUser(db, POLICIES.updateUser, { caller: callerRef(b), targetId: a.id }, { orgRole: ROLE.USER }),
          ]);
          expect(rows.filter((outcome) => outcome.row)).toHaveLength(1);
          expect(await liveOwnerIds(org.id)).toHaveLength(1);
        }
        for (let round = 0; round < 10; round++) {
          const { org, a, b } = await orgWithTwoOwners();
          const rows = await Promise.all([
            softDeleteUser(db, POLICIES.deleteUser, { caller: callerRef(a), targetId: b.id }),
            softDeleteUser(db, POLICIES.deleteUser, { caller: callerRef(b), targetId: a.id }),
          ]);
          expect(rows.filter((outcome) => outcome.row)).toHaveLength(1);
          expect(await liveOwnerIds(org.id)).toHaveLength(1);
        }
      });
    });
  });
});
