import { and, desc, eq, exists, gt, isNotNull, isNull, ne, sql, type SQL, type SQLWrapper } from "drizzle-orm";
import { alias, QueryBuilder } from "drizzle-orm/sqlite-core";
import { uuidv7 } from "../lib/uuid";
import { ROLE } from "../auth/roles";
import { callerMayWrite, callerNow, type CallerRef } from "./caller";
import type { Db } from "./client";
import { selectedRow } from "./insert-select";
import { organizations, refreshTokens, sessions, users, type UserRow } from "./schema";

// Every query on sign-in sessions and their refresh tokens lives here.

/** A session ends this long after sign-in, however active (absolute lifetime). */
export const SESSION_MAX_MS = 30 * 24 * 3_600_000;
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
 * Opens a session for `userId` with its first refresh token (stored as `refreshHash`), in one
 * batch, written only while the user may still sign in. Undefined when they may not.
 */
export async function openSession(db: Db, userId: string, refreshHash: string, deviceInfo: string | null, now: Date) {
  const id = uuidv7(now.getTime());
  const at = now.toISOString();
  const [opened] = await db.batch([
    db
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
      .returning({ id: sessions.id }),
    db.insert(refreshTokens).select(
      db
        .select(selectedRow(refreshTokens, { hash: refreshHash, sessionId: sessions.id, createdAt: at, replacedBy: null }))
        .from(sessions)
        .where(eq(sessions.id, id))
        .getSQL(),
    ),
  ]);
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
  const [replaced, , , , [user]] = await db.batch([
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
  const [ended] = await db.batch([
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

/** The live sessions of a user, newest first: what the session list shows (never a token). */
export async function listSessions(db: Db, userId: string, now: Date) {
  return db
    .select({
      id: sessions.id,
      deviceInfo: sessions.deviceInfo,
      createdAt: sessions.createdAt,
      lastUsedAt: sessions.lastUsedAt,
      expiresAt: sessions.expiresAt,
    })
    .from(sessions)
    .where(and(eq(sessions.userId, userId), isNull(sessions.endedAt), gt(sessions.expiresAt, now.toISOString())))
    .orderBy(desc(sessions.createdAt));
}

/**
 * Ends one of the caller's own live sessions, while the caller is still a valid caller (in the same
 * statement); reads the caller in the same batch, so a refusal is explained by that state.
 */
export async function endOwnSession(db: Db, caller: CallerRef, sessionId: string, now: Date) {
  const [ended, [seen]] = await db.batch([
    db
      .update(sessions)
      .set({ endedAt: now.toISOString(), endReason: "revoked" })
      .where(
        and(
          eq(sessions.id, sessionId),
          eq(sessions.userId, caller.id),
          isNull(sessions.endedAt),
          callerMayWrite(caller, { minimum: ROLE.USER }, { orgId: sql`${caller.orgId}` }),
        ),
      )
      .returning({ id: sessions.id }),
    callerNow(db, caller),
  ]);
  return { ended: ended.length > 0, caller: seen };
}

export type OwnChanges = { firstName?: string | undefined; lastName?: string | undefined; passwordHash?: string | undefined };

/**
 * The caller's own name, last name or password, while they are a valid caller (in the same
 * statement). A new password ends every other session of theirs in the same batch, keyed on the
 * new hash (its salt is random, so only this write stored it). Reads the caller for a refusal.
 */
export async function updateOwnAccount(db: Db, caller: CallerRef, changes: OwnChanges, now: Date) {
  const at = now.toISOString();
  const set: Partial<typeof users.$inferInsert> = { updatedAt: at };
  if (changes.firstName !== undefined)
    Object.assign(set, { firstName: changes.firstName, firstNameFolded: changes.firstName.toLowerCase() });
  if (changes.lastName !== undefined)
    Object.assign(set, { lastName: changes.lastName, lastNameFolded: changes.lastName.toLowerCase() });
  if (changes.passwordHash !== undefined) set.passwordHash = changes.passwordHash;
  const update = db
    .update(users)
    .set(set)
    .where(
      and(
        eq(users.id, caller.id),
        isNull(users.deletedAt),
        callerMayWrite(caller, { minimum: ROLE.USER }, { orgId: users.orgId }),
      ),
    )
    .returning({ id: users.id });
  const seen = callerNow(db, caller);
  if (changes.passwordHash === undefined) {
    const [updated, [seenCaller]] = await db.batch([update, seen]);
    return { updated: updated.length > 0, caller: seenCaller };
  }
  const [updated, [seenCaller]] = await db.batch([
    update,
    seen,
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
  return { updated: updated.length > 0, caller: seenCaller };
}
