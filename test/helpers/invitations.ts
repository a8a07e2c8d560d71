import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import worker from "../../src/index";
import type { InvitationMessage } from "../../src/invitations/message";
import { uuidv7 } from "../../src/lib/uuid";
import { callWith } from "./faults";
import { newUserBody, tokenFor, type FixtureUser } from "./fixtures";

// Invitation delivery as the platform runs it, driven by the test: the API's messages go to a real
// local queue (vitest.config.ts), the test hands them to the Worker's real queue() handler in a
// batch built by the Cloudflare integration, with the real EMAIL binding wrapped to record (or
// fail) what it is asked to send.

// The Worker's handlers with the platform's signature (the Worker itself ignores the context).
const handlers = worker as unknown as Required<Pick<ExportedHandler<Env>, "queue" | "scheduled">>;

export const QUEUE = "org-api-invitations";
export const DEAD_LETTER_QUEUE = "org-api-invitations-dlq";

export type SentEmail = { from: string; to: string; subject: string; text: string; html: string };

/** The real EMAIL binding, recording each message it sent; the sends `fail` picks (1-based) throw instead. */
export function recordingEmail(fail: (n: number) => boolean = () => false) {
  const sent: SentEmail[] = [];
  let attempts = 0;
  const binding = {
    async send(message: SentEmail) {
      if (fail(++attempts)) throw new Error("Email sending refused the message");
      const result = await env.EMAIL.send(message);
      sent.push(message);
      return result;
    },
  } as unknown as SendEmail;
  return { binding, sent, attempts: () => attempts };
}

/** The real INVITATIONS producer, recording every message sent through it; `fail` makes every send throw. */
export function recordingQueue(options: { fail?: boolean } = {}) {
  const messages: InvitationMessage[] = [];
  const refuse = () => {
    throw new Error("Queue unavailable");
  };
  const binding = {
    async send(body: InvitationMessage) {
      if (options.fail) refuse();
      await env.INVITATIONS.send(body);
      messages.push(body);
    },
    async sendBatch(batch: { body: InvitationMessage }[]) {
      if (options.fail) refuse();
      await env.INVITATIONS.sendBatch(batch);
      messages.push(...batch.map((m) => m.body));
    },
  } as unknown as Queue<InvitationMessage>;
  return { binding, messages };
}

/** Hands `bodies` to the Worker's queue() handler as one batch of `queue`; the ack/retry outcome. */
export async function deliver(
  bodies: unknown[],
  options: { email?: SendEmail; queue?: string; attempts?: number; env?: Partial<Env> } = {},
) {
  const batch = createMessageBatch(
    options.queue ?? QUEUE,
    bodies.map((body) => ({ id: uuidv7(), timestamp: Date.now(), attempts: options.attempts ?? 1, body })),
  );
  // The integration reports which messages were retried, not the delay asked for: recorded here.
  const retryDelays: (number | undefined)[] = [];
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    message.retry = (retryOptions) => {
      retryDelays.push(retryOptions?.delaySeconds);
      retry(retryOptions);
    };
  }
  const ctx = createExecutionContext();
  await handlers.queue(batch, { ...env, ...options.env, EMAIL: options.email ?? env.EMAIL }, ctx);
  return { ...(await getQueueResult(batch, ctx)), retryDelays };
}

/** Runs the Worker's scheduled() handler (the Cron Trigger) at `time`, with `overrides`. */
export async function runSweep(time: number, overrides: Partial<Env> = {}) {
  const ctx = createExecutionContext();
  await handlers.scheduled(
    createScheduledController({ scheduledTime: time, cron: "*/5 * * * *" }),
    { ...env, ...overrides },
    ctx,
  );
  await waitOnExecutionContext(ctx);
}

/** The verification token carried by an email's link (text and HTML parts agree). */
export function tokenIn(email: SentEmail): string {
  const token = /\/verify-email\?token=([A-Za-z0-9_-]{43})\b/.exec(email.text)?.[1];
  expect(token, email.text).toBeDefined();
  expect(email.html).toContain(`token=${token}`);
  return token as string;
}

export type InvitationRowView = {
  id: string;
  status: string;
  token_hash: string | null;
  expires_at: string | null;
  claimed_until: string | null;
  attempts: number;
  sent_at: string | null;
  failed_at: string | null;
  used_at: string | null;
};

export async function invitationsOf(userId: string): Promise<InvitationRowView[]> {
  const { results } = await env.DB.prepare(
    `SELECT id, status, token_hash, expires_at, claimed_until, attempts, sent_at, failed_at, used_at
       FROM invitations WHERE user_id = ? ORDER BY created_at, id`,
  )
    .bind(userId)
    .all<InvitationRowView>();
  return results;
}

/**
 * A user created through the API by `inviter` with sendInvite (the default), whose invitation the
 * real consumer then sent: the user, a bearer token of theirs, the email and the token in its link.
 */
export async function invitedUser(inviter: FixtureUser, body: Record<string, unknown> = {}) {
  const queue = recordingQueue();
  const created = await callWith({ INVITATIONS: queue.binding }, "POST", "/organization/users", {
    token: inviter.token,
    body: newUserBody(body),
  });
  expect(created.status, created.text).toBe(201);
  expect(queue.messages).toHaveLength(1);
  const mail = recordingEmail();
  await deliver(queue.messages, { email: mail.binding });
  expect(mail.sent).toHaveLength(1);
  const id = created.body.data.id as string;
  const email = mail.sent[0] as SentEmail;
  return {
    id,
    address: created.body.data.email as string,
    orgId: created.body.data.orgId as string,
    bearer: await tokenFor(id),
    email,
    token: tokenIn(email),
    message: queue.messages[0] as InvitationMessage,
  };
}

/** A resend by `inviterToken` for `userId`, then its message delivered: the one email it sent, and its token. */
export async function resendAndDeliver(inviterToken: string, userId: string) {
  const queue = recordingQueue();
  const res = await callWith({ INVITATIONS: queue.binding }, "POST", `/organization/users/${userId}/resend-invitation`, {
    token: inviterToken,
  });
  expect(res.status, res.text).toBe(200);
  const mail = recordingEmail();
  await deliver(queue.messages, { email: mail.binding });
  expect(mail.sent).toHaveLength(1);
  const email = mail.sent[0] as SentEmail;
  return { email, token: tokenIn(email) };
}

/** POST /user/register with the verification email's message recorded instead of sent. */
export async function register(body: Record<string, unknown>, overrides: Partial<Env> = {}) {
  const queue = recordingQueue();
  const res = await callWith({ INVITATIONS: queue.binding, ...overrides }, "POST", "/user/register", { body });
  return { res, queue };
}

/** Delivers `messages`, asserts that exactly one email went out, and returns it. */
export async function deliverOne(messages: unknown[]): Promise<SentEmail> {
  const mail = recordingEmail();
  await deliver(messages, { email: mail.binding });
  expect(mail.sent).toHaveLength(1);
  return mail.sent[0] as SentEmail;
}
