import { describe, expect, it } from "vitest";
import { ROLE, type RoleName } from "../../src/auth/roles";
import { MESSAGES } from "../../src/errors";
import { expectError, type ApiResponse } from "../helpers/api";
import { callWith, interleavedDb } from "../helpers/faults";
import { createOrg, newUserBody, type FixtureUser, type OrgFixture } from "../helpers/fixtures";
import { snapshot } from "../helpers/snapshot";
import { userPath } from "../helpers/users";

// The caller's rights are those the write sees, not those authentication read: each request below
// is authenticated, then its caller loses a right just before the write statement runs (on the
// real database, through the interleaving wrapper). The write changes nothing, and the answer is
// the one that caller would get now.

type Change = { label: string; apply: (db: D1Database, caller: FixtureUser) => Promise<unknown> };

const now = () => new Date().toISOString();
const deleted: Change = {
  label: "deleted",
  apply: (db, caller) =>
    db
      .prepare("UPDATE users SET deleted_at = ?, tokens_valid_after = ? WHERE id = ?")
      .bind(now(), Math.floor(Date.now() / 1000), caller.id)
      .run(),
};
const demotedTo = (role: RoleName): Change => ({
  label: `demoted to ${role}`,
  apply: (db, caller) => db.prepare("UPDATE users SET org_role = ? WHERE id = ?").bind(ROLE[role], caller.id).run(),
});
// Deleted and reactivated in between: live again, but the token predates the deletion.
const deletedAndReactivated: Change = {
  label: "deleted and reactivated",
  apply: (db, caller) =>
    db
      .prepare("UPDATE users SET tokens_valid_after = ? WHERE id = ?")
      .bind(Math.floor(Date.now() / 1000) + 1, caller.id)
      .run(),
};

type Case = {
  title: string;
  /** The statement (or batch) the change lands just before. */
  write: RegExp;
  caller: (org: OrgFixture) => FixtureUser;
  change: Change;
  request: (org: OrgFixture) => { method: string; path: string; body?: unknown };
  expect: [status: number, code: string, message: string];
};

const UPDATE_USERS = /^update "users"/i;
const INVALID: Case["expect"] = [401, "unauthorized", MESSAGES.invalidToken];
const forbidden = (message: string): Case["expect"] => [403, "forbidden", message];

const CASES: Case[] = [
  {
    title: "delete",
    write: UPDATE_USERS,
    caller: (o) => o.users.ADMINISTRATOR,
    change: deleted,
    request: (o) => ({ method: "DELETE", path: userPath(o.users.USER.id) }),
    expect: INVALID,
  },
  {
    title: "delete",
    write: UPDATE_USERS,
    caller: (o) => o.users.ADMINISTRATOR,
    change: demotedTo("USER"),
    request: (o) => ({ method: "DELETE", path: userPath(o.users.USER.id) }),
    expect: forbidden(MESSAGES.deleteUsersRole),
  },
  {
    title: "delete",
    write: UPDATE_USERS,
    caller: (o) => o.users.ADMINISTRATOR,
    change: deletedAndReactivated,
    request: (o) => ({ method: "DELETE", path: userPath(o.users.USER.id) }),
    expect: INVALID,
  },
  {
    title: "rename",
    write: UPDATE_USERS,
    caller: (o) => o.users.WORKSPACES,
    change: deleted,
    request: (o) => ({ method: "PUT", path: userPath(o.users.USER.id), body: { name: "Renamed" } }),
    expect: INVALID,
  },
  {
    title: "rename",
    write: UPDATE_USERS,
    caller: (o) => o.users.WORKSPACES,
    change: demotedTo("BILLING"),
    request: (o) => ({ method: "PUT", path: userPath(o.users.USER.id), body: { name: "Renamed" } }),
    expect: forbidden(MESSAGES.updateUsersRole),
  },
  {
    title: "promotion to ADMINISTRATOR",
    write: UPDATE_USERS,
    caller: (o) => o.users.ADMINISTRATOR,
    change: demotedTo("USER"),
    request: (o) => ({ method: "PUT", path: userPath(o.users.BILLING.id), body: { orgRole: ROLE.ADMINISTRATOR } }),
    expect: forbidden(MESSAGES.updateUsersRole),
  },
  {
    title: "promotion to ADMINISTRATOR",
    write: UPDATE_USERS,
    caller: (o) => o.users.ADMINISTRATOR,
    change: demotedTo("WORKSPACES"),
    request: (o) => ({ method: "PUT", path: userPath(o.users.BILLING.id), body: { orgRole: ROLE.ADMINISTRATOR } }),
    expect: forbidden(MESSAGES.roleAboveOwn),
  },
  {
    title: "demotion of an ADMINISTRATOR",
    write: UPDATE_USERS,
    caller: (o) => o.users.OWNER,
    change: demotedTo("WORKSPACES"),
    request: (o) => ({ method: "PUT", path: userPath(o.users.ADMINISTRATOR.id), body: { orgRole: ROLE.USER } }),
    expect: forbidden(MESSAGES.targetAboveOwn),
  },
  {
    title: "demotion",
    write: UPDATE_USERS,
    caller: (o) => o.users.OWNER,
    change: deleted,
    request: (o) => ({ method: "PUT", path: userPath(o.users.ADMINISTRATOR.id), body: { orgRole: ROLE.USER } }),
    expect: INVALID,
  },
  {
    title: "activate",
    write: UPDATE_USERS,
    caller: (o) => o.users.WORKSPACES,
    change: deleted,
    request: (o) => ({ method: "POST", path: `${userPath(o.deleted.id)}/activate` }),
    expect: INVALID,
  },
  {
    title: "activate",
    write: UPDATE_USERS,
    caller: (o) => o.users.WORKSPACES,
    change: demotedTo("BILLING"),
    request: (o) => ({ method: "POST", path: `${userPath(o.deleted.id)}/activate` }),
    expect: forbidden(MESSAGES.activateUsersRole),
  },
  {
    title: "create",
    write: /^insert into "users"/i,
    caller: (o) => o.users.WORKSPACES,
    change: deleted,
    request: () => ({ method: "POST", path: "/organization/users", body: newUserBody({ orgRole: ROLE.USER }) }),
    expect: INVALID,
  },
  {
    title: "create",
    write: /^insert into "users"/i,
    caller: (o) => o.users.WORKSPACES,
    change: demotedTo("USER"),
    request: () => ({ method: "POST", path: "/organization/users", body: newUserBody({ orgRole: ROLE.USER }) }),
    expect: forbidden(MESSAGES.createUsersRole),
  },
  {
    title: "create of an ADMINISTRATOR",
    write: /^insert into "users"/i,
    caller: (o) => o.users.ADMINISTRATOR,
    change: demotedTo("WORKSPACES"),
    request: () => ({ method: "POST", path: "/organization/users", body: newUserBody({ orgRole: ROLE.ADMINISTRATOR }) }),
    expect: forbidden(MESSAGES.roleAboveOwn),
  },
  {
    title: "organization update",
    write: /^update "organizations"/i,
    caller: (o) => o.users.ADMINISTRATOR,
    change: demotedTo("WORKSPACES"),
    request: (o) => ({ method: "PUT", path: `/organization/${o.id}`, body: { name: "Renamed" } }),
    expect: forbidden(MESSAGES.modifyOrgRole),
  },
  {
    title: "organization update",
    write: /^update "organizations"/i,
    caller: (o) => o.users.OWNER,
    change: deleted,
    request: (o) => ({ method: "PUT", path: `/organization/${o.id}`, body: { name: "Renamed" } }),
    expect: INVALID,
  },
];

describe("a caller who loses a right between authentication and the write", () => {
  it.each(CASES.map((c) => [`${c.title} by a caller ${c.change.label} in between: ${c.expect[0]}, nothing written`, c] as const))(
    "%s",
    async (_title, c) => {
      const org = await createOrg();
      const caller = c.caller(org);
      const { method, path, body } = c.request(org);
      // The state right after the change: the write must leave every table exactly so.
      let changed: Awaited<ReturnType<typeof snapshot>> | undefined;
      const DB = interleavedDb(c.write, async (db) => {
        await c.change.apply(db, caller);
        changed = await snapshot();
      });
      const res: ApiResponse = await callWith({ DB }, method, path, { token: caller.token, body });
      expect(changed, "the change ran before the write").toBeDefined();
      expectError(res, ...c.expect);
      expect(await snapshot()).toEqual(changed);
    },
  );

  it("still writes when the caller keeps the right (the same interleaving, a harmless change)", async () => {
    const org = await createOrg();
    const caller = org.users.ADMINISTRATOR;
    const DB = interleavedDb(UPDATE_USERS, (db) =>
      db.prepare("UPDATE users SET first_name = 'Still' WHERE id = ?").bind(caller.id).run(),
    );
    const res = await callWith({ DB }, "DELETE", userPath(org.users.USER.id), { token: caller.token });
    expect(res.status, res.text).toBe(200);
  });
});
