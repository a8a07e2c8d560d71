import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ROLE } from "../../src/auth/roles";
import { MESSAGES } from "../../src/errors";
import { answerText, call, expectError } from "../helpers/api";
import { callWith, gatedDb } from "../helpers/faults";
import { createOrg, insertUser, tokenFor } from "../helpers/fixtures";
import { invitationsOf, newUserBody, recordingQueue, runSweep } from "../helpers/invitations";
import { expectUnchanged } from "../helpers/snapshot";

// Idempotency-Key (draft-ietf-httpapi-idempotency-key-header) on the three POSTs that do work:
// the first answer is recorded with the work, in its batch; a retry with the key gets it again and
// does nothing.

const CREATE = "/organization/users";
const activatePath = (id: string) => `/organization/users/${id}/activate`;
const resendPath = (id: string) => `/organization/users/${id}/resend-invitation`;

type KeyRow = {
  caller_id: string;
  key: string;
  fingerprint: string;
  snapshot: string | null;
  created_at: string;
  expires_at: string;
};

async function keysOf(callerId: string): Promise<KeyRow[]> {
  const { results } = await env.DB.prepare("SELECT * FROM idempotency_keys WHERE caller_id = ? ORDER BY key")
    .bind(callerId)
    .all<KeyRow>();
  return results;
}

async function usersWithEmail(email: string): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE email = ?")
    .bind(email.toLowerCase())
    .first<{ n: number }>();
  return row?.n ?? 0;
}

const key = () => crypto.randomUUID();

describe("Idempotency-Key on creating a user", () => {
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

describe("Idempotency-Key on reactivating a user", () => {
  it("answers a retry with the first answer where, without the key, it would be refused as not deleted", async () => {
    const org = await createOrg();
    const token = org.users.OWNER.token;
    const deleted = await insertUser(org.id, ROLE.USER, { deleted: true });
    const headers = { "Idempotency-Key": key() };
    const first = await call("POST", activatePath(deleted.id), { token, headers });
    expect(first.status).toBe(200);
    const retry = await expectUnchanged(() => call("POST", activatePath(deleted.id), { token, headers }));
    expect(retry.status).toBe(200);
    expect(retry.headers.get("Idempotent-Replayed")).toBe("true");
    expect(answerText(retry)).toBe(answerText(first));
    expectError(await call("POST", activatePath(deleted.id), { token }), 400, "bad_request", MESSAGES.notDeleted);
  });

  it("does nothing on a retry even where the work could be done again: a user deleted since stays deleted", async () => {
    const org = await createOrg();
    const token = org.users.OWNER.token;
    const user = await insertUser(org.id, ROLE.USER, { deleted: true });
    const headers = { "Idempotency-Key": key() };
    const first = await call("POST", activatePath(user.id), { token, headers });
    expect(first.status).toBe(200);
    expect((await call("DELETE", `/organization/users/${user.id}`, { token })).status).toBe(200);
    const retry = await expectUnchanged(() => call("POST", activatePath(user.id), { token, headers }));
    expect(retry.headers.get("Idempotent-Replayed")).toBe("true");
    expect(answerText(retry)).toBe(answerText(first));
  });

  it("keeps no answer when the write was refused after the verdict (not deleted)", async () => {
    const org = await createOrg();
    const owner = org.users.OWNER;
    const live = await insertUser(org.id, ROLE.USER);
    const headers = { "Idempotency-Key": key() };
    expectError(await call("POST", activatePath(live.id), { token: owner.token, headers }), 400, "bad_request");
    expect(await keysOf(owner.id)).toEqual([]);
  });
});

describe("Idempotency-Key on resending an invitation", () => {
  it("sends one invitation for a request and its retries", async () => {
    const org = await createOrg();
    const owner = org.users.OWNER;
    const invitee = await insertUser(org.id, ROLE.USER, { unverified: true });
    const headers = { "Idempotency-Key": key() };
    const queue = recordingQueue();
    const first = await callWith({ INVITATIONS: queue.binding }, "POST", resendPath(invitee.id), { token: owner.token, headers });
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
