import { and, count, eq, not, sql, type SQLWrapper } from "drizzle-orm";
import { alias, QueryBuilder } from "drizzle-orm/sqlite-core";
import { ROLE } from "../auth/roles";
import { uuidv7 } from "../lib/uuid";
import type { Db } from "./client";
import { writeBatch } from "./audit";
import { selectedRow } from "./insert-select";
import {
  addressHeld,
  canStillVerify,
  INVITATIONS_PER_WINDOW,
  inviteNewUser,
  RESEND_WINDOW_MS,
  revokeEarlier,
} from "./invitations";
import { invitations, organizations, users, type OrganizationRow, type UserRow } from "./schema";

// Self-registration: a new organization, its first owner and the owner's verification email, and
// sending that email again.

export type Registration = {
  organization: Pick<
    OrganizationRow,
    "name" | "address1" | "address2" | "city" | "zipcode" | "phone" | "state" | "country" | "website" | "isBusiness"
  >;
  owner: { email: string; firstName: string; lastName: string; passwordHash: string };
};

/**
 * Writes the organization, its OWNER (unverified) and the owner's pending invitation in one batch,
 * only while no verified account holds the address. Undefined when one does.
 */
export async function registerOrganization(db: Db, registration: Registration, now: Date) {
  const at = now.toISOString();
  const orgId = uuidv7(now.getTime());
  const userId = uuidv7(now.getTime());
  const email = registration.owner.email.toLowerCase();
  const { owner } = registration;
  const invitation = inviteNewUser(db, { userId, invitedBy: userId, now: at });
  const recentToAddress = addressWindow(email, now);
  const [, [user], , [recent]] = await writeBatch(db, [
    // A SELECT without FROM: one row of values, while the address is free and under its allowance.
    db.insert(organizations).select(
      sql`SELECT ${sql.join(
        Object.values(
          selectedRow(organizations, {
            id: orgId,
            ...registration.organization,
            domain: null,
            reposDisabled: false,
            mfaEnforced: false,
            createdAt: at,
            updatedAt: at,
            deletedAt: null,
            version: 1,
          }),
        ),
        sql`, `,
      )} WHERE ${and(
        not(addressHeld(sql`${email}`)),
        sql`(SELECT count(*) FROM ${invitations} WHERE ${recentToAddress}) < ${INVITATIONS_PER_WINDOW}`,
      )}`,
    ),
    db
      .insert(users)
      .select(
        db
          .select(
            selectedRow(users, {
              id: userId,
              orgId: organizations.id,
              email,
              firstName: owner.firstName,
              lastName: owner.lastName,
              firstNameFolded: owner.firstName.toLowerCase(),
              lastNameFolded: owner.lastName.toLowerCase(),
              orgRole: ROLE.OWNER,
              validated: false,
              passwordHash: owner.passwordHash,
              provider: null,
              authMethod: "LOCAL",
              tokensValidAfter: null,
              createdAt: at,
              updatedAt: at,
              deletedAt: null,
              version: 1,
            }),
          )
          .from(organizations)
          .where(eq(organizations.id, orgId))
          .getSQL(),
      )
      .returning(),
    invitation.statement,
    db
      .select({ count: count(), oldest: sql<string | null>`min(${invitations.createdAt})` })
      .from(invitations)
      .where(recentToAddress),
  ]);
  return {
    registered: user ? { user, invitationId: invitation.id } : undefined,
    recent: { count: recent?.count ?? 0, oldest: recent?.oldest ?? null },
  };
}

/**
 * The emails sent to an address in the window, whoever's: registration is public and an address may
 * be registered by anyone, so the allowance is per address as well as per user.
 */
function addressWindow(email: SQLWrapper | string, now: Date) {
  const windowStart = new Date(now.getTime() - RESEND_WINDOW_MS).toISOString();
  return and(eq(invitations.email, email), sql`${invitations.createdAt} > ${windowStart}`);
}

const builder = new QueryBuilder();
const original = alias(invitations, "original");

export type ResentVerification = {
  invitationId: string | undefined;
  user: UserRow | undefined;
  held: boolean;
  recent: { count: number; oldest: string | null };
  addressRecent: { count: number; oldest: string | null };
};

/**
 * A new invitation for the user of invitation `verificationTokenId` (any of their invitations: the id
 * registration answered), while that user is live, unverified, of a live organization, the address
 * is not held and fewer than INVITATIONS_PER_WINDOW were made in the window; revokes the others. One
 * batch, which also reads what a refusal is explained by.
 */
export async function resendVerification(db: Db, verificationTokenId: string, now: Date): Promise<ResentVerification> {
  const id = uuidv7(now.getTime());
  const at = now.toISOString();
  const windowStart = new Date(now.getTime() - RESEND_WINDOW_MS).toISOString();
  const userOfToken = sql`(${builder.select({ userId: original.userId }).from(original).where(eq(original.id, verificationTokenId))})`;
  const inWindow = and(eq(invitations.userId, userOfToken), sql`${invitations.createdAt} > ${windowStart}`);
  const addressOfToken = sql`(${builder.select({ email: original.email }).from(original).where(eq(original.id, verificationTokenId))})`;
  const [inserted, , [user], [held], [recent], [addressRecent]] = await writeBatch(db, [
    db
      .insert(invitations)
      .select(
        db
          .select(
            selectedRow(invitations, {
              id,
              userId: users.id,
              orgId: users.orgId,
              email: users.email,
              invitedBy: sql`(${builder.select({ by: original.invitedBy }).from(original).where(eq(original.id, verificationTokenId))})`,
              createdAt: at,
              status: "pending",
              tokenHash: null,
              expiresAt: null,
              claimedUntil: null,
              enqueuedAt: at,
              attempts: 0,
              sentAt: null,
              failedAt: null,
              usedAt: null,
            }),
          )
          .from(users)
          .where(
            and(
              eq(users.id, userOfToken),
              canStillVerify(users),
              sql`(SELECT count(*) FROM ${invitations} WHERE ${inWindow}) < ${INVITATIONS_PER_WINDOW}`,
              sql`(SELECT count(*) FROM ${invitations} WHERE ${addressWindow(users.email, now)}) < ${INVITATIONS_PER_WINDOW}`,
            ),
          )
          .getSQL(),
      )
      .returning({ id: invitations.id }),
    revokeEarlier(db, userOfToken, id),
    db.select().from(users).where(eq(users.id, userOfToken)),
    db
      .select({ held: addressHeld(users.email).mapWith(Boolean) })
      .from(users)
      .where(eq(users.id, userOfToken)),
    db
      .select({ count: count(), oldest: sql<string | null>`min(${invitations.createdAt})` })
      .from(invitations)
      .where(inWindow),
    db
      .select({ count: count(), oldest: sql<string | null>`min(${invitations.createdAt})` })
      .from(invitations)
      .where(addressWindow(addressOfToken, now)),
  ]);
  return {
    invitationId: inserted[0]?.id,
    user,
    held: held?.held ?? false,
    recent: { count: recent?.count ?? 0, oldest: recent?.oldest ?? null },
    addressRecent: { count: addressRecent?.count ?? 0, oldest: addressRecent?.oldest ?? null },
  };
}
