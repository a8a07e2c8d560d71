import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ROLE } from "../../src/auth/roles";
import { createDb } from "../../src/db/client";
import { POLICIES } from "../../src/auth/policy";
import { softDeleteUser, updateUser } from "../../src/db/users";
import { answerText, call, expectError, ORG_USER_FIELDS, type ApiResponse } from "../helpers/api";
import {
  callerRef,
  createOrg,
  createTwoOrgs,
  insertUser,
  tokenFor,
  type FixtureUser,
  type OrgFixture,
} from "../helpers/fixtures";
import { expectUnchanged, userRow } from "../helpers/snapshot";
import { callWith, gatedDb, interleavedDb } from "../helpers/faults";

const PASSWORD = "Correct-Horse-9";
const INVITED = "User created successfully. Verification email sent.";
const NOT_INVITED = "User created successfully";
const EMAIL_TAKEN = "A user with this email already exists";
const MESSAGES_TARGET_ABOVE = "Insufficient permissions: you cannot modify a user with a higher role than your own";
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function newEmail(prefix = "new"): string {
  return `${prefix}-${crypto.randomUUID()}@example.com`;
}

function createUser(token: string, body: Record<string, unknown>) {
  return call("POST", "/organization/users", {
    token,
    body: { email: newEmail(), password: PASSWORD, firstName: "Grace", lastName: "Hopper", ...body },
  });
}

function updateUserCall(token: string, userId: string, body: unknown) {
  return call("PUT", `/organization/users/${userId}`, { token, body });
}

async function invitationsFor(userId: string) {
  const { results } = await env.DB.prepare("SELECT * FROM invitations WHERE user_id = ?")
    .bind(userId)
    .all<Record<string, unknown>>();
  return results;
}

async function liveOwnerIds(orgId: string): Promise<string[]> {
  const { results } = await env.DB.prepare(
    "SELECT id FROM users WHERE org_id = ? AND org_role = 255 AND deleted_at IS NULL ORDER BY id",
  )
    .bind(orgId)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

/** An organization with two live owners (the fixture's OWNER and a second one). */
async function orgWithTwoOwners(): Promise<{ org: OrgFixture; a: FixtureUser; b: FixtureUser }> {
  const org = await createOrg();
  const b = await insertUser(org.id, ROLE.OWNER);
  return { org, a: org.users.OWNER, b };
}

function statusesOf(responses: ApiResponse[]): number[] {
  return responses.map((r) => r.status).sort((x, y) => x - y);
}

describe("POST /organization/users", () => {
  it("creates the user: 201, Location, an OrgUser with lower-cased email and trimmed names, one invitation", async () => {
    const org = await createOrg();
    const caller = org.users.WORKSPACES;
    const local = `Grace.Hopper-${crypto.randomUUID()}`;

    const res = await createUser(caller.token, {
      email: `${local}@Example.COM`,
      firstName: "  Grace  ",
      lastName: "\tHopper \n",
      orgRole: ROLE.WORKSPACES,
    });

    expect(res.status, res.text).toBe(201);
    expect(res.body.success).toBe(true);
    expect(res.body.message).toBe(INVITED);
    const user = res.body.data;
    expect(Object.keys(user).sort()).toEqual(ORG_USER_FIELDS);
    expect(user).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      email: `${local.toLowerCase()}@example.com`,
      name: "Grace",
      lastName: "Hopper",
      orgId: org.id,
      orgRole: 2,
      validated: false,
      deletedAt: null,
      orgRoleDescription: "WORKSPACES",
      orgRoles: [0, 1, 2],
    });
    expect(res.headers.get("Location")).toBe(`/organization/users/${user.id}`);
    expect(res.text).not.toContain(PASSWORD);
    expect(res.text).not.toContain("pbkdf2");

    const row = await userRow(user.id);
    expect(row).toMatchObject({
      org_id: org.id,
      email: `${local.toLowerCase()}@example.com`,
      first_name: "Grace",
      last_name: "Hopper",
      first_name_folded: "grace",
      last_name_folded: "hopper",
      org_role: 2,
      validated: 0,
      auth_method: "LOCAL",
      deleted_at: null,
    });
    expect(row?.password_hash).toMatch(/^pbkdf2-sha256\$100000\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
    expect(row?.created_at).toMatch(ISO);

    const invitations = await invitationsFor(user.id);
    expect(invitations).toHaveLength(1);
    expect(invitations[0]).toMatchObject({ org_id: org.id, email: user.email, invited_by: caller.id, sent_at: null });

    const fetched = await call("GET", res.headers.get("Location") ?? "", { token: caller.token });
    expect(fetched.status, fetched.text).toBe(200);
    expect(fetched.body).toEqual(user);
  });

  it("with sendInvite false answers 'User created successfully' and records no invitation", async () => {
    const org = await createOrg();
    const res = await createUser(org.users.OWNER.token, { sendInvite: false, orgRole: ROLE.OWNER });

    expect(res.status, res.text).toBe(201);
    expect(res.body.message).toBe(NOT_INVITED);
    expect(res.body.data).toMatchObject({
      orgRole: 255,
      orgRoleDescription: "OWNER",
      orgRoles: [0, 1, 2, 254, 255],
      validated: false,
    });
    expect(await userRow(res.body.data.id)).toMatchObject({ org_role: 255, deleted_at: null });
    expect(await invitationsFor(res.body.data.id)).toHaveLength(0);
  });

  it("defaults the role to USER and records the invitation when sendInvite is omitted", async () => {
    const org = await createOrg();
    const res = await createUser(org.users.ADMINISTRATOR.token, {});

    expect(res.status, res.text).toBe(201);
    expect(res.body.message).toBe(INVITED);
    expect(res.body.data).toMatchObject({ orgRole: 0, orgRoleDescription: "USER", orgRoles: [0] });
    expect(await invitationsFor(res.body.data.id)).toHaveLength(1);
  });

  it("refuses a taken email in any case, and one taken in another organization, with 409 and no write", async () => {
    const { a, b } = await createTwoOrgs();
    const token = a.users.OWNER.token;
    const own = a.users.USER.email;
    const foreign = b.users.BILLING.email;
    for (const email of [own, own.toUpperCase(), own.replace(/^u/, "U"), foreign, foreign.toUpperCase()]) {
      for (const sendInvite of [true, false]) {
        const res = await expectUnchanged(() => createUser(token, { email, sendInvite }));
        expectError(res, 409, "conflict", EMAIL_TAKEN);
      }
    }
  });

  it("refuses the email of a soft-deleted user with 409 saying the user can be reactivated, and writes nothing", async () => {
    const org = await createOrg();
    for (const email of [org.deleted.email, org.deleted.email.toUpperCase()]) {
      const res = await expectUnchanged(() => createUser(org.users.OWNER.token, { email }));
      expectError(res, 409, "conflict");
      expect(res.body.message).not.toBe(EMAIL_TAKEN);
      expect(res.body.message).toMatch(/deactivated|deleted/i);
      expect(res.body.message).toMatch(/reactivat/i);
    }
    expect(await userRow(org.deleted.id)).toMatchObject({ deleted_at: expect.stringMatching(ISO) });
  });

  it("answers an address held by another organization's user byte-identically, deleted or live (no cross-tenant hint)", async () => {
    const { a, b } = await createTwoOrgs();
    const token = a.users.OWNER.token;
    const answers = [];
    for (const email of [b.deleted.email, b.users.USER.email, b.deleted.email.toUpperCase()]) {
      const res = await expectUnchanged(() => createUser(token, { email }));
      expectError(res, 409, "conflict", EMAIL_TAKEN);
      answers.push(answerText(res));
    }
    expect(new Set(answers).size).toBe(1);
    // The caller's own deleted user still gets the hint.
    const own = await expectUnchanged(() => createUser(token, { email: a.deleted.email }));
    expect(own.body.message).toMatch(/reactivat/i);
  });

  it("lets exactly one of 20 concurrent creates with one email (in varied case) succeed", async () => {
    const org = await createOrg();
    const local = `race-${crypto.randomUUID()}`;
    const variants = Array.from({ length: 20 }, (_, i) => {
      const chars = [...`${local}@example.com`];
      return chars.map((ch, j) => ((i >> (j % 5)) & 1 ? ch.toUpperCase() : ch)).join("");
    });

    const responses = await Promise.all(variants.map((email) => createUser(org.users.OWNER.token, { email })));

    const created = responses.filter((r) => r.status === 201);
    expect(created, responses.map((r) => r.status).join(",")).toHaveLength(1);
    for (const res of responses.filter((r) => r.status !== 201)) expectError(res, 409, "conflict", EMAIL_TAKEN);
    const { results } = await env.DB.prepare("SELECT id, email FROM users WHERE lower(email) = ?")
      .bind(`${local}@example.com`)
      .all<{ id: string; email: string }>();
    expect(results).toEqual([{ id: created[0]?.body.data.id, email: `${local}@example.com` }]);
    const invitations = await env.DB.prepare("SELECT count(*) AS n FROM invitations WHERE email = ?")
      .bind(`${local}@example.com`)
      .first<{ n: number }>();
    expect(invitations?.n).toBe(1);
  });
});

describe("PUT /organization/users/{userId}", () => {
  it("updates only the first name (trimmed) and leaves the rest of the row unchanged", async () => {
    const org = await createOrg();
    const target = org.users.USER;
    const before = await userRow(target.id);

    const res = await updateUserCall(org.users.WORKSPACES.token, target.id, { name: "  Ann-Marie " });

    expect(res.status, res.text).toBe(200);
    expect(res.body.message).toBe("User updated successfully");
    expect(Object.keys(res.body.data).sort()).toEqual(ORG_USER_FIELDS);
    expect(res.body.data).toMatchObject({ id: target.id, name: "Ann-Marie", lastName: "Lovelace", orgRole: 0, deletedAt: null });
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
});

describe("concurrent updates of one user", () => {
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
  const setDeleted = (id: string, deleted: boolean) => (db: D1Database) =>
    db
      .prepare("UPDATE users SET deleted_at = ? WHERE id = ?")
      .bind(deleted ? new Date().toISOString() : null, id)
      .run();

  it("DELETE of a user who was deleted is 404, though another request reactivated them right after", async () => {
    const org = await createOrg();
    const target = await insertUser(org.id, ROLE.USER, { deleted: true });
    const DB = interleavedDb(/^update "users"/i, setDeleted(target.id, false), { after: true });
    const res = await callWith({ DB }, "DELETE", `/organization/users/${target.id}`, { token: org.users.OWNER.token });
    expectError(res, 404, "not_found", "User not found");
    expect(await userRow(target.id)).toMatchObject({ deleted_at: null });
  });

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

  it("activate of a live user is 400 User is not deleted, though another request deleted them right after", async () => {
    const org = await createOrg();
    const target = await insertUser(org.id, ROLE.USER);
    const DB = interleavedDb(/^update "users"/i, setDeleted(target.id, true), { after: true });
    const res = await callWith({ DB }, "POST", `/organization/users/${target.id}/activate`, { token: org.users.OWNER.token });
    expectError(res, 400, "bad_request", "User is not deleted");
    expect((await userRow(target.id))?.deleted_at).not.toBeNull();
  });
});

describe("DELETE /organization/users/{userId} and POST .../activate", () => {
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

  it("refuses to activate a live user with 400 'User is not deleted'", async () => {
    const org = await createOrg();
    const res = await expectUnchanged(() =>
      call("POST", `/organization/users/${org.users.USER.id}/activate`, { token: org.users.OWNER.token }),
    );
    expectError(res, 400, "bad_request", "User is not deleted");
  });

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

describe("the last live owner", () => {
  it("cannot demote themselves when they are the only owner (409 last_owner, no write)", async () => {
    const org = await createOrg();
    for (const orgRole of [ROLE.ADMINISTRATOR, ROLE.USER]) {
      const res = await expectUnchanged(() => updateUserCall(org.users.OWNER.token, org.users.OWNER.id, { orgRole }));
      expectError(res, 409, "last_owner");
    }
    expect(await liveOwnerIds(org.id)).toEqual([org.users.OWNER.id]);
  });

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

  it("lets one of two owners demote the other, after which the remaining owner cannot demote themselves", async () => {
    const { org, a, b } = await orgWithTwoOwners();

    const res = await updateUserCall(a.token, b.id, { orgRole: ROLE.ADMINISTRATOR });
    expect(res.status, res.text).toBe(200);
    expect(res.body.data).toMatchObject({ id: b.id, orgRole: 254, orgRoleDescription: "ADMINISTRATORS" });
    expect(await liveOwnerIds(org.id)).toEqual([a.id]);

    const last = await expectUnchanged(() => updateUserCall(a.token, a.id, { orgRole: ROLE.ADMINISTRATOR }));
    expectError(last, 409, "last_owner");
  });

  it("lets one of two owners delete the other, after which the remaining owner is the only live owner", async () => {
    const { org, a, b } = await orgWithTwoOwners();
    const res = await call("DELETE", `/organization/users/${b.id}`, { token: a.token });
    expect(res.status, res.text).toBe(200);
    expect(await liveOwnerIds(org.id)).toEqual([a.id]);
    expectError(await updateUserCall(a.token, a.id, { orgRole: ROLE.ADMINISTRATOR }), 409, "last_owner");
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

  it("refuses to delete the only live owner even for a caller authorized as an owner (the guard behind 409)", async () => {
    const { org, a, b } = await orgWithTwoOwners();
    const db = createDb(env.DB);
    // b is gone; a is now the only live owner. A stale owner authorization for b must not remove a,
    // and neither may a itself: deleting oneself is refused first, demoting oneself as the last
    // owner. (A deletion can never reach the last-owner rule: outranking an owner target takes a
    // live owner caller; the rule stays in the verdict all the same.)
    await env.DB.prepare("UPDATE users SET deleted_at = ? WHERE id = ?").bind(new Date().toISOString(), b.id).run();
    const stale = await expectUnchanged(() => softDeleteUser(db, POLICIES.deleteUser, { caller: callerRef(b), targetId: a.id }));
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
