import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ROLE } from "../../src/auth/roles";
import { call } from "../helpers/api";
import { createOrg } from "../helpers/fixtures";

afterEach(() => vi.restoreAllMocks());

describe("getProfile: GET /user/profile", () => {
  describe("happy path", () => {
    it("answers the caller's profile in Flashback's UserProfileResponse shape", async () => {
      const org = await createOrg();
      await env.DB.prepare("UPDATE organizations SET mfa_enforced = 1, is_business = 1 WHERE id = ?").bind(org.id).run();
      const res = await call("GET", "/user/profile", { token: org.users.ADMINISTRATOR.token });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({
        success: true,
        data: {
          id: org.users.ADMINISTRATOR.id,
          name: "Ada",
          lastName: "Lovelace",
          email: org.users.ADMINISTRATOR.email,
          orgId: org.id,
          orgRole: ROLE.ADMINISTRATOR,
          orgRoleDescription: "ADMINISTRATORS",
          orgRoles: [0, 1, 2, 254],
          validated: true,
          mfaRequired: true,
          isBusiness: true,
        },
      });
    });
  });
});
