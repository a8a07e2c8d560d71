import { and, eq, isNull } from "drizzle-orm";
import { callerMayWrite, callerNow, type CallerNow, type CallerRef, type Rights } from "./caller";
import type { Db } from "./client";
import { organizations, type OrganizationRow } from "./schema";

export type OrganizationChanges = Partial<
  Pick<
    OrganizationRow,
    | "name"
    | "address1"
    | "address2"
    | "city"
    | "zipcode"
    | "phone"
    | "state"
    | "country"
    | "website"
    | "isBusiness"
    | "mfaEnforced"
  >
>;

const live = isNull(organizations.deletedAt);

/** A guarded organization write: the row as stored (undefined when refused) and the caller as the write saw them. */
export type OrganizationWrite = { row: OrganizationRow | undefined; caller: CallerNow | undefined };

/**
 * Updates the caller's organization while it is live and the caller may still write it with
 * `rights`; reads the caller in the same batch, so a refusal is explained by the state that caused it.
 */
export async function updateOrganization(
  db: Db,
  caller: CallerRef,
  rights: Rights,
  changes: OrganizationChanges,
): Promise<OrganizationWrite> {
  const [[row], [seen]] = await db.batch([
    db
      .update(organizations)
      .set({ ...changes, updatedAt: new Date().toISOString() })
      .where(and(eq(organizations.id, caller.orgId), live, callerMayWrite(caller, rights, { orgId: organizations.id })))
      .returning(),
    callerNow(db, caller),
  ]);
  return { row, caller: seen };
}
