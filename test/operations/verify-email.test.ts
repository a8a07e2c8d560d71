import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newOpaqueToken, opaqueTokenHash } from "../../src/auth/opaque-token";
import { verifyPassword } from "../../src/auth/password";
import { createDb } from "../../src/db/client";
import { verifyEmail } from "../../src/db/invitations";
import { MESSAGES } from "../../src/errors";
import { answerText, call, expectError, type ApiResponse } from "../helpers/api";
import { callWith, gatedDb } from "../helpers/faults";
import { createOrg } from "../helpers/fixtures";
import { invitationsOf, invitedUser, resendAndDeliver } from "../helpers/invitations";
import { expectUnchanged, userRow } from "../helpers/snapshot";

// POST /user/pre-verify-email and /user/verify-email: the link's token is the only credential;
// every token that cannot verify gets one answer and writes nothing.

const preVerify = (token: unknown) => call("POST", "/user/pre-verify-email", { body: { token } });
const verify = (body: Record<string, unknown>) => call("POST", "/user/verify-email", { body });

function expectInvalidToken(res: ApiResponse) {
  expectError(res, 400, "invalid_token", MESSAGES.invalidVerificationToken);
}

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

  it("lets a token work once: a second verification and a pre-verification of it are refused", async () => {
    const org = await createOrg();
    const invited = await invitedUser(org.users.OWNER);
    expect((await verify({ token: invited.token })).status).toBe(200);
    expectInvalidToken(await expectUnchanged(() => verify({ token: invited.token })));
    expectInvalidToken(await expectUnchanged(() => verify({ token: invited.token, password: "N3w-password" })));
    expectInvalidToken(await preVerify(invited.token));
  });

  it("refuses an expired token and writes nothing", async () => {
    const org = await createOrg();
    const invited = await invitedUser(org.users.OWNER);
    await env.DB.prepare("UPDATE invitations SET expires_at = ? WHERE user_id = ?")
      .bind(new Date(Date.now() - 1000).toISOString(), invited.id)
      .run();
    expectInvalidToken(await expectUnchanged(() => preVerify(invited.token)));
    expectInvalidToken(await expectUnchanged(() => verify({ token: invited.token })));
    expect(await userRow(invited.id)).toMatchObject({ validated: 0 });
  });

  it("answers unknown, tampered, used and expired tokens with one identical body, and refuses what cannot be a token", async () => {
    const org = await createOrg();
    const used = await invitedUser(org.users.OWNER);
    await verify({ token: used.token });
    const expired = await invitedUser(org.users.OWNER);
    await env.DB.prepare("UPDATE invitations SET expires_at = ? WHERE user_id = ?")
      .bind("2000-01-01T00:00:00.000Z", expired.id)
      .run();
    const live = await invitedUser(org.users.OWNER);
    const tampered = `${live.token.slice(0, -1)}${live.token.endsWith("A") ? "B" : "A"}`;
    const candidates = [used.token, expired.token, tampered, "x".repeat(43)];
    for (const route of [preVerify, (token: string) => verify({ token })]) {
      const answers = [];
      for (const token of candidates) {
        const res = await expectUnchanged(() => route(token));
        expectInvalidToken(res);
        answers.push(answerText(res));
      }
      expect(new Set(answers).size).toBe(1);
    }
    for (const token of ["not a token", "x".repeat(42), "x".repeat(44), `${"x".repeat(42)}=`, 42]) {
      for (const path of ["/user/pre-verify-email", "/user/verify-email"]) {
        expectError(await expectUnchanged(() => call("POST", path, { body: { token } })), 400, "validation_failed");
      }
    }
    // The live token was not disturbed by the attempts around it.
    expect((await verify({ token: live.token })).status).toBe(200);
  });

  it("verifies only the token's own user", async () => {
    const org = await createOrg();
    const first = await invitedUser(org.users.OWNER);
    const second = await invitedUser(org.users.OWNER);
    expect((await verify({ token: first.token })).body.user.id).toBe(first.id);
    expect(await userRow(second.id)).toMatchObject({ validated: 0 });
    expect((await preVerify(second.token)).status).toBe(200);
  });

  it("invalidates every earlier token on a resend; the new one works", async () => {
    const org = await createOrg();
    const invited = await invitedUser(org.users.OWNER);
    const fresh = (await resendAndDeliver(org.users.OWNER.token, invited.id)).token;
    expect(fresh).not.toBe(invited.token);
    expect((await invitationsOf(invited.id)).map((i) => i.status)).toEqual(["revoked", "sent"]);
    expectInvalidToken(await expectUnchanged(() => preVerify(invited.token)));
    expectInvalidToken(await expectUnchanged(() => verify({ token: invited.token })));
    expect((await verify({ token: fresh })).status).toBe(200);
  });

  it("sets the password given with the verification, under the creation policy", async () => {
    const org = await createOrg();
    const invited = await invitedUser(org.users.OWNER);
    const weak = await expectUnchanged(() => verify({ token: invited.token, password: "short" }));
    expectError(weak, 400, "validation_failed");
    const res = await verify({ token: invited.token, password: "Brand-n3w-secret" });
    expect(res.status, res.text).toBe(200);
    const hash = (await userRow(invited.id))?.password_hash as string;
    expect(await verifyPassword("Brand-n3w-secret", hash)).toBe(true);
    expect(await verifyPassword("Passw0rd-ok", hash)).toBe(false);
  });

  it("requires a password to verify an account that has none, and says so only to the token's holder", async () => {
    const org = await createOrg();
    const invited = await invitedUser(org.users.OWNER);
    await env.DB.prepare("UPDATE users SET password_hash = '' WHERE id = ?").bind(invited.id).run();
    expect((await preVerify(invited.token)).body).toMatchObject({ hasPassword: false });
    const res = await expectUnchanged(() => verify({ token: invited.token }));
    expectError(res, 400, "validation_failed", MESSAGES.passwordRequired);
    expect((await verify({ token: invited.token, password: "Brand-n3w-secret" })).status).toBe(200);
  });
});

describe("an address is bound to the account that verifies it", () => {
  it("lets two organizations invite one address; the first verification defeats the other invitation", async () => {
    const [a, b, c] = [await createOrg(), await createOrg(), await createOrg()];
    const address = `shared-${crypto.randomUUID()}@example.com`;
    const inA = await invitedUser(a.users.OWNER, { email: address });
    const inB = await invitedUser(b.users.OWNER, { email: address.toUpperCase() });
    expect((await preVerify(inB.token)).status).toBe(200);

    expect((await verify({ token: inA.token })).status).toBe(200);
    expectInvalidToken(await expectUnchanged(() => preVerify(inB.token)));
    expectInvalidToken(await expectUnchanged(() => verify({ token: inB.token })));
    expect(await invitationsOf(inB.id)).toMatchObject([{ status: "superseded" }]);
    expect(await userRow(inB.id)).toMatchObject({ validated: 0 });

    // Now held by a verified account: a third organization cannot claim it, and learns nothing of it.
    const claimed = await expectUnchanged(() =>
      call("POST", "/organization/users", {
        token: c.users.OWNER.token,
        body: { email: address, password: "Passw0rd-ok", firstName: "Eve", lastName: "Example" },
      }),
    );
    expectError(claimed, 409, "conflict", MESSAGES.emailTaken);
    expect(claimed.text).not.toContain(a.id);
    // Nor can B's administrator send its user a working link again.
    const again = await expectUnchanged(() =>
      call("POST", `/organization/users/${inB.id}/resend-invitation`, { token: b.users.OWNER.token }),
    );
    expectError(again, 409, "conflict", MESSAGES.emailTaken);
  });

  it("lets exactly one of two concurrent verifications of one address succeed", async () => {
    const [a, b] = [await createOrg(), await createOrg()];
    const address = `race-${crypto.randomUUID()}@example.com`;
    const inA = await invitedUser(a.users.OWNER, { email: address });
    const inB = await invitedUser(b.users.OWNER, { email: address });
    // Both requests have hashed and are ready before either batch runs.
    const db = gatedDb(/update "users" set "validated"/i, 2);
    const answers = await Promise.all([
      callWith({ DB: db }, "POST", "/user/verify-email", { body: { token: inA.token } }),
      callWith({ DB: db }, "POST", "/user/verify-email", { body: { token: inB.token } }),
    ]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 400]);
    for (const res of answers.filter((r) => r.status !== 200)) expectInvalidToken(res);
    const verified = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE email = ? AND validated = 1")
      .bind(address)
      .first<{ n: number }>();
    expect(verified?.n).toBe(1);
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

describe("rate limits", () => {
  it("limits the verification routes per client address on their own limiter", async () => {
    const org = await createOrg();
    const invited = await invitedUser(org.users.OWNER);
    const limited = { AUTH_RATE_LIMITER: env.TIGHT_RATE_LIMITER } as unknown as Partial<Env>;
    const headers = { "CF-Connecting-IP": `203.0.113.${Math.floor(Math.random() * 200)}` };
    await callWith(limited, "POST", "/user/pre-verify-email", { body: { token: invited.token }, headers });
    const res = await expectUnchanged(() =>
      callWith(limited, "POST", "/user/verify-email", { body: { token: invited.token }, headers }),
    );
    expectError(res, 429, "rate_limited");
    expect(res.headers.get("Retry-After")).toBe("60");
    expect(await userRow(invited.id)).toMatchObject({ validated: 0 });
  });
});

describe("the session a verification opens", () => {
  it("opens only for the batch that verified: a replay of the token in the same millisecond opens none", async () => {
    const org = await createOrg();
    const invited = await invitedUser(org.users.OWNER);
    const db = createDb(env.DB);
    const now = new Date();
    const tokenHash = await opaqueTokenHash(invited.token);
    const verify = async () =>
      verifyEmail(
        db,
        tokenHash,
        { passwordHash: null, registrationPasswordChecked: false, session: { refreshHash: (await newOpaqueToken()).hash, now } },
        now.toISOString(),
      );
    const first = await verify();
    const replay = await verify();
    expect(first.user?.id).toBe(invited.id);
    expect(first.sessionId).toEqual(expect.any(String));
    expect(replay).toMatchObject({ user: undefined, sessionId: undefined });
    const { n } = (await env.DB.prepare("SELECT count(*) AS n FROM sessions WHERE user_id = ?")
      .bind(invited.id)
      .first<{ n: number }>())!;
    expect(n).toBe(1);
  });
});
