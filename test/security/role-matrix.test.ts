import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ROLE, type Role, type RoleName } from "../../src/auth/roles";
import { MESSAGES } from "../../src/errors";
import { answerText, call, expectError, FLASHBACK_ORG_ROLES, type ApiResponse } from "../helpers/api";
import { createOrg, createTwoOrgs, insertUser, type FixtureUser, type OrgFixture } from "../helpers/fixtures";
import { expectUnchanged, orgRow, userRow } from "../helpers/snapshot";
import { titled } from "../helpers/titled";

// OWASP API5 (function level) and API1 (object level) as a table: every operation, called by
// every role of organization A, on A's own resources and on organization B's.

const ROLE_NAMES = ["OWNER", "ADMINISTRATOR", "WORKSPACES", "BILLING", "USER"] as const satisfies readonly RoleName[];

type Request = { method: string; path: string; body?: unknown };

function newUserBody(orgRole?: number) {
  return {
    email: `Matrix-${crypto.randomUUID()}@Example.com`,
    password: "Matrix-pass-1",
    firstName: "Grace",
    lastName: "Hopper",
    ...(orgRole === undefined ? {} : { orgRole }),
  };
}

/**
 * One operation on the caller's own organization: `prepare` seeds what it needs and returns
 * the request plus the check to run when the caller is allowed.
 */
type OwnOperation = {
  label: string;
  minimum: Role;
  denied: string;
  write: boolean;
  prepare(org: OrgFixture): Promise<{ request: Request; verify(res: ApiResponse): Promise<void> }>;
};

const OWN_OPERATIONS: OwnOperation[] = [
  {
    label: "GET /organization/{orgId}",
    minimum: ROLE.USER,
    denied: "",
    write: false,
    async prepare(org) {
      return {
        request: { method: "GET", path: `/organization/${org.id}` },
        async verify(res) {
          expect(res.status, res.text).toBe(200);
          expect(res.body.success).toBe(true);
          expect(res.body.data.id).toBe(org.id);
        },
      };
    },
  },
  {
    label: "PUT /organization/{orgId}",
    minimum: ROLE.ADMINISTRATOR,
    denied: MESSAGES.modifyOrgRole,
    write: true,
    async prepare(org) {
      const name = `Renamed ${crypto.randomUUID()}`;
      return {
        request: { method: "PUT", path: `/organization/${org.id}`, body: { name, city: "Lyon" } },
        async verify(res) {
          expect(res.status, res.text).toBe(200);
          expect(res.body).toMatchObject({
            success: true,
            message: "Organization updated successfully",
            data: { id: org.id, name, city: "Lyon" },
          });
          expect(await orgRow(org.id)).toMatchObject({ name, city: "Lyon" });
        },
      };
    },
  },
  {
    label: "GET /organization/audit-log",
    minimum: ROLE.ADMINISTRATOR,
    denied: MESSAGES.auditLogRole,
    write: false,
    async prepare(org) {
      const fixtures = new Set(Object.values(org.users).map((u) => u.id));
      return {
        request: { method: "GET", path: "/organization/audit-log?action=user.created" },
        async verify(res) {
          expect(res.status, res.text).toBe(200);
          expect(res.body.success).toBe(true);
          // The organization's own events only: its fixtures' creations, and no other organization's.
          const targets = res.body.data.map((event: { target: { id: string } }) => event.target.id);
          for (const id of fixtures) expect(targets).toContain(id);
          for (const id of targets) expect(fixtures.has(id) || id === org.deleted.id).toBe(true);
        },
      };
    },
  },
  {
    label: "GET /organization/users",
    minimum: ROLE.WORKSPACES,
    denied: MESSAGES.viewUsersRole,
    write: false,
    async prepare(org) {
      const live = Object.values(org.users).map((u) => u.id);
      return {
        request: { method: "GET", path: "/organization/users" },
        async verify(res) {
          expect(res.status, res.text).toBe(200);
          expect(res.body.success).toBe(true);
          expect(res.body.total).toBe(live.length);
          expect(res.body.nextCursor).toBeNull();
          expect(res.body.data.map((u: { id: string }) => u.id).sort()).toEqual([...live].sort());
          for (const user of res.body.data) expect(user.orgId).toBe(org.id);
        },
      };
    },
  },
  {
    label: "POST /organization/users",
    minimum: ROLE.WORKSPACES,
    denied: MESSAGES.createUsersRole,
    write: true,
    async prepare(org) {
      const body = newUserBody();
      return {
        request: { method: "POST", path: "/organization/users", body },
        async verify(res) {
          expect(res.status, res.text).toBe(201);
          expect(res.body.data).toMatchObject({
            email: body.email.toLowerCase(),
            orgId: org.id,
            orgRole: 0,
            validated: false,
            deletedAt: null,
          });
          expect(res.headers.get("Location")).toBe(`/organization/users/${res.body.data.id}`);
          const row = await userRow(res.body.data.id);
          expect(row).toMatchObject({ org_id: org.id, email: body.email.toLowerCase(), org_role: 0, deleted_at: null });
        },
      };
    },
  },
  {
    label: "GET /organization/users/{userId}",
    minimum: ROLE.WORKSPACES,
    denied: MESSAGES.viewUsersRole,
    write: false,
    async prepare(org) {
      const target = await insertUser(org.id, ROLE.USER);
      return {
        request: { method: "GET", path: `/organization/users/${target.id}` },
        async verify(res) {
          expect(res.status, res.text).toBe(200);
          expect(res.body).toMatchObject({ id: target.id, orgId: org.id, email: target.email });
          expect(res.body).not.toHaveProperty("success");
        },
      };
    },
  },
  {
    label: "PUT /organization/users/{userId}",
    minimum: ROLE.WORKSPACES,
    denied: MESSAGES.updateUsersRole,
    write: true,
    async prepare(org) {
      const target = await insertUser(org.id, ROLE.USER);
      return {
        request: { method: "PUT", path: `/organization/users/${target.id}`, body: { name: "Renamed", orgRole: ROLE.BILLING } },
        async verify(res) {
          expect(res.status, res.text).toBe(200);
          expect(res.body).toMatchObject({
            success: true,
            message: "User updated successfully",
            data: { id: target.id, name: "Renamed", orgRole: 1 },
          });
          expect(await userRow(target.id)).toMatchObject({ first_name: "Renamed", first_name_folded: "renamed", org_role: 1 });
        },
      };
    },
  },
  {
    label: "DELETE /organization/users/{userId}",
    minimum: ROLE.WORKSPACES,
    denied: MESSAGES.deleteUsersRole,
    write: true,
    async prepare(org) {
      const target = await insertUser(org.id, ROLE.USER);
      return {
        request: { method: "DELETE", path: `/organization/users/${target.id}` },
        async verify(res) {
          expect(res.status, res.text).toBe(200);
          expect(res.body).toEqual({ success: true, data: null, message: "User deleted successfully" });
          const row = await userRow(target.id);
          expect(row?.deleted_at).toEqual(expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/));
        },
      };
    },
  },
  {
    label: "POST /organization/users/{userId}/activate",
    minimum: ROLE.WORKSPACES,
    denied: MESSAGES.activateUsersRole,
    write: true,
    async prepare(org) {
      return {
        request: { method: "POST", path: `/organization/users/${org.deleted.id}/activate` },
        async verify(res) {
          expect(res.status, res.text).toBe(200);
          expect(res.body).toMatchObject({
            success: true,
            message: "User activated successfully",
            data: { id: org.deleted.id, deletedAt: null },
          });
          expect((await userRow(org.deleted.id))?.deleted_at).toBeNull();
        },
      };
    },
  },
  {
    label: "POST /organization/users/{userId}/resend-invitation",
    minimum: ROLE.WORKSPACES,
    denied: MESSAGES.resendUsersRole,
    write: true,
    async prepare(org) {
      const target = await insertUser(org.id, ROLE.USER, { unverified: true });
      return {
        request: { method: "POST", path: `/organization/users/${target.id}/resend-invitation` },
        async verify(res) {
          expect(res.status, res.text).toBe(200);
          expect(res.body).toEqual({ success: true, message: "Invitation sent" });
          const { results } = await env.DB.prepare("SELECT status, org_id FROM invitations WHERE user_id = ?")
            .bind(target.id)
            .all();
          expect(results).toEqual([{ status: "pending", org_id: org.id }]);
        },
      };
    },
  },
  {
    label: "GET /token",
    minimum: ROLE.USER,
    denied: "",
    write: false,
    async prepare() {
      return {
        request: { method: "GET", path: "/token" },
        async verify(res) {
          expect(res.status, res.text).toBe(200);
          // A fixture token names no session: the caller has none yet.
          expect(res.body).toEqual({ success: true, tokens: [] });
        },
      };
    },
  },
  {
    label: "DELETE /token/{tokenId}",
    minimum: ROLE.USER,
    denied: "",
    write: true,
    async prepare() {
      return {
        request: { method: "DELETE", path: `/token/${crypto.randomUUID()}` },
        async verify(res) {
          expectError(res, 404, "not_found", "Session not found");
        },
      };
    },
  },
  {
    label: "GET /user/profile",
    minimum: ROLE.USER,
    denied: "",
    write: false,
    async prepare(org) {
      return {
        request: { method: "GET", path: "/user/profile" },
        async verify(res) {
          expect(res.status, res.text).toBe(200);
          expect(res.body.data.orgId).toBe(org.id);
        },
      };
    },
  },
];

const ownCases = OWN_OPERATIONS.flatMap((op) =>
  ROLE_NAMES.map((role) => {
    const allowed = ROLE[role] >= op.minimum;
    return {
      op,
      role,
      allowed,
      title: allowed ? `${role} may ${op.label} on its own organization` : `${role} gets 403 "${op.denied}" on ${op.label}`,
    };
  }),
);

// The matrix asserts refusals through MESSAGES; their wording is Flashback's, word for word, and
// is pinned once here.
describe("the refusals' wording", () => {
  it("is Flashback's", () => {
    expect(MESSAGES).toMatchObject({
      viewOrgDenied: "Access denied: you can only view your own organization",
      modifyOrgRole: "Insufficient permissions: only OWNER and ADMINISTRATOR roles can modify organization",
      viewUsersRole: "Insufficient permissions to view users",
      createUsersRole: "Insufficient permissions to create users",
      updateUsersRole: "Insufficient permissions to update users",
      deleteUsersRole: "Insufficient permissions to delete users",
      activateUsersRole: "Insufficient permissions to activate users",
      resendUsersRole: "Insufficient permissions to resend invitations",
      auditLogRole: "Insufficient permissions: only OWNER and ADMINISTRATOR roles can read the audit log",
      userNotFound: "User not found",
      deleteSelf: "Cannot delete yourself",
    });
  });
});

describe("every operation as every role, on the caller's own organization", () => {
  it.each(titled(ownCases, (c) => c.title))("%s", async (_title, { op, role, allowed }) => {
    const org = await createOrg();
    const caller = org.users[role];
    const { request, verify } = await op.prepare(org);
    const send = () => call(request.method, request.path, { token: caller.token, body: request.body });
    if (allowed) {
      await verify(await send());
    } else {
      const res = await expectUnchanged(send);
      expectError(res, 403, "forbidden", op.denied);
    }
  });
});

describe("every operation as a caller of every role whose address is not verified", () => {
  it.each(
    titled(
      OWN_OPERATIONS.flatMap((op) => ROLE_NAMES.map((role) => ({ op, role }))),
      (c) => `an unverified ${c.role} gets 403 email_not_verified on ${c.op.label}, and nothing changes`,
    ),
  )("%s", async (_title, { op, role }) => {
    const org = await createOrg();
    const caller = await insertUser(org.id, ROLE[role], { unverified: true });
    const { request } = await op.prepare(org);
    const res = await expectUnchanged(() => call(request.method, request.path, { token: caller.token, body: request.body }));
    expectError(res, 403, "email_not_verified", MESSAGES.emailNotVerified);
  });
});

/** An operation aimed at organization B's user, and the same request for an id nobody has. */
type ForeignUserOperation = {
  label: string;
  denied: string;
  request(id: string): Request;
  target(b: OrgFixture): FixtureUser;
};

const FOREIGN_USER_OPERATIONS: ForeignUserOperation[] = [
  {
    label: "GET /organization/users/{idOfB}",
    denied: MESSAGES.viewUsersRole,
    request: (id) => ({ method: "GET", path: `/organization/users/${id}` }),
    target: (b) => b.users.USER,
  },
  {
    label: "GET /organization/users/{deletedIdOfB}?includeDeleted=true",
    denied: MESSAGES.viewUsersRole,
    request: (id) => ({ method: "GET", path: `/organization/users/${id}?includeDeleted=true` }),
    target: (b) => b.deleted,
  },
  {
    label: "PUT /organization/users/{idOfB}",
    denied: MESSAGES.updateUsersRole,
    request: (id) => ({ method: "PUT", path: `/organization/users/${id}`, body: { name: "Hijacked" } }),
    target: (b) => b.users.USER,
  },
  {
    label: "PUT /organization/users/{idOfB} asking for OWNER",
    denied: MESSAGES.updateUsersRole,
    request: (id) => ({ method: "PUT", path: `/organization/users/${id}`, body: { orgRole: ROLE.OWNER } }),
    target: (b) => b.users.USER,
  },
  {
    label: "PUT /organization/users/{ownerIdOfB}",
    denied: MESSAGES.updateUsersRole,
    request: (id) => ({ method: "PUT", path: `/organization/users/${id}`, body: { lastName: "Hijacked" } }),
    target: (b) => b.users.OWNER,
  },
  {
    label: "DELETE /organization/users/{idOfB}",
    denied: MESSAGES.deleteUsersRole,
    request: (id) => ({ method: "DELETE", path: `/organization/users/${id}` }),
    target: (b) => b.users.USER,
  },
  {
    label: "DELETE /organization/users/{ownerIdOfB}",
    denied: MESSAGES.deleteUsersRole,
    request: (id) => ({ method: "DELETE", path: `/organization/users/${id}` }),
    target: (b) => b.users.OWNER,
  },
  {
    label: "POST /organization/users/{deletedIdOfB}/activate",
    denied: MESSAGES.activateUsersRole,
    request: (id) => ({ method: "POST", path: `/organization/users/${id}/activate` }),
    target: (b) => b.deleted,
  },
  {
    label: "POST /organization/users/{idOfB}/resend-invitation",
    denied: MESSAGES.resendUsersRole,
    request: (id) => ({ method: "POST", path: `/organization/users/${id}/resend-invitation` }),
    target: (b) => b.users.USER,
  },
];

const foreignUserCases = FOREIGN_USER_OPERATIONS.flatMap((op) =>
  ROLE_NAMES.map((role) => {
    const manager = ROLE[role] >= ROLE.WORKSPACES;
    return {
      op,
      role,
      manager,
      title: manager
        ? `${role} of A gets the unknown-id 404 for ${op.label}, byte for byte`
        : `${role} of A gets 403 "${op.denied}" for ${op.label} (role is checked before tenancy)`,
    };
  }),
);

describe("every operation as every role of A, against organization B", () => {
  it.each(ROLE_NAMES)(
    "%s of A gets 403 for GET /organization/{B}, the same body as for an id that does not exist",
    async (role) => {
      const { a, b } = await createTwoOrgs();
      const token = a.users[role].token;
      const foreign = await call("GET", `/organization/${b.id}`, { token });
      expectError(foreign, 403, "forbidden", MESSAGES.viewOrgDenied);
      expect(foreign.text).not.toContain(b.id);
      const unknown = await call("GET", `/organization/${crypto.randomUUID()}`, { token });
      expect(answerText(foreign)).toBe(answerText(unknown));
    },
  );

  it.each(ROLE_NAMES)("%s of A gets 403 for PUT /organization/{B}, and B's row is unchanged", async (role) => {
    const { a, b } = await createTwoOrgs();
    const token = a.users[role].token;
    const body = { name: "Hijacked", website: "https://evil.example" };
    const foreign = await expectUnchanged(() => call("PUT", `/organization/${b.id}`, { token, body }));
    if (ROLE[role] >= ROLE.ADMINISTRATOR) {
      expectError(foreign, 403, "forbidden", MESSAGES.modifyOrgDenied);
    } else {
      expectError(foreign, 403, "forbidden", MESSAGES.modifyOrgRole);
    }
    expect(foreign.text).not.toContain(b.id);
    // Existence of B is not revealed: an id nobody has gets the same answer.
    const unknown = await expectUnchanged(() => call("PUT", `/organization/${crypto.randomUUID()}`, { token, body }));
    expect(answerText(foreign)).toBe(answerText(unknown));
    expect(await orgRow(b.id)).toMatchObject({ name: expect.not.stringContaining("Hijacked"), website: null });
  });

  it.each(titled(foreignUserCases, (c) => c.title))("%s", async (_title, { op, role, manager }) => {
    const { a, b } = await createTwoOrgs();
    const token = a.users[role].token;
    const target = op.target(b);
    const before = await userRow(target.id);
    const foreignRequest = op.request(target.id);
    const foreign = await expectUnchanged(() =>
      call(foreignRequest.method, foreignRequest.path, { token, body: foreignRequest.body }),
    );
    if (!manager) {
      expectError(foreign, 403, "forbidden", op.denied);
      return;
    }
    expectError(foreign, 404, "not_found", MESSAGES.userNotFound);
    expect(foreign.text).not.toContain(target.id);
    const unknownRequest = op.request(crypto.randomUUID());
    const unknown = await expectUnchanged(() =>
      call(unknownRequest.method, unknownRequest.path, { token, body: unknownRequest.body }),
    );
    expect(unknown.status).toBe(404);
    expect(answerText(foreign)).toBe(answerText(unknown));
    expect(await userRow(target.id)).toEqual(before);
  });

  it.each(["WORKSPACES", "ADMINISTRATOR", "OWNER"] as const)(
    "%s of A never sees B's users in the list, even with includeDeleted or a search for them",
    async (role) => {
      const { a, b } = await createTwoOrgs();
      const token = a.users[role].token;
      const ofB = new Set([...Object.values(b.users), b.deleted].map((u) => u.id));
      const all = await call("GET", "/organization/users?includeDeleted=true&limit=1000", { token });
      expect(all.status, all.text).toBe(200);
      expect(all.body.total).toBe(6);
      for (const user of all.body.data) {
        expect(user.orgId).toBe(a.id);
        expect(ofB.has(user.id)).toBe(false);
      }
      for (const target of [b.users.OWNER, b.deleted]) {
        const search = await call("GET", `/organization/users?includeDeleted=true&q=${encodeURIComponent(target.email)}`, {
          token,
        });
        expect(search.status, search.text).toBe(200);
        expect(search.body).toMatchObject({ data: [], total: 0, nextCursor: null });
      }
    },
  );
});

describe("role rules as seen by each role", () => {
  const managers = ["WORKSPACES", "ADMINISTRATOR", "OWNER"] as const;
  const ceilingCases = managers.flatMap((caller) =>
    ROLE_NAMES.map((given) => ({ caller, given, allowed: ROLE[given] <= ROLE[caller] })),
  );

  it.each(
    titled(ceilingCases, (c) => `${c.caller} ${c.allowed ? "may create" : "gets 403 creating"} a user with role ${c.given}`),
  )("%s", async (_title, { caller, given, allowed }) => {
    const org = await createOrg();
    const body = newUserBody(ROLE[given]);
    const send = () => call("POST", "/organization/users", { token: org.users[caller].token, body });
    if (allowed) {
      const res = await send();
      expect(res.status, res.text).toBe(201);
      expect(res.body.data).toMatchObject({ orgRole: ROLE[given], orgRoleDescription: FLASHBACK_ORG_ROLES[ROLE[given]] });
      expect(await userRow(res.body.data.id)).toMatchObject({ org_id: org.id, org_role: ROLE[given] });
    } else {
      const res = await expectUnchanged(send);
      expectError(res, 403, "forbidden", MESSAGES.roleAboveOwn);
    }
  });

  it.each(
    titled(
      ceilingCases,
      (c) => `${c.caller} ${c.allowed ? "may set" : "gets 403 setting"} an ordinary user's role to ${c.given}`,
    ),
  )("%s", async (_title, { caller, given, allowed }) => {
    const org = await createOrg();
    const target = await insertUser(org.id, ROLE.USER);
    const send = () =>
      call("PUT", `/organization/users/${target.id}`, { token: org.users[caller].token, body: { orgRole: ROLE[given] } });
    if (allowed) {
      const res = await send();
      expect(res.status, res.text).toBe(200);
      expect(res.body.data).toMatchObject({
        id: target.id,
        orgRole: ROLE[given],
        orgRoleDescription: FLASHBACK_ORG_ROLES[ROLE[given]],
      });
      expect((await userRow(target.id))?.org_role).toBe(ROLE[given]);
    } else {
      const res = await expectUnchanged(send);
      expectError(res, 403, "forbidden", MESSAGES.roleAboveOwn);
      expect((await userRow(target.id))?.org_role).toBe(ROLE.USER);
    }
  });

  it.each(ROLE_NAMES.filter((r) => r !== "OWNER"))("%s gets 403 promoting itself to OWNER, and keeps its role", async (role) => {
    const org = await createOrg();
    const self = org.users[role];
    const res = await expectUnchanged(() =>
      call("PUT", `/organization/users/${self.id}`, { token: self.token, body: { orgRole: ROLE.OWNER } }),
    );
    expectError(res, 403, "forbidden", ROLE[role] >= ROLE.WORKSPACES ? MESSAGES.roleAboveOwn : MESSAGES.updateUsersRole);
    expect((await userRow(self.id))?.org_role).toBe(ROLE[role]);
  });

  type Action = "update" | "delete" | "activate";
  const higherCases: { caller: RoleName; target: RoleName; action: Action }[] = [];
  for (const action of ["update", "delete", "activate"] as const) {
    higherCases.push(
      { caller: "WORKSPACES", target: "ADMINISTRATOR", action },
      { caller: "WORKSPACES", target: "OWNER", action },
      { caller: "ADMINISTRATOR", target: "OWNER", action },
    );
  }

  function actionRequest(action: Action, target: FixtureUser): Request {
    if (action === "update")
      return { method: "PUT", path: `/organization/users/${target.id}`, body: { name: "Demoted", lastName: "Hijacked" } };
    if (action === "delete") return { method: "DELETE", path: `/organization/users/${target.id}` };
    return { method: "POST", path: `/organization/users/${target.id}/activate` };
  }

  it.each(
    titled(higherCases, (c) => `${c.caller} gets 403 trying to ${c.action} a user ranked ${c.target}, and nothing changes`),
  )("%s", async (_title, { caller, target, action }) => {
    const org = await createOrg();
    // A second owner, so the last-owner rule cannot be the reason for a refusal.
    await insertUser(org.id, ROLE.OWNER);
    const victim = await insertUser(org.id, ROLE[target], { deleted: action === "activate" });
    const request = actionRequest(action, victim);
    const res = await expectUnchanged(() =>
      call(request.method, request.path, { token: org.users[caller].token, body: request.body }),
    );
    expectError(res, 403, "forbidden", MESSAGES.targetAboveOwn);
  });

  it("WORKSPACES gets 403 demoting an ADMINISTRATOR, even to a role it could give", async () => {
    const org = await createOrg();
    const admin = org.users.ADMINISTRATOR;
    const res = await expectUnchanged(() =>
      call("PUT", `/organization/users/${admin.id}`, { token: org.users.WORKSPACES.token, body: { orgRole: ROLE.USER } }),
    );
    expectError(res, 403, "forbidden", MESSAGES.targetAboveOwn);
    expect((await userRow(admin.id))?.org_role).toBe(ROLE.ADMINISTRATOR);
  });

  const equalCases = (["update", "delete", "activate"] as const).flatMap((action) =>
    managers.map((caller) => ({ caller, action })),
  );

  it.each(titled(equalCases, (c) => `${c.caller} may ${c.action} a user of its own rank`))(
    "%s",
    async (_title, { caller, action }) => {
      const org = await createOrg();
      const peer = await insertUser(org.id, ROLE[caller], { deleted: action === "activate" });
      const request = actionRequest(action, peer);
      const res = await call(request.method, request.path, { token: org.users[caller].token, body: request.body });
      expect(res.status, res.text).toBe(200);
      const row = await userRow(peer.id);
      if (action === "update")
        expect(row).toMatchObject({ first_name: "Demoted", last_name: "Hijacked", org_role: ROLE[caller] });
      if (action === "delete") expect(row?.deleted_at).not.toBeNull();
      if (action === "activate") expect(row?.deleted_at).toBeNull();
    },
  );

  it.each(managers)('%s gets 400 "Cannot delete yourself" and stays live', async (role) => {
    const org = await createOrg();
    const self = org.users[role];
    const res = await expectUnchanged(() => call("DELETE", `/organization/users/${self.id}`, { token: self.token }));
    expectError(res, 400, "bad_request", MESSAGES.deleteSelf);
    expect((await userRow(self.id))?.deleted_at).toBeNull();
    // Still able to act: the token keeps working.
    const again = await call("GET", `/organization/users/${self.id}`, { token: self.token });
    expect(again.status, again.text).toBe(200);
  });

  it.each(["BILLING", "USER"] as const)("%s deleting itself gets the role's 403, not the self-delete 400", async (role) => {
    const org = await createOrg();
    const self = org.users[role];
    const res = await expectUnchanged(() => call("DELETE", `/organization/users/${self.id}`, { token: self.token }));
    expectError(res, 403, "forbidden", MESSAGES.deleteUsersRole);
  });
});

describe("the health check, for every caller", () => {
  it.each([...ROLE_NAMES, "deleted user", "no token"] as const)(
    "GET /health answers %s the same 200, reading no caller and writing nothing",
    async (who) => {
      const org = await createOrg();
      const token = who === "no token" ? undefined : who === "deleted user" ? org.deleted.token : org.users[who].token;
      const res = await expectUnchanged(() => call("GET", "/health", { token }));
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({ success: true, data: { database: "ok" } });
    },
  );
});
