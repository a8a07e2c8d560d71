import type { Bindings } from "../env";
import { errorClass, log } from "../log";

/**
 * Puts a committed invitation on the queue. A failure is logged and not passed on: the invitation
 * row is already written (pending), and the scheduled sweep enqueues it again, so a lost enqueue
 * delays the email and never drops it.
 */
export async function enqueueInvitation(env: Bindings, invitationId: string, requestId: string): Promise<void> {
  try {
    await env.INVITATIONS.send({ invitationId });
  } catch (error) {
    log({ level: "warn", event: "invitation_enqueue_failed", requestId, invitationId, error: { class: errorClass(error) } });
  }
}
