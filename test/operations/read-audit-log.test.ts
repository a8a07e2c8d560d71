import { describe, expect, it } from "vitest";
import { ROLE } from "../../src/auth/roles";
import { MESSAGES } from "../../src/errors";
import { call, expectError } from "../helpers/api";
import { createOrg, createTwoOrgs, insertUser } from "../helpers/fixtures";
import { AUDIT_LOG, type AuditEvent } from "../helpers/audit";

// The audit log: every change appends its event in the statement that makes it (triggers of
// migration 0010), with the writer its request named; GET /organization/audit-log reads them.

describe("readAuditLog: GET /organization/audit-log", () => {
  describe("happy path", () => {
    it("pages newest first by cursor and Link, and filters by actor, target, action and time", async () => {
      const org = await createOrg();
      const admin = org.users.ADMINISTRATOR;
      const start = new Date().toISOString();
      for (const city of ["A", "B", "C"]) await call("PUT", `/organization/${org.id}`, { token: admin.token, body: { city } });
      const target = await insertUser(org.id, ROLE.USER);
      await call("PUT", `/organization/users/${target.id}`, { token: org.users.OWNER.token, body: { orgRole: ROLE.BILLING } });

      const pages: AuditEvent[][] = [];
      let path = `${AUDIT_LOG}?limit=2&action=organization.updated&from=${start}`;
      for (;;) {
        const res = await call("GET", path, { token: admin.token });
        expect(res.status, res.text).toBe(200);
        pages.push(res.body.data);
        if (res.body.nextCursor === null) {
          expect(res.headers.get("Link")).toBeNull();
          break;
        }
        const link = /^<https:\/\/api\.test([^>]+)>; rel="next"$/.exec(res.headers.get("Link") ?? "");
        expect(link?.[1]).toContain(`cursor=${res.body.nextCursor}`);
        path = link?.[1] as string;
      }
      expect(pages.map((page) => page.length)).toEqual([2, 1]);
      expect(pages.flat().map((event) => event.changes?.[0]?.new)).toEqual(["C", "B", "A"]);

      const byActor = await call("GET", `${AUDIT_LOG}?actor=${org.users.OWNER.id}&from=${start}`, { token: admin.token });
      expect((byActor.body.data as AuditEvent[]).map((event) => event.action)).toEqual(["user.updated"]);
      const byTarget = await call("GET", `${AUDIT_LOG}?target=${target.id}`, { token: admin.token });
      expect((byTarget.body.data as AuditEvent[]).map((event) => event.action)).toEqual(["user.updated", "user.created"]);
      const before = await call("GET", `${AUDIT_LOG}?to=${start}&action=organization.updated`, { token: admin.token });
      expect(before.body.data).toEqual([]);
    });
  });

  describe("errors", () => {
    it("refuses a malformed filter or cursor (400)", async () => {
      const org = await createOrg();
      const token = org.users.OWNER.token;
      for (const query of [
        "action=user.hacked",
        "actor=nope",
        "from=yesterday",
        "cursor=abc",
        "cursor=0",
        "limit=101",
        "other=1",
      ]) {
        expectError(await call("GET", `${AUDIT_LOG}?${query}`, { token }), 400, "validation_failed");
      }
    });

    it("answers only GET (405)", async () => {
      const org = await createOrg();
      const res = await call("DELETE", AUDIT_LOG, { token: org.users.OWNER.token });
      expectError(res, 405, "method_not_allowed");
    });
  });

  describe("rules", () => {
    it("answers ADMINISTRATOR and OWNER only, with their own organization's events", async () => {
      const { a, b } = await createTwoOrgs();
      await call("PUT", `/organization/${b.id}`, { token: b.users.OWNER.token, body: { city: "Braga" } });
      for (const role of ["USER", "BILLING", "WORKSPACES"] as const) {
        expectError(await call("GET", AUDIT_LOG, { token: a.users[role].token }), 403, "forbidden", MESSAGES.auditLogRole);
      }
      const res = await call("GET", AUDIT_LOG, { token: a.users.ADMINISTRATOR.token });
      expect(res.status).toBe(200);
      expect((res.body.data as AuditEvent[]).some((event) => event.target.id === b.id)).toBe(false);
      expectError(await call("GET", AUDIT_LOG), 401, "unauthorized");
    });
  });
});
