import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { answerText, call, expectError, ORGANIZATION_FIELDS } from "../helpers/api";
import { createOrg, createTwoOrgs } from "../helpers/fixtures";
import { expectedOrganization, orgRow } from "../helpers/snapshot";

// The organization's ETag, If-None-Match and 304: test/http/preconditions.test.ts.
describe("getOrganization: GET /organization/{orgId}", () => {
  describe("happy path", () => {
    it("returns exactly the 15 Organization fields with their stored values", async () => {
      const org = await createOrg();
      await env.DB.prepare(
        `UPDATE organizations SET address1 = 'Main St 1', city = 'Lyon', country = 'FR', website = 'https://acme.example',
           repos_disabled = 1, is_business = 1, mfa_enforced = 0 WHERE id = ?`,
      )
        .bind(org.id)
        .run();

      const res = await call("GET", `/organization/${org.id}`, { token: org.users.USER.token });

      expect(res.status, res.text).toBe(200);
      expect(res.headers.get("Content-Type")).toBe("application/json; charset=utf-8");
      expect(Object.keys(res.body).sort()).toEqual(["data", "success"]);
      expect(res.body.success).toBe(true);
      expect(Object.keys(res.body.data).sort()).toEqual(ORGANIZATION_FIELDS);
      expect(res.body.data).toEqual(expectedOrganization(await orgRow(org.id)));
      expect(res.body.data).toMatchObject({
        id: org.id,
        address1: "Main St 1",
        address2: null,
        city: "Lyon",
        website: "https://acme.example",
        reposDisabled: true,
        is_business: true,
        mfaEnforced: false,
        deletedAt: null,
      });
      expect(res.body.data).not.toHaveProperty("isBusiness");
      expect(res.body.data).not.toHaveProperty("createdAt");
      expect(res.body.data).not.toHaveProperty("updatedAt");
    });

    it("is open to every role of the organization, USER included", async () => {
      const org = await createOrg();
      for (const user of Object.values(org.users)) {
        const res = await call("GET", `/organization/${org.id}`, { token: user.token });
        expect(res.status, res.text).toBe(200);
        expect(res.body.data.id).toBe(org.id);
      }
    });
  });

  describe("errors", () => {
    it("answers a foreign organization id and an unknown id with the same 403", async () => {
      const { a, b } = await createTwoOrgs();
      const token = a.users.OWNER.token;

      const foreign = await call("GET", `/organization/${b.id}`, { token });
      const unknown = await call("GET", `/organization/${crypto.randomUUID()}`, { token });

      expectError(foreign, 403, "forbidden", "Access denied: you can only view your own organization");
      expectError(unknown, 403, "forbidden", "Access denied: you can only view your own organization");
      expect(answerText(unknown)).toBe(answerText(foreign));
      expect(JSON.stringify(foreign.body)).not.toContain(b.id);
    });

    it("refuses a malformed organization id with 400 bad_request", async () => {
      const org = await createOrg();
      const res = await call("GET", `/organization/not-a-uuid`, { token: org.users.OWNER.token });
      expectError(res, 400, "bad_request");
    });
  });
});
