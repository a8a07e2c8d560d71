import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ROLE } from "../../src/auth/roles";
import { call, expectError, type ApiResponse } from "../helpers/api";
import { createOrg, FIXTURE_PASSWORD, newUserBody, type OrgFixture } from "../helpers/fixtures";
import { invitedUser, runSweep } from "../helpers/invitations";
import { expectUnchanged } from "../helpers/snapshot";
import { AUDIT_LOG, type AuditEvent } from "../helpers/audit";

// The audit log: every change appends its event in the statement that makes it (triggers of
// migration 0010), with the writer its request named; GET /organization/audit-log reads them.

const CLIENT = { "CF-Connecting-IP": "203.0.113.7" };

/** Every event of the organization, oldest first, read as an administrator through the API. */
async function eventsOf(org: OrgFixture, query = ""): Promise<AuditEvent[]> {
  const res = await call("GET", `${AUDIT_LOG}?limit=100${query}`, { token: org.users.OWNER.token });
  expect(res.status, res.text).toBe(200);
  return (res.body.data as AuditEvent[]).reverse();
}

/** The events a request appended: those that name its X-Request-Id. */
async function eventsOfRequest(org: OrgFixture, res: ApiResponse): Promise<AuditEvent[]> {
  const requestId = res.headers.get("X-Request-Id");
  return (await eventsOf(org)).filter((event) => event.requestId === requestId);
}

describe("events of the organization's writes", () => {
  it("records an organization update with the changed fields' old and new values only, its actor, request and client", async () => {
    const org = await createOrg();
    const owner = org.users.OWNER;
    const res = await call("PUT", `/organization/${org.id}`, {
      token: owner.token,
      headers: CLIENT,
      body: {
        city: "Lisbon",
        mfaEnforced: true,
        name: (await env.DB.prepare("SELECT name FROM organizations WHERE id = ?").bind(org.id).first<{ name: string }>())?.name,
      },
    });
    expect(res.status, res.text).toBe(200);
    const [event, ...more] = await eventsOfRequest(org, res);
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      actorId: owner.id,
      action: "organization.updated",
      target: { type: "organization", id: org.id },
      requestId: res.headers.get("X-Request-Id"),
      clientAddress: "203.0.113.7",
    });
    // The name was sent unchanged: not a change.
    expect(event?.changes).toEqual([
      { field: "city", old: null, new: "Lisbon" },
      { field: "mfaEnforced", old: false, new: true },
    ]);
  });

  it("records a user's creation, update, deletion and reactivation, personal fields by name only", async () => {
    const org = await createOrg();
    const token = org.users.OWNER.token;
    const body = newUserBody({ firstName: "Secretname", lastName: "Hiddenlast", sendInvite: false });
    const created = await call("POST", "/organization/users", { token, body });
    expect(created.status).toBe(201);
    const id = created.body.data.id as string;
    const updated = await call("PUT", `/organization/users/${id}`, { token, body: { name: "Othername", orgRole: ROLE.BILLING } });
    expect(updated.status).toBe(200);
    expect((await call("DELETE", `/organization/users/${id}`, { token })).status).toBe(200);
    expect((await call("POST", `/organization/users/${id}/activate`, { token })).status).toBe(200);
    const events = (await eventsOf(org)).filter((event) => event.target.id === id);
    expect(events.map((event) => event.action)).toEqual(["user.created", "user.updated", "user.deleted", "user.reactivated"]);
    expect(events.every((event) => event.actorId === org.users.OWNER.id)).toBe(true);
    expect(events[0]?.changes).toEqual([{ field: "orgRole", new: ROLE.USER }]);
    expect(events[1]?.changes).toEqual([{ field: "name" }, { field: "orgRole", old: ROLE.USER, new: ROLE.BILLING }]);
    expect(events[2]?.changes).toEqual([{ field: "deletedAt", old: null, new: expect.any(String) }]);
    expect(events[3]?.changes).toEqual([{ field: "deletedAt", old: events[2]?.changes?.[0]?.new, new: null }]);
    const text = JSON.stringify(events);
    for (const secret of [body.email, "Secretname", "Hiddenlast", "Othername", body.password]) expect(text).not.toContain(secret);
  });

  it("records an invitation created, sent by the mail sender (no actor) and verified", async () => {
    const org = await createOrg();
    const invited = await invitedUser(org.users.OWNER);
    const verified = await call("POST", "/user/verify-email", { body: { token: invited.token } });
    expect(verified.status, verified.text).toBe(200);
    const events = await eventsOf(org);
    const invitation = events.find((event) => event.action === "invitation.created");
    expect(invitation).toMatchObject({ actorId: org.users.OWNER.id });
    expect(events.find((event) => event.action === "invitation.sent")).toMatchObject({
      actorId: null,
      requestId: null,
      target: invitation?.target,
    });
    expect(events.find((event) => event.action === "user.verified")).toMatchObject({
      actorId: null,
      target: { type: "user", id: invited.id },
      requestId: verified.headers.get("X-Request-Id"),
    });
    expect(JSON.stringify(events)).not.toContain(invited.token);
  });

  it("records a sign-in (its account the actor), a sign-out and a revocation", async () => {
    const org = await createOrg();
    const user = org.users.USER;
    const signIn = async () => {
      const res = await call("POST", "/user/login", { body: { email: user.email, password: FIXTURE_PASSWORD }, headers: CLIENT });
      expect(res.status, res.text).toBe(200);
      return res.body as { accessToken: string; refreshToken: string; tokenId: string };
    };
    const first = await signIn();
    const second = await signIn();
    expect((await call("POST", "/user/logout", { body: { refresh_token: first.refreshToken } })).status).toBe(200);
    expect((await call("DELETE", `/token/${second.tokenId}`, { token: second.accessToken })).status).toBe(200);
    const events = (await eventsOf(org)).filter((event) => event.target.type === "session");
    expect(events.map((event) => [event.action, event.target.id])).toEqual([
      ["session.created", first.tokenId],
      ["session.created", second.tokenId],
      ["session.signed_out", first.tokenId],
      ["session.revoked", second.tokenId],
    ]);
    expect(events[0]).toMatchObject({ actorId: user.id, clientAddress: "203.0.113.7" });
    expect(events[3]).toMatchObject({ actorId: user.id });
    expect(JSON.stringify(events)).not.toContain(first.refreshToken);
  });

  it("records nothing for a refused write or a replayed one", async () => {
    const org = await createOrg();
    const headers = { "Idempotency-Key": crypto.randomUUID() };
    const body = newUserBody({ sendInvite: false });
    expect((await call("POST", "/organization/users", { token: org.users.OWNER.token, body, headers })).status).toBe(201);
    await expectUnchanged(async () => {
      const replay = await call("POST", "/organization/users", { token: org.users.OWNER.token, body, headers });
      expect(replay.headers.get("Idempotent-Replayed")).toBe("true");
      expectError(
        await call("PUT", `/organization/${org.id}`, { token: org.users.WORKSPACES.token, body: { city: "X" } }),
        403,
        "forbidden",
      );
      const stale = await call("PUT", `/organization/${org.id}`, {
        token: org.users.OWNER.token,
        body: { city: "Y" },
        headers: { "If-Match": '"999"' },
      });
      expectError(stale, 412, "precondition_failed");
    });
  });

  it("records a write made outside the API too, without an actor", async () => {
    const org = await createOrg();
    await env.DB.prepare("UPDATE users SET org_role = ? WHERE id = ?").bind(ROLE.BILLING, org.users.USER.id).run();
    const [event] = (await eventsOf(org)).filter((e) => e.target.id === org.users.USER.id && e.action === "user.updated");
    expect(event).toMatchObject({
      action: "user.updated",
      actorId: null,
      requestId: null,
      changes: [{ field: "orgRole", old: ROLE.USER, new: ROLE.BILLING }],
    });
  });

  it("keeps events unchangeable: an update is refused by the database", async () => {
    const org = await createOrg();
    await call("PUT", `/organization/${org.id}`, { token: org.users.OWNER.token, body: { city: "Faro" } });
    await expect(env.DB.prepare("UPDATE audit_events SET action = 'forged' WHERE org_id = ?").bind(org.id).run()).rejects.toThrow(
      /append-only/,
    );
  });
});

describe("forwarding onward: the AUDIT_EVENTS queue", () => {
  /** The real AUDIT_EVENTS producer, recording what is sent through it; `fail` makes every send throw. */
  function recordingAuditQueue(fail = false) {
    const sent: { id: string; orgId: string; action: string }[] = [];
    const binding = {
      async sendBatch(batch: { body: (typeof sent)[number] }[]) {
        if (fail) throw new Error("Queue unavailable");
        await env.AUDIT_EVENTS.sendBatch(batch);
        sent.push(...batch.map((message) => message.body));
      },
    } as unknown as Queue;
    return { binding, sent };
  }
  const watermark = async () =>
    (await env.DB.prepare("SELECT last_id FROM audit_forwarding WHERE id = 1").first<{ last_id: number }>())?.last_id ?? 0;

  it("sends each event once, oldest first, as the log answers it, and again after a failed send", async () => {
    const org = await createOrg();
    const update = await call("PUT", `/organization/${org.id}`, { token: org.users.OWNER.token, body: { city: "Evora" } });
    expect(update.status).toBe(200);
    const [logged] = (await eventsOf(org)).filter((event) => event.action === "organization.updated");

    const failing = recordingAuditQueue(true);
    await expect(runSweep(Date.now(), { AUDIT_EVENTS: failing.binding })).rejects.toThrow(/Queue unavailable/);
    expect(await watermark()).toBeLessThan(Number(logged?.id));

    const queue = recordingAuditQueue();
    await runSweep(Date.now(), { AUDIT_EVENTS: queue.binding });
    const ids = queue.sent.map((message) => Number(message.id));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(queue.sent.filter((message) => message.id === logged?.id)).toEqual([{ ...logged, orgId: org.id }]);
    expect(await watermark()).toBe(ids.at(-1));

    const again = recordingAuditQueue();
    await runSweep(Date.now(), { AUDIT_EVENTS: again.binding });
    expect(again.sent).toEqual([]);
  });

  it("forwards nothing without the binding", async () => {
    const org = await createOrg();
    await call("PUT", `/organization/${org.id}`, { token: org.users.OWNER.token, body: { city: "Beja" } });
    const before = await watermark();
    await runSweep(Date.now(), { AUDIT_EVENTS: undefined });
    expect(await watermark()).toBe(before);
  });
});
