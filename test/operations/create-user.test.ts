import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ROLE } from "../../src/auth/roles";
import { answerText, call, expectError, ORG_USER_FIELDS } from "../helpers/api";
import { createOrg, createTwoOrgs, insertUser, ISO, newUserBody } from "../helpers/fixtures";
import { expectUnchanged, userRow } from "../helpers/snapshot";
import { callWith, gatedDb } from "../helpers/faults";
import { MESSAGES } from "../../src/errors";
import { invitationsOf, recordingQueue, runSweep } from "../helpers/invitations";
import { key, keysOf } from "../helpers/idempotency";
import { activatePath, resendPath } from "../helpers/users";

const PASSWORD = "Correct-Horse-9";
const INVITED = "User created successfully. Verification email sent.";
const NOT_INVITED = "User created successfully";
const EMAIL_TAKEN = "A user with this email already exists";

function newEmail(prefix = "new"): string {
  return `${prefix}-${crypto.randomUUID()}@example.com`;
}

function createUser(token: string, body: Record<string, unknown>) {
  return call("POST", "/organization/users", {
    token,
    body: { email: newEmail(), password: PASSWORD, firstName: "Grace", lastName: "Hopper", ...body },
  });
}

async function invitationsFor(userId: string) {
  const { results } = await env.DB.prepare("SELECT * FROM invitations WHERE user_id = ?")
    .bind(userId)
    .all<Record<string, unknown>>();
  return results;
}

// Idempotency-Key (draft-ietf-httpapi-idempotency-key-header) on the three POSTs that do work:
// the first answer is recorded with the work, in its batch; a retry with the key gets it again and
// does nothing.

const CREATE = "/organization/users";

async function usersWithEmail(email: string): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE email = ?")
    .bind(email.toLowerCase())
    .first<{ n: number }>();
  return row?.n ?? 0;
}

describe("createUser: POST /organization/users", () => {
  describe("happy path", () => {
    it("creates the user: 201, Location, an OrgUser with lower-cased email and trimmed names, one invitation", async () => {
      const org = await createOrg();
      const caller = org.users.WORKSPACES;
      const local = `Grace.Hopper-${crypto.randomUUID()}`;

      const res = await createUser(caller.token, {
        email: `${local}@Example.COM`,
        firstName: "  Grace  ",
        lastName: "\tHopper \n",
        orgRole: ROLE.WORKSPACES,
      });

      expect(res.status, res.text).toBe(201);
      expect(res.body.success).toBe(true);
      expect(res.body.message).toBe(INVITED);
      const user = res.body.data;
      expect(Object.keys(user).sort()).toEqual(ORG_USER_FIELDS);
      expect(user).toEqual({
        id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
        email: `${local.toLowerCase()}@example.com`,
        name: "Grace",
        lastName: "Hopper",
        orgId: org.id,
        orgRole: 2,
        validated: false,
        deletedAt: null,
        orgRoleDescription: "WORKSPACES",
        orgRoles: [0, 1, 2],
      });
      expect(res.headers.get("Location")).toBe(`/organization/users/${user.id}`);
      expect(res.text).not.toContain(PASSWORD);
      expect(res.text).not.toContain("pbkdf2");

      const row = await userRow(user.id);
      expect(row).toMatchObject({
        org_id: org.id,
        email: `${local.toLowerCase()}@example.com`,
        first_name: "Grace",
        last_name: "Hopper",
        first_name_folded: "grace",
        last_name_folded: "hopper",
        org_role: 2,
        validated: 0,
        auth_method: "LOCAL",
        deleted_at: null,
      });
      expect(row?.password_hash).toMatch(/^pbkdf2-sha256\$100000\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
      expect(row?.created_at).toMatch(ISO);

      const invitations = await invitationsFor(user.id);
      expect(invitations).toHaveLength(1);
      expect(invitations[0]).toMatchObject({ org_id: org.id, email: user.email, invited_by: caller.id, sent_at: null });

      const fetched = await call("GET", res.headers.get("Location") ?? "", { token: caller.token });
      expect(fetched.status, fetched.text).toBe(200);
      expect(fetched.body).toEqual(user);
    });

    it("with sendInvite false answers 'User created successfully' and records no invitation", async () => {
      const org = await createOrg();
      const res = await createUser(org.users.OWNER.token, { sendInvite: false, orgRole: ROLE.OWNER });

      expect(res.status, res.text).toBe(201);
      expect(res.body.message).toBe(NOT_INVITED);
      expect(res.body.data).toMatchObject({
        orgRole: 255,
        orgRoleDescription: "OWNER",
        orgRoles: [0, 1, 2, 254, 255],
        validated: false,
      });
      expect(await userRow(res.body.data.id)).toMatchObject({ org_role: 255, deleted_at: null });
      expect(await invitationsFor(res.body.data.id)).toHaveLength(0);
    });

    it("defaults the role to USER and records the invitation when sendInvite is omitted", async () => {
      const org = await createOrg();
      const res = await createUser(org.users.ADMINISTRATOR.token, {});

      expect(res.status, res.text).toBe(201);
      expect(res.body.message).toBe(INVITED);
      expect(res.body.data).toMatchObject({ orgRole: 0, orgRoleDescription: "USER", orgRoles: [0] });
      expect(await invitationsFor(res.body.data.id)).toHaveLength(1);
    });
  });

  describe("errors", () => {
    it("refuses a taken email in any case, and one taken in another organization, with 409 and no write", async () => {
      const { a, b } = await createTwoOrgs();
      const token = a.users.OWNER.token;
      const own = a.users.USER.email;
      const foreign = b.users.BILLING.email;
      for (const email of [own, own.toUpperCase(), own.replace(/^u/, "U"), foreign, foreign.toUpperCase()]) {
        for (const sendInvite of [true, false]) {
          const res = await expectUnchanged(() => createUser(token, { email, sendInvite }));
          expectError(res, 409, "conflict", EMAIL_TAKEN);
        }
      }
    });

    it("refuses the email of a soft-deleted user with 409 saying the user can be reactivated, and writes nothing", async () => {
      const org = await createOrg();
      for (const email of [org.deleted.email, org.deleted.email.toUpperCase()]) {
        const res = await expectUnchanged(() => createUser(org.users.OWNER.token, { email }));
        expectError(res, 409, "conflict");
        expect(res.body.message).not.toBe(EMAIL_TAKEN);
        expect(res.body.message).toMatch(/deactivated|deleted/i);
        expect(res.body.message).toMatch(/reactivat/i);
      }
      expect(await userRow(org.deleted.id)).toMatchObject({ deleted_at: expect.stringMatching(ISO) });
    });
  });

  describe("rules", () => {
    it("answers an address held by another organization's user byte-identically, deleted or live (no cross-tenant hint)", async () => {
      const { a, b } = await createTwoOrgs();
      const token = a.users.OWNER.token;
      const answers = [];
      for (const email of [b.deleted.email, b.users.USER.email, b.deleted.email.toUpperCase()]) {
        const res = await expectUnchanged(() => createUser(token, { email }));
        expectError(res, 409, "conflict", EMAIL_TAKEN);
        answers.push(answerText(res));
      }
      expect(new Set(answers).size).toBe(1);
      // The caller's own deleted user still gets the hint.
      const own = await expectUnchanged(() => createUser(token, { email: a.deleted.email }));
      expect(own.body.message).toMatch(/reactivat/i);
    });

    it("lets exactly one of 20 concurrent creates with one email (in varied case) succeed", async () => {
      const org = await createOrg();
      const local = `race-${crypto.randomUUID()}`;
      const variants = Array.from({ length: 20 }, (_, i) => {
        const chars = [...`${local}@example.com`];
        return chars.map((ch, j) => ((i >> (j % 5)) & 1 ? ch.toUpperCase() : ch)).join("");
      });

      const responses = await Promise.all(variants.map((email) => createUser(org.users.OWNER.token, { email })));

      const created = responses.filter((r) => r.status === 201);
      expect(created, responses.map((r) => r.status).join(",")).toHaveLength(1);
      for (const res of responses.filter((r) => r.status !== 201)) expectError(res, 409, "conflict", EMAIL_TAKEN);
      const { results } = await env.DB.prepare("SELECT id, email FROM users WHERE lower(email) = ?")
        .bind(`${local}@example.com`)
        .all<{ id: string; email: string }>();
      expect(results).toEqual([{ id: created[0]?.body.data.id, email: `${local}@example.com` }]);
      const invitations = await env.DB.prepare("SELECT count(*) AS n FROM invitations WHERE email = ?")
        .bind(`${local}@example.com`)
        .first<{ n: number }>();
      expect(invitations?.n).toBe(1);
    });

    describe("Idempotency-Key", () => {
      it("answers a retry with the first answer, marked replayed, and creates one user, one invitation and one message", async () => {
        const org = await createOrg();
        const owner = org.users.OWNER;
        const body = newUserBody();
        const headers = { "Idempotency-Key": key() };
        const queue = recordingQueue();
        const first = await callWith({ INVITATIONS: queue.binding }, "POST", CREATE, { token: owner.token, body, headers });
        expect(first.status, first.text).toBe(201);
        expect(first.headers.get("Idempotent-Replayed")).toBeNull();
        const retry = await callWith({ INVITATIONS: queue.binding }, "POST", CREATE, { token: owner.token, body, headers });
        expect(retry.status, retry.text).toBe(201);
        expect(retry.headers.get("Idempotent-Replayed")).toBe("true");
        expect(retry.headers.get("Location")).toBe(first.headers.get("Location"));
        expect(answerText(retry)).toBe(answerText(first));
        expect(await usersWithEmail(body.email)).toBe(1);
        expect(await invitationsOf(first.body.data.id)).toHaveLength(1);
        expect(queue.messages).toHaveLength(1);
        const [record] = await keysOf(owner.id);
        expect(record?.key).toBe(headers["Idempotency-Key"]);
        // Kept for a day; the snapshot holds the answer's columns, never the password or its hash.
        expect(Date.parse(record!.expires_at) - Date.parse(record!.created_at)).toBe(24 * 60 * 60_000);
        expect(Object.keys(JSON.parse(record!.snapshot!)).sort()).toEqual(
          ["createdAt", "deletedAt", "email", "firstName", "id", "lastName", "orgId", "orgRole", "validated", "version"].sort(),
        );
        expect(JSON.stringify(record)).not.toContain(body.password);
      });

      it("replays what the first answer showed, even after the user changed", async () => {
        const org = await createOrg();
        const token = org.users.OWNER.token;
        const body = newUserBody({ sendInvite: false });
        const headers = { "Idempotency-Key": key() };
        const first = await call("POST", CREATE, { token, body, headers });
        expect(first.status).toBe(201);
        expect(first.body.message).toBe(MESSAGES.userCreated);
        const renamed = await call("PUT", `/organization/users/${first.body.data.id}`, { token, body: { name: "Renamed" } });
        expect(renamed.status).toBe(200);
        const retry = await call("POST", CREATE, { token, body, headers });
        expect(retry.status).toBe(201);
        expect(retry.body.data).toEqual(first.body.data);
        expect(retry.body.message).toBe(MESSAGES.userCreated);
      });

      it("refuses the key with another body (422) and writes nothing; a body differing in its password alone is the same request", async () => {
        const org = await createOrg();
        const owner = org.users.OWNER;
        const body = newUserBody({ sendInvite: false });
        const headers = { "Idempotency-Key": key() };
        expect((await call("POST", CREATE, { token: owner.token, body, headers })).status).toBe(201);
        const other = await expectUnchanged(() =>
          call("POST", CREATE, { token: owner.token, body: { ...body, email: `other-${body.email}` }, headers }),
        );
        expectError(other, 422, "idempotency_key_reused", MESSAGES.idempotencyKeyReused);
        expect(await usersWithEmail(`other-${body.email}`)).toBe(0);
        // The password is kept out of the fingerprint, so no record holds anything it could be guessed from.
        const samePerson = await call("POST", CREATE, {
          token: owner.token,
          body: { ...body, password: "Another-passw0rd" },
          headers,
        });
        expect(samePerson.status).toBe(201);
        expect(samePerson.headers.get("Idempotent-Replayed")).toBe("true");
        // Another path with the key is another request as well.
        const elsewhere = await call("POST", activatePath(org.users.USER.id), { token: owner.token, headers });
        expectError(elsewhere, 422, "idempotency_key_reused");
      });

      it("takes a quoted key (a structured-field string) and the bare key as one key", async () => {
        const org = await createOrg();
        const token = org.users.OWNER.token;
        const body = newUserBody({ sendInvite: false });
        const value = key();
        expect((await call("POST", CREATE, { token, body, headers: { "Idempotency-Key": `"${value}"` } })).status).toBe(201);
        const retry = await call("POST", CREATE, { token, body, headers: { "Idempotency-Key": value } });
        expect(retry.headers.get("Idempotent-Replayed")).toBe("true");
      });

      it("scopes a key to its caller: another caller's request with it is their own", async () => {
        const org = await createOrg();
        const body = newUserBody({ sendInvite: false });
        const headers = { "Idempotency-Key": key() };
        const first = await call("POST", CREATE, { token: org.users.OWNER.token, body, headers });
        expect(first.status).toBe(201);
        // The administrator's request is judged as new: the address is taken in the organization now.
        const other = await call("POST", CREATE, { token: org.users.ADMINISTRATOR.token, body, headers });
        expectError(other, 409, "conflict");
        expect(other.headers.get("Idempotent-Replayed")).toBeNull();
        expect(await keysOf(org.users.ADMINISTRATOR.id)).toEqual([]);
      });

      it("records only answered work: a refused request keeps no answer, and its retry is judged again", async () => {
        const org = await createOrg();
        const caller = await insertUser(org.id, ROLE.WORKSPACES);
        const headers = { "Idempotency-Key": key() };
        const body = newUserBody({ orgRole: ROLE.OWNER, sendInvite: false });
        expectError(await call("POST", CREATE, { token: caller.token, body, headers }), 403, "forbidden");
        expect(await keysOf(caller.id)).toEqual([]);
        const allowed = await call("POST", CREATE, { token: caller.token, body: { ...body, orgRole: ROLE.USER }, headers });
        expect(allowed.status).toBe(201);
      });

      it("re-checks the caller before replaying: a caller who lost the role is refused, not answered", async () => {
        const org = await createOrg();
        const caller = await insertUser(org.id, ROLE.WORKSPACES);
        const headers = { "Idempotency-Key": key() };
        const body = newUserBody({ sendInvite: false });
        expect((await call("POST", CREATE, { token: caller.token, body, headers })).status).toBe(201);
        await env.DB.prepare("UPDATE users SET org_role = ? WHERE id = ?").bind(ROLE.USER, caller.id).run();
        expectError(await call("POST", CREATE, { token: caller.token, body, headers }), 403, "forbidden");
      });

      it("creates one user of two concurrent requests with one key: the other gets the first's answer", async () => {
        for (let round = 0; round < 3; round++) {
          const org = await createOrg();
          const body = newUserBody({ sendInvite: false });
          const headers = { "Idempotency-Key": key() };
          // Both batches wait for each other, so they reach D1 together, after every check.
          const DB = gatedDb(/insert into "users"/i, 2);
          const responses = await Promise.all(
            [0, 1].map(() => callWith({ DB }, "POST", CREATE, { token: org.users.OWNER.token, body, headers })),
          );
          expect(responses.map((r) => r.status)).toEqual([201, 201]);
          expect(responses.map((r) => r.headers.get("Idempotent-Replayed")).sort()).toEqual(["true", null].sort());
          expect(responses[0]?.body.data).toEqual(responses[1]?.body.data);
          expect(await usersWithEmail(body.email)).toBe(1);
        }
      });

      it("refuses a malformed key (400, pointing at the header) before doing anything", async () => {
        const org = await createOrg();
        const token = org.users.OWNER.token;
        for (const bad of ['"unterminated', "with space", "x".repeat(256), '"a\\"b"']) {
          const res = await expectUnchanged(() =>
            call("POST", CREATE, { token, body: newUserBody(), headers: { "Idempotency-Key": bad } }),
          );
          expectError(res, 400, "validation_failed");
          expect(res.body.details).toEqual([expect.objectContaining({ path: "idempotency-key" })]);
        }
      });

      it("treats a key past its 24 hours as new, and the sweep deletes expired records only", async () => {
        const org = await createOrg();
        const owner = org.users.OWNER;
        const deleted = await insertUser(org.id, ROLE.USER, { deleted: true });
        const headers = { "Idempotency-Key": key() };
        expect((await call("POST", activatePath(deleted.id), { token: owner.token, headers })).status).toBe(200);
        // Deleted again, then the record ages past its day: the same key reactivates again.
        expect((await call("DELETE", `/organization/users/${deleted.id}`, { token: owner.token })).status).toBe(200);
        const past = new Date(Date.now() - 1000).toISOString();
        await env.DB.prepare("UPDATE idempotency_keys SET expires_at = ? WHERE caller_id = ?").bind(past, owner.id).run();
        const again = await call("POST", activatePath(deleted.id), { token: owner.token, headers });
        expect(again.status, again.text).toBe(200);
        expect(again.headers.get("Idempotent-Replayed")).toBeNull();
        const [renewed] = await keysOf(owner.id);
        expect(Date.parse(renewed!.expires_at)).toBeGreaterThan(Date.now());

        const otherKey = { "Idempotency-Key": key() };
        expect(
          (
            await call("POST", resendPath((await insertUser(org.id, ROLE.USER, { unverified: true })).id), {
              token: owner.token,
              headers: otherKey,
            })
          ).status,
        ).toBe(200);
        await env.DB.prepare("UPDATE idempotency_keys SET expires_at = ? WHERE caller_id = ? AND key = ?")
          .bind(past, owner.id, otherKey["Idempotency-Key"])
          .run();
        await runSweep(Date.now());
        expect((await keysOf(owner.id)).map((row) => row.key)).toEqual([headers["Idempotency-Key"]]);
      });
    });
  });
});
