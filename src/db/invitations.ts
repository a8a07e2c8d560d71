import { and, asc, eq, exists, inArray, isNull, lte, ne, not, or, sql, type SQL, type SQLWrapper } from "drizzle-orm";
import { alias, QueryBuilder, type AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import { uuidv7 } from "../lib/uuid";
import { present, type Db } from "./client";
import { writeBatch } from "./audit";
import { recordAnswer, recordedAnswer } from "./idempotency";
import { selectedRow } from "./insert-select";
import { invitations, organizations, users, type UserRow } from "./schema";
import { sessionOpening } from "./sessions";
import { callers, targets, verdictOf, type IdempotentAsk } from "./verdict";
import type { Policy, Reason } from "../auth/policy";

// Every query on invitations lives here. An invitation is one delivery and its token: written
// pending with its user (the outbox), claimed by the mail sender, which stores its token's hash,
// then sent; a resend revokes the earlier ones, a verification uses one and supersedes the other
// accounts' invitations of that address.

const holders = alias(users, "holder");
const recipients = alias(users, "recipient");
const recipientOrganizations = alias(organizations, "recipient_org");
const usedInvitations = alias(invitations, "used");
const tokenUsers = alias(invitations, "token_user");

const builder = new QueryBuilder();

/** A verified account holds this address (any organization, soft-deleted or not). */
export function addressHeld(email: SQLWrapper): SQL {
  // `= 1` as a literal, so the planner can use the partial unique index on verified addresses.
  return exists(
    builder
      .select({ one: sql`1` })
      .from(holders)
      .where(and(sql`lower(${holders.email}) = lower(${email})`, sql`${holders.validated} = 1`)),
  );
}

/** The columns of a user row (of `users` or an alias of it) that say whether it may still verify. */
type Account = { deletedAt: AnySQLiteColumn; validated: AnySQLiteColumn; orgId: AnySQLiteColumn; email: AnySQLiteColumn };

/**
 * The one statement of who may still verify an address (be sent a link, resend one, use one): a
 * live, unverified user of a live organization whose address no verified account holds.
 */
export function canStillVerify(account: Account): SQL {
  return and(
    isNull(account.deletedAt),
    sql`${account.validated} = 0`,
    exists(
      builder
        .select({ one: sql`1` })
        .from(recipientOrganizations)
        .where(and(eq(recipientOrganizations.id, account.orgId), isNull(recipientOrganizations.deletedAt))),
    ),
    not(addressHeld(account.email)),
  ) as SQL;
}

/** The invitation's user may still verify. */
function deliverable(): SQL {
  return exists(
    builder
      .select({ one: sql`1` })
      .from(recipients)
      .where(and(eq(recipients.id, invitations.userId), canStillVerify(recipients))),
  );
}

const live = inArray(invitations.status, ["pending", "sent"]);

/** The columns of a new pending invitation of `userId` (selected from that user's row), enqueued `now`. */
function pendingInvitation(id: string, invitedBy: string, now: string) {
  return selectedRow(invitations, {
    id,
    userId: users.id,
    orgId: users.orgId,
    email: users.email,
    invitedBy,
    createdAt: now,
    status: "pending",
    tokenHash: null,
    expiresAt: null,
    claimedUntil: null,
    enqueuedAt: now,
    attempts: 0,
    sentAt: null,
    failedAt: null,
    usedAt: null,
  });
}

/**
 * The statement of a user-creation batch that writes the invitation of the user just inserted: it
 * selects from that user's row, so it writes nothing when the insert did not.
 */
export function inviteNewUser(db: Db, invite: { userId: string; invitedBy: string; now: string }) {
  const id = uuidv7();
  const statement = db.insert(invitations).select(
    db
      .select(pendingInvitation(id, invite.invitedBy, invite.now))
      .from(users)
      .where(eq(users.id, invite.userId))
      .getSQL(),
  );
  return { id, statement };
}

const newer = alias(invitations, "newer");

/**
 * The statement of a resend's batch that revokes the user's earlier live invitations, only once the
 * new one (`newId`) was written by the statement before it: a refused resend revokes nothing.
 */
export function revokeEarlier(db: Db, userId: SQLWrapper | string, newId: string) {
  return db
    .update(invitations)
    .set({ status: "revoked", claimedUntil: null })
    .where(
      and(
        eq(invitations.userId, userId),
        ne(invitations.id, newId),
        live,
        exists(
          builder
            .select({ one: sql`1` })
            .from(newer)
            .where(eq(newer.id, newId)),
        ),
      ),
    );
}

/** How many invitations of one user may be made per `RESEND_WINDOW_MS` (the first and three resends). */
export const INVITATIONS_PER_WINDOW = 4;
export const RESEND_WINDOW_MS = 3_600_000;

export type Resent = {
  verdict: Reason | undefined;
  invitationId: string | undefined;
  validated: boolean;
  addressHeld: boolean;
  recent: { count: number; oldest: string | null };
  /** With an Idempotency-Key, the answer recorded for it before (src/db/idempotency.ts). */
  replay: string | null;
};

/**
 * A new invitation for an unverified user of the caller's organization, while the verdict allows it,
 * no verified account holds the address and fewer than INVITATIONS_PER_WINDOW were made in the
 * window; it revokes the user's earlier ones. One batch, which first reads the verdict and what a
 * refusal is explained by.
 */
export async function resendInvitation(db: Db, policy: Policy, ask: IdempotentAsk, now: Date): Promise<Resent> {
  const userId = ask.targetId ?? "";
  const id = uuidv7(now.getTime());
  const at = now.toISOString();
  const windowStart = new Date(now.getTime() - RESEND_WINDOW_MS).toISOString();
  const inWindow = and(eq(invitations.userId, userId), sql`${invitations.createdAt} > ${windowStart}`);
  const recentCount = sql<number>`(SELECT count(*) FROM ${invitations} WHERE ${inWindow})`;
  const verdict = verdictOf(policy, ask);
  const [[seen], inserted] = await writeBatch(db, [
    verdict
      .read(db, {
        validated: targets.validated,
        held: addressHeld(targets.email).mapWith(Boolean),
        count: recentCount.mapWith(Number),
        oldest: sql<string | null>`(SELECT min(${invitations.createdAt}) FROM ${invitations} WHERE ${inWindow})`,
        replay: recordedAnswer(callers.id, ask.idempotency),
      })
      .limit(1),
    db
      .insert(invitations)
      .select(
        db
          .select(pendingInvitation(id, ask.caller.id, at))
          .from(users)
          .where(
            and(eq(users.id, userId), verdict.allows, canStillVerify(users), sql`${recentCount} < ${INVITATIONS_PER_WINDOW}`),
          )
          .getSQL(),
      )
      .returning({ id: invitations.id }),
    revokeEarlier(db, userId, id),
    ...present(
      ask.idempotency && recordAnswer(db, ask.caller.id, ask.idempotency, { table: invitations, where: eq(invitations.id, id) }),
    ),
  ]);
  return {
    replay: seen?.replay ?? null,
    verdict: seen?.verdict,
    invitationId: inserted[0]?.id,
    validated: seen?.validated ?? false,
    addressHeld: seen?.held ?? false,
    recent: { count: seen?.count ?? 0, oldest: seen?.oldest ?? null },
  };
}

export type Claim =
  | { state: "claimed"; email: string; organization: string; inviter: string; selfRegistered: boolean }
  | { state: "busy"; until: string }
  | { state: "done" };

/**
 * Takes a pending invitation for sending, with the hash of its new token, until `leaseUntil`: at
 * most one sender holds it, so a message delivered twice sends one email. An invitation that can no
 * longer be verified (user gone or verified, address taken) is superseded instead. Answers what to
 * do with the message: send (with what the email says), retry after the holder's lease, or nothing.
 */
export async function claimInvitation(
  db: Db,
  invitationId: string,
  token: { hash: string; expiresAt: string },
  now: string,
  leaseUntil: string,
): Promise<Claim> {
  const inviters = alias(users, "inviter");
  const pending = and(eq(invitations.id, invitationId), eq(invitations.status, "pending"));
  const [, , [row]] = await db.batch([
    db
      .update(invitations)
      .set({
        tokenHash: token.hash,
        expiresAt: token.expiresAt,
        claimedUntil: leaseUntil,
        attempts: sql`${invitations.attempts} + 1`,
      })
      .where(and(pending, or(isNull(invitations.claimedUntil), lte(invitations.claimedUntil, now)), deliverable())),
    db
      .update(invitations)
      .set({ status: "superseded", claimedUntil: null })
      .where(and(pending, not(deliverable()))),
    db
      .select({
        status: invitations.status,
        claimed: sql<boolean>`${invitations.tokenHash} = ${token.hash}`.mapWith(Boolean),
        claimedUntil: invitations.claimedUntil,
        email: invitations.email,
        organization: organizations.name,
        selfRegistered: sql<boolean>`${invitations.invitedBy} = ${invitations.userId}`.mapWith(Boolean),
        inviterFirst: inviters.firstName,
        inviterLast: inviters.lastName,
      })
      .from(invitations)
      .innerJoin(organizations, eq(organizations.id, invitations.orgId))
      .innerJoin(inviters, eq(inviters.id, invitations.invitedBy))
      .where(eq(invitations.id, invitationId)),
  ]);
  if (!row || row.status !== "pending") return { state: "done" };
  if (!row.claimed) return { state: "busy", until: row.claimedUntil ?? now };
  return {
    state: "claimed",
    email: row.email,
    organization: row.organization,
    inviter: `${row.inviterFirst} ${row.inviterLast}`,
    selfRegistered: row.selfRegistered,
  };
}

/** Records the claimed invitation as sent (its token now usable for its lifetime). */
export async function markSent(db: Db, invitationId: string, tokenHash: string, now: string): Promise<void> {
  await db
    .update(invitations)
    .set({ status: "sent", sentAt: now, claimedUntil: null })
    .where(and(eq(invitations.id, invitationId), eq(invitations.tokenHash, tokenHash), eq(invitations.status, "pending")));
}

/** Gives a claim back after a failed send, so the queue's retry can take it at once. */
export async function releaseClaim(db: Db, invitationId: string, tokenHash: string): Promise<void> {
  await db
    .update(invitations)
    .set({ claimedUntil: null })
    .where(and(eq(invitations.id, invitationId), eq(invitations.tokenHash, tokenHash), eq(invitations.status, "pending")));
}

/**
 * Records that the queue gave up on an invitation (dead-lettered): visible, and a resend starts
 * over. Not while a sender holds it: the sweep may have enqueued it again, and that message is
 * sending now (it records the outcome, or is dead-lettered in turn).
 */
export async function markFailed(db: Db, invitationIds: string[], now: string): Promise<void> {
  if (invitationIds.length === 0) return;
  await db
    .update(invitations)
    .set({ status: "failed", failedAt: now, claimedUntil: null })
    .where(
      and(
        inArray(invitations.id, invitationIds),
        eq(invitations.status, "pending"),
        or(isNull(invitations.claimedUntil), lte(invitations.claimedUntil, now)),
      ),
    );
}

/** Pending invitations last enqueued at or before `before` and not held by a sender, oldest first. */
export async function stalledInvitations(db: Db, before: string, now: string, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: invitations.id })
    .from(invitations)
    .where(
      and(
        eq(invitations.status, "pending"),
        lte(invitations.enqueuedAt, before),
        or(isNull(invitations.claimedUntil), lte(invitations.claimedUntil, now)),
      ),
    )
    .orderBy(asc(invitations.enqueuedAt))
    .limit(limit);
  return rows.map((row) => row.id);
}

export async function markEnqueued(db: Db, invitationIds: string[], now: string): Promise<void> {
  if (invitationIds.length === 0) return;
  await db.update(invitations).set({ enqueuedAt: now }).where(inArray(invitations.id, invitationIds));
}

/** A token that can verify now: stored, of a pending or sent invitation, unexpired, its user still able to verify. */
function usable(tokenHash: string, now: string): SQL {
  return and(eq(invitations.tokenHash, tokenHash), live, sql`${invitations.expiresAt} > ${now}`, deliverable()) as SQL;
}

/** What the holder of a usable token may learn before verifying: how the account signs in. */
export async function findUsableToken(db: Db, tokenHash: string, now: string) {
  return usableToken(db, tokenHash, now).get();
}

function usableToken(db: Db, tokenHash: string, now: string) {
  return db
    .select({
      authMethod: users.authMethod,
      hasPassword: sql<boolean>`${users.passwordHash} <> ''`.mapWith(Boolean),
      passwordHash: users.passwordHash,
      // The user registered themselves (no one invited them).
      selfRegistered: sql<boolean>`${invitations.invitedBy} = ${invitations.userId}`.mapWith(Boolean),
    })
    .from(invitations)
    .innerJoin(users, eq(users.id, invitations.userId))
    .where(usable(tokenHash, now));
}

/**
 * How a verification went: the token as found (undefined when not usable), the user verified
 * (undefined when refused), whether a password was missing, and the session opened with it.
 */
export type Verified = {
  token: Awaited<ReturnType<typeof findUsableToken>>;
  user: UserRow | undefined;
  needsPassword: boolean;
  sessionId: string | undefined;
};

/** What a verification sets and opens: the new password's hash, whether a self-registration's password was checked, the session's first refresh token. */
export type Verification = {
  passwordHash: string | null;
  registrationPasswordChecked: boolean;
  session?: { refreshHash: string; now: Date } | undefined;
};

/**
 * Verifies the address of a usable token's user, setting `passwordHash` when given (required when
 * the account has none), uses the token and supersedes every other live invitation of that address,
 * in one batch: a refused token writes nothing. The partial unique index on verified addresses
 * makes two concurrent verifications of one address end with one verified account.
 */
export async function verifyEmail(db: Db, tokenHash: string, verification: Verification, now: string): Promise<Verified> {
  const { passwordHash, registrationPasswordChecked } = verification;
  // A self-registration's token verifies only once its registration password was checked.
  const verifiable = and(
    usable(tokenHash, now),
    registrationPasswordChecked ? undefined : ne(invitations.invitedBy, invitations.userId),
  );
  const tokenUser = db.select({ id: invitations.userId }).from(invitations).where(verifiable);
  const read = usableToken(db, tokenHash, now);
  const verify = db
    .update(users)
    .set({
      validated: true,
      ...(passwordHash === null ? {} : { passwordHash }),
      updatedAt: now,
    })
    .where(and(eq(users.id, sql`(${tokenUser})`), passwordHash === null ? sql`${users.passwordHash} <> ''` : undefined))
    .returning();
  const use = [
    db
      .update(invitations)
      .set({ status: "used", usedAt: now, claimedUntil: null })
      .where(
        and(
          eq(invitations.tokenHash, tokenHash),
          live,
          exists(
            builder
              .select({ one: sql`1` })
              .from(recipients)
              .where(and(eq(recipients.id, invitations.userId), sql`${recipients.validated} = 1`)),
          ),
        ),
      ),
    // The other accounts' invitations of the address just verified can no longer be verified. Keyed
    // on the token this batch used (its `used_at` is now), so a replayed token changes nothing.
    db
      .update(invitations)
      .set({ status: "superseded", claimedUntil: null })
      .where(and(live, eq(invitations.email, sql`(${usedBy(tokenHash, now, usedInvitations.email)})`))),
  ] as const;
  const session = verification.session;
  // Verifying signs the user in: the session opens right after the statement that verified, for
  // the token's user, only when that statement changed a row (`changes()` counts the last
  // statement's own rows, not its triggers'): a replay of the token, even in the same millisecond,
  // opens none.
  const opening = session
    ? sessionOpening(
        db,
        sql`(${builder
          .select({ userId: tokenUsers.userId })
          .from(tokenUsers)
          .where(and(eq(tokenUsers.tokenHash, tokenHash), sql`changes() = 1`))})`,
        session.refreshHash,
        null,
        session.now,
      )
    : undefined;
  const verified = (token: Verified["token"], user: UserRow | undefined, sessionId: string | undefined): Verified => ({
    token,
    user,
    needsPassword: token !== undefined && !token.hasPassword && passwordHash === null,
    sessionId,
  });
  if (!opening) {
    const [[token], [user]] = await writeBatch(db, [read, verify, ...use]);
    return verified(token, user, undefined);
  }
  const [[token], [user], [opened]] = await writeBatch(db, [read, verify, opening.session, opening.refreshToken, ...use]);
  return verified(token, user, opened?.id);
}

/** `column` of the invitation whose token this verification used (at `now`). */
function usedBy(tokenHash: string, now: string, column: SQLWrapper) {
  return builder
    .select({ value: sql`${column}` })
    .from(usedInvitations)
    .where(and(eq(usedInvitations.tokenHash, tokenHash), eq(usedInvitations.status, "used"), eq(usedInvitations.usedAt, now)));
}
