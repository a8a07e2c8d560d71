import { env } from "cloudflare:workers";
import { ROLE } from "../../src/auth/roles";
import { call } from "./api";
import { createOrg, insertUser, type FixtureUser, type OrgFixture } from "./fixtures";

// The /organization/users routes: paths, calls and reads that more than one spec uses.

export const userPath = (id: string) => `/organization/users/${id}`;
export const activatePath = (id: string) => `/organization/users/${id}/activate`;
export const resendPath = (id: string) => `/organization/users/${id}/resend-invitation`;

export function updateUserCall(token: string, userId: string, body: unknown) {
  return call("PUT", userPath(userId), { token, body });
}

export async function liveOwnerIds(orgId: string): Promise<string[]> {
  const { results } = await env.DB.prepare(
    "SELECT id FROM users WHERE org_id = ? AND org_role = 255 AND deleted_at IS NULL ORDER BY id",
  )
    .bind(orgId)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

/** An organization with two live owners (the fixture's OWNER and a second one). */
export async function orgWithTwoOwners(): Promise<{ org: OrgFixture; a: FixtureUser; b: FixtureUser }> {
  const org = await createOrg();
  const b = await insertUser(org.id, ROLE.OWNER);
  return { org, a: org.users.OWNER, b };
}

/**
 * A concurrent write for `interleavedDb` (faults.ts): soft-deletes the user, or reactivates them,
 * behind the request's back.
 */
export const setDeleted = (id: string, deleted: boolean) => (db: D1Database) =>
  db
    .prepare("UPDATE users SET deleted_at = ? WHERE id = ?")
    .bind(deleted ? new Date().toISOString() : null, id)
    .run();
