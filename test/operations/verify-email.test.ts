import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newOpaqueToken, opaqueTokenHash } from "../../src/auth/opaque-token";
import { verifyPassword } from "../../src/auth/password";
import { createDb } from "../../src/db/client";
import { verifyEmail } from "../../src/db/invitations";
import { MESSAGES } from "../../src/errors";
import { call, expectError } from "../helpers/api";
import { callWith, gatedDb } from "../helpers/faults";
import { createOrg } from "../helpers/fixtures";
import { invitationsOf, invitedUser } from "../helpers/invitations";
import { expectUnchanged, userRow } from "../helpers/snapshot";
import { expectInvalidToken, preVerify, verify } from "../helpers/verification";

describe("verifyEmail: POST /user/verify-email", () => {
  describe("happy path", () => {
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
  });

  describe("errors", () => {
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

  describe("rules", () => {
    it("lets a token work once: a second verification and a pre-verification of it are refused", async () => {
      const org = await createOrg();
      const invited = await invitedUser(org.users.OWNER);
      expect((await verify({ token: invited.token })).status).toBe(200);
      expectInvalidToken(await expectUnchanged(() => verify({ token: invited.token })));
      expectInvalidToken(await expectUnchanged(() => verify({ token: invited.token, password: "N3w-password" })));
      expectInvalidToken(await preVerify(invited.token));
    });

    it("verifies only the token's own user", async () => {
      const org = await createOrg();
      const first = await invitedUser(org.users.OWNER);
      const second = await invitedUser(org.users.OWNER);
      expect((await verify({ token: first.token })).body.user.id).toBe(first.id);
      expect(await userRow(second.id)).toMatchObject({ validated: 0 });
      expect((await preVerify(second.token)).status).toBe(200);
    });
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
    it("opens a session only for the batch that verified: a replay of the token in the same millisecond opens none", async () => {
      const org = await createOrg();
      const invited = await invitedUser(org.users.OWNER);
      const db = createDb(env.DB);
      const now = new Date();
      const tokenHash = await opaqueTokenHash(invited.token);
      const verify = async () =>
        verifyEmail(
          db,
          tokenHash,
          {
            passwordHash: null,
            registrationPasswordChecked: false,
            session: { refreshHash: (await newOpaqueToken()).hash, now },
          },
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
  });
});
