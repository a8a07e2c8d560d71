import { env } from "cloudflare:workers";
import { signToken } from "../../src/auth/jwt";
import { hashPassword } from "../../src/auth/password";
import { ROLE, type Role, type RoleName } from "../../src/auth/roles";
import type { CallerRef } from "../../src/db/verdict";
import { uuidv7 } from "../../src/lib/uuid";

export const TEST_SECRET = env.JWT_SECRET;

/** Every fixture user's password. */
export const FIXTURE_PASSWORD = "Fixture-pass-1";
// One cheap hash shared by fixture users: no endpoint verifies passwords, so cost is irrelevant here.
const FIXTURE_HASH = await hashPassword(FIXTURE_PASSWORD, 1);

let clock = Date.parse("2026-01-01T00:00:00.000Z");
/** Strictly increasing timestamps, so fixture order is creation order. */
function nextTimestamp(): string {
  clock += 1000;
  return new Date(clock).toISOString();
}

export type FixtureUser = { id: string; email: string; role: Role; token: string; deleted: boolean };

/** A fixture user as the database layer takes a caller: a token without `iat`, `sid` or `orgId`. */
export function callerRef(user: Pick<FixtureUser, "id">): CallerRef {
  return { id: user.id, issuedAt: undefined, sessionId: undefined, orgId: undefined, verifiedOnly: false };
}

export async function tokenFor(userId: string, claims: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signToken({ sub: userId, iat: now, exp: now + 3600, ...claims }, TEST_SECRET);
}

export async function insertOrganization(overrides: { deletedAt?: string } = {}): Promise<string> {
  const id = uuidv7();
  const now = nextTimestamp();
  await env.DB.prepare(
    "INSERT INTO organizations (id, name, domain, created_at, updated_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?)",
  )
    .bind(id, `Org ${id.slice(-6)}`, `org-${id.slice(-12)}.example`, now, now, overrides.deletedAt ?? null)
    .run();
  return id;
}

export async function insertUser(
  orgId: string,
  role: Role,
  options: { email?: string; firstName?: string; lastName?: string; deleted?: boolean; unverified?: boolean } = {},
): Promise<FixtureUser> {
  const id = uuidv7();
  const email = (options.email ?? `user-${id}@example.com`).toLowerCase();
  const firstName = options.firstName ?? "Ada";
  const lastName = options.lastName ?? "Lovelace";
  const now = nextTimestamp();
  await env.DB.prepare(
    `INSERT INTO users (id, org_id, email, first_name, last_name, first_name_folded, last_name_folded, org_role,
       validated, password_hash, auth_method, created_at, updated_at, deleted_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'LOCAL', ?, ?, ?)`,
  )
    .bind(
      id,
      orgId,
      email,
      firstName,
      lastName,
      firstName.toLowerCase(),
      lastName.toLowerCase(),
      role,
      options.unverified ? 0 : 1,
      FIXTURE_HASH,
      now,
      now,
      options.deleted ? now : null,
    )
    .run();
  return { id, email, role, token: await tokenFor(id), deleted: options.deleted ?? false };
}

export type OrgFixture = {
  id: string;
  users: Record<RoleName, FixtureUser>;
  deleted: FixtureUser;
};

/** An organization with one live user of every role and one soft-deleted user. */
export async function createOrg(): Promise<OrgFixture> {
  const id = await insertOrganization();
  const users = {} as Record<RoleName, FixtureUser>;
  for (const name of ["OWNER", "ADMINISTRATOR", "WORKSPACES", "BILLING", "USER"] as const) {
    users[name] = await insertUser(id, ROLE[name]);
  }
  const deleted = await insertUser(id, ROLE.USER, { deleted: true });
  return { id, users, deleted };
}

/** A valid POST /organization/users body for a new address. */
export const newUserBody = (overrides: Record<string, unknown> = {}) => ({
  email: `invitee-${uuidv7()}@example.com`,
  password: "Passw0rd-ok",
  firstName: "Grace",
  lastName: "Hopper",
  ...overrides,
});

/** A valid POST /user/register body for a new address and company. */
export const registrationBody = (overrides: Record<string, unknown> = {}) => ({
  email: `founder-${uuidv7()}@example.com`,
  password: "Founder-pass-1",
  firstName: "Grace",
  lastName: "Hopper",
  companyName: "Hopper Labs",
  companyWebsite: "https://hopper.example",
  city: "Arlington",
  isBusiness: true,
  ...overrides,
});

/** Two independent organizations: the caller's own and a foreign one. */
export async function createTwoOrgs(): Promise<{ a: OrgFixture; b: OrgFixture }> {
  return { a: await createOrg(), b: await createOrg() };
}

/** An ISO 8601 timestamp as the API and the database write it: UTC, milliseconds. */
export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
