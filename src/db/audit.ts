import { and, asc, desc, eq, gt, gte, lt, sql, type Placeholder } from "drizzle-orm";
import type { BatchItem, BatchResponse } from "drizzle-orm/batch";
import { batchPrepared, prepared, type Bound, type BatchResults, type Db } from "./client";
import type { Policy } from "../auth/policy";
import { pageOf } from "../lib/cursor";
import { auditContext, auditEvents, auditForwarding } from "./schema";
import { callers, verdictOf, type Ask } from "./verdict";

// The audit log is written by triggers (migration 0010), in the statement of each change, so no
// writer can change a row without its event. What a trigger cannot know is who is writing: a
// request's write batch names its writer first (the caller, the request id, the client's address)
// in `audit_context` and clears it last. D1 runs one batch at a time in one transaction, so the
// row is seen by that batch's changes only; a write outside a request (the mail sender, the sweep,
// a script) finds none and is recorded without an actor.

/** Who writes through a request's database. */
export type Writer = { actorId: string | null; requestId: string | null; clientAddress: string | null };

const writers = new WeakMap<Db, () => Writer>();

/** Names who writes through `db` (a request's session), asked when each write batch runs. */
export function nameWriter(db: Db, writer: () => Writer): void {
  writers.set(db, writer);
}

type WriterValues = { [K in keyof Writer]: Writer[K] | Placeholder };

/** The statements that name a batch's writer (`writer`: values, or placeholders) and clear it. */
const framingOf = (db: Db, writer: WriterValues) => ({
  name: db
    .insert(auditContext)
    .values({ id: 1, ...writer })
    .onConflictDoUpdate({
      target: auditContext.id,
      set: {
        actorId: sql`excluded.actor_id`,
        requestId: sql`excluded.request_id`,
        clientAddress: sql`excluded.client_address`,
      },
    }),
  clear: db.delete(auditContext).where(eq(auditContext.id, 1)),
});

const framing = prepared((db) => {
  const { name, clear } = framingOf(db, {
    actorId: sql.placeholder("actorId"),
    requestId: sql.placeholder("requestId"),
    clientAddress: sql.placeholder("clientAddress"),
  });
  return { name: name.prepare(), clear: clear.prepare() };
});

/** Prepared statements of a write, in one batch (batchPrepared) between naming its writer and clearing it. */
export async function writeBatchPrepared<T extends readonly [Bound, ...Bound[]]>(db: Db, items: T): Promise<BatchResults<T>> {
  const writer = writers.get(db)?.();
  if (!writer) return batchPrepared(db, items);
  const { name, clear } = framing(db);
  const results = await batchPrepared(db, [[name, writer], ...items, [clear, {}]]);
  return results.slice(1, -1) as BatchResults<T>;
}

/** A write's statements in one batch, between naming its writer and clearing it. */
export async function writeBatch<U extends BatchItem<"sqlite">, T extends Readonly<[U, ...U[]]>>(
  db: Db,
  batch: T,
): Promise<BatchResponse<T>> {
  const writer = writers.get(db)?.();
  if (!writer) return db.batch(batch);
  const { name, clear } = framingOf(db, writer);
  const results = await db.batch([name, ...batch, clear]);
  return results.slice(1, -1) as BatchResponse<T>;
}

export type AuditFilter = { actor?: string; target?: string; action?: string; from?: string; to?: string };

/**
 * A page of the caller's organization's events, newest first, from before `before` (an event id),
 * in one batch with the verdict: the organization is the caller's as the verdict reads it, so a
 * refused caller's page is empty. Each filter narrows an index of (organization, ..., id).
 */
export async function listAuditEvents(
  db: Db,
  policy: Policy,
  ask: Ask,
  filter: AuditFilter,
  page: { limit: number; before?: number },
) {
  const verdict = verdictOf(policy, ask);
  const [[read], rows] = await db.batch([
    verdict.read(db, {}).limit(1),
    db
      .select()
      .from(auditEvents)
      .where(
        and(
          eq(auditEvents.orgId, verdict.only(callers.orgId)),
          filter.actor === undefined ? undefined : eq(auditEvents.actorId, filter.actor),
          filter.target === undefined ? undefined : eq(auditEvents.targetId, filter.target),
          filter.action === undefined ? undefined : eq(auditEvents.action, filter.action),
          filter.from === undefined ? undefined : gte(auditEvents.at, filter.from),
          filter.to === undefined ? undefined : lt(auditEvents.at, filter.to),
          page.before === undefined ? undefined : lt(auditEvents.id, page.before),
        ),
      )
      .orderBy(desc(auditEvents.id))
      .limit(page.limit + 1),
  ]);
  const { items, end } = pageOf(rows, page.limit);
  return { verdict: read?.verdict, items, next: end?.id ?? null };
}

const watermark = sql`coalesce((SELECT ${auditForwarding.lastId} FROM ${auditForwarding} WHERE ${auditForwarding.id} = 1), 0)`;

/** The oldest `limit` events not yet forwarded (past the watermark), of every organization. */
export function unforwardedEvents(db: Db, limit: number) {
  return db.select().from(auditEvents).where(gt(auditEvents.id, watermark)).orderBy(asc(auditEvents.id)).limit(limit);
}

/** Moves the watermark to `lastId`, never back (two overlapping runs may both forward a page). */
export async function markForwarded(db: Db, lastId: number): Promise<void> {
  await db
    .insert(auditForwarding)
    .values({ id: 1, lastId })
    .onConflictDoUpdate({ target: auditForwarding.id, set: { lastId: sql`max(${auditForwarding.lastId}, excluded.last_id)` } });
}
