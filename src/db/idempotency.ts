import { and, eq, gt, lte, sql, type SQL, type SQLWrapper } from "drizzle-orm";
import { QueryBuilder, type SQLiteColumn, type SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Db } from "./client";
import { selectedRow } from "./insert-select";
import { idempotencyKeys } from "./schema";

// Idempotency keys (draft-ietf-httpapi-idempotency-key-header). A write made with a key records its
// answer in its own batch, only when the work was done; a later request of the caller with the key
// finds it in the verdict (`replayed`, src/db/verdict.ts), so its writes refuse themselves and it
// answers what was recorded. D1 runs one batch at a time, so of two requests with one key, the
// second always sees the first's record: there is no "still running" to answer.

/** A write's key as its batch uses it: the caller's key, the request's fingerprint and its time. */
export type Idempotency = { key: string; fingerprint: string; now: Date };

/** How long an answer is kept: a retry after that is a new request. */
const KEPT_MS = 24 * 60 * 60_000;

const builder = new QueryBuilder();

const recorded = (callerId: SQLWrapper, idempotency: Idempotency) =>
  and(
    eq(idempotencyKeys.callerId, callerId),
    eq(idempotencyKeys.key, idempotency.key),
    gt(idempotencyKeys.expiresAt, idempotency.now.toISOString()),
  );

/** The caller has an answer recorded for the key: the verdict's `replayed`. */
export const isReplay = (callerId: SQLWrapper, idempotency: Idempotency) =>
  sql`EXISTS (${builder
    .select({ one: sql`1` })
    .from(idempotencyKeys)
    .where(recorded(callerId, idempotency))
    .getSQL()})`;

/** The recorded answer, `[fingerprint, snapshot]` as JSON, for a verdict's read; NULL without one. */
export function recordedAnswer(callerId: SQLWrapper, idempotency: Idempotency | undefined) {
  if (!idempotency) return sql<string | null>`NULL`;
  const answer = sql`json_array(${idempotencyKeys.fingerprint}, json(${idempotencyKeys.snapshot}))`;
  return sql<
    string | null
  >`(${builder.select({ answer }).from(idempotencyKeys).where(recorded(callerId, idempotency)).getSQL()})`;
}

/**
 * The statement that records the answer: one row from `source` (the row the work wrote; none when
 * it wrote nothing), its `snapshot` columns kept as JSON. It replaces only an expired record.
 */
export function recordAnswer(
  db: Db,
  callerId: string,
  idempotency: Idempotency,
  source: { table: SQLiteTable; where: SQL | undefined; snapshot?: Record<string, SQLiteColumn> },
) {
  const columns = Object.entries(source.snapshot ?? {});
  const snapshot = columns.length
    ? sql`json_object(${sql.join(
        columns.map(([name, column]) => sql`${sql.raw(`'${name}'`)}, ${column}`),
        sql`, `,
      )})`
    : null;
  const row = selectedRow(idempotencyKeys, {
    callerId,
    key: idempotency.key,
    fingerprint: idempotency.fingerprint,
    snapshot,
    createdAt: idempotency.now.toISOString(),
    expiresAt: new Date(idempotency.now.getTime() + KEPT_MS).toISOString(),
  });
  const excluded = (name: string) => sql.raw(`excluded.${name}`);
  return db
    .insert(idempotencyKeys)
    .select(builder.select(row).from(source.table).where(source.where).getSQL())
    .onConflictDoUpdate({
      target: [idempotencyKeys.callerId, idempotencyKeys.key],
      set: {
        fingerprint: excluded("fingerprint"),
        snapshot: excluded("snapshot"),
        createdAt: excluded("created_at"),
        expiresAt: excluded("expires_at"),
      },
      setWhere: sql`${idempotencyKeys.expiresAt} <= ${excluded("created_at")}`,
    });
}

/** A recorded answer as the verdict read it: its fingerprint, and its snapshot decoded as `columns` map them. */
export function decodeAnswer<T>(answer: string, columns: Record<string, SQLiteColumn>): { fingerprint: string; row: T | null } {
  const [fingerprint, snapshot] = JSON.parse(answer) as [string, Record<string, unknown> | null];
  const row = snapshot
    ? Object.fromEntries(
        Object.entries(columns).map(([name, column]) => {
          const value = snapshot[name];
          return [name, value === null || value === undefined ? null : column.mapFromDriverValue(value)];
        }),
      )
    : null;
  return { fingerprint, row: row as T | null };
}

// A sweep deletes at most this many records, so one statement stays short however many expired.
const SWEEP_LIMIT = 1_000;

/** Deletes records that expired by `now` (at most SWEEP_LIMIT); how many. */
export async function deleteExpiredAnswers(db: Db, now: string): Promise<number> {
  const expired = builder
    .select({ rowid: sql`rowid` })
    .from(idempotencyKeys)
    .where(lte(idempotencyKeys.expiresAt, now))
    .limit(SWEEP_LIMIT)
    .getSQL();
  const result = await db.delete(idempotencyKeys).where(sql`rowid IN (${expired})`);
  return result.meta.changes;
}
