import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { INVITATIONS_PER_WINDOW } from "../../src/db/invitations";
import { MESSAGES } from "../../src/errors";
import { call, expectError } from "../helpers/api";
import { callWith } from "../helpers/faults";
import { deliverOne, invitationsOf, recordingQueue, register, tokenIn } from "../helpers/invitations";
import { expectUnchanged } from "../helpers/snapshot";
import { registrationBody } from "../helpers/fixtures";

// POST /user/register and POST /user/resend-verification/{verificationTokenId} (Flashback's
// userRegister and resendVerificationEmail).

describe("resendVerification: POST /user/resend-verification/{verificationTokenId}", () => {
  describe("happy path", () => {
    it("sends a new link and voids the earlier one; any of the user's invitation ids works", async () => {
      const { res, queue } = await register(registrationBody());
      const first = tokenIn(await deliverOne(queue.messages));
      const again = recordingQueue();
      const resent = await callWith(
        { INVITATIONS: again.binding },
        "POST",
        `/user/resend-verification/${res.body.verificationTokenId}`,
        {},
      );
      expect(resent.status, resent.text).toBe(200);
      expect(resent.body).toEqual({ success: true, message: MESSAGES.verificationSent });
      const second = tokenIn(await deliverOne(again.messages));
      expectError(
        await call("POST", "/user/verify-email", { body: { token: first, password: "Founder-pass-1" } }),
        400,
        "invalid_token",
      );
      expect((await call("POST", "/user/verify-email", { body: { token: second, password: "Founder-pass-1" } })).status).toBe(
        200,
      );
      expect((await invitationsOf(res.body.user.id)).map((i) => i.status)).toEqual(["revoked", "used"]);
    });
  });

  describe("errors", () => {
    it("answers 400 once verified, 404 for an unknown id, and 429 past the hourly allowance, writing nothing", async () => {
      const { res } = await register(registrationBody());
      const path = `/user/resend-verification/${res.body.verificationTokenId}`;
      for (let i = 1; i < INVITATIONS_PER_WINDOW; i++) expect((await call("POST", path)).status).toBe(200);
      const limited = await expectUnchanged(() => call("POST", path));
      expectError(limited, 429, "rate_limited", MESSAGES.tooManyInvitations);
      expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThan(3000);
      expectError(
        await expectUnchanged(() => call("POST", `/user/resend-verification/${crypto.randomUUID()}`)),
        404,
        "not_found",
      );
      await env.DB.prepare("UPDATE users SET validated = 1 WHERE id = ?").bind(res.body.user.id).run();
      expectError(await expectUnchanged(() => call("POST", path)), 400, "already_verified", MESSAGES.alreadyVerified);
    });
  });
});
