import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ROLE } from "../../src/auth/roles";
import { MESSAGES } from "../../src/errors";
import { answerText, call, expectError } from "../helpers/api";
import { callWith } from "../helpers/faults";
import { createOrg, insertUser, tokenFor } from "../helpers/fixtures";
import { invitationsOf, recordingQueue, invitedUser, resendAndDeliver } from "../helpers/invitations";
import { expectUnchanged } from "../helpers/snapshot";
import { INVITATIONS_PER_WINDOW, RESEND_WINDOW_MS } from "../../src/db/invitations";
import { expectInvalidToken, preVerify, verify } from "../helpers/verification";
import { key, keysOf } from "../helpers/idempotency";
import { resendPath } from "../helpers/users";

describe("resendInvitation: POST /organization/users/{userId}/resend-invitation", () => {
  describe("happy path", () => {
    it("writes a new pending invitation, revokes the earlier ones and enqueues the new one", async () => {
      const org = await createOrg();
      const target = await insertUser(org.id, ROLE.USER, { unverified: true });
      const first = recordingQueue();
      const earlier = await callWith({ INVITATIONS: first.binding }, "POST", resendPath(target.id), {
        token: org.users.WORKSPACES.token,
      });
      expect(earlier.status, earlier.text).toBe(200);
      expect((await invitationsOf(target.id)).map((r) => r.status)).toEqual(["pending"]);
      const queue = recordingQueue();
      const res = await callWith({ INVITATIONS: queue.binding }, "POST", resendPath(target.id), {
        token: org.users.WORKSPACES.token,
      });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({ success: true, message: MESSAGES.invitationSent });
      const rows = await invitationsOf(target.id);
      expect(rows.map((r) => r.status)).toEqual(["revoked", "pending"]);
      expect(queue.messages).toEqual([{ invitationId: rows[1]?.id }]);
    });
  });

  describe("errors", () => {
    it("refuses a user whose address is already verified with 400 and writes nothing", async () => {
      const org = await createOrg();
      const res = await expectUnchanged(() => call("POST", resendPath(org.users.USER.id), { token: org.users.OWNER.token }));
      expectError(res, 400, "already_verified", MESSAGES.alreadyVerified);
    });

    it("answers 404 for a soft-deleted user, another organization's user and an unknown id alike", async () => {
      const org = await createOrg();
      const other = await createOrg();
      const deleted = await insertUser(org.id, ROLE.USER, { unverified: true, deleted: true });
      const foreign = await insertUser(other.id, ROLE.USER, { unverified: true });
      for (const id of [deleted.id, foreign.id, crypto.randomUUID()]) {
        const res = await expectUnchanged(() => call("POST", resendPath(id), { token: org.users.OWNER.token }));
        expectError(res, 404, "not_found", MESSAGES.userNotFound);
      }
    });
  });

  describe("rules", () => {
    it(`allows ${INVITATIONS_PER_WINDOW} invitations per user per hour, then 429 with Retry-After and nothing written`, async () => {
      const org = await createOrg();
      const target = await insertUser(org.id, ROLE.USER, { unverified: true });
      for (let i = 0; i < INVITATIONS_PER_WINDOW; i++) {
        expect((await call("POST", resendPath(target.id), { token: org.users.OWNER.token })).status).toBe(200);
      }
      const refused = await expectUnchanged(() => call("POST", resendPath(target.id), { token: org.users.OWNER.token }));
      expectError(refused, 429, "rate_limited", MESSAGES.tooManyInvitations);
      const wait = Number(refused.headers.get("Retry-After"));
      expect(wait).toBeGreaterThan(RESEND_WINDOW_MS / 1000 - 60);
      expect(wait).toBeLessThanOrEqual(RESEND_WINDOW_MS / 1000);
      // The allowance is announced as a policy of its own, beside the request limit that counted the call.
      expect(refused.headers.get("RateLimit-Policy")).toBe(
        `"requests";q=600;w=60, "invitations";q=${INVITATIONS_PER_WINDOW};w=${RESEND_WINDOW_MS / 1000}`,
      );
      expect(refused.headers.get("RateLimit")).toBe(`"invitations";r=0;t=${wait}`);

      // Once the oldest leaves the window, one more is allowed.
      await env.DB.prepare("UPDATE invitations SET created_at = ? WHERE id = ?")
        .bind(new Date(Date.now() - RESEND_WINDOW_MS - 1000).toISOString(), (await invitationsOf(target.id))[0]?.id)
        .run();
      expect((await call("POST", resendPath(target.id), { token: org.users.OWNER.token })).status).toBe(200);
    });

    it("applies the ceiling: a WORKSPACES caller cannot resend to an ADMINISTRATOR", async () => {
      const org = await createOrg();
      const admin = await insertUser(org.id, ROLE.ADMINISTRATOR, { unverified: true });
      const res = await expectUnchanged(() => call("POST", resendPath(admin.id), { token: org.users.WORKSPACES.token }));
      expectError(res, 403, "forbidden", MESSAGES.targetAboveOwn);
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

    describe("Idempotency-Key", () => {
      it("sends one invitation for a request and its retries", async () => {
        const org = await createOrg();
        const owner = org.users.OWNER;
        const invitee = await insertUser(org.id, ROLE.USER, { unverified: true });
        const headers = { "Idempotency-Key": key() };
        const queue = recordingQueue();
        const first = await callWith({ INVITATIONS: queue.binding }, "POST", resendPath(invitee.id), {
          token: owner.token,
          headers,
        });
        expect(first.status, first.text).toBe(200);
        for (let i = 0; i < 2; i++) {
          const retry = await callWith({ INVITATIONS: queue.binding }, "POST", resendPath(invitee.id), {
            token: owner.token,
            headers,
          });
          expect(retry.status).toBe(200);
          expect(retry.headers.get("Idempotent-Replayed")).toBe("true");
          expect(answerText(retry)).toBe(answerText(first));
        }
        expect(await invitationsOf(invitee.id)).toHaveLength(1);
        expect(queue.messages).toHaveLength(1);
        const [record] = await keysOf(owner.id);
        expect(record?.snapshot).toBeNull();
        // Another caller's token for the same owner is the same caller.
        const sameCaller = await call("POST", resendPath(invitee.id), { token: await tokenFor(owner.id), headers });
        expect(sameCaller.headers.get("Idempotent-Replayed")).toBe("true");
      });
    });
  });
});
