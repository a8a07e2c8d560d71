import { createDb } from "../db/client";
import { markForwarded, unforwardedEvents } from "../db/audit";
import type { Bindings } from "../env";
import { log } from "../log";
import { toAuditEvent } from "../schemas/audit";

// Delivery of the audit log onward (the scheduled sweep): every event past the watermark goes to the
// AUDIT_EVENTS queue, oldest first, for a deployment's own consumer (a webhook, a SIEM). At least
// once: the watermark moves only after a page is on the queue, so a failed send is sent again by the
// next run, and a consumer drops what it has seen by the event's `id`. Without the binding, nothing
// is forwarded.

// A queue batch holds at most 100 messages; a run sends at most this many batches.
const PAGE = 100;
const MAX_PAGES = 10;

export async function forwardAuditEvents(env: Bindings): Promise<number> {
  if (!env.AUDIT_EVENTS) return 0;
  const db = createDb(env.DB);
  let forwarded = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const rows = await unforwardedEvents(db, PAGE);
    const last = rows.at(-1);
    if (!last) break;
    await env.AUDIT_EVENTS.sendBatch(rows.map((row) => ({ body: { orgId: row.orgId, ...toAuditEvent(row) } })));
    await markForwarded(db, last.id);
    forwarded += rows.length;
    if (rows.length < PAGE) break;
  }
  if (forwarded > 0) log({ level: "info", event: "audit_events_forwarded", count: forwarded });
  return forwarded;
}
