import { and, eq, exists, gte, isNull, lt, or, sql, type SQL, type SQLWrapper } from "drizzle-orm";
import { alias, QueryBuilder, type AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Role } from "../auth/roles";
import type { Db } from "./client";
import { organizations, sessions, users } from "./schema";

// The caller as the database holds them at the moment a statement runs. Authentication reads it,
// and every write carries it in its own WHERE, so a caller deleted or demoted after being
// authenticated changes nothing: the rights that count are those the write itself sees.

export const callers = alias(users, "caller");
export const callerOrganizations = alias(organizations, "caller_org");

/**
 * Who is calling, as authenticated: `issuedAt` is the token's `iat`, checked against the user's
 * watermark; `sessionId` its `sid`, the sign-in session that must still be live.
 */
export type CallerRef = { id: string; orgId: string; issuedAt: number | undefined; sessionId?: string | undefined };

const builder = new QueryBuilder();

/** A select from the caller's row joined with their organization, for the conditions below to filter. */
const fromCaller = <T extends Record<string, SQL | AnySQLiteColumn>>(fields: T) =>
  builder.select(fields).from(callers).innerJoin(callerOrganizations, eq(callerOrganizations.id, callers.orgId));

/**
 * A token is good while it was issued after the user's watermark (`tokens_valid_after`, set by every
 * soft delete): a token without `iat` passes only while no watermark is set (`NULL < x` is not true).
 */
function issuedAfterWatermark(issuedAt: SQLWrapper | number | null): SQL {
  return or(isNull(callers.tokensValidAfter), lt(callers.tokensValidAfter, issuedAt ?? sql`null`)) as SQL;
}

/**
 * A token of a sign-in session is good while that session is live (not ended, the caller's own); a
 * token without `sid` (an identity provider's, or a script's) has no session to end.
 */
function sessionLive(sessionId: SQLWrapper | string | null): SQL {
  return or(
    sql`${sessionId} IS NULL`,
    exists(
      builder
        .select({ one: sql`1` })
        .from(sessions)
        .where(and(eq(sessions.id, sessionId ?? sql`null`), eq(sessions.userId, callers.id), isNull(sessions.endedAt))),
    ),
  ) as SQL;
}

/** The caller is a live user of a live organization, holding a token issued after their watermark, of a live session. */
export function isLiveCaller(
  id: SQLWrapper | string,
  issuedAt: SQLWrapper | number | null,
  sessionId: SQLWrapper | string | null,
): SQL {
  return and(
    eq(callers.id, id),
    isNull(callers.deletedAt),
    isNull(callerOrganizations.deletedAt),
    issuedAfterWatermark(issuedAt),
    sessionLive(sessionId),
  ) as SQL;
}

/** What a write needs of its caller: a minimum rank, and the rank of any role it grants. */
export type Rights = { minimum: Role; grants?: Role | undefined };

/** The caller's conditions for a write in `orgId` (a column of the written row, or a value), ranked at least `atLeast`. */
function mayWrite(caller: CallerRef, rights: Rights, orgId: SQLWrapper | string, atLeast?: SQLWrapper): SQL {
  return and(
    isLiveCaller(caller.id, caller.issuedAt ?? null, caller.sessionId ?? null),
    eq(callers.orgId, orgId),
    gte(callers.orgRole, Math.max(rights.minimum, rights.grants ?? rights.minimum)),
    atLeast === undefined ? undefined : gte(callers.orgRole, atLeast),
  ) as SQL;
}

/**
 * True while the caller may still write the row: `EXISTS` over the caller, in the row's organization
 * (`orgId`), ranked at least as the route, any granted role and, when given, the row's own role (`over`).
 */
export function callerMayWrite(caller: CallerRef, rights: Rights, row: { orgId: SQLWrapper; over?: SQLWrapper }): SQL {
  return exists(fromCaller({ one: sql`1` }).where(mayWrite(caller, rights, row.orgId, row.over)));
}

/**
 * The source of an `INSERT ... SELECT` made by the caller: `fields` (every column of the written
 * table, in its order) selected from the caller's row when they may still write in their
 * organization with `rights` and `also` holds, no row otherwise (so the insert writes nothing).
 */
export function asCaller(caller: CallerRef, rights: Rights, fields: Record<string, SQL | AnySQLiteColumn>, also?: SQL): SQL {
  return fromCaller(fields)
    .where(and(mayWrite(caller, rights, caller.orgId), also))
    .getSQL();
}

/** The caller as a write's batch saw them: their role now, and whether their token still stands. */
export type CallerNow = { role: number; valid: boolean };

/** Reads the caller in a write's batch, after the write, so a refusal is explained by the same state. */
export function callerNow(db: Db, caller: CallerRef) {
  return db
    .select({
      role: callers.orgRole,
      // coalesce: the watermark comparison is NULL, not false, for a token without `iat`.
      valid:
        sql<boolean>`coalesce((${and(isLiveCaller(caller.id, caller.issuedAt ?? null, caller.sessionId ?? null), eq(callers.orgId, caller.orgId))}), 0)`.mapWith(
          Boolean,
        ),
    })
    .from(callers)
    .innerJoin(callerOrganizations, eq(callerOrganizations.id, callers.orgId))
    .where(eq(callers.id, caller.id));
}
