import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { answerText, call, expectError } from "../helpers/api";
import { createOrg } from "../helpers/fixtures";
import { invitedUser } from "../helpers/invitations";
import { expectUnchanged, userRow } from "../helpers/snapshot";
import { expectInvalidToken, preVerify, verify } from "../helpers/verification";

// The answer to a live token (authMethod, hasPassword) is asserted along the invitation's journey
// (test/lifecycle/invitation.test.ts); hasPassword false for an account without one in verify-email.test.ts.
describe("preVerifyEmail: POST /user/pre-verify-email", () => {
  describe("errors", () => {
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
  });
});
