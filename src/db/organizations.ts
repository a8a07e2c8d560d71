import { and, eq, isNull } from "drizzle-orm";
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

export async function findOrganization(db: Db, id: string): Promise<OrganizationRow | undefined> {
  return db
    .select()
    .from(organizations)
    .where(and(eq(organizations.id, id), live))
    .get();
}

/** Updates a live organization and returns it as stored, or undefined when it is gone. */
export async function updateOrganization(db: Db, id: string, changes: OrganizationChanges): Promise<OrganizationRow | undefined> {
  const [row] = await db
    .update(organizations)
    .set({ ...changes, updatedAt: new Date().toISOString() })
    .where(and(eq(organizations.id, id), live))
    .returning();
  return row;
}
