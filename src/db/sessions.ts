import { and, desc, eq, exists, gt, isNotNull, isNull, ne, sql, type SQL, type SQLWrapper } from "drizzle-orm";
import { alias, QueryBuilder } from "drizzle-orm/sqlite-core";
import { uuidv7 } from "../lib/uuid";
import type { Policy } from "../auth/policy";
import type { Db } from "./client";
import { writeBatch } from "./audit";
import { selectedRow } from "./insert-select";
import { organizations, refreshTokens, sessions, users, type UserRow } from "./schema";
import { shownColumns, type ShownUser } from "./users";
import { callerOrganizations, callers, verdictOf, type Ask } from "./verdict";

// Every query on sign-in sessions and their refresh tokens lives here.

/** A session ends this long after sign-in, however active (absolute lifetime). */
const SESSION_MAX_MS = 30 * 24 * 3_600_000;
/** A refresh token unused this long no longer refreshes (idle lifetime): a forgotten device signs out. */
export const REFRESH_IDLE_MS = 7 * 24 * 3_600_000;

const signInOrganizations = alias(organizations, "sign_in_org");

/**
 * The account an address signs in to: its live, verified account of a live organization, or else
 * its newest live unverified one (whose correct password earns `email_not_verified`, not a session).
 * Deleted accounts never sign in, so they are answered like unknown addresses.
 */
export async function findSignInAccount(db: Db, email: string): Promise<UserRow | undefined> {
  const [row] = await db
    .select({ user: users })
    .from(users)
    .innerJoin(signInOrganizations, eq(signInOrganizations.id, users.orgId))
    .where(
      and(sql`lower(${users.email}) = ${email.toLowerCase()}`, isNull(users.deletedAt), isNull(signInOrganizations.deletedAt)),
    )
    .orderBy(desc(users.validated), desc(users.createdAt))
    .limit(1);
  return row?.user;
}

/** The user a session may sign in as: live, verified, of a live organization. */
function canSignIn(userId: string | SQLWrapper) {
  return and(
    eq(users.id, userId),
    isNull(users.deletedAt),
    sql`${users.validated} = 1`,
    sql`(SELECT ${organizations.deletedAt} FROM ${organizations} WHERE ${organizations.id} = ${users.orgId}) IS NULL`,
  );
}

/**
 * The two statements that open a session for `userId` (a value, or SQL that selects the user) with
 * its first refresh token (stored as `refreshHash`), for a batch: written only while the user may
 * still sign in, the token only with its session.
 */
export function sessionOpening(db: Db, userId: string | SQLWrapper, refreshHash: string, deviceInfo: string | null, now: Date) {
  const id = uuidv7(now.getTime());
  const at = now.toISOString();
  const session = db
    .insert(sessions)
    .select(
      db
        .select(
          selectedRow(sessions, {
            id,
            userId: users.id,
            deviceInfo,
            createdAt: at,
            lastUsedAt: at,
            expiresAt: new Date(now.getTime() + SESSION_MAX_MS).toISOString(),
            endedAt: null,
            endReason: null,
          }),
        )
        .from(users)
        .where(canSignIn(userId))
        .getSQL(),
    )
    .returning({ id: sessions.id });
  const refreshToken = db.insert(refreshTokens).select(
    db
      .select(selectedRow(refreshTokens, { hash: refreshHash, sessionId: sessions.id, createdAt: at, replacedBy: null }))
      .from(sessions)
      .where(eq(sessions.id, id))
      .getSQL(),
  );
  return { session, refreshToken };
}

/** Opens a session for `userId` in one batch (see sessionOpening); its id, or undefined when they may not sign in. */
export async function openSession(db: Db, userId: string, refreshHash: string, deviceInfo: string | null, now: Date) {
  const opening = sessionOpening(db, userId, refreshHash, deviceInfo, now);
  const [opened] = await writeBatch(db, [opening.session, opening.refreshToken]);
  return opened[0]?.id;
}

const presented = alias(refreshTokens, "presented");
const builder = new QueryBuilder();

/** The session of the presented refresh token `hash`, when `state` holds of that token. */
const sessionOf = (hash: string, state: SQL) =>
  sql`(${builder
    .select({ id: presented.sessionId })
    .from(presented)
    .where(and(eq(presented.hash, hash), state))})`;

/**
 * Uses a refresh token: when it is its session's current one, unexpired (idle and absolute), and
 * the user may still sign in, it is replaced by `nextHash` and the session's use recorded; when it
 * was already replaced, that is reuse and the whole session ends. One batch. Answers the session and
 * its user when the token was good.
 */
export async function rotateRefreshToken(db: Db, hash: string, nextHash: string, now: Date) {
  const at = now.toISOString();
  const idleSince = new Date(now.getTime() - REFRESH_IDLE_MS).toISOString();
  // Replaced by this request (the new hash is random, so no other request replaced it so).
  const replacedHere = eq(presented.replacedBy, nextHash);
  const [replaced, , , , [user]] = await writeBatch(db, [
    db
      .update(refreshTokens)
      .set({ replacedBy: nextHash })
      .where(
        and(
          eq(refreshTokens.hash, hash),
          isNull(refreshTokens.replacedBy),
          gt(refreshTokens.createdAt, idleSince),
          exists(
            builder
              .select({ one: sql`1` })
              .from(sessions)
              .innerJoin(users, eq(users.id, sessions.userId))
              .where(
                and(
                  eq(sessions.id, refreshTokens.sessionId),
                  isNull(sessions.endedAt),
                  gt(sessions.expiresAt, at),
                  canSignIn(sessions.userId),
                  // No soft delete since the session opened: the user's watermark is older than it.
                  sql`(${users.tokensValidAfter} IS NULL OR ${users.tokensValidAfter} < CAST(strftime('%s', ${sessions.createdAt}) AS INTEGER))`,
                ),
              ),
          ),
        ),
      )
      .returning({ sessionId: refreshTokens.sessionId }),
    // Reuse: a token another request already replaced ends its whole session.
    db
      .update(sessions)
      .set({ endedAt: at, endReason: "reuse" })
      .where(
        and(
          isNull(sessions.endedAt),
          eq(sessions.id, sessionOf(hash, and(isNotNull(presented.replacedBy), ne(presented.replacedBy, nextHash)) as SQL)),
        ),
      ),
    db.insert(refreshTokens).select(
      db
        .select(selectedRow(refreshTokens, { hash: nextHash, sessionId: presented.sessionId, createdAt: at, replacedBy: null }))
        .from(presented)
        .where(and(eq(presented.hash, hash), replacedHere))
        .getSQL(),
    ),
    db
      .update(sessions)
      .set({ lastUsedAt: at })
      .where(eq(sessions.id, sessionOf(hash, replacedHere))),
    db
      .select()
      .from(users)
      .where(
        eq(users.id, sql`(SELECT ${sessions.userId} FROM ${sessions} WHERE ${sessions.id} = ${sessionOf(hash, replacedHere)})`),
      ),
  ]);
  const sessionId = replaced[0]?.sessionId;
  return sessionId && user ? { sessionId, user } : undefined;
}

/**
 * Signs out: ends the session whose current refresh token this is, and answers whether it did. A
 * token already replaced ends its session too, as reuse (the one signing out may be the victim of
 * whoever rotated it), but is still not a sign-out.
 */
export async function endSessionByRefreshToken(db: Db, hash: string, now: Date): Promise<boolean> {
  const at = now.toISOString();
  const [ended] = await writeBatch(db, [
    db
      .update(sessions)
      .set({ endedAt: at, endReason: "logout" })
      .where(and(isNull(sessions.endedAt), eq(sessions.id, sessionOf(hash, isNull(presented.replacedBy)))))
      .returning({ id: sessions.id }),
    db
      .update(sessions)
      .set({ endedAt: at, endReason: "reuse" })
      .where(and(isNull(sessions.endedAt), eq(sessions.id, sessionOf(hash, isNotNull(presented.replacedBy))))),
  ]);
  return ended.length > 0;
}

/** The caller's live sessions, newest first (never a token), with the verdict: one batch. */
export async function listSessions(db: Db, policy: Policy, ask: Ask, now: Date) {
  const verdict = verdictOf(policy, ask);
  const [[seen], rows] = await db.batch([
    verdict.read(db, {}).limit(1),
    db
      .select({
        id: sessions.id,
        deviceInfo: sessions.deviceInfo,
        createdAt: sessions.createdAt,
        lastUsedAt: sessions.lastUsedAt,
        expiresAt: sessions.expiresAt,
      })
      .from(sessions)
      .where(
        and(
          eq(sessions.userId, ask.caller.id),
          isNull(sessions.endedAt),
          gt(sessions.expiresAt, now.toISOString()),
          verdict.allows,
        ),
      )
      .orderBy(desc(sessions.createdAt)),
  ]);
  return { verdict: seen?.verdict, rows };
}

/** The caller's own row and organization, with the verdict: one statement. */
export async function readOwnAccount(db: Db, policy: Policy, ask: Ask) {
  const [seen] = await verdictOf(policy, ask)
    .read(db, { user: shownColumns(callers), organization: callerOrganizations })
    .limit(1);
  // The caller's row is the statement's own (FROM): its NOT NULL columns are there whenever a row is.
  return { verdict: seen?.verdict, user: seen?.user as ShownUser | undefined, organization: seen?.organization };
}

/** Ends one of the caller's own live sessions while the verdict allows it; one batch, the verdict read first. */
export async function endOwnSession(db: Db, policy: Policy, ask: Ask, sessionId: string, now: Date) {
  const verdict = verdictOf(policy, ask);
  const [[seen], ended] = await writeBatch(db, [
    verdict.read(db, {}).limit(1),
    db
      .update(sessions)
      .set({ endedAt: now.toISOString(), endReason: "revoked" })
      .where(and(eq(sessions.id, sessionId), eq(sessions.userId, ask.caller.id), isNull(sessions.endedAt), verdict.allows))
      .returning({ id: sessions.id }),
  ]);
  return { verdict: seen?.verdict, ended: ended.length > 0 };
}

export type OwnChanges = { firstName?: string | undefined; lastName?: string | undefined; passwordHash?: string | undefined };

/**
 * The caller's own name, last name or password, while the verdict allows it. A new password ends
 * every other session of theirs in the same batch, keyed on the new hash (its salt is random, so
 * only this write stored it). One batch, the verdict read first.
 */
export async function updateOwnAccount(db: Db, policy: Policy, ask: Ask, changes: OwnChanges, now: Date) {
  const caller = ask.caller;
  const at = now.toISOString();
  const set: Partial<typeof users.$inferInsert> = { updatedAt: at };
  if (changes.firstName !== undefined)
    Object.assign(set, { firstName: changes.firstName, firstNameFolded: changes.firstName.toLowerCase() });
  if (changes.lastName !== undefined)
    Object.assign(set, { lastName: changes.lastName, lastNameFolded: changes.lastName.toLowerCase() });
  if (changes.passwordHash !== undefined) set.passwordHash = changes.passwordHash;
  const verdict = verdictOf(policy, ask);
  const read = verdict.read(db, {}).limit(1);
  const update = db
    .update(users)
    .set(set)
    .where(and(eq(users.id, caller.id), verdict.allows))
    .returning({ id: users.id });
  if (changes.passwordHash === undefined) {
    const [[seen], updated] = await writeBatch(db, [read, update]);
    return { verdict: seen?.verdict, updated: updated.length > 0 };
  }
  const [[seen], updated] = await writeBatch(db, [
    read,
    update,
    db
      .update(sessions)
      .set({ endedAt: at, endReason: "password" })
      .where(
        and(
          eq(sessions.userId, caller.id),
          isNull(sessions.endedAt),
          caller.sessionId === undefined ? undefined : ne(sessions.id, caller.sessionId),
          exists(
            builder
              .select({ one: sql`1` })
              .from(users)
              .where(and(eq(users.id, caller.id), eq(users.passwordHash, changes.passwordHash))),
          ),
        ),
      ),
  ]);
  return { verdict: seen?.verdict, updated: updated.length > 0 };
}
