import { and, asc, count, eq, isNotNull, isNull, not, or, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { ROLE, type Role } from "../auth/roles";
import { uuidv7 } from "../lib/uuid";
import {
  asCaller,
  callerMayWrite,
  callerNow,
  callerOrganizations,
  callers,
  isLiveCaller,
  type CallerNow,
  type CallerRef,
  type Rights,
} from "./caller";
import { prepared, type Db } from "./client";
import { selectedRow } from "./insert-select";
import { addressHeld, inviteNewUser } from "./invitations";
import { searchCondition, searchTotal } from "./search";
import { organizationUserCounts, sessions, users, type AuthMethod, type UserRow } from "./schema";

// Every query on users lives here. Live rows are the default: a soft-deleted user is seen
// only where a caller passes `includeDeleted: true`.

export type Visibility = { includeDeleted?: boolean };

function visible(options: Visibility = {}): SQL | undefined {
  return options.includeDeleted ? undefined : isNull(users.deletedAt);
}

// The caller behind a token and their organization, in one statement: authentication and
// GET /organization/{orgId} together cost a single D1 round trip.
const callerQuery = prepared((db) =>
  db
    .select({
      id: callers.id,
      orgId: callers.orgId,
      role: callers.orgRole,
      validated: callers.validated,
      organization: callerOrganizations,
    })
    .from(callerOrganizations)
    .innerJoin(callers, eq(callers.orgId, callerOrganizations.id))
    .where(isLiveCaller(sql.placeholder("userId"), sql.placeholder("issuedAt"), sql.placeholder("sessionId")))
    .prepare(),
);

/**
 * The caller behind a token: a live user of a live organization, with that organization, whose
 * token (issued at `issuedAt`, the `iat` claim) is newer than the user's watermark and, when it
 * names a sign-in session (`sid`), whose session is live.
 */
export async function findCaller(db: Db, userId: string, issuedAt: number | undefined, sessionId?: string) {
  return callerQuery(db).get({ userId, issuedAt: issuedAt ?? null, sessionId: sessionId ?? null });
}

const userQuery = (options: Visibility) =>
  prepared((db) =>
    db
      .select()
      .from(users)
      .where(and(eq(users.id, sql.placeholder("userId")), eq(users.orgId, sql.placeholder("orgId")), visible(options)))
      .prepare(),
  );
const liveUserQuery = userQuery({});
const anyUserQuery = userQuery({ includeDeleted: true });

export async function findUser(db: Db, orgId: string, userId: string, options?: Visibility): Promise<UserRow | undefined> {
  return (options?.includeDeleted ? anyUserQuery : liveUserQuery)(db).get({ userId, orgId });
}

/** The user of an organization holding `email`, deleted or not (at most one: a unique index). */
export async function findOrgUserByEmail(db: Db, orgId: string, email: string): Promise<UserRow | undefined> {
  // Matches the expression of the unique index, so the lookup uses it.
  return db
    .select()
    .from(users)
    .where(and(eq(users.orgId, orgId), sql`lower(${users.email}) = ${email.toLowerCase()}`))
    .get();
}

export type Cursor = { createdAt: string; id: string };

export type ListFilter = Visibility & { role?: Role; q?: string };

export async function listUsers(db: Db, orgId: string, filter: ListFilter, page: { limit: number; after?: Cursor }) {
  // A search reads the organization's matches through indexes of its own (src/db/search.ts).
  const search = filter.q ? { ...filter, q: filter.q } : undefined;
  const conditions = [search ? searchCondition(orgId, search) : eq(users.orgId, orgId), visible(filter)];
  if (filter.role !== undefined) conditions.push(eq(users.orgRole, filter.role));
  const where = and(...conditions);
  // The position as a row value: SQLite seeks to it in the (org_id[, org_role], created_at, id)
  // index, so a deep page costs what the first one does.
  const after = page.after ? sql`(${users.createdAt}, ${users.id}) > (${page.after.createdAt}, ${page.after.id})` : undefined;
  // One round trip for the page and the total.
  const [rows, totals] = await db.batch([
    db
      .select()
      .from(users)
      .where(and(where, after))
      .orderBy(asc(users.createdAt), asc(users.id))
      .limit(page.limit + 1),
    search ? searchTotal(db, orgId, search, where) : countedTotal(db, orgId, filter),
  ]);
  const hasMore = rows.length > page.limit;
  const items = hasMore ? rows.slice(0, page.limit) : rows;
  const last = items.at(-1);
  return {
    items,
    total: totals[0]?.total ?? 0,
    next: hasMore && last ? { createdAt: last.createdAt, id: last.id } : null,
  };
}

/**
 * The total of a list without a search, from the counts the triggers keep (at most five rows, one
 * per role) rather than a count over the organization's users. A search still counts its matches.
 */
function countedTotal(db: Db, orgId: string, filter: ListFilter) {
  const counted = filter.includeDeleted
    ? sql`${organizationUserCounts.live} + ${organizationUserCounts.deleted}`
    : sql`${organizationUserCounts.live}`;
  return db
    .select({ total: sql<number>`coalesce(sum(${counted}), 0)`.mapWith(Number) })
    .from(organizationUserCounts)
    .where(
      and(
        eq(organizationUserCounts.orgId, orgId),
        filter.role === undefined ? undefined : eq(organizationUserCounts.orgRole, filter.role),
      ),
    );
}

export type NewUser = {
  email: string;
  firstName: string;
  lastName: string;
  orgRole: Role;
  passwordHash: string;
  provider?: string | undefined;
  authMethod: AuthMethod;
};

/** A write's outcome: the row it wrote (undefined when refused) and the caller as the write saw them. */
export type Written = { row: UserRow | undefined; caller: CallerNow | undefined };

/**
 * Inserts a user into the caller's organization, and with `invite` its pending invitation (the
 * outbox the mail sender reads), in one atomic batch. The row is selected from the caller's own
 * (`INSERT ... SELECT`), so it is written only while the caller may still grant its role there, into
 * the organization the database holds for them, and only while no verified account holds the
 * address. The unique index on (organization, address) decides races within an organization: a
 * duplicate throws a unique violation.
 */
export async function insertUser(
  db: Db,
  caller: CallerRef,
  rights: Rights,
  user: NewUser,
  invite: boolean,
): Promise<Written & { invitationId: string | undefined }> {
  const now = new Date().toISOString();
  const id = uuidv7();
  const email = user.email.toLowerCase();
  const insert = db
    .insert(users)
    .select(
      asCaller(
        caller,
        rights,
        selectedRow(users, {
          id,
          // The organization comes from the caller's row.
          orgId: callers.orgId,
          email,
          firstName: user.firstName,
          lastName: user.lastName,
          firstNameFolded: user.firstName.toLowerCase(),
          lastNameFolded: user.lastName.toLowerCase(),
          orgRole: user.orgRole,
          validated: false,
          passwordHash: user.passwordHash,
          provider: user.provider ?? null,
          authMethod: user.authMethod,
          tokensValidAfter: null,
          createdAt: now,
          updatedAt: now,
          deletedAt: null,
        }),
        not(addressHeld(sql`${email}`)),
      ),
    )
    .returning();
  const seen = callerNow(db, caller);
  if (!invite) {
    const [[written], [seenCaller]] = await db.batch([insert, seen]);
    return { row: written, caller: seenCaller, invitationId: undefined };
  }
  const invitation = inviteNewUser(db, { userId: id, invitedBy: caller.id, now });
  const [[written], [seenCaller]] = await db.batch([insert, seen, invitation.statement]);
  return { row: written, caller: seenCaller, invitationId: written ? invitation.id : undefined };
}

/** The columns a write sets: values, or SQL evaluated by the statement itself. */
type UserSet = { [K in keyof UserRow]?: UserRow[K] | SQL };

export type UserChanges = { firstName?: string; lastName?: string; orgRole?: Role };

// True unless this row is an owner and the only live one of its organization. Evaluated inside
// the writing statement, so two owners demoting each other at once cannot both succeed.
function keepsAnotherOwner(orgId: string) {
  return sql`(${users.orgRole} <> ${ROLE.OWNER} OR (SELECT count(*) FROM users AS owners WHERE owners.org_id = ${orgId} AND owners.org_role = ${ROLE.OWNER} AND owners.deleted_at IS NULL) > 1)`;
}

/**
 * A guarded write's outcome: the row it wrote (undefined when a guard failed), the target as that
 * write left it and the caller as it saw them. All come from one batch, which D1 runs as one
 * transaction, so a refusal is explained by the state that caused it, never by a later write of a
 * concurrent request.
 */
export type GuardedWrite = Written & { target: UserRow | undefined };

/**
 * Writes `set` to the target when the caller may still write it (live, in its organization, ranked
 * at least as `rights` and the target's role) and `guard` holds; then reads the target, deleted or
 * not, and the caller, in the same batch.
 */
async function guardedUpdate(
  db: Db,
  caller: CallerRef,
  rights: Rights,
  userId: string,
  set: UserSet,
  guard: SQL | undefined,
  then?: BatchItem<"sqlite">,
): Promise<GuardedWrite> {
  const isTarget = and(eq(users.id, userId), eq(users.orgId, caller.orgId));
  const write = db
    .update(users)
    .set(set)
    .where(and(isTarget, callerMayWrite(caller, rights, { orgId: users.orgId, over: users.orgRole }), guard))
    .returning();
  const target = db.select().from(users).where(isTarget);
  const seen = callerNow(db, caller);
  const [[row], [targetRow], [seenCaller]] = then
    ? await db.batch([write, target, seen, then])
    : await db.batch([write, target, seen]);
  return { row, target: targetRow, caller: seenCaller };
}

export async function updateUser(
  db: Db,
  caller: CallerRef,
  minimum: Role,
  userId: string,
  changes: UserChanges,
): Promise<GuardedWrite> {
  const set: UserSet = { updatedAt: new Date().toISOString() };
  if (changes.firstName !== undefined)
    Object.assign(set, { firstName: changes.firstName, firstNameFolded: changes.firstName.toLowerCase() });
  if (changes.lastName !== undefined)
    Object.assign(set, { lastName: changes.lastName, lastNameFolded: changes.lastName.toLowerCase() });
  if (changes.orgRole !== undefined) set.orgRole = changes.orgRole;
  const demotes = changes.orgRole !== undefined && changes.orgRole !== ROLE.OWNER;
  return guardedUpdate(
    db,
    caller,
    { minimum, grants: changes.orgRole },
    userId,
    set,
    and(isNull(users.deletedAt), demotes ? keepsAnotherOwner(caller.orgId) : undefined),
  );
}

/**
 * Soft-deletes a live user and moves their token watermark to the end of this second (never back),
 * so every token issued until now, whole-second `iat` or not, stays dead after a reactivation.
 */
export function softDeleteUser(db: Db, caller: CallerRef, minimum: Role, userId: string): Promise<GuardedWrite> {
  const now = new Date();
  // The user's sessions end with the deletion (keyed on this deletion's time), so a reactivation
  // does not bring them back.
  const endSessions = db
    .update(sessions)
    .set({ endedAt: now.toISOString(), endReason: "deleted" })
    .where(
      and(
        eq(sessions.userId, userId),
        isNull(sessions.endedAt),
        sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${userId} AND ${users.deletedAt} = ${now.toISOString()})`,
      ),
    );
  return guardedUpdate(
    db,
    caller,
    { minimum },
    userId,
    {
      deletedAt: now.toISOString(),
      updatedAt: now.toISOString(),
      tokensValidAfter: sql`max(coalesce(${users.tokensValidAfter}, 0), ${Math.ceil(now.getTime() / 1000)})`,
    },
    and(isNull(users.deletedAt), keepsAnotherOwner(caller.orgId)),
    endSessions,
  );
}

/** Clears `deletedAt` of a soft-deleted user; the token watermark stays where the deletion put it. */
export function reactivateUser(db: Db, caller: CallerRef, minimum: Role, userId: string): Promise<GuardedWrite> {
  return guardedUpdate(
    db,
    caller,
    { minimum },
    userId,
    { deletedAt: null, updatedAt: new Date().toISOString() },
    isNotNull(users.deletedAt),
  );
}
