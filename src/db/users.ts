import { and, asc, eq, isNotNull, isNull, not, sql, type SQL, type SQLWrapper } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { alias, QueryBuilder } from "drizzle-orm/sqlite-core";
import type { Policy, Reason } from "../auth/policy";
import type { Role } from "../auth/roles";
import { pageOf, type Cursor } from "../lib/cursor";
import { uuidv7 } from "../lib/uuid";
import { writeBatch, writeBatchPrepared } from "./audit";
import { allPrepared, batchPrepared, present, preparedBy, type Db } from "./client";
import { recordAnswer, recordedAnswer } from "./idempotency";
import { selectedRow } from "./insert-select";
import { addressHeld, inviteNewUser } from "./invitations";
import { searchCondition, searchTotal } from "./search";
import { organizationUserCounts, sessions, users, type AuthMethod, type UserRow } from "./schema";
import { callers, prepareAsk, targets, verdictOf, type AnyAsk, type Ask, type IdempotentAsk } from "./verdict";

const builder = new QueryBuilder();

// Every query on users lives here. Live rows are the default: a soft-deleted user is seen
// only where a caller passes `includeDeleted: true`.

export type Visibility = { includeDeleted?: boolean };

function visible(options: Visibility = {}): SQL | undefined {
  return options.includeDeleted ? undefined : isNull(users.deletedAt);
}

// The reads and the update every client makes most are prepared once per shape (src/db/client.ts
// preparedBy): Drizzle turns a statement of the verdict's size into SQL in about half a millisecond,
// as much as the rest of a small request.

/**
 * The columns of a user that any answer shows (src/schemas/users.ts toOrgUser), and the position
 * of the list's cursor: never the password hash, nor the columns kept for search and tokens.
 */
export function shownColumns<T extends typeof users | typeof targets | typeof callers>(table: T) {
  const { id, email, firstName, lastName, orgId, orgRole, validated, deletedAt, createdAt, version } = table;
  return { id, email, firstName, lastName, orgId, orgRole, validated, deletedAt, createdAt, version };
}

export type ShownUser = Pick<UserRow, keyof ReturnType<typeof shownColumns>>;

const userRead = preparedBy((db, policy: Policy, ask: AnyAsk) =>
  verdictOf(policy, ask)
    .read(db, { user: shownColumns(targets) })
    .limit(1)
    .prepare(),
);

/** One user of the caller's organization with the verdict on reading them: one statement. */
export async function readUser(db: Db, policy: Policy, ask: Ask) {
  const prepared = prepareAsk(policy, ask);
  const [read] = await allPrepared(db, userRead(db, prepared.key, policy, prepared.ask), prepared.values);
  // `ok` means the target's row was joined: its columns, all NOT NULL but deletedAt, are there.
  return { verdict: read?.verdict, row: read?.verdict === "ok" ? (read.user as ShownUser) : undefined };
}

export type ListFilter = Visibility & { role?: Role; q?: string };

/**
 * A page of the caller's organization and its total, in one batch with the verdict: the
 * organization is the caller's as the verdict reads it, so a refused caller's page is empty.
 */
export async function listUsers(db: Db, policy: Policy, ask: Ask, filter: ListFilter, page: { limit: number; after?: Cursor }) {
  const [[read], rows, totals] = filter.q
    ? await searchPage(db, policy, ask, filter, page)
    : await plainPage(db, policy, ask, filter, page);
  const { items, end } = pageOf(rows, page.limit);
  return {
    verdict: read?.verdict,
    items,
    total: totals[0]?.total ?? 0,
    next: end ? { createdAt: end.createdAt, id: end.id } : null,
  };
}

/** The organization's users in list order from `after`, for `filter`'s role and visibility: their condition. */
function inList(orgId: SQL, filter: ListFilter) {
  return and(eq(users.orgId, orgId), visible(filter), filter.role === undefined ? undefined : eq(users.orgRole, filter.role));
}

// The position as a row value: SQLite seeks to it in the (org_id[, org_role], created_at, id)
// index, so a deep page costs what the first one does.
const afterPosition = (createdAt: SQLWrapper | string, id: SQLWrapper | string) =>
  sql`(${users.createdAt}, ${users.id}) > (${createdAt}, ${id})`;

const plainPageStatements = preparedBy((db, policy: Policy, ask: AnyAsk, filter: ListFilter, paged: boolean) => {
  const verdict = verdictOf(policy, ask);
  const orgId = verdict.only(callers.orgId);
  const after = paged ? afterPosition(sql.placeholder("afterCreatedAt"), sql.placeholder("afterId")) : undefined;
  return [
    verdict.read(db, {}).limit(1).prepare(),
    db
      .select(shownColumns(users))
      .from(users)
      .where(and(inList(orgId, filter), after))
      .orderBy(asc(users.createdAt), asc(users.id))
      .limit(sql.placeholder("limit"))
      .prepare(),
    countedTotal(db, orgId, filter).prepare(),
  ] as const;
});

/** A page without a search: the verdict, the page and the kept total, prepared once per shape. */
function plainPage(db: Db, policy: Policy, ask: Ask, filter: ListFilter, page: { limit: number; after?: Cursor }) {
  const prepared = prepareAsk(policy, ask);
  const key = `${prepared.key};${filter.role ?? ""},${filter.includeDeleted ?? false},${page.after !== undefined}`;
  const [read, rows, total] = plainPageStatements(db, key, policy, prepared.ask, filter, page.after !== undefined);
  const values = { ...prepared.values, limit: page.limit + 1, afterCreatedAt: page.after?.createdAt, afterId: page.after?.id };
  return batchPrepared(db, [
    [read, values],
    [rows, values],
    [total, values],
  ]);
}

/** A page of a search, and its total counted, in one batch with the verdict. */
function searchPage(db: Db, policy: Policy, ask: Ask, filter: ListFilter, page: { limit: number; after?: Cursor }) {
  const verdict = verdictOf(policy, ask);
  const orgId = verdict.only(callers.orgId);
  // A search reads the organization's matches through indexes of its own (src/db/search.ts), in
  // place of the list's organization condition.
  const search = { ...filter, q: filter.q ?? "" };
  const conditions = [
    searchCondition(orgId, search),
    visible(filter),
    filter.role === undefined ? undefined : eq(users.orgRole, filter.role),
  ];
  const where = and(...conditions);
  const after = page.after ? afterPosition(page.after.createdAt, page.after.id) : undefined;
  return db.batch([
    verdict.read(db, {}).limit(1),
    db
      .select(shownColumns(users))
      .from(users)
      .where(and(where, after))
      .orderBy(asc(users.createdAt), asc(users.id))
      .limit(page.limit + 1),
    searchTotal(db, orgId, search, where),
  ]);
}

/**
 * The total of a list without a search, from the counts the triggers keep (at most five rows, one
 * per role) rather than a count over the organization's users. A search still counts its matches.
 */
function countedTotal(db: Db, orgId: SQL, filter: ListFilter) {
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

/** Who holds an address a creation asked for, as its batch saw it: nobody, a user of the organization, or a verified account elsewhere. */
export type AddressHolder = "none" | "live" | "deleted" | "verified";

const holders = alias(users, "org_holder");

/**
 * Inserts a user into the caller's organization, and with `invite` its pending invitation (the
 * outbox the mail sender reads), in one atomic batch that first reads the verdict and who holds the
 * address. The row is selected from the caller's own (`INSERT ... SELECT`), so it is written only
 * while the verdict allows it, into the organization the database holds for them, and only while
 * nobody holds the address (a user of that organization, deleted or not, or a verified account).
 */
export async function insertUser(db: Db, policy: Policy, ask: IdempotentAsk, user: NewUser, invite: boolean) {
  const now = new Date().toISOString();
  const id = uuidv7();
  const email = user.email.toLowerCase();
  const verdict = verdictOf(policy, { ...ask, grants: user.orgRole });
  // Matches the expression of the unique index on (organization, address), so the lookup uses it.
  const orgHolder = builder
    .select({ deleted: sql`${holders.deletedAt} IS NOT NULL` })
    .from(holders)
    .where(and(eq(holders.orgId, callers.orgId), sql`lower(${holders.email}) = ${email}`))
    .getSQL();
  const held = addressHeld(sql`${email}`);
  const read = verdict
    .read(db, {
      orgHolder: sql<number | null>`(${orgHolder})`,
      held: held.mapWith(Boolean),
      replay: recordedAnswer(callers.id, ask.idempotency),
    })
    .limit(1);
  const insert = db
    .insert(users)
    .select(
      verdict.source(
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
          version: 1,
        }),
        and(sql`NOT EXISTS (${orgHolder})`, not(held)),
      ),
    )
    .returning(shownColumns(users));
  const invitation = invite ? inviteNewUser(db, { userId: id, invitedBy: ask.caller.id, now }) : undefined;
  const record = ask.idempotency
    ? recordAnswer(db, ask.caller.id, ask.idempotency, { table: users, where: eq(users.id, id), snapshot: shownColumns(users) })
    : undefined;
  const [[seen], [row]] = await writeBatch(db, [read, insert, ...present(invitation?.statement, record)]);
  const holder: AddressHolder =
    seen?.orgHolder === null || seen?.orgHolder === undefined
      ? seen?.held
        ? "verified"
        : "none"
      : seen.orgHolder
        ? "deleted"
        : "live";
  return { verdict: seen?.verdict, row, holder, invitationId: row ? invitation?.id : undefined, replay: seen?.replay ?? null };
}

/** The columns a write sets: values, or SQL evaluated by the statement itself. */
type UserSet = { [K in keyof UserRow]?: UserRow[K] | SQL };

export type UserChanges = { firstName?: string; lastName?: string; orgRole?: Role };

/**
 * A guarded write's outcome: the verdict its batch read, the row it wrote (undefined when refused),
 * and with an Idempotency-Key the answer recorded for it before (src/db/idempotency.ts).
 */
export type GuardedWrite = { verdict: Reason | undefined; row: ShownUser | undefined; replay?: string | undefined };

/**
 * Writes `set` to the target while the verdict allows it and `guard` holds, in one batch that first
 * reads the verdict (and `then`, run after the write).
 */
async function guardedUpdate(
  db: Db,
  policy: Policy,
  ask: IdempotentAsk,
  set: UserSet,
  guard?: SQL,
  then?: BatchItem<"sqlite">,
): Promise<GuardedWrite> {
  const verdict = verdictOf(policy, ask);
  const userId = ask.targetId ?? "";
  const read = verdict.read(db, { replay: recordedAnswer(callers.id, ask.idempotency) }).limit(1);
  const write = db
    .update(users)
    .set(set)
    .where(and(eq(users.id, userId), verdict.allows, guard))
    .returning(shownColumns(users));
  // Right after the write: changes() counts the rows it changed, its triggers' aside.
  const record = ask.idempotency
    ? recordAnswer(db, ask.caller.id, ask.idempotency, {
        table: users,
        where: and(eq(users.id, userId), sql`changes() > 0`),
        snapshot: shownColumns(users),
      })
    : undefined;
  const [[seen], [row]] = await writeBatch(db, [read, write, ...present(record, then)]);
  return { verdict: seen?.verdict, row, replay: seen?.replay ?? undefined };
}

const userUpdate = preparedBy((db, policy: Policy, ask: AnyAsk, changed: { names: boolean; lastNames: boolean }) => {
  const verdict = verdictOf(policy, ask);
  const bound = (name: string) => sql`${sql.placeholder(name)}`;
  // The version advances here rather than by its trigger, so that RETURNING (the answer's ETag) has it.
  const set: UserSet = { updatedAt: bound("updatedAt"), version: sql`${users.version} + 1` };
  if (changed.names) Object.assign(set, { firstName: bound("firstName"), firstNameFolded: bound("firstNameFolded") });
  if (changed.lastNames) Object.assign(set, { lastName: bound("lastName"), lastNameFolded: bound("lastNameFolded") });
  if (ask.grants !== undefined) set.orgRole = ask.grants;
  return [
    verdict.read(db, {}).limit(1).prepare(),
    db
      .update(users)
      .set(set)
      .where(and(eq(users.id, ask.targetId ?? ""), verdict.allows))
      .returning(shownColumns(users))
      .prepare(),
  ] as const;
});

/** A user's names and role, while the verdict allows it (its rank, ceiling and last-owner rules): one batch, prepared once per shape. */
export async function updateUser(db: Db, policy: Policy, ask: Ask, changes: UserChanges): Promise<GuardedWrite> {
  const prepared = prepareAsk(policy, { ...ask, grants: changes.orgRole });
  const changed = { names: changes.firstName !== undefined, lastNames: changes.lastName !== undefined };
  const key = `${prepared.key};${changed.names},${changed.lastNames}`;
  const [read, update] = userUpdate(db, key, policy, prepared.ask, changed);
  const values = {
    ...prepared.values,
    updatedAt: new Date().toISOString(),
    firstName: changes.firstName,
    firstNameFolded: changes.firstName?.toLowerCase(),
    lastName: changes.lastName,
    lastNameFolded: changes.lastName?.toLowerCase(),
  };
  const [[seen], [row]] = await writeBatchPrepared(db, [
    [read, values],
    [update, values],
  ]);
  return { verdict: seen?.verdict, row };
}

/**
 * Soft-deletes a live user and moves their token watermark to the end of this second (never back),
 * so every token issued until now, whole-second `iat` or not, stays dead after a reactivation.
 */
export function softDeleteUser(db: Db, policy: Policy, ask: Ask): Promise<GuardedWrite> {
  const now = new Date();
  const userId = ask.targetId ?? "";
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
    policy,
    ask,
    {
      deletedAt: now.toISOString(),
      updatedAt: now.toISOString(),
      tokensValidAfter: sql`max(coalesce(${users.tokensValidAfter}, 0), ${Math.ceil(now.getTime() / 1000)})`,
    },
    undefined,
    endSessions,
  );
}

/** Clears `deletedAt` of a soft-deleted user; the token watermark stays where the deletion put it. */
export function reactivateUser(db: Db, policy: Policy, ask: IdempotentAsk): Promise<GuardedWrite> {
  return guardedUpdate(db, policy, ask, { deletedAt: null, updatedAt: new Date().toISOString() }, isNotNull(users.deletedAt));
}
