import { and, eq, sql } from "drizzle-orm";
import type { Policy } from "../auth/policy";
import { allPrepared, preparedBy, type Db } from "./client";
import { writeBatch } from "./audit";
import { organizations, type OrganizationRow } from "./schema";
import { callerOrganizations, prepareAsk, verdictOf, type AnyAsk, type Ask } from "./verdict";

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

const organizationRead = preparedBy((db, policy: Policy, ask: AnyAsk) =>
  verdictOf(policy, ask).read(db, { organization: callerOrganizations }).limit(1).prepare(),
);

/** The caller's organization with the verdict on reading it: one statement, prepared once per shape. */
export async function readOrganization(db: Db, policy: Policy, ask: Ask) {
  const prepared = prepareAsk(policy, ask);
  const [read] = await allPrepared(db, organizationRead(db, prepared.key, policy, prepared.ask), prepared.values);
  return { verdict: read?.verdict, row: read?.verdict === "ok" ? read.organization : undefined };
}

/** Updates the organization in the path while the verdict allows it; one batch, the verdict read first. */
export async function updateOrganization(db: Db, policy: Policy, ask: Ask, changes: OrganizationChanges) {
  const verdict = verdictOf(policy, ask);
  const [[read], [row]] = await writeBatch(db, [
    verdict.read(db, {}).limit(1),
    db
      .update(organizations)
      // The version advances here rather than by its trigger, so that RETURNING (the answer's ETag) has it.
      .set({ ...changes, updatedAt: new Date().toISOString(), version: sql`${organizations.version} + 1` })
      .where(and(eq(organizations.id, ask.organizationId ?? ""), verdict.allows))
      .returning(),
  ]);
  return { verdict: read?.verdict, row };
}
