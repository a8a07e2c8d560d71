import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ROLE } from "../../src/auth/roles";
import { INVITATIONS_PER_WINDOW } from "../../src/db/invitations";
import { MESSAGES } from "../../src/errors";
import { call, expectError } from "../helpers/api";
import { createOrg, registrationBody } from "../helpers/fixtures";
import { deliverOne, register, tokenIn } from "../helpers/invitations";
import { expectUnchanged, userRow } from "../helpers/snapshot";

// POST /user/register and POST /user/resend-verification/{verificationTokenId} (Flashback's
// userRegister and resendVerificationEmail).

describe("register: POST /user/register", () => {
  describe("happy path", () => {
    it("creates the organization and its unverified OWNER in one batch, sends the verification email, and the owner signs in after verifying", async () => {
      const body = registrationBody();
      const { res, queue } = await register(body);
      expect(res.status, res.text).toBe(201);
      expect(res.body).toEqual({
        success: true,
        message: MESSAGES.registered,
        verificationTokenId: queue.messages[0]?.invitationId,
        user: { id: expect.any(String), email: body.email, name: "Grace", orgId: expect.any(String), orgRole: ROLE.OWNER },
      });
      const { id, orgId } = res.body.user;
      expect(await userRow(id)).toMatchObject({ org_id: orgId, org_role: ROLE.OWNER, validated: 0, deleted_at: null });
      const org = await env.DB.prepare("SELECT name, website, city, is_business, deleted_at FROM organizations WHERE id = ?")
        .bind(orgId)
        .first();
      expect(org).toEqual({
        name: "Hopper Labs",
        website: "https://hopper.example",
        city: "Arlington",
        is_business: 1,
        deleted_at: null,
      });

      // Not before verifying.
      expectError(
        await call("POST", "/user/login", { body: { email: body.email, password: body.password } }),
        403,
        "email_not_verified",
      );
      const email = await deliverOne(queue.messages);
      expect(email.subject).toBe("Confirm your email address for Hopper Labs");
      const verified = await call("POST", "/user/verify-email", { body: { token: tokenIn(email), password: body.password } });
      expect(verified.status, verified.text).toBe(200);
      const signedIn = await call("POST", "/user/login", { body: { email: body.email, password: body.password } });
      expect(signedIn.status, signedIn.text).toBe(200);
      const own = await call("GET", `/organization/${orgId}`, { token: signedIn.body.accessToken });
      expect(own.body.data).toMatchObject({ id: orgId, name: "Hopper Labs", is_business: true });
    });
  });

  describe("errors", () => {
    it("refuses an address a verified account holds with 409 and writes nothing; an unverified holder elsewhere does not stop it", async () => {
      const org = await createOrg();
      const held = await expectUnchanged(async () => (await register(registrationBody({ email: org.users.USER.email }))).res);
      expectError(held, 409, "conflict", MESSAGES.emailTaken);
      const pending = await call("POST", "/organization/users", {
        token: org.users.OWNER.token,
        body: { email: `pending-${crypto.randomUUID()}@example.com`, password: "Passw0rd-ok", firstName: "P", lastName: "Q" },
      });
      expect((await register(registrationBody({ email: pending.body.data.email }))).res.status).toBe(201);
    });

    it("refuses an incomplete or invalid body with 400, writing nothing", async () => {
      for (const body of [
        registrationBody({ companyName: undefined }),
        registrationBody({ isBusiness: "yes" }),
        registrationBody({ password: "weak" }),
      ]) {
        expectError(await expectUnchanged(async () => (await register(body)).res), 400, "validation_failed");
      }
    });
  });

  describe("rules", () => {
    it("is closed with OPEN_REGISTRATION=false: 403 whatever the body, nothing written, nothing sent", async () => {
      for (const body of [registrationBody(), { companyName: "" }]) {
        const { res, queue } = await register(body, { OPEN_REGISTRATION: "false" } as unknown as Partial<Env>);
        expectError(res, 403, "forbidden", MESSAGES.registrationClosed);
        expect(queue.messages).toEqual([]);
      }
    });

    it("cannot be completed by the address's owner alone: the link needs the password chosen at registration", async () => {
      // Someone registers an address that is not theirs; its owner follows the link they received.
      const { queue } = await register(
        registrationBody({ email: `victim-${crypto.randomUUID()}@example.com`, password: "Attacker-pass-1" }),
      );
      const token = tokenIn(await deliverOne(queue.messages));
      expectError(await expectUnchanged(() => call("POST", "/user/verify-email", { body: { token } })), 400, "validation_failed");
      const wrong = await expectUnchanged(() =>
        call("POST", "/user/verify-email", { body: { token, password: "Victim-pass-1" } }),
      );
      expectError(wrong, 401, "invalid_credentials", MESSAGES.invalidCredentials);
      // Whoever registered can, with the password they chose.
      expect((await call("POST", "/user/verify-email", { body: { token, password: "Attacker-pass-1" } })).status).toBe(200);
    });

    it(`sends at most ${INVITATIONS_PER_WINDOW} verification emails an hour to one address, however many registrations name it`, async () => {
      const address = `popular-${crypto.randomUUID()}@example.com`;
      for (let i = 0; i < INVITATIONS_PER_WINDOW; i++)
        expect((await register(registrationBody({ email: address }))).res.status).toBe(201);
      const { res, queue } = await register(registrationBody({ email: address.toUpperCase() }));
      expectError(res, 429, "rate_limited", MESSAGES.tooManyInvitations);
      expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(3000);
      expect(queue.messages).toEqual([]);
    });
  });
});
