import { signToken } from "../../src/auth/jwt";
import { hashPassword } from "../../src/auth/password";
import { ROLE, type Role } from "../../src/auth/roles";

// The demo data: two organizations, each with one live user of every role and one
// soft-deleted user. Fixed ids keep the README's examples copy-pasteable.

export const DEMO_PASSWORD = "Demo-pass-1";
export const TOKEN_HOURS = 12;

type DemoOrg = { id: string; name: string; domain: string; prefix: string };

const ORGS: DemoOrg[] = [
  { id: "00000000-0000-4000-8000-00000000a000", name: "Acme Corp", domain: "acme.example", prefix: "a" },
  { id: "00000000-0000-4000-8000-00000000b000", name: "Globex", domain: "globex.example", prefix: "b" },
];

const MEMBERS: { local: string; first: string; last: string; role: Role; deleted: boolean }[] = [
  { local: "owner", first: "Olivia", last: "Owner", role: ROLE.OWNER, deleted: false },
  { local: "admin", first: "Adam", last: "Admin", role: ROLE.ADMINISTRATOR, deleted: false },
  { local: "workspaces", first: "Wendy", last: "Workspaces", role: ROLE.WORKSPACES, deleted: false },
  { local: "billing", first: "Bill", last: "Billing", role: ROLE.BILLING, deleted: false },
  { local: "user", first: "Ursula", last: "User", role: ROLE.USER, deleted: false },
  { local: "former", first: "Fred", last: "Former", role: ROLE.USER, deleted: true },
];

function userId(org: DemoOrg, index: number): string {
  return `00000000-0000-4000-8000-00000000${org.prefix}${String(index + 1).padStart(3, "0")}`;
}

/** Empties the local database and writes the demo state in one atomic batch. */
export async function seed(db: D1Database): Promise<void> {
  const now = new Date();
  const statements = [
    db.prepare("DELETE FROM invitations"),
    db.prepare("DELETE FROM refresh_tokens"),
    db.prepare("DELETE FROM sessions"),
    db.prepare("DELETE FROM users"),
    db.prepare("DELETE FROM organizations"),
  ];
  const hash = await hashPassword(DEMO_PASSWORD);
  let tick = 0;
  const stamp = () => new Date(now.getTime() + tick++).toISOString();
  for (const org of ORGS) {
    const created = stamp();
    statements.push(
      db
        .prepare("INSERT INTO organizations (id, name, domain, website, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(org.id, org.name, org.domain, `https://${org.domain}`, created, created),
    );
    MEMBERS.forEach((member, index) => {
      const at = stamp();
      statements.push(
        db
          .prepare(
            `INSERT INTO users (id, org_id, email, first_name, last_name, first_name_folded, last_name_folded, org_role,
               validated, password_hash, auth_method, created_at, updated_at, deleted_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, 'LOCAL', ?, ?, ?)`,
          )
          .bind(
            userId(org, index),
            org.id,
            `${member.local}@${org.domain}`,
            member.first,
            member.last,
            member.first.toLowerCase(),
            member.last.toLowerCase(),
            member.role,
            hash,
            at,
            at,
            member.deleted ? at : null,
          ),
      );
    });
  }
  await db.batch(statements);
}

export type DemoUser = { id: string; email: string; orgRole: number; deleted: boolean; token: string };
export type DemoState = { organizations: { id: string; name: string; users: DemoUser[] }[] };

export async function issueToken(userId: string, secret: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signToken({ sub: userId, type: "access", iat: now, exp: now + TOKEN_HOURS * 3600 }, secret);
}

/** Reads the organizations and users as they are now and issues a token for each user. */
export async function describe(db: D1Database, secret: string): Promise<DemoState> {
  const orgs = await db
    .prepare("SELECT id, name FROM organizations WHERE deleted_at IS NULL ORDER BY created_at, id")
    .all<{ id: string; name: string }>();
  const result: DemoState = { organizations: [] };
  for (const org of orgs.results) {
    const rows = await db
      .prepare("SELECT id, email, org_role, deleted_at FROM users WHERE org_id = ? ORDER BY created_at, id")
      .bind(org.id)
      .all<{ id: string; email: string; org_role: number; deleted_at: string | null }>();
    const users: DemoUser[] = [];
    for (const row of rows.results) {
      users.push({
        id: row.id,
        email: row.email,
        orgRole: row.org_role,
        deleted: row.deleted_at !== null,
        token: await issueToken(row.id, secret),
      });
    }
    result.organizations.push({ id: org.id, name: org.name, users });
  }
  return result;
}

const ROLE_NAMES = new Map<number, string>(Object.entries(ROLE).map(([name, value]) => [value, name]));

/** The demo state for a person: one line per user, tokens last so they can be copied. */
export function formatDemo(state: DemoState): string {
  const lines: string[] = [];
  for (const org of state.organizations) {
    lines.push(`${org.name}  (orgId ${org.id})`);
    for (const user of org.users) {
      const role = `${ROLE_NAMES.get(user.orgRole) ?? user.orgRole}${user.deleted ? ", deleted" : ""}`;
      lines.push(`  ${user.email.padEnd(28)} ${role.padEnd(22)} ${user.id}`);
      lines.push(`    token: ${user.token}`);
    }
    lines.push("");
  }
  return lines.join("\n");
}
