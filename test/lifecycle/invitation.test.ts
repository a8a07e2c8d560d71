import { describe, expect, it } from "vitest";
import { MESSAGES } from "../../src/errors";
import { call, expectError } from "../helpers/api";
import { callWith } from "../helpers/faults";
import { createOrg } from "../helpers/fixtures";
import { invitationsOf, invitedUser } from "../helpers/invitations";
import { expectUnchanged, userRow } from "../helpers/snapshot";
import { preVerify, verify } from "../helpers/verification";

// An invitation from its creation to a verified user whose token works, and what an unverified
// invitee's token may do meanwhile.

describe("the invitation lifecycle", () => {
  it("create → email → pre-verify → verify → validated, and the user's token passes from then on", async () => {
    const org = await createOrg();
    const invited = await invitedUser(org.users.WORKSPACES);
    const before = await call("GET", `/organization/${org.id}`, { token: invited.bearer });
    expectError(before, 403, "email_not_verified", MESSAGES.emailNotVerified);

    const checked = await expectUnchanged(() => preVerify(invited.token));
    expect(checked.status, checked.text).toBe(200);
    expect(checked.body).toEqual({
      success: true,
      message: MESSAGES.verificationTokenValid,
      authMethod: "LOCAL",
      hasPassword: true,
    });

    const verified = await verify({ token: invited.token });
    expect(verified.status, verified.text).toBe(200);
    expect(verified.body).toEqual({
      success: true,
      message: MESSAGES.emailVerified,
      user: { id: invited.id, email: invited.address, name: "Grace", orgId: org.id, orgRole: 0 },
      accessToken: expect.any(String),
      refreshToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      tokenId: expect.any(String),
      expiresAt: expect.any(Number),
    });
    // Verifying signed the user in: that session's access token works, and it refreshes.
    expect((await call("GET", `/organization/${org.id}`, { token: verified.body.accessToken })).status).toBe(200);
    expect((await call("POST", "/user/refresh", { body: { refresh_token: verified.body.refreshToken } })).status).toBe(200);
    expect(await userRow(invited.id)).toMatchObject({ validated: 1 });
    expect(await invitationsOf(invited.id)).toMatchObject([{ status: "used", used_at: expect.any(String) }]);

    const after = await call("GET", `/organization/${org.id}`, { token: invited.bearer });
    expect(after.status, after.text).toBe(200);
    const listed = await call("GET", `/organization/users/${invited.id}`, { token: org.users.OWNER.token });
    expect(listed.body.validated).toBe(true);
  });
});

describe("unverified callers", () => {
  it("are let in when REQUIRE_VERIFIED_EMAIL is false (an identity provider verifies addresses)", async () => {
    const org = await createOrg();
    const invited = await invitedUser(org.users.OWNER);
    const res = await callWith({ REQUIRE_VERIFIED_EMAIL: "false" } as unknown as Partial<Env>, "GET", `/organization/${org.id}`, {
      token: invited.bearer,
    });
    expect(res.status, res.text).toBe(200);
  });
});
