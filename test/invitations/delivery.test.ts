import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { opaqueTokenHash } from "../../src/auth/opaque-token";
import { CLAIM_MS } from "../../src/invitations/deliver";
import { SWEEP_AFTER_MS } from "../../src/invitations/sweep";
import { uuidv7 } from "../../src/lib/uuid";
import { call } from "../helpers/api";
import { callWith } from "../helpers/faults";
import { createOrg, newUserBody } from "../helpers/fixtures";
import {
  DEAD_LETTER_QUEUE,
  deliver,
  invitationsOf,
  invitedUser,
  recordingEmail,
  recordingQueue,
  resendAndDeliver,
  runSweep,
  tokenIn,
  type SentEmail,
} from "../helpers/invitations";
import { snapshot } from "../helpers/snapshot";

// The outbox and its sender: the request writes the invitation and enqueues it, the queue
// consumer sends it once, the dead-letter queue records a failure, the scheduled sweep recovers a
// lost message.

const HOUR_MS = 3_600_000;

afterEach(() => vi.restoreAllMocks());

async function create(token: string, body: Record<string, unknown> = {}, queue = recordingQueue()) {
  const res = await callWith({ INVITATIONS: queue.binding }, "POST", "/organization/users", { token, body: newUserBody(body) });
  expect(res.status, res.text).toBe(201);
  return { res, id: res.body.data.id as string, queue };
}

const quiet = () => {
  vi.spyOn(console, "warn").mockImplementation(() => {});
  vi.spyOn(console, "error").mockImplementation(() => {});
  vi.spyOn(console, "log").mockImplementation(() => {});
};

describe("invitation delivery", () => {
  it("enqueues the committed invitation and sends one email with a single-use link whose token is stored only as its hash", async () => {
    const org = await createOrg();
    const orgName = (await env.DB.prepare("SELECT name FROM organizations WHERE id = ?").bind(org.id).first<{ name: string }>())
      ?.name;
    const before = Date.now();
    const { id, queue } = await create(org.users.ADMINISTRATOR.token, { firstName: "Grace", lastName: "Hopper" });

    const [pending] = await invitationsOf(id);
    expect(pending).toMatchObject({ status: "pending", token_hash: null, attempts: 0 });
    expect(queue.messages).toEqual([{ invitationId: pending?.id }]);

    const mail = recordingEmail();
    const outcome = await deliver(queue.messages, { email: mail.binding });
    expect(outcome.explicitAcks).toHaveLength(1);
    expect(outcome.retryMessages).toEqual([]);
    expect(mail.sent).toHaveLength(1);
    const email = mail.sent[0] as SentEmail;
    const address = (await env.DB.prepare("SELECT email FROM users WHERE id = ?").bind(id).first<{ email: string }>())?.email;
    expect(email).toMatchObject({ from: env.EMAIL_FROM, to: address, subject: `Ada Lovelace invited you to ${orgName}` });
    const token = tokenIn(email);
    expect(email.text).toContain(`${env.APP_URL}/verify-email?token=${token}`);
    expect(email.text).toContain(orgName);
    expect(email.html).toContain("Ada Lovelace");
    // Nothing else personal: not the recipient's own name.
    for (const part of [email.subject, email.text, email.html]) expect(part).not.toMatch(/Grace|Hopper/);

    const [sent] = await invitationsOf(id);
    expect(sent).toMatchObject({
      status: "sent",
      attempts: 1,
      token_hash: await opaqueTokenHash(token),
      claimed_until: null,
    });
    expect(sent?.token_hash).not.toContain(token);
    const expiresIn = Date.parse(sent?.expires_at as string) - before;
    expect(expiresIn).toBeGreaterThan(24 * HOUR_MS - 60_000);
    expect(expiresIn).toBeLessThanOrEqual(24 * HOUR_MS + 60_000);
    // The plaintext is nowhere in the database.
    const { results } = await env.DB.prepare("SELECT * FROM invitations").all();
    expect(JSON.stringify(results)).not.toContain(token);
  });

  it("takes the token lifetime from VERIFICATION_TOKEN_TTL_HOURS", async () => {
    const org = await createOrg();
    const { id, queue } = await create(org.users.OWNER.token);
    const before = Date.now();
    await deliver(queue.messages, {
      email: recordingEmail().binding,
      env: { VERIFICATION_TOKEN_TTL_HOURS: "2" } as unknown as Partial<Env>,
    });
    const [sent] = await invitationsOf(id);
    const expiresIn = Date.parse(sent?.expires_at as string) - before;
    expect(expiresIn).toBeGreaterThan(2 * HOUR_MS - 60_000);
    expect(expiresIn).toBeLessThanOrEqual(2 * HOUR_MS + 60_000);
  });

  it("sends nothing for sendInvite: false, and the user stays unverified until a resend", async () => {
    const org = await createOrg();
    const { id, res, queue } = await create(org.users.OWNER.token, { sendInvite: false });
    expect(res.body.data.validated).toBe(false);
    expect(queue.messages).toEqual([]);
    expect(await invitationsOf(id)).toEqual([]);

    await resendAndDeliver(org.users.OWNER.token, id);
    expect((await invitationsOf(id)).map((i) => i.status)).toEqual(["sent"]);
  });

  it("sends one email for a message delivered twice, one after the other or in one batch", async () => {
    const org = await createOrg();
    const { id, queue } = await create(org.users.OWNER.token);
    const mail = recordingEmail();
    const message = queue.messages[0];
    await deliver([message, message], { email: mail.binding });
    const afterFirst = await invitationsOf(id);
    const second = await deliver([message], { email: mail.binding });
    expect(second.explicitAcks).toHaveLength(1);
    expect(mail.sent).toHaveLength(1);
    expect(await invitationsOf(id)).toEqual(afterFirst);
    expect(afterFirst).toMatchObject([{ status: "sent", attempts: 1 }]);
  });

  it("leaves a message held by another sender's claim for later instead of sending twice", async () => {
    const org = await createOrg();
    const { id, queue } = await create(org.users.OWNER.token);
    const [invitation] = await invitationsOf(id);
    const until = new Date(Date.now() + CLAIM_MS).toISOString();
    await env.DB.prepare("UPDATE invitations SET claimed_until = ?, token_hash = ? WHERE id = ?")
      .bind(until, "0".repeat(64), invitation?.id)
      .run();
    const mail = recordingEmail();
    const outcome = await deliver(queue.messages, { email: mail.binding });
    expect(mail.sent).toEqual([]);
    expect(outcome.retryMessages).toHaveLength(1);
    expect(outcome.retryDelays[0]).toBeGreaterThan(CLAIM_MS / 1000 - 5);
    expect(await invitationsOf(id)).toMatchObject([{ status: "pending", claimed_until: until }]);
  });

  it("retries a failed send with backoff, then sends on the retry", async () => {
    quiet();
    const org = await createOrg();
    const { id, queue } = await create(org.users.OWNER.token);
    const failing = recordingEmail(() => true);
    const first = await deliver(queue.messages, { email: failing.binding, attempts: 1 });
    expect(failing.sent).toEqual([]);
    expect(first.retryMessages).toHaveLength(1);
    expect(first.retryDelays).toEqual([30]);
    expect(first.explicitAcks).toEqual([]);
    // The claim is given back, so the retry does not wait for it to lapse.
    expect(await invitationsOf(id)).toMatchObject([{ status: "pending", claimed_until: null, attempts: 1 }]);

    const third = await deliver(queue.messages, { email: recordingEmail(() => true).binding, attempts: 3 });
    expect(third.retryDelays).toEqual([120]);

    const mail = recordingEmail();
    await deliver(queue.messages, { email: mail.binding, attempts: 4 });
    expect(mail.sent).toHaveLength(1);
    expect(await invitationsOf(id)).toMatchObject([{ status: "sent", attempts: 3 }]);
  });

  it("records the failure of a dead-lettered invitation, visibly, and a resend starts over", async () => {
    quiet();
    const org = await createOrg();
    const { id, queue } = await create(org.users.OWNER.token);
    const outcome = await deliver(queue.messages, { queue: DEAD_LETTER_QUEUE, attempts: 6 });
    expect(outcome.ackAll).toBe(true);
    expect(await invitationsOf(id)).toMatchObject([{ status: "failed", failed_at: expect.any(String), token_hash: null }]);
    // The state is visible to the caller's organization: the user is still unverified.
    const user = await call("GET", `/organization/users/${id}`, { token: org.users.OWNER.token });
    expect(user.body.validated).toBe(false);

    await resendAndDeliver(org.users.OWNER.token, id);
    expect((await invitationsOf(id)).map((i) => i.status)).toEqual(["failed", "sent"]);
  });

  it("does not record as failed a dead-lettered invitation that another message is sending", async () => {
    quiet();
    const org = await createOrg();
    const { id, queue } = await create(org.users.OWNER.token);
    const [invitation] = await invitationsOf(id);
    const until = new Date(Date.now() + CLAIM_MS).toISOString();
    await env.DB.prepare("UPDATE invitations SET claimed_until = ? WHERE id = ?").bind(until, invitation?.id).run();
    await deliver(queue.messages, { queue: DEAD_LETTER_QUEUE, attempts: 6 });
    expect(await invitationsOf(id)).toMatchObject([{ status: "pending", claimed_until: until, failed_at: null }]);
  });

  it("recovers a lost enqueue with the scheduled sweep, and only once the invitation has waited", async () => {
    quiet();
    const org = await createOrg();
    const { id, queue } = await create(org.users.OWNER.token, {}, recordingQueue({ fail: true }));
    expect(queue.messages).toEqual([]);
    const [pending] = await invitationsOf(id);
    expect(pending).toMatchObject({ status: "pending" });

    const early = recordingQueue();
    await runSweep(Date.now() + SWEEP_AFTER_MS - 60_000, { INVITATIONS: early.binding });
    expect(early.messages.filter((m) => m.invitationId === pending?.id)).toEqual([]);

    const sweep = recordingQueue();
    const later = Date.now() + SWEEP_AFTER_MS + 60_000;
    await runSweep(later, { INVITATIONS: sweep.binding });
    const mine = sweep.messages.filter((m) => m.invitationId === pending?.id);
    expect(mine).toEqual([{ invitationId: pending?.id }]);
    // Enqueued again now: the next run leaves it alone.
    const again = recordingQueue();
    await runSweep(later + 60_000, { INVITATIONS: again.binding });
    expect(again.messages.filter((m) => m.invitationId === pending?.id)).toEqual([]);

    const mail = recordingEmail();
    await deliver(mine, { email: mail.binding });
    expect(mail.sent).toHaveLength(1);
    expect(await invitationsOf(id)).toMatchObject([{ status: "sent" }]);
  });

  it("keeps the sweep's invitations pending when the queue refuses them, so the next run finds them", async () => {
    quiet();
    const org = await createOrg();
    const { id } = await create(org.users.OWNER.token, {}, recordingQueue({ fail: true }));
    const later = Date.now() + SWEEP_AFTER_MS + 60_000;
    await expect(runSweep(later, { INVITATIONS: recordingQueue({ fail: true }).binding })).rejects.toThrow();
    const sweep = recordingQueue();
    await runSweep(later + 60_000, { INVITATIONS: sweep.binding });
    const [pending] = await invitationsOf(id);
    expect(sweep.messages.filter((m) => m.invitationId === pending?.id)).toHaveLength(1);
  });

  it("sends nothing for an invitation whose user was deleted or verified meanwhile, and marks it superseded", async () => {
    const org = await createOrg();
    const gone = await create(org.users.OWNER.token);
    const verified = await create(org.users.OWNER.token);
    await env.DB.prepare("UPDATE users SET deleted_at = ? WHERE id = ?").bind(new Date().toISOString(), gone.id).run();
    await env.DB.prepare("UPDATE users SET validated = 1 WHERE id = ?").bind(verified.id).run();
    const mail = recordingEmail();
    const outcome = await deliver([...gone.queue.messages, ...verified.queue.messages], { email: mail.binding });
    expect(mail.sent).toEqual([]);
    expect(outcome.explicitAcks).toHaveLength(2);
    expect(await invitationsOf(gone.id)).toMatchObject([{ status: "superseded", token_hash: null }]);
    expect(await invitationsOf(verified.id)).toMatchObject([{ status: "superseded", token_hash: null }]);
  });

  it("acknowledges a message it did not write without touching the database", async () => {
    quiet();
    const before = await snapshot();
    const mail = recordingEmail();
    const outcome = await deliver([{ invitationId: "not-a-uuid" }, "text", null, { invitationId: uuidv7() }], {
      email: mail.binding,
    });
    expect(outcome.explicitAcks).toHaveLength(4);
    expect(mail.sent).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it("escapes the organization's and inviter's names in the HTML part", async () => {
    const org = await createOrg();
    await env.DB.prepare("UPDATE organizations SET name = ? WHERE id = ?").bind('<img src=x onerror="alert(1)">', org.id).run();
    const invited = await invitedUser(org.users.OWNER);
    expect(invited.email.html).not.toContain("<img");
    expect(invited.email.html).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
    expect(invited.email.subject).toBe('Ada Lovelace invited you to <img src=x onerror="alert(1)">');
  });

  it("is wired as wrangler.toml says: a message on the invitations queue reaches this Worker's consumer, which sends it", async () => {
    const org = await createOrg();
    const res = await callWith({ INVITATIONS: env.WIRED_INVITATIONS }, "POST", "/organization/users", {
      token: org.users.OWNER.token,
      body: newUserBody(),
    });
    expect(res.status).toBe(201);
    const id = res.body.data.id as string;
    // The local queue delivers within its batch timeout (5 s); bounded, not timed.
    let rows = await invitationsOf(id);
    for (let i = 0; i < 100 && rows[0]?.status !== "sent"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      rows = await invitationsOf(id);
    }
    expect(rows).toMatchObject([{ status: "sent", attempts: 1, token_hash: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
  }, 30_000);
});
