import { createDb } from "../db/client";
import { markEnqueued, stalledInvitations } from "../db/invitations";
import type { Bindings } from "../env";
import { log } from "../log";

// The scheduled sweep (a Cron Trigger): invitations still pending this long after they were last
// enqueued lost their message (a failed enqueue, a crash between commit and enqueue) or are in a
// long retry; they are enqueued again. The sender's claim makes a duplicate harmless.
export const SWEEP_AFTER_MS = 10 * 60_000;
// A queue batch holds at most 100 messages; a run enqueues at most this many batches.
const PAGE = 100;
const MAX_PAGES = 10;

export async function sweepInvitations(env: Bindings, scheduledTime: number): Promise<number> {
  const db = createDb(env.DB);
  const now = new Date(scheduledTime).toISOString();
  const before = new Date(scheduledTime - SWEEP_AFTER_MS).toISOString();
  let swept = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const ids = await stalledInvitations(db, before, now, PAGE);
    if (ids.length === 0) break;
    await env.INVITATIONS.sendBatch(ids.map((invitationId) => ({ body: { invitationId } })));
    // Only once they are on the queue: should the send fail, the next run finds them again.
    await markEnqueued(db, ids, now);
    swept += ids.length;
    if (ids.length < PAGE) break;
  }
  if (swept > 0) log({ level: "info", event: "invitations_swept", count: swept });
  return swept;
}
