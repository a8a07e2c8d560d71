import { newOpaqueToken } from "../auth/opaque-token";
import { createDb, type Db } from "../db/client";
import { claimInvitation, markFailed, markSent, releaseClaim } from "../db/invitations";
import type { Bindings } from "../env";
import { errorClass, log } from "../log";
import { deliveryConfig, type DeliveryConfig } from "./config";
import { invitationEmail } from "./email";
import type { InvitationMessage } from "./message";

// The queue consumer: sends each invitation's email through the Email Service binding. Messages
// arrive at least once, so a send is claimed first (one sender per invitation, src/db/invitations.ts)
// and a message for an invitation already sent, revoked or used sends nothing.

// A sender holds its claim this long: far longer than a send takes, short enough that a crashed
// sender's invitation is retried soon.
export const CLAIM_MS = 2 * 60_000;
// Retries back off exponentially from this delay, up to the cap (seconds).
const RETRY_BASE_SECONDS = 30;
const RETRY_MAX_SECONDS = 15 * 60;

/** The dead-letter queue's name ends so (wrangler.toml): its messages are invitations the queue gave up on. */
const DEAD_LETTER_SUFFIX = "-dlq";

function retryDelaySeconds(attempts: number): number {
  return Math.min(RETRY_BASE_SECONDS * 2 ** Math.max(0, attempts - 1), RETRY_MAX_SECONDS);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function invitationIdOf(body: unknown): string | undefined {
  const id = (body as Partial<InvitationMessage> | null)?.invitationId;
  return typeof id === "string" && UUID.test(id) ? id : undefined;
}

async function deliver(db: Db, env: Bindings, config: DeliveryConfig, message: Message<unknown>): Promise<void> {
  const invitationId = invitationIdOf(message.body);
  if (!invitationId) {
    // Not a message this Worker wrote: retrying cannot help.
    log({ level: "warn", event: "invitation_message_invalid", attempt: message.attempts });
    message.ack();
    return;
  }
  const now = Date.now();
  const { token, hash } = await newOpaqueToken();
  const claim = await claimInvitation(
    db,
    invitationId,
    { hash, expiresAt: new Date(now + config.tokenTtlMs).toISOString() },
    new Date(now).toISOString(),
    new Date(now + CLAIM_MS).toISOString(),
  );
  if (claim.state === "done") {
    message.ack();
    return;
  }
  if (claim.state === "busy") {
    // Another delivery of this message holds it; look again once its claim has lapsed.
    message.retry({ delaySeconds: Math.max(1, Math.ceil((Date.parse(claim.until) - now) / 1000)) });
    return;
  }
  const link = new URL(config.verifyUrl);
  link.searchParams.set("token", token);
  const email = invitationEmail(
    { organization: claim.organization, inviter: claim.inviter, link: link.toString(), selfRegistered: claim.selfRegistered },
    config.tokenTtlMs / 3_600_000,
  );
  try {
    await env.EMAIL.send({ from: config.from, to: claim.email, ...email });
  } catch (error) {
    await releaseClaim(db, invitationId, hash);
    log({
      level: "warn",
      event: "invitation_send_failed",
      invitationId,
      attempt: message.attempts,
      error: { class: errorClass(error) },
    });
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    return;
  }
  await markSent(db, invitationId, hash, new Date().toISOString());
  log({ level: "info", event: "invitation_sent", invitationId, attempt: message.attempts });
  message.ack();
}

/** The Worker's `queue()` handler: invitations to send, or (from the dead-letter queue) to record as failed. */
export async function handleInvitationBatch(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  const db = createDb(env.DB);
  if (batch.queue.endsWith(DEAD_LETTER_SUFFIX)) {
    const ids = batch.messages.map((message) => invitationIdOf(message.body)).filter((id) => id !== undefined);
    await markFailed(db, ids, new Date().toISOString());
    for (const id of ids) log({ level: "error", event: "invitation_failed", invitationId: id });
    batch.ackAll();
    return;
  }
  const config = deliveryConfig(env);
  for (const message of batch.messages) {
    try {
      await deliver(db, env, config, message);
    } catch (error) {
      // The database failed: the claim, if taken, lapses; the queue retries later.
      log({ level: "error", event: "invitation_delivery_error", attempt: message.attempts, error: { class: errorClass(error) } });
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
}
