import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { expectError } from "../helpers/api";
import { callWith, failingNthDb, faultyDb } from "../helpers/faults";
import { createOrg } from "../helpers/fixtures";
import { snapshot } from "../helpers/snapshot";

describe("storage faults", () => {
  it("answers a failing read with a 500 envelope that leaks no driver text", async () => {
    const org = await createOrg();
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await callWith({ DB: faultyDb(/"organizations" "caller_org"/i) }, "GET", `/organization/${org.id}`, {
      token: org.users.USER.token,
    });
    expectError(res, 500, "internal_error", "Internal server error");
    expect(res.text).not.toMatch(/unavailable|no such table|organizations/);
    expect(errors).toHaveBeenCalled();
    errors.mockRestore();
  });

  it("rolls back the user when recording the invitation fails, leaving no partial write", async () => {
    const org = await createOrg();
    const before = await snapshot();
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await callWith({ DB: faultyDb(/insert into "invitations"/i) }, "POST", "/organization/users", {
      token: org.users.OWNER.token,
      body: { email: "rolled-back@example.com", password: "Passw0rd-ok", firstName: "Ro", lastName: "Back" },
    });
    errors.mockRestore();
    expectError(res, 500, "internal_error");
    expect(await snapshot()).toEqual(before);
    const row = await env.DB.prepare("SELECT id FROM users WHERE email = 'rolled-back@example.com'").first();
    expect(row).toBeNull();
  });

  it("answers with 500, not 401, when the signing configuration is unusable", async () => {
    const org = await createOrg();
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await callWith({ JWT_SECRET: "too-short" }, "GET", `/organization/${org.id}`, { token: org.users.USER.token });
    errors.mockRestore();
    expectError(res, 500, "internal_error", "Internal server error");
    expect(res.text).not.toMatch(/JWT_SECRET/);
  });

  // A create with an invitation prepares three statements: the caller lookup, then the user and
  // the invitation in one batch. Failing each in turn (at once, or after a delay as a timed-out
  // statement would) must give a 500 envelope and leave every table as it was.
  it.each([1, 2, 3].flatMap((n) => [[n, 0] as const, [n, 50] as const]))(
    "answers 500 and writes nothing when statement %i of a create fails after %i ms",
    async (n, delayMs) => {
      const org = await createOrg();
      const before = await snapshot();
      const errors = vi.spyOn(console, "error").mockImplementation(() => {});
      const res = await callWith({ DB: failingNthDb(n, delayMs) }, "POST", "/organization/users", {
        token: org.users.OWNER.token,
        body: {
          email: `nth-${n}-${delayMs}-${crypto.randomUUID()}@example.com`,
          password: "Passw0rd-ok",
          firstName: "N",
          lastName: "Th",
        },
      });
      errors.mockRestore();
      expectError(res, 500, "internal_error", "Internal server error");
      expect(await snapshot()).toEqual(before);
    },
  );
});
